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

from rdflib import Graph

from kg.model import resources

__all__ = ["context_file", "local_context", "substitute_context", "to_jsonld", "CONTEXT_IRI"]

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


def _scoped_vocabs(context: dict) -> dict[str, str]:
    """key -> the namespace its values are relative to (the coded fields)."""
    return {
        key: term["@context"]["@vocab"]
        for key, term in context.items()
        if isinstance(term, dict) and term.get("@type") == "@vocab" and "@vocab" in term.get("@context", {})
    }


def _expand_curie(value: str, context: dict) -> str:
    prefix, sep, rest = value.partition(":")
    if sep and isinstance(context.get(prefix), str) and not rest.startswith("//"):
        return context[prefix] + rest
    return value


def _shorten(node: Any, vocabs: dict[str, str], context: dict) -> Any:
    if isinstance(node, list):
        return [_shorten(item, vocabs, context) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in vocabs:
            base = vocabs[key]

            def short(v: Any) -> Any:
                if isinstance(v, str):
                    full = _expand_curie(v, context)
                    local = full[len(base):]
                    # only when the key reads back as the same IRI (no ':' or '/' in it)
                    if full.startswith(base) and local and not any(c in local for c in ":/#?"):
                        return local
                return v

            out[key] = [short(v) for v in value] if isinstance(value, list) else short(value)
        else:
            out[key] = _shorten(value, vocabs, context)
    return out


def to_jsonld(graph: Graph) -> str:
    """Compacted JSON-LD of ``graph`` under the project context, referenced by ``CONTEXT_IRI``.

    Parsing the result with kg.io.rdf gives back an isomorphic graph.
    """
    context = local_context()
    text = graph.serialize(format="json-ld", context=context, auto_compact=True)
    doc = json.loads(text)
    body = {k: v for k, v in doc.items() if k != "@context"}
    body = _shorten(body, _scoped_vocabs(context), context)
    if "@graph" not in body:  # one node only: keep the shape every reader expects
        body = {"@graph": [body]} if body else {"@graph": []}
    return json.dumps({"@context": CONTEXT_IRI, **body}, indent=1, ensure_ascii=False) + "\n"
