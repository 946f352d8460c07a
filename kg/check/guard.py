"""Hostile queries: what a user's SPARQL may not do, checked on the parsed algebra (not by regex).

``smqi query`` and ``smqi serve`` run read-only SELECT / ASK / CONSTRUCT / DESCRIBE queries over the
local graph. Refused, with a clear message (UsageError, exit 2; HTTP 400/403 at the endpoint):

- SPARQL Update (INSERT, DELETE, LOAD, CLEAR, DROP, CREATE, ADD, MOVE, COPY);
- a ``SERVICE`` clause anywhere in the query (also inside FILTER EXISTS, sub-queries, OPTIONAL,
  MINUS, UNION): rdflib and the Oxigraph server would both send the query to the remote host;
- for rdflib, a ``FROM`` / ``FROM NAMED`` clause: rdflib would fetch the graph from its IRI
  (``refuse_from``). Where the graphs are known, :func:`check_dataset` instead lets through the
  dataset clauses (and the protocol's ``default-graph-uri`` / ``named-graph-uri``) that name graphs
  of the served dataset and refuses any other IRI, so nothing is ever fetched.

``allow_service=True`` (``smqi query --allow-service``) lifts the SERVICE and FROM refusals: the user
asked for federation. Parameters are never pasted into query text (``initBindings``), so they need no check.

The guard decides on the whole query, whatever its depth (issue 16): before any parser sees the
text, :func:`check_nesting` counts the nesting of ``{ } ( ) [ ]`` outside strings, IRIs and comments
in one linear, non-recursive pass and refuses more than ``SMQI_MAX_QUERY_NESTING`` levels (rdflib's
parser gives up at a few dozen levels, pyoxigraph's crashes the process at about 3,000). The same
pass notes a ``SERVICE`` keyword anywhere in the query; the parsed algebra is then walked whole
(an explicit stack, no depth cut-off), and a query that cannot be parsed and walked is refused.
"""

from __future__ import annotations

import re
from typing import Any

from kg.model.errors import UsageError

__all__ = ["QueryRefused", "QueryShape", "check_query", "check_nesting", "query_shape", "query_dataset",
           "check_dataset", "UPDATE_WORDS"]

UPDATE_WORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY")


class QueryRefused(UsageError):
    """The query asks for something smqi does not do on a user's behalf (update, federation)."""


# SPARQL's lexical tokens that can hold brackets, quotes or '#' without their usual meaning: long and
# short strings, IRIs and comments; "code" is everything between them. Every alternative is linear
# (no nested quantifiers) and a string that is not closed stops the scan, so the pass is linear.
_STRINGS = "|".join([
    r'"""(?:[^"\\]|\\.|"(?!""))*"""', r"'''(?:[^'\\]|\\.|'(?!''))*'''",
    r'"(?:[^"\\\n\r]|\\.)*"', r"'(?:[^'\\\n\r]|\\.)*'",
])
_LEXER = re.compile(
    r"(?P<code>[^\"'<#]+)"
    rf"|(?P<string>{_STRINGS})"
    r"|(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)"
    r"|(?P<comment>#[^\n\r]*)"
    r"|(?P<lt><)"
    r"|(?P<open>[\"'])", re.DOTALL)
_BRACKET = re.compile(r"[(){}\[\]]")
_SERVICE = re.compile(r"(?<![\w?$@:\-])SERVICE(?![\w:\-])", re.IGNORECASE)


class QueryShape:
    """What the lexical pass found: the deepest nesting, where it is, and whether SERVICE occurs."""

    def __init__(self, depth: int, line: int, service: bool, unclosed_line: int | None) -> None:
        self.depth, self.line, self.service, self.unclosed_line = depth, line, service, unclosed_line


def _peak(text: str) -> tuple[int, int]:
    """(highest nesting reached from 0, net change) of the brackets in ``text``."""
    depth = peak = 0
    for match in _BRACKET.finditer(text):
        depth += 1 if match.group() in "({[" else -1
        peak = max(peak, depth)
    return peak, depth


def query_shape(text: str, stop_above: int | None = None) -> QueryShape:
    """One linear pass over ``text`` (no recursion, no parser): the deepest bracket nesting outside
    strings, IRIs and comments; whether a SERVICE keyword occurs there; the line of a string left open.

    An IRI-shaped token with brackets inside (``<`` may also be the less-than operator) counts as
    brackets too where that can only make the nesting deeper, so the depth is never underestimated.
    ``stop_above``: stop counting once the depth is past it."""
    depth = deepest = 0
    deepest_at = 0
    service = False
    for token in _LEXER.finditer(text):
        kind = token.lastgroup
        if kind == "code":
            chunk = token.group()
            service = service or bool(_SERVICE.search(chunk))
            for bracket in _BRACKET.finditer(chunk):
                if bracket.group() in "({[":
                    depth += 1
                    if depth > deepest:
                        deepest, deepest_at = depth, token.start() + bracket.start()
                        if stop_above is not None and deepest > stop_above:
                            return QueryShape(deepest, text.count("\n", 0, deepest_at) + 1, service, None)
                else:
                    depth = max(0, depth - 1)
        elif kind == "iri" and _BRACKET.search(token.group()):
            peak, net = _peak(token.group())
            if depth + peak > deepest:
                deepest, deepest_at = depth + peak, token.start()
            depth += max(0, net)
        elif kind == "open":  # a quote that starts no complete string
            return QueryShape(deepest, text.count("\n", 0, deepest_at) + 1, service,
                              text.count("\n", 0, token.start()) + 1)
    return QueryShape(deepest, text.count("\n", 0, deepest_at) + 1, service, None)


