"""The SHACL shapes (``shapes/*.ttl``) against their fixtures (``tests/shapes/<shape>/{valid,invalid}/``).

Each fixture is validated together with the real vocabularies (``ontology/vocab/*.ttl``) against all
shapes files merged, with the ontology as ``ont_graph`` (so ``sh:class`` and ``sh:targetClass`` see the
subclass axioms) and no inference. A valid fixture must give no result at all. An invalid fixture
declares every result it must give in its own header, one line per result::

    # expect: focus=<node> path=<iri or -> component=<iri> shape=<iri> [constraint=<iri>] [severity=<iri>]

Values are ``<full IRIs>`` or prefixed names bound in the fixture; ``path=-`` means the result has no
``sh:resultPath``; ``constraint`` (the ``sh:sourceConstraint`` of SPARQL results) defaults to none and
``severity`` to ``sh:Violation``. The set of actual results must equal the declared set exactly.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import pytest
from pyshacl import validate
from rdflib import RDF, Graph, Literal, Node, URIRef
from rdflib.namespace import SH, SKOS

from kg.model.namespaces import SCHEMES, scheme_iri
from kg.model.resources import ontology_file, shape_files, vocab_files

FIXTURES = Path(__file__).resolve().parents[1] / "shapes"
KINDS = ("valid", "invalid")
EXPECT_LINE = re.compile(r"^#\s*expect:(.*)$")
EXPECT_KEYS = {"focus", "path", "component", "shape", "constraint", "severity"}
REQUIRED_KEYS = {"focus", "path", "component", "shape"}

# Parameters of the SHACL core constraint components: a shape that uses any of them reports
# results, so it must carry an sh:message for the review author.
CONSTRAINT_PARAMETERS = {
    SH[name]
    for name in (
        "class datatype nodeKind minCount maxCount minExclusive minInclusive maxExclusive maxInclusive "
        "minLength maxLength pattern languageIn uniqueLang equals disjoint lessThan lessThanOrEquals "
        "not and or xone node property qualifiedValueShape closed hasValue in sparql"
    ).split()
} - {SH.property, SH.sparql}  # these two point at shapes/constraints that carry their own messages


class Result(NamedTuple):
    focus: Node
    path: Node | None
    component: Node
    shape: Node
    constraint: Node | None
    severity: Node


# ---------------------------------------------------------------- loading (cached: parsing is the slow part)


@lru_cache(maxsize=None)
def shapes_graph() -> Graph:
    g = Graph()
    for path in shape_files():
        g.parse(path, format="turtle")
    return g


@lru_cache(maxsize=None)
def ontology_graph() -> Graph:
    return Graph().parse(ontology_file(), format="turtle")


@lru_cache(maxsize=None)
def vocab_graph() -> Graph:
    g = Graph()
    for path in vocab_files():
        g.parse(path, format="turtle")
    return g


def run_shacl(data: Graph) -> tuple[bool, Graph]:
    conforms, report, _text = validate(
        data,
        shacl_graph=shapes_graph(),
        ont_graph=ontology_graph(),
        inference="none",
        advanced=True,
        allow_warnings=False,
    )
    return conforms, report


def results_of(report: Graph) -> dict[Result, list[Node]]:
    """Each validation result as a comparable tuple, with its messages."""
    found: dict[Result, list[Node]] = {}
    for r in report.subjects(RDF.type, SH.ValidationResult):
        key = Result(
            report.value(r, SH.focusNode),
            report.value(r, SH.resultPath),
            report.value(r, SH.sourceConstraintComponent),
            report.value(r, SH.sourceShape),
            report.value(r, SH.sourceConstraint),
            report.value(r, SH.resultSeverity),
        )
        found.setdefault(key, []).extend(report.objects(r, SH.resultMessage))
    return found


def load_fixture(path: Path) -> Graph:
    data = Graph()
    data += vocab_graph()
    data.parse(path, format="turtle")
    return data


# ---------------------------------------------------------------- fixtures and their declared results


def cases(kind: str) -> list[Path]:
    return sorted(FIXTURES.glob(f"*/{kind}/*.ttl"))


def case_id(path: Path) -> str:
    return path.relative_to(FIXTURES).with_suffix("").as_posix()


def resolve(token: str, graph: Graph, where: str) -> URIRef | None:
    if token == "-":
        return None
    if token.startswith("<") and token.endswith(">"):
        return URIRef(token[1:-1])
    try:
        return URIRef(graph.namespace_manager.expand_curie(token))
    except ValueError as exc:
        raise ValueError(f"{where}: cannot resolve {token!r}: {exc}") from None


def expected_results(path: Path, graph: Graph) -> set[Result]:
    expected = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = EXPECT_LINE.match(line)
        if not m:
            continue
        where = f"{path.name}:{n}"
        fields = dict(part.split("=", 1) for part in m.group(1).split())
        unknown, missing = set(fields) - EXPECT_KEYS, REQUIRED_KEYS - set(fields)
        if unknown or missing:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        values = {k: resolve(v, graph, where) for k, v in fields.items()}
        expected.add(
            Result(
                values["focus"],
                values["path"],
                values["component"],
                values["shape"],
                values.get("constraint"),
                values.get("severity", SH.Violation),
            )
        )
    return expected


def show(results) -> str:
    return "\n".join(sorted(" ".join(str(x) for x in r) for r in results)) or "(none)"


# ---------------------------------------------------------------- the cases


@pytest.mark.parametrize("fixture", cases("valid"), ids=case_id)
def test_valid_fixture_conforms(fixture: Path) -> None:
    data = load_fixture(fixture)
    assert not expected_results(fixture, data), "a valid fixture must not declare expected results"
    conforms, report = run_shacl(data)
    found = results_of(report)
    assert not found, f"{case_id(fixture)} should give no results, got:\n{show(found)}"
    assert conforms


@pytest.mark.parametrize("fixture", cases("invalid"), ids=case_id)
def test_invalid_fixture_gives_exactly_the_declared_results(fixture: Path) -> None:
    data = load_fixture(fixture)
    expected = expected_results(fixture, data)
    assert expected, f"{case_id(fixture)} declares no '# expect:' line"
    conforms, report = run_shacl(data)
    found = results_of(report)
    assert set(found) == expected, (
        f"{case_id(fixture)}\nmissing:\n{show(expected - set(found))}\nunexpected:\n{show(set(found) - expected)}"
    )
    assert not conforms
    # The author-facing message must reach the report: the shape's own for core constraints,
    # the SPARQL constraint's (with {?var} filled in) for SPARQL ones.
    shapes = shapes_graph()
    for result, messages in found.items():
        assert messages, f"{result} has no sh:resultMessage"
        if result.constraint is None:
            assert set(messages) <= set(shapes.objects(result.shape, SH.message)), (result, messages)
        else:
            assert all("{?" not in str(m) for m in messages), messages


def test_real_vocabularies_conform_to_the_shapes() -> None:
    vocab = vocab_graph()
    for _field, (slug, cls) in SCHEMES.items():
        members = set(vocab.subjects(RDF.type, cls))
        assert members, f"vocab has no {cls} concept: the shapes would check nothing"
        assert members <= set(vocab.subjects(SKOS.inScheme, scheme_iri(slug)))
    conforms, report = run_shacl(vocab)
    found = results_of(report)
    assert not found, f"ontology/vocab does not conform:\n{show(found)}"
    assert conforms


# ---------------------------------------------------------------- coverage and hygiene


def test_cases_are_discovered() -> None:
    # A glob of the wrong folder would otherwise pass by checking nothing.
    assert FIXTURES.is_dir(), FIXTURES
    assert len(cases("valid")) >= len(shape_files())
    assert len(cases("invalid")) >= len(shape_files())
    assert shape_files(), "no shapes files found"


def test_every_shapes_file_has_valid_and_invalid_fixtures() -> None:
    shape_names = {p.stem for p in shape_files()}
    fixture_names = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert fixture_names == shape_names, "fixture folders must match shapes files one to one"
    for name in sorted(shape_names):
        for kind in KINDS:
            assert list((FIXTURES / name / kind).glob("*.ttl")), f"no {kind} fixture for shapes/{name}.ttl"
    strays = [p for p in FIXTURES.rglob("*") if p.is_file() and p.parent.name not in KINDS]
    assert not strays, f"fixtures outside a valid/ or invalid/ folder: {strays}"


def test_fixture_headers() -> None:
    for kind in KINDS:
        for path in cases(kind):
            text = path.read_text(encoding="utf-8")
            assert text.startswith("# Made up for tests"), f"{case_id(path)} must open by saying it is made up"
            if kind == "invalid":
                assert "This MUST fail validation" in text, case_id(path)
                assert re.search(r"^# Breaks ", text, re.M), f"{case_id(path)} must say which constraint it breaks"


def test_every_node_shape_is_exercised_by_an_invalid_fixture() -> None:
    shapes = shapes_graph()
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert node_shapes
    owner = {prop: node for node, prop in shapes.subject_objects(SH.property)}
    exercised = set()
    for path in cases("invalid"):
        for result in expected_results(path, Graph().parse(path, format="turtle")):
            exercised.add(owner.get(result.shape, result.shape))
    assert not node_shapes - exercised, f"no invalid fixture for {sorted(node_shapes - exercised)}"


def test_every_constraint_has_a_message_and_every_property_shape_a_stable_iri() -> None:
    shapes = shapes_graph()
    property_shapes = set(shapes.subjects(SH.path, None))
    attached = set(shapes.objects(None, SH.property))
    sparql = set(shapes.objects(None, SH.sparql))
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert property_shapes and attached and sparql and node_shapes
    for ps in property_shapes | attached:
        assert isinstance(ps, URIRef), f"property shape without a stable IRI: {ps} ({shapes.value(ps, SH.path)})"
        assert shapes.value(ps, SH.name) is not None, f"{ps} has no sh:name"
        assert shapes.value(ps, SH.message) is not None, f"{ps} has no sh:message"
    for c in sparql:
        assert isinstance(c, URIRef), f"SPARQL constraint without a stable IRI: {c}"
        assert shapes.value(c, SH.message) is not None, f"{c} has no sh:message"
    for ns in node_shapes:
        if any(shapes.value(ns, p) is not None for p in CONSTRAINT_PARAMETERS):
            assert shapes.value(ns, SH.message) is not None, f"{ns} has node-level constraints but no sh:message"
    for message in shapes.objects(None, SH.message):
        assert isinstance(message, Literal) and str(message).strip(), f"empty sh:message: {message!r}"


def test_shapes_files_open_with_a_comment() -> None:
    for path in shape_files():
        assert path.read_text(encoding="utf-8").startswith("# SHACL shapes for "), path.name
