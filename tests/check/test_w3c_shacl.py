"""The W3C SHACL Core test suite (tests/w3c-shacl-core, see its NOTICE.md) through ``smqi validate``.

Every ``sht:Validate`` entry of the manifests runs as ``smqi validate DATA --shapes SHAPES --format
turtle`` in this process; the printed W3C report is compared with the expected one the way the suite
defines it: ``sh:conforms``, and the results as a set of (focusNode, resultPath, value, sourceShape,
sourceConstraintComponent, resultSeverity), blank nodes compared by structure (what they describe,
following blank nodes), literals by lexical form, datatype and language tag (case-insensitive: RDF
1.1 lets a store normalise the case). Messages and sh:detail are ignored. Every case must pass: the
store engine judges it, or hands that shape to pySHACL where pySHACL is right.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from kg.cli import main
from kg.io.rdf import parse_into

SUITE = Path(__file__).resolve().parents[1] / "w3c-shacl-core" / "core"
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
SHT = "http://www.w3.org/ns/shacl-test#"
KEYS = (SH.focusNode, SH.resultPath, SH.value, SH.sourceShape, SH.sourceConstraintComponent, SH.resultSeverity)


def read(path: Path) -> Graph:
    return parse_into(Graph(), path, as_written=True)


def file_of(iri: Node) -> Path:
    assert isinstance(iri, URIRef) and str(iri).startswith("file://"), iri
    return Path(str(iri)[len("file://"):].split("#")[0])


def cases() -> list[tuple[str, Path, Path, Graph, Node]]:
    """(id, data file, shapes file, manifest graph, expected report node) of every test, following
    mf:include from core/manifest.ttl."""
    found, todo, seen = [], [SUITE / "manifest.ttl"], set()
    while todo:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        graph = read(path)
        todo += [file_of(i) for i in graph.objects(None, URIRef(MF + "include"))]
        for head in graph.objects(None, URIRef(MF + "entries")):
            for entry in graph.items(head):
                assert (entry, RDF.type, URIRef(SHT + "Validate")) in graph, entry
                action = graph.value(entry, URIRef(MF + "action"))
                data = file_of(graph.value(action, URIRef(SHT + "dataGraph")))
                shapes = file_of(graph.value(action, URIRef(SHT + "shapesGraph")))
                name = Path(str(entry)[len("file://"):]).relative_to(SUITE).as_posix()
                found.append((name, data, shapes, graph, graph.value(entry, URIRef(MF + "result"))))
    return sorted(found, key=lambda c: c[0])


CASES = cases()


def signature(graph: Graph, node: Node | None, depth: int = 0) -> object:
    """A term, with a blank node replaced by what it describes (recursively), so reports compare
    structurally."""
    if node is None:
        return None
    if isinstance(node, Literal):
        return ("literal", str(node), str(node.datatype or ""), (node.language or "").lower())
    if isinstance(node, BNode):
        if depth > 20:
            return ("bnode", "…")
        return ("bnode", frozenset((p, signature(graph, o, depth + 1)) for p, o in graph.predicate_objects(node)))
    return ("iri", str(node))


def results_of(graph: Graph, report: Node) -> set[tuple]:
    return {tuple(signature(graph, graph.value(r, key)) for key in KEYS) for r in graph.objects(report, SH.result)}


def show(results: set[tuple]) -> str:
    return "\n".join(sorted(repr(r) for r in results)) or "(none)"


def test_the_whole_suite_is_found() -> None:
    assert len(CASES) == 98
    assert len({c[0] for c in CASES}) == 98


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_w3c_core_case(case, capsys, tmp_path) -> None:
    _name, data, shapes, expected_graph, expected_node = case
    expected_conforms = expected_graph.value(expected_node, SH.conforms)
    code = main(["validate", str(data), "--shapes", str(shapes), "--format", "turtle"])
    out = capsys.readouterr()
    assert code == (0 if str(expected_conforms) == "true" else 1), out.err
    printed = tmp_path / "report.ttl"
    printed.write_text(out.out, encoding="utf-8")
    got_graph = read(printed)
    (report,) = got_graph.subjects(RDF.type, SH.ValidationReport)
    assert str(got_graph.value(report, SH.conforms)) == str(expected_conforms)
    expected, got = results_of(expected_graph, expected_node), results_of(got_graph, report)
    assert got == expected, f"missing:\n{show(expected - got)}\nunexpected:\n{show(got - expected)}"
