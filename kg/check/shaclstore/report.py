"""Results as a W3C ``sh:ValidationReport`` graph (as the pySHACL command prints it), text or JSON.

Blank nodes a result names (a focus node or value from the data, a shape, a path structure) are
copied into the report with what they describe (their blank-node closure), so the report can be
compared with an expected one structurally, as the W3C test suite does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from rdflib import RDF, BNode, Graph, Literal
from rdflib.namespace import SH
from rdflib.term import Node

from kg.check.shaclstore.model import Result

__all__ = [
    "conforms", "default_message", "report_graph", "as_turtle", "as_dicts", "as_text", "as_json",
    "PATH_KEYS"
]


def conforms(results: Iterable[Result]) -> bool:
    """SHACL: a graph conforms when validation gives no result at all (of any severity)."""
    return not any(True for _ in results)


def default_message(result: Result) -> str:
    """A message for a constraint without sh:message."""
    name = str(result.component).rsplit("#", 1)[-1].removesuffix("ConstraintComponent")
    return f"breaks sh:{name[:1].lower()}{name[1:]}"


def _copy_closure(node: Node, source: Graph | None, target: Graph) -> None:
    """Copy the triples that describe blank node ``node`` (following blank nodes) from ``source``."""
    if source is None or not isinstance(node, BNode):
        return
    todo, seen = [node], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for p, o in source.predicate_objects(current):
            target.add((current, p, o))
            if isinstance(o, BNode):
                todo.append(o)


PATH_KEYS = (SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath, SH.alternativePath)


def _copy_path(path: Node, shapes: Graph | None, target: Graph, depth: int = 0) -> None:
    """Copy a SHACL path structure as the engine reads it (a list is a sequence; else the first of
    the path predicates it has), nothing else the node may carry."""
    if shapes is None or not isinstance(path, BNode) or depth > 50:
        return
    if (path, RDF.first, None) in shapes:
        node = path
        while isinstance(node, BNode) and (node, RDF.first, None) in shapes:
            first, rest = shapes.value(node, RDF.first), shapes.value(node, RDF.rest)
            target.add((node, RDF.first, first))
            target.add((node, RDF.rest, rest))
            _copy_path(first, shapes, target, depth + 1)
            node = rest
        return
    for key in PATH_KEYS:
        inner = shapes.value(path, key)
        if inner is not None:
            target.add((path, key, inner))
            _copy_path(inner, shapes, target, depth + 1)  # alternatives: a list, copied as one
            return


def report_graph(results: list[Result], shapes: Graph | None = None, data: Graph | None = None) -> Graph:
    """A W3C validation report: sh:conforms and one sh:result per result (focusNode, resultPath,
    value, sourceShape, sourceConstraintComponent, resultSeverity, resultMessage, sourceConstraint)."""
    graph = Graph()
    graph.bind("sh", SH)
    if shapes is not None:
        for prefix, namespace in shapes.namespaces():
            if prefix and prefix != "sh":
                graph.bind(prefix, namespace, override=False)
    report = BNode()
    graph.add((report, RDF.type, SH.ValidationReport))
    graph.add((report, SH.conforms, Literal(conforms(results))))
    for result in results:
        node = BNode()
        graph.add((report, SH.result, node))
        graph.add((node, RDF.type, SH.ValidationResult))
        graph.add((node, SH.focusNode, result.focus))
        _copy_closure(result.focus, data, graph)
        if result.path is not None:
            graph.add((node, SH.resultPath, result.path))
            _copy_path(result.path, shapes, graph)
        if result.value is not None:
            graph.add((node, SH.value, result.value))
            _copy_closure(result.value, data, graph)
        graph.add((node, SH.sourceShape, result.shape))
        _copy_closure(result.shape, shapes, graph)
        graph.add((node, SH.sourceConstraintComponent, result.component))
        graph.add((node, SH.resultSeverity, result.severity))
        if result.constraint is not None:
            graph.add((node, SH.sourceConstraint, result.constraint))
            _copy_closure(result.constraint, shapes, graph)
        for message in result.messages or (default_message(result),):
            graph.add((node, SH.resultMessage, Literal(message)))
    return graph


def as_turtle(graph: Graph) -> str:
    """The report in Turtle, written by Oxigraph (rdflib writes an ill-formed ``"none"^^xsd:boolean``
    as a bare ``none``, which is not Turtle)."""
    import pyoxigraph as ox

    from kg.io.store import to_ox

    prefixes = {prefix: str(ns) for prefix, ns in graph.namespaces()
                if prefix and (prefix == "sh" or any(str(t).startswith(str(ns)) for t in graph.all_nodes()))}
    triples = [ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph]
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes).decode("utf-8")


def _show(node: Node | None) -> str | None:
    if node is None:
        return None
    return node.n3() if not isinstance(node, BNode) else f"_:{node}"


def as_dicts(results: list[Result]) -> list[dict]:
    """Results as plain dictionaries (terms in N-Triples syntax), for JSON."""
    out = []
    for r in results:
        item = {"focus": _show(r.focus), "path": _show(r.path), "value": _show(r.value),
                "component": _show(r.component), "shape": _show(r.shape),
                "constraint": _show(r.constraint), "severity": str(r.severity).rsplit("#", 1)[-1],
                "messages": list(r.messages or (default_message(r),))}
        out.append({k: v for k, v in item.items() if v is not None})
    return out


def as_text(results: list[Result]) -> str:
    """One line per result after a ``Conforms:`` line."""
    n = len(results)
    lines = ["Conforms: yes" if not results else f"Conforms: no ({n} result{'s' if n != 1 else ''})"]
    for r in results:
        bits = [str(r.severity).rsplit("#", 1)[-1], _show(r.focus) or ""]
        if r.path is not None:
            bits.append(f"path {_show(r.path)}")
        if r.value is not None:
            bits.append(f"value {_show(r.value)}")
        bits.append(f"shape {_show(r.shape)}")
        lines.append(", ".join(bits) + ": " + "; ".join(r.messages or (default_message(r),)))
    return "\n".join(lines) + "\n"


def as_json(results: list[Result]) -> str:
    return json.dumps({"conforms": not results, "results": as_dicts(results)}, indent=2, ensure_ascii=False) + "\n"
