"""JSON-LD with the project's own ``@context`` (ontology/context.jsonld), never fetched.

The context maps the ontology to short keys named after the extraction-sheet columns (``study_id``,
``platforms``, ``host``, …). Coded fields are ``"@type": "@vocab"`` with a property-scoped
``@vocab``, so their values are the codebook keys themselves (``"platforms": ["twitter"]``).
A document may reference the context by its published IRI ``CONTEXT_IRI``; kg substitutes the
shipped copy for it. Any other remote context is refused by kg.io.rdf.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import pyoxigraph as ox

from kg.model import resources

__all__ = [
    "context_file", "local_context", "substitute_context", "Compactor", "JsonLdWriter", "CONTEXT_IRI",
    "XSD_NS", "RDF_TYPE"
]

CONTEXT_IRI = "https://w3id.org/smqi/context.jsonld"


def context_file():
    return resources.resource_dir("ontology") / "context.jsonld"


@lru_cache(maxsize=1)
def _context_text() -> str:
    return context_file().read_text(encoding="utf-8")


def local_context() -> dict:
    """The value of ``@context`` in the shipped ontology/context.jsonld (a fresh copy)."""
    return json.loads(_context_text())["@context"]


def substitute_context(node: Any) -> Any:
    """``node`` with every ``"@context": CONTEXT_IRI`` (alone or in a list) replaced by the local copy."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "@context":
                if isinstance(value, list):
                    out[key] = [local_context() if v == CONTEXT_IRI else substitute_context(v) for v in value]
                else:
                    out[key] = local_context() if value == CONTEXT_IRI else substitute_context(value)
            else:
                out[key] = substitute_context(value)
        return out
    if isinstance(node, list):
        return [substitute_context(item) for item in node]
    return node


# ---------------------------------------------------------------- JSON-LD of a whole store, streamed

XSD_NS = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_GEN_DELIMS = tuple(":/?#[]@")
_NATIVE_INT_LIMIT = 10**15  # well inside every JSON reader's exact integers


class _Term:
    __slots__ = ("name", "iri", "coerce", "is_set", "vocab")

    def __init__(self, name: str, iri: str, coerce: str | None, is_set: bool, vocab: str | None):
        self.name, self.iri, self.coerce, self.is_set, self.vocab = name, iri, coerce, is_set, vocab


