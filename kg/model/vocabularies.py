"""The coding vocabularies (SKOS concept schemes) as lookup tables for loading and messages."""

from __future__ import annotations

import difflib
from functools import lru_cache

from rdflib import Graph, URIRef
from rdflib.namespace import SKOS

from kg.model import resources
from kg.model.namespaces import SCHEMES, scheme_iri
from kg.io.rdf import parse_into

__all__ = ["load_ontology_graph", "load_vocab_graph", "Vocabulary", "default_vocabulary", "default_ontology"]


def load_ontology_graph() -> Graph:
    return parse_into(Graph(), resources.ontology_file())


def load_vocab_graph() -> Graph:
    graph = Graph()
    for path in resources.vocab_files():
        parse_into(graph, path)
    return graph


class Vocabulary:
    """Codebook keys (skos:notation) of every scheme, read from the vocabulary graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._keys: dict[str, dict[str, URIRef]] = {}
        for slug, _cls in SCHEMES.values():
            scheme = scheme_iri(slug)
            keys = {}
            for concept in graph.subjects(SKOS.inScheme, scheme):
                notation = graph.value(concept, SKOS.notation)
                if notation is not None and isinstance(concept, URIRef):
                    keys[str(notation)] = concept
            self._keys[slug] = keys

    def keys(self, slug: str) -> dict[str, URIRef]:
        return self._keys[slug]

    def concept(self, slug: str, key: str) -> URIRef | None:
        return self._keys[slug].get(key)

    def allowed(self, slug: str, limit: int = 40) -> str:
        keys = sorted(self._keys[slug])
        shown = ", ".join(keys[:limit])
        return shown + (f" … ({len(keys)} in all; see ontology/vocab/{slug}.ttl)" if len(keys) > limit else "")

    def suggest(self, slug: str, value: str) -> str | None:
        keys = self._keys[slug]
        lowered = {k.lower(): k for k in keys}
        if value.lower() in lowered:
            return lowered[value.lower()]
        normalised = value.strip().lower().replace("_", "-").replace(" ", "-")
        if normalised in lowered:
            return lowered[normalised]
        close = difflib.get_close_matches(normalised, list(lowered), n=1, cutoff=0.6)
        return lowered[close[0]] if close else None


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The shipped vocabularies, parsed once per process (``graph`` is read only)."""
    return Vocabulary(load_vocab_graph())


@lru_cache(maxsize=1)
def default_ontology() -> Graph:
    """The shipped ontology, parsed once per process (read only: copy it before changing it)."""
    return load_ontology_graph()
