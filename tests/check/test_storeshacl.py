"""The store SHACL engine (kg/check/shaclstore/, SPARQL on Oxigraph) against pyshacl, result for result.

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
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import SH, XSD

from kg.check import storeshacl as fastshacl
from pipelinedata import pipeline_data
from kg.model.resources import ontology_file, shape_files, vocab_files

FIXTURES = Path(__file__).resolve().parents[1] / "shapes"
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
    data = pipeline_data().shacl_data_graph()
    assert len(data) > 4000
    assert fast_results(data) == pyshacl_results(data) == {}


PREFIXES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
"""
EX = "http://example.org/"


def validate_text(tmp_path: Path, data: str, shapes: str) -> list[fastshacl.Result]:
    """Both files read as written (kg.io.rdf), validated on a fresh store."""
    (tmp_path / "data.ttl").write_text(PREFIXES + data, encoding="utf-8")
    (tmp_path / "shapes.ttl").write_text(PREFIXES + shapes, encoding="utf-8")
    conforms, results, report = fastshacl.validate_files([tmp_path / "data.ttl"], [tmp_path / "shapes.ttl"])
    assert conforms == (not results)
    assert report.value(next(report.subjects(RDF.type, SH.ValidationReport)), SH.conforms).toPython() is conforms
    return results


def one_result(results: list[fastshacl.Result]) -> tuple:
    assert len(results) == 1, results
    r = results[0]
    return (r.focus, r.path, r.component, r.shape, r.value)


XSD_NS = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize("value, datatype, holds, breaks", [
    ("1.50", "decimal", 'sh:pattern "0$"', 'sh:pattern "5$"'),                           # stored "1.5"
    ("2020-01-01T00:00:00+00:00", "dateTime", 'sh:pattern "[+]00:00$"', 'sh:pattern "Z$"'),  # stored with Z
    ("1.0E0", "double", "sh:minLength 2", "sh:maxLength 4"),                            # stored "1"
    ("007", "integer", 'sh:pattern "^00"', "sh:maxLength 1"),                           # stored "7"
], ids=["decimal-pattern", "dateTime-pattern", "double-minLength", "integer-leading-zeros"])
def test_string_constraints_judge_the_lexical_form_as_written(tmp_path, value, datatype, holds, breaks) -> None:
    data = f'ex:a ex:p "{value}"^^xsd:{datatype} .'
    assert validate_text(tmp_path, data, f"ex:S sh:targetNode ex:a ; sh:property [ sh:path ex:p ; {holds} ] .") == []
    found = validate_text(tmp_path, data, f"ex:S sh:targetNode ex:a ; sh:property ex:P . ex:P sh:path ex:p ; {breaks} .")
    component = SH.PatternConstraintComponent if "pattern" in breaks else SH.MaxLengthConstraintComponent
    assert one_result(found) == (URIRef(EX + "a"), URIRef(EX + "p"), component, URIRef(EX + "P"),
                                 Literal(value, datatype=URIRef(XSD_NS + datatype), normalize=False))
    assert str(found[0].value) == value  # the value as written, not as stored


def test_language_tags_may_be_lower_cased_but_are_judged_right(tmp_path) -> None:
    data = 'ex:a ex:p "hi"@en-US .'
    assert validate_text(tmp_path, data, 'ex:S sh:targetNode ex:a ; sh:property [ sh:path ex:p ; '
                                         'sh:languageIn ("en") ] .') == []
    found = validate_text(tmp_path, data, 'ex:S sh:targetNode ex:a ; sh:property ex:P . '
                                          'ex:P sh:path ex:p ; sh:languageIn ("fr") .')
    focus, path, component, shape, value = one_result(found)
    assert (focus, path, component, shape) == (URIRef(EX + "a"), URIRef(EX + "p"),
                                               SH.LanguageInConstraintComponent, URIRef(EX + "P"))
    assert (str(value), value.language.lower()) == ("hi", "en-us")  # RDF 1.1: tag case may be normalised


def test_sh_in_is_term_equality(tmp_path) -> None:
    data = 'ex:a ex:p "a", "c", 1, 1.0, ex:b .'
    shapes = 'ex:S sh:targetNode ex:a ; sh:property ex:P . ex:P sh:path ex:p ; sh:in ("a" 1 ex:b) .'
    found = validate_text(tmp_path, data, shapes)
    assert sorted((r.component, r.value.n3()) for r in found) == [
        (SH.InConstraintComponent, '"1.0"^^<http://www.w3.org/2001/XMLSchema#decimal>'),
        (SH.InConstraintComponent, '"c"')]
    assert {(r.focus, r.path, r.shape) for r in found} == {(URIRef(EX + "a"), URIRef(EX + "p"), URIRef(EX + "P"))}


def test_sh_in_with_a_constant_stored_in_another_form(tmp_path) -> None:
    data = 'ex:a ex:p "1.5"^^xsd:decimal . ex:b ex:p "1.50"^^xsd:decimal .'
    shapes = 'ex:S sh:targetSubjectsOf ex:p ; sh:property ex:P . ex:P sh:path ex:p ; sh:in ("1.50"^^xsd:decimal) .'
    assert one_result(validate_text(tmp_path, data, shapes)) == (
        URIRef(EX + "a"), URIRef(EX + "p"), SH.InConstraintComponent, URIRef(EX + "P"),
        Literal("1.5", datatype=XSD.decimal))


def test_unsupported_features_are_refused_not_skipped() -> None:
    g = Graph()
    g.parse(data="""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:node ex:S .""", format="turtle")
    with pytest.raises(fastshacl.Unsupported, match=r"shape http://example.org/S .*refers to itself"):
        fastshacl.validate_store(ox.Store(), g, fallback=False)
