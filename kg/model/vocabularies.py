"""The coding vocabularies (SKOS concept schemes) as lookup tables for loading and messages."""

from __future__ import annotations

import difflib
import re
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


def _folded(text: str) -> str:
    """A name as suggestions compare it: case folded, every run of non-alphanumerics one hyphen."""
    return re.sub(r"[\W_]+", "-", text.casefold()).strip("-")


class Vocabulary:
    """Codebook keys (skos:notation) of every scheme, read from the vocabulary graph, and the names
    the codebook gives for them (skos:hiddenLabel, e.g. Yelp for ``rating-site``), for suggestions."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._keys: dict[str, dict[str, URIRef]] = {}
        self._names: dict[str, dict[str, str]] = {}  # slug -> folded hidden label -> key
        for slug, _cls in SCHEMES.values():
            scheme = scheme_iri(slug)
            keys, names = {}, {}
            for concept in sorted(graph.subjects(SKOS.inScheme, scheme)):
                notation = graph.value(concept, SKOS.notation)
                if notation is not None and isinstance(concept, URIRef):
                    keys[str(notation)] = concept
                    for label in sorted(graph.objects(concept, SKOS.hiddenLabel)):
                        names.setdefault(_folded(str(label)), str(notation))
            self._keys[slug] = keys
            self._names[slug] = names

    def keys(self, slug: str) -> dict[str, URIRef]:
        return self._keys[slug]

    def concept(self, slug: str, key: str) -> URIRef | None:
        return self._keys[slug].get(key)

    def allowed(self, slug: str, limit: int = 40) -> str:
        keys = sorted(self._keys[slug])
        shown = ", ".join(keys[:limit])
        return shown + (f" … ({len(keys)} in all; see ontology/vocab/{slug}.ttl)" if len(keys) > limit else "")

    def suggest(self, slug: str, value: str) -> str | None:
        """The key ``value`` most likely means, or None: the key in another case or spelling
        (``health organisation``), a name the codebook gives for it (``Yelp`` → ``rating-site``,
        from skos:hiddenLabel), else the closest key or name (difflib, cutoff 0.6; names of three
        characters or more)."""
        keys = self._keys[slug]
        lowered = {k.lower(): k for k in keys}
        if value.lower() in lowered:
            return lowered[value.lower()]
        normalised = value.strip().lower().replace("_", "-").replace(" ", "-")
        if normalised in lowered:
            return lowered[normalised]
        names = self._names[slug]
        if _folded(value) in names:
            return names[_folded(value)]
        candidates = {**{n: k for n, k in names.items() if len(n) >= 3}, **lowered}
        close = difflib.get_close_matches(normalised, list(candidates), n=1, cutoff=0.6)
        return candidates[close[0]] if close else None


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The shipped vocabularies, parsed once per process (``graph`` is read only)."""
    return Vocabulary(load_vocab_graph())


@lru_cache(maxsize=1)
def default_ontology() -> Graph:
    """The shipped ontology, parsed once per process (read only: copy it before changing it)."""
    return load_ontology_graph()
