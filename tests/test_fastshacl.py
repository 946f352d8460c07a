"""The fast SHACL engine (kg/fastshacl.py, SPARQL on Oxigraph) against pyshacl, result for result.

For every shape fixture (tests/shapes/**), the real vocabularies and the real evidence, both engines
validate the same data with the same shapes and ontology; the sets of (focus node, path, constraint
component, source shape, source constraint, severity, value) must be equal, and so must the messages.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
import pytest
from pyshacl import validate
from rdflib import RDF, Graph
from rdflib.namespace import SH

from kg.check import storeshacl as fastshacl
from kg.io.dataset import assemble
from kg.model.resources import ontology_file, shape_files, vocab_files

FIXTURES = Path(__file__).resolve().parent / "shapes"
CASES = sorted(FIXTURES.glob("*/*/*.ttl"))


@lru_cache(maxsize=None)
def shapes() -> Graph:
    g = Graph()
    for path in shape_files():
        g.parse(path, format="turtle")
    return g


@lru_cache(maxsize=None)
def ontology() -> Graph:
    return Graph().parse(ontology_file(), format="turtle")


@lru_cache(maxsize=None)
def vocab() -> Graph:
    g = Graph()
    for path in vocab_files():
        g.parse(path, format="turtle")
    return g


def pyshacl_results(data: Graph) -> dict[tuple, tuple[str, ...]]:
    _conforms, report, _ = validate(data, shacl_graph=shapes(), ont_graph=ontology(), inference="none",
                                    advanced=True, allow_warnings=True)
    found: dict[tuple, tuple[str, ...]] = {}
    for r in report.subjects(RDF.type, SH.ValidationResult):
        key = tuple(report.value(r, p) for p in (SH.focusNode, SH.resultPath, SH.sourceConstraintComponent,
                                                 SH.sourceShape, SH.sourceConstraint, SH.resultSeverity,
                                                 SH.value))
        found[key] = tuple(sorted(str(m) for m in report.objects(r, SH.resultMessage)))
    return found


def fast_results(data: Graph) -> dict[tuple, tuple[str, ...]]:
    store, fidelity = fastshacl.load_graph([data, ontology()])
    return {r.key: r.messages for r in fastshacl.validate_store(store, shapes(), fidelity)}


def show(keys) -> str:
    return "\n".join(sorted(" ".join(str(x) for x in k) for k in keys)) or "(none)"


def test_fixtures_are_found() -> None:
    assert len(CASES) >= 30, CASES
    assert {p.parent.name for p in CASES} == {"valid", "invalid"}


@pytest.mark.parametrize("fixture", CASES, ids=lambda p: p.relative_to(FIXTURES).with_suffix("").as_posix())
def test_same_results_as_pyshacl_on_fixture(fixture: Path) -> None:
    data = Graph()
    data += vocab()
    data.parse(fixture, format="turtle")
    expected, got = pyshacl_results(data), fast_results(data)
    assert set(got) == set(expected), (
        f"missing:\n{show(set(expected) - set(got))}\nunexpected:\n{show(set(got) - set(expected))}")
    assert got == expected  # and the same messages, {?value} filled in the same way
    if fixture.parent.name == "invalid":
        assert got, "an invalid fixture must give results in both engines"


def test_same_results_as_pyshacl_on_the_real_data() -> None:
    data = assemble().shacl_data_graph()
    assert len(data) > 4000
    assert fast_results(data) == pyshacl_results(data) == {}


def test_unsupported_features_are_refused_not_skipped() -> None:
    g = Graph()
    g.parse(data="""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:closed true .""", format="turtle")
    with pytest.raises(fastshacl.Unsupported):
        fastshacl.validate_store(ox.Store(), g)
