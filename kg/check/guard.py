"""Hostile queries: what a user's SPARQL may not do, checked on the parsed algebra (not by regex).

``smqi query`` and ``smqi serve`` run read-only SELECT / ASK / CONSTRUCT / DESCRIBE queries over the
local graph. Refused, with a clear message (UsageError, exit 2; HTTP 400/403 at the endpoint):

- SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY);
- a ``SERVICE`` clause anywhere in the query (also inside FILTER EXISTS, sub-queries, OPTIONAL,
  MINUS, UNION): rdflib and the Oxigraph server would both send the query to the remote host;
- for rdflib, a ``FROM`` / ``FROM NAMED`` clause: rdflib would fetch the graph from its IRI.

``allow_service=True`` (``smqi query --allow-service``) lifts the last two: the user asked for
federation. Parameters are never pasted into query text (``initBindings``), so they need no check.
"""

from __future__ import annotations

from typing import Any

from kg.model.errors import UsageError

__all__ = ["QueryRefused", "check_query", "UPDATE_WORDS"]

UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY")


class QueryRefused(UsageError):
    """The query asks for something smqi does not do on a user's behalf (update, federation)."""


def _walk(node: Any, seen: set[int], depth: int = 0):
    """Every CompValue-like node of an rdflib parse tree or algebra (dicts and lists, recursively)."""
    if id(node) in seen or depth > 500:
        return
    seen.add(id(node))
    name = getattr(node, "name", None)
    if isinstance(name, str):
        yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value, seen, depth + 1)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk(value, seen, depth + 1)


def _is_update(text: str) -> bool:
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        parsed = parseUpdate(text)
    except Exception:  # not an update either
        return False
    return bool(parsed.get("request"))


def check_query(text: str, where: str = "the query", *, allow_service: bool = False,
                refuse_from: bool = True) -> Any:
    """Parse ``text`` and refuse updates and federation; return rdflib's algebra of the query.

    ``refuse_from`` refuses FROM / FROM NAMED (rdflib dereferences them; Oxigraph does not).
    Raises QueryRefused for a refused query and UsageError for one that does not parse.
    """
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        parsed = parseQuery(text)
    except RecursionError:
        raise UsageError(f"{where}: the query is nested too deeply to read") from None
    except Exception as exc:  # pyparsing raises ParseException and more
        if _is_update(text):
            raise QueryRefused(f"{where}: SPARQL Update (INSERT, DELETE, LOAD, CLEAR, …) is refused: "
                               "smqi only reads the graph") from None
        detail = " ".join(str(exc).split())[:300]
        raise UsageError(f"{where}: the query does not parse: {detail}") from None
    try:
        query = translateQuery(parsed)
    except RecursionError:
        raise UsageError(f"{where}: the query is nested too deeply to read") from None
    except Exception as exc:  # rdflib's algebra raises on some semantic errors (e.g. scoping)
        detail = " ".join(str(exc).split())[:300]
        raise UsageError(f"{where}: the query is not valid SPARQL: {type(exc).__name__}: {detail}") from None
    if allow_service:
        return query
    for node in _walk(query.algebra, set()):
        if node.name == "ServiceGraphPattern":
            target = node.get("term")
            raise QueryRefused(f"{where}: SERVICE {('<' + str(target) + '>') if target is not None else ''} "
                               "would send the query to another host; smqi does not federate unless "
                               "asked (smqi query --allow-service)")
    if refuse_from:
        dataset = query.algebra.get("datasetClause")
        if dataset:
            raise QueryRefused(f"{where}: FROM / FROM NAMED would make rdflib fetch the graph from its "
                               "IRI; query the local graph (or use --with FILE, or --allow-service)")
    return query