def check_nesting(text: str, where: str = "the query") -> QueryShape:
    """Refuse (UsageError) a query nested deeper than ``SMQI_MAX_QUERY_NESTING`` before any parser
    sees it, and one with a string that is never closed; return what the pass found."""
    from kg.model.limits import max_query_nesting

    cap = max_query_nesting()
    shape = query_shape(text, stop_above=cap)
    if shape.depth > cap:
        raise UsageError(f"{where}: line {shape.line}: the query nests brackets ({{ }}, ( ), [ ]) more than "
                         f"{cap} levels deep; smqi reads at most {cap} (SMQI_MAX_QUERY_NESTING): write it flatter")
    if shape.unclosed_line is not None:
        raise UsageError(f"{where}: line {shape.unclosed_line}: the query does not parse: a string is "
                         "opened and never closed")
    return shape


def _walk(root: Any):
    """Every CompValue-like node of an rdflib parse tree or algebra, however deep (an explicit stack;
    pyparsing's ParseResults, which hold parts of both, are neither dicts nor lists)."""
    from pyparsing import ParseResults

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(getattr(node, "name", None), str):
            yield node
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, ParseResults)):
            stack.extend(node)


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

    shape = check_nesting(text, where)
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
    refusal = ("would send the query to another host; smqi does not federate unless asked "
               "(smqi query --allow-service)")
    # the parse tree as parsed: rdflib's translation rewrites it in place and can drop a SERVICE
    # nested in FILTER EXISTS inside FILTER EXISTS, which Oxigraph would still run
    services = [node for node in _walk(parsed) if node.name == "ServiceGraphPattern"]
    try:
        query = translateQuery(parsed)
    except RecursionError:
        raise UsageError(f"{where}: the query is nested too deeply to read") from None
    except Exception as exc:  # rdflib's algebra raises on some semantic errors (e.g. scoping)
        detail = " ".join(str(exc).split())[:300]
        raise UsageError(f"{where}: the query is not valid SPARQL: {type(exc).__name__}: {detail}") from None
    if allow_service:
        return query
    services += [node for node in _walk(query.algebra) if node.name == "ServiceGraphPattern"]
    if services:
        target = services[0].get("term")
        raise QueryRefused(f"{where}: SERVICE {('<' + str(target) + '>') if target is not None else ''} {refusal}")
    if shape.service:  # the keyword is in the text but in neither tree: refuse what is not understood
        raise QueryRefused(f"{where}: the query names SERVICE, which {refusal}")
    if refuse_from:
        dataset = query.algebra.get("datasetClause")
        if dataset:
            raise QueryRefused(f"{where}: FROM / FROM NAMED would make rdflib fetch the graph from its "
                               "IRI; query the local graph (or use --with FILE, or --allow-service)")
    return query


def query_dataset(query: Any) -> tuple[list[str], list[str]]:
    """The IRIs of a parsed query's ``FROM`` (default graphs) and ``FROM NAMED`` clauses, in order
    and without repeats; two empty lists when the query names no dataset."""
    defaults: list[str] = []
    named: list[str] = []
    for clause in query.algebra.get("datasetClause") or ():
        if "default" in clause:  # CompValue.get answers the key itself for a missing key
            if str(clause["default"]) not in defaults:
                defaults.append(str(clause["default"]))
        elif "named" in clause and str(clause["named"]) not in named:
            named.append(str(clause["named"]))
    return defaults, named


def check_dataset(iris: dict[str, list[str]], graphs: set[str] | frozenset[str], where: str = "the query") -> None:
    """Refuse (UsageError) a dataset IRI that names no graph of the served dataset.

    ``iris`` maps where each list came from (``"FROM"``, ``"default-graph-uri"``, …) to its IRIs;
    ``graphs`` are the names of the dataset's graphs. smqi never fetches a graph from its IRI."""
    for source, values in iris.items():
        for iri in values:
            if iri not in graphs:
                known = ", ".join(f"<{g}>" for g in sorted(graphs)[:12]) + (" …" if len(graphs) > 12 else "")
                raise UsageError(f"{where}: {source} <{iri}> names no graph of this dataset, and smqi never "
                                 f"fetches a graph from its IRI; its {len(graphs)} graphs are: {known or '(none)'}")