class Compactor:
    """Compacts RDF terms under a JSON-LD context of the form ontology/context.jsonld uses.

    Handled: prefixes (simple definitions whose IRI ends in a gen-delim), terms with ``@id``,
    ``@type`` (``@id``, ``@vocab`` or a datatype), ``@container: @set`` and a property-scoped
    ``@vocab``. A value goes under a term only when reading it back through that term gives the same
    RDF term (a term typed ``xsd:positiveInteger`` never takes an ``xsd:integer``, a ``@vocab`` term
    never a literal); anything else goes under the predicate's compact IRI as a value object with
    its datatype or language, so expansion gives back exactly the quads that were written."""

    def __init__(self, context: dict[str, Any]):
        self.prefixes: list[tuple[str, str]] = []
        raw: dict[str, Any] = {k: v for k, v in context.items() if not k.startswith("@")}
        for name, value in raw.items():
            if isinstance(value, str) and value.endswith(_GEN_DELIMS) and ":" in value:
                self.prefixes.append((name, value))
        self.prefixes.sort(key=lambda nv: (-len(nv[1]), nv[0]))  # longest namespace first
        self.terms: dict[str, _Term] = {}
        self.by_iri: dict[str, list[_Term]] = {}
        for name, value in sorted(raw.items()):
            definition = {"@id": value} if isinstance(value, str) else dict(value)
            iri = self.expand(definition.get("@id", name))
            coerce = definition.get("@type")
            if coerce not in (None, "@id", "@vocab"):
                coerce = self.expand(coerce)
            scoped = definition.get("@context", {})
            vocab = scoped.get("@vocab") if isinstance(scoped, dict) else None
            term = _Term(name, iri, coerce, definition.get("@container") == "@set", vocab)
            self.terms[name] = term
            self.by_iri.setdefault(iri, []).append(term)
        self._iri_cache: dict[tuple[str, bool], str] = {}

    def expand(self, value: str) -> str:
        """A compact IRI (``prefix:suffix``) of this context in full; anything else as it is."""
        prefix, sep, rest = value.partition(":")
        if sep and not rest.startswith("//"):
            for name, ns in self.prefixes:
                if name == prefix:
                    return ns + rest
        return value

    def iri(self, iri: str, vocab: bool = False) -> str:
        """``iri`` as short as it reads back: a term (``vocab``: for @type values), else
        ``prefix:suffix``, else in full."""
        key = (iri, vocab)
        found = self._iri_cache.get(key)
        if found is None:
            found = iri
            terms = self.by_iri.get(iri) if vocab else None
            if terms:
                found = terms[0].name
            else:
                for name, ns in self.prefixes:
                    if iri.startswith(ns) and len(iri) > len(ns) and not iri[len(ns):].startswith("//"):
                        found = f"{name}:{iri[len(ns):]}"
                        break
            self._iri_cache[key] = found
        return found

    def node_ref(self, term: Any) -> str:
        """The ``@id`` of a node: ``_:label`` for a blank node."""
        if isinstance(term, ox.BlankNode):
            return "_:" + term.value
        return self.iri(term.value)

    def value_object(self, term: Any) -> Any:
        """An object in expanded form (or a native JSON value that expands to the same literal)."""
        if isinstance(term, (ox.NamedNode, ox.BlankNode)):
            return {"@id": self.node_ref(term)}
        if term.language:
            return {"@value": term.value, "@language": term.language}
        datatype = term.datatype.value
        if datatype == XSD_NS + "string":
            return term.value
        if datatype == XSD_NS + "boolean" and term.value in ("true", "false"):
            return term.value == "true"
        if datatype == XSD_NS + "integer":
            text = term.value
            digits = text[1:] if text.startswith("-") else text
            if digits.isdigit() and (digits == "0" or not digits.startswith("0")) and text != "-0" \
                    and abs(int(text)) < _NATIVE_INT_LIMIT:
                return int(text)
        return {"@value": term.value, "@type": self.iri(datatype, vocab=True)}

    def _vocab_value(self, term: _Term, value: Any) -> str | None:
        """A ``@type: @vocab`` value as it reads back, or None when the term cannot hold it."""
        if not isinstance(value, ox.NamedNode):
            return None
        iri = value.value
        if term.vocab and iri.startswith(term.vocab):
            local = iri[len(term.vocab):]
            if local and local not in self.terms and not any(c in local for c in ":/#?") \
                    and not local.startswith("@"):
                return local
        short = self.iri(iri)
        return short if ":" in short else iri  # a bare word would read as vocab-relative

    def property_value(self, predicate: str, value: Any) -> tuple[str, Any, bool]:
        """(key, JSON value, always a list) for one predicate-object pair of a node."""
        for term in self.by_iri.get(predicate, ()):
            if term.coerce == "@id":
                if isinstance(value, (ox.NamedNode, ox.BlankNode)):
                    return term.name, self.node_ref(value), term.is_set
            elif term.coerce == "@vocab":
                short = self._vocab_value(term, value)
                if short is not None:
                    return term.name, short, term.is_set
            elif term.coerce is not None:
                if isinstance(value, ox.Literal) and not value.language and value.datatype.value == term.coerce:
                    return term.name, value.value, term.is_set
            else:
                return term.name, self.value_object(value), term.is_set
        return self.iri(predicate), self.value_object(value), False

    def node(self, subject: Any, pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
        """One node object: ``@id``, ``@type``, then its properties by key, values sorted."""
        types: list[str] = []
        props: dict[str, tuple[list[Any], bool]] = {}
        for predicate, value in pairs:
            if predicate.value == RDF_TYPE and isinstance(value, ox.NamedNode):
                types.append(self.iri(value.value, vocab=True))
                continue
            key, json_value, is_set = self.property_value(predicate.value, value)
            values, was_set = props.get(key, ([], False))
            values.append(json_value)
            props[key] = (values, was_set or is_set)
        node: dict[str, Any] = {"@id": self.node_ref(subject)}
        if types:
            types = sorted(set(types))
            node["@type"] = types[0] if len(types) == 1 else types
        for key in sorted(props):
            values, is_set = props[key]
            values = _unique_sorted(values)
            node[key] = values if is_set or len(values) > 1 else values[0]
        return node


def _unique_sorted(values: list[Any]) -> list[Any]:
    keyed = {json.dumps(v, sort_keys=True, ensure_ascii=False): v for v in values}
    return [keyed[k] for k in sorted(keyed)]


class JsonLdWriter:
    """Writes a JSON-LD document of quads to a text stream, one node object per line.

    Call ``node`` with each subject's quads, graph by graph (the default graph first, then each named
    graph: ``start_graph``), and ``close`` at the end. One top-level ``@graph`` holds the default
    graph's nodes and one ``{"@id": graph, "@graph": [...]}`` object per named graph; the context is
    referenced by ``CONTEXT_IRI``. Memory is one node, whatever the number of quads."""

    def __init__(self, out: Any, context: dict[str, Any] | None = None):
        self.out, self.compactor = out, Compactor(context if context is not None else local_context())
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        self.graph: Any = None
        self.first_top = self.first_inner = True
        self.nodes = 0
        out.write('{"@context": ' + json.dumps(CONTEXT_IRI) + ',\n "@graph": [')

    def _top(self, text: str) -> None:
        self.out.write(("\n  " if self.first_top else ",\n  ") + text)
        self.first_top = False

    def _end_graph(self) -> None:
        if self.graph is not None:
            self.out.write("]}" if self.first_inner else "\n  ]}")
            self.graph = None

    def start_graph(self, graph: Any) -> None:
        """Nodes from now on are in the named graph ``graph`` (a NamedNode or BlankNode)."""
        self._end_graph()
        self._top('{"@id": ' + self.dumps(self.compactor.node_ref(graph)) + ', "@graph": [')
        self.graph, self.first_inner = graph, True

    def node(self, subject: Any, quads: list) -> None:
        """One subject's quads (of the current graph) as a node object."""
        text = self.dumps(self.compactor.node(subject, [(q.predicate, q.object) for q in quads]))
        if self.graph is None:
            self._top(text)
        else:
            self.out.write(("\n    " if self.first_inner else ",\n    ") + text)
            self.first_inner = False
        self.nodes += 1

    def close(self) -> int:
        """End the document; returns the number of node objects written."""
        self._end_graph()
        self.out.write("]}\n" if self.first_top else "\n ]}\n")
        return self.nodes
