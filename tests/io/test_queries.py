"""Tests of kg.io.queries and of the named queries: every query runs on its made-up fixture.

Fixtures live in ``tests/queries/<query-name>/``: ``data.ttl`` (made-up triples, tricky rows
commented) and ``expected.csv`` (header = result variables, literals as lexical values, IRIs in
full, an empty cell for an unbound value). Each fixture is loaded together with the real ontology
and vocabularies, so labels come from the shipped vocabulary files.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from rdflib import BNode, Dataset, Graph, Literal, URIRef

from kg.io import queries as kq
from kg.model import resources
from kg.model.errors import DataError, SmqiError, UsageError
from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB

# rdflib 7.6 warns from inside Dataset.triples() itself when default_union=True; not our call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Dataset.default_context is deprecated:DeprecationWarning"
)

FIXTURES = Path(__file__).parents[1] / "queries"
TESTED_KINDS = ("cq", "qc", "typology")


def _tested_queries() -> list[kq.NamedQuery]:
    return [q for q in kq.list_queries() if q.kind in TESTED_KINDS]


def _fixture_dirs() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.is_dir()) if FIXTURES.is_dir() else []


def _load(data: Path, container: str) -> Graph:
    """Ontology + every vocabulary file + the fixture, in a union Dataset or in one plain Graph."""
    if container == "dataset":
        ds = Dataset(default_union=True)
        ds.graph(G_ONTOLOGY).parse(resources.ontology_file())
        vocab = ds.graph(G_VOCAB)
        for path in resources.vocab_files():
            vocab.parse(path)
        ds.graph(G_EVIDENCE).parse(data)
        return ds
    graph = Graph()
    graph.parse(resources.ontology_file())
    for path in resources.vocab_files():
        graph.parse(path)
    graph.parse(data)
    return graph


def _as_text(value) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------- the named queries on fixtures


def test_query_and_fixture_lists_are_not_empty():
    # A glob of the wrong folder must not make every test below vacuous.
    assert len(_tested_queries()) >= 12
    assert len(_fixture_dirs()) >= 12
    assert resources.vocab_files(), "ontology/vocab/*.ttl is missing: the fixtures need its labels"


def test_every_query_has_a_fixture_and_every_fixture_a_query():
    queries = {q.name for q in _tested_queries()}
    fixtures = {p.name for p in _fixture_dirs()}
    assert sorted(queries - fixtures) == [], "queries without tests/queries/<name>/ fixtures"
    assert sorted(fixtures - queries) == [], "fixture folders without a query of that name"
    for folder in _fixture_dirs():
        assert (folder / "data.ttl").is_file(), f"{folder} has no data.ttl"
        assert (folder / "expected.csv").is_file(), f"{folder} has no expected.csv"
        first = (folder / "data.ttl").read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#") and "made up" in first.lower(), f"{folder}/data.ttl line 1"


@pytest.mark.parametrize("container", ["dataset", "graph"])
@pytest.mark.parametrize("folder", _fixture_dirs(), ids=lambda p: p.name)
def test_query_on_fixture(folder: Path, container: str):
    graph = _load(folder / "data.ttl", container)
    result = kq.run_query(graph, folder.name)
    with (folder / "expected.csv").open(newline="", encoding="utf-8") as handle:
        header, *expected = list(csv.reader(handle))
    assert result.variables == header
    got = [[_as_text(v) for v in row] for row in result.rows]
    assert Counter(map(tuple, got)) == Counter(map(tuple, expected))
    # Every named query has an ORDER BY, so the order is part of the expected result too.
    assert got == expected


def test_qc_fixture_has_violations_and_clean_data_has_none():
    # The qc fixture must actually produce rows, or the check above proves nothing.
    violation = kq.load_query("qc/use-without-study-violation")
    bad = _load(FIXTURES / violation.name / "data.ttl", "dataset")
    assert kq.run_query(bad, violation).rows
    clean = _load(FIXTURES / "studies-per-host" / "data.ttl", "dataset")
    assert kq.run_query(clean, violation).rows == []


@pytest.mark.parametrize("named", _tested_queries(), ids=lambda q: q.qualified_name)
def test_headers_say_what_is_counted(named: kq.NamedQuery):
    assert named.summary and named.description
    assert named.text.lstrip().startswith("#+ summary:")
    assert "ORDER BY" in named.text
    if named.kind == "cq":
        counts_uses = "?uses" in named.text.split("WHERE")[0]
        wanted = "distinct uses" if counts_uses else "distinct studies"
        assert wanted in named.description.lower()
        assert "not counted" in named.description.lower(), "say what is not counted"


# ---------------------------------------------------------------- finding and reading queries


def test_load_query_by_bare_name_qualified_name_and_path():
    bare = kq.load_query("studies-per-platform")
    assert (bare.name, bare.kind) == ("studies-per-platform", "cq")
    assert kq.load_query("cq/studies-per-platform") == bare
    by_path = kq.load_query(str(bare.path))
    assert by_path.text == bare.text and by_path.summary == "Studies per platform"


def test_unknown_name_suggests_close_match_and_list_command():
    with pytest.raises(UsageError) as info:
        kq.load_query("studies-per-platfrom")
    message = str(info.value)
    assert "studies-per-platform" in message and "smqi query --list" in message
    assert info.value.exit_code == 2 and isinstance(info.value, SmqiError)


def test_unknown_qualified_name_and_missing_file(tmp_path: Path):
    with pytest.raises(UsageError, match="cq/studies-per-platform"):
        kq.load_query("cq/studies-per-platfor")
    with pytest.raises(UsageError, match="smqi query --list"):
        kq.load_query(str(tmp_path / "nothing.rq"))


def test_bare_name_in_two_folders_is_ambiguous(tmp_path: Path):
    for kind in ("cq", "qc"):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "twice.rq").write_text("#+ summary: s\nSELECT * WHERE { ?s ?p ?o }\n")
    with pytest.raises(UsageError, match="cq/twice.*qc/twice"):
        kq.load_query("twice", root=tmp_path)
    assert kq.load_query("qc/twice", root=tmp_path).kind == "qc"


def test_header_parsing(tmp_path: Path):
    path = tmp_path / "demo.rq"
    path.write_text(
        "#+ summary:  Demo query  \n"
        "#+ description: Counts nothing; one line only.\n"
        "# an ordinary comment\n"
        "SELECT ?s WHERE { ?s ?p ?o }\n"
        "#+ summary: not a header any more\n",
        encoding="utf-8",
    )
    named = kq.load_query(path)
    assert named.summary == "Demo query"
    assert named.description == "Counts nothing; one line only."
    assert (named.name, named.kind, named.path) == ("demo", tmp_path.name, path)


def test_query_that_does_not_parse_names_the_file(tmp_path: Path):
    path = tmp_path / "broken.rq"
    path.write_text("#+ summary: broken\nSELECT ?s WHERE { ?s ?p \n")
    with pytest.raises(DataError, match="broken.rq.*does not parse"):
        kq.run_query(Graph(), str(path))


# ---------------------------------------------------------------- parameters


def test_bindings_restrict_rows_and_injection_is_just_a_literal():
    graph = _load(FIXTURES / "studies-per-platform" / "data.ttl", "dataset")
    size = len(graph)
    everything = kq.run_query(graph, "studies-per-platform")
    assert len(everything.rows) == 3
    twitter = kq.run_query(graph, "studies-per-platform", {"key": Literal("twitter")})
    assert [(str(r[0]), int(r[2])) for r in twitter.rows] == [("twitter", 2)]
    hostile = Literal("x' } ; DROP ALL ; #")
    assert kq.run_query(graph, "studies-per-platform", {"key": hostile}).rows == []
    assert len(graph) == size  # nothing was dropped


def test_binding_must_be_an_rdf_term():
    with pytest.raises(UsageError, match="RDF term"):
        kq.run_query(Graph(), "studies-per-platform", {"key": "twitter"})  # type: ignore[dict-item]


# ---------------------------------------------------------------- formatters

EX = "http://example.org/"
# A plain string, not rdflib's XSD: pytest probes module attributes while collecting, and the
# closed DefinedNamespace warns on each probe.
XSD_NS = "http://www.w3.org/2001/XMLSchema#"


def _tiny() -> kq.QueryResult:
    return kq.QueryResult(
        variables=["thing", "label", "count"],
        rows=[
            (URIRef(EX + "a"), Literal("Say \"hi\", then go", lang="en"), Literal(2)),
            (BNode("b0"), Literal("plain"), None),
            (
                None,
                Literal("2020", datatype=URIRef(XSD_NS + "gYear")),
                Literal("x", datatype=URIRef(XSD_NS + "string")),
            ),
        ],
    )


def test_csv_is_the_w3c_format():
    assert kq.to_csv(_tiny()) == (
        "thing,label,count\r\n"
        'http://example.org/a,"Say ""hi"", then go",2\r\n'
        "_:b0,plain,\r\n"
        ",2020,x\r\n"
    )


def test_json_is_the_w3c_format():
    text = kq.to_json(_tiny())
    expected = {
        "head": {"vars": ["thing", "label", "count"]},
        "results": {
            "bindings": [
                {
                    "thing": {"type": "uri", "value": "http://example.org/a"},
                    "label": {"type": "literal", "value": 'Say "hi", then go', "xml:lang": "en"},
                    "count": {"type": "literal", "value": "2", "datatype": XSD_NS + "integer"},
                },
                {
                    "thing": {"type": "bnode", "value": "b0"},
                    "label": {"type": "literal", "value": "plain"},
                },
                {
                    "label": {"type": "literal", "value": "2020", "datatype": XSD_NS + "gYear"},
                    "count": {"type": "literal", "value": "x", "datatype": XSD_NS + "string"},
                },
            ]
        },
    }
    assert json.loads(text) == expected
    assert text == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    assert set(json.loads(text)) == {"head", "results"}


def test_json_of_a_real_query_result():
    graph = _load(FIXTURES / "studies-per-year" / "data.ttl", "graph")
    document = json.loads(kq.to_json(kq.run_query(graph, "studies-per-year")))
    assert document["head"]["vars"] == ["key", "label", "studies"]
    first = document["results"]["bindings"][0]
    assert first["key"] == {"type": "literal", "value": "2020"}
    assert first["studies"] == {"type": "literal", "value": "2", "datatype": XSD_NS + "integer"}


def test_table_shortens_iris_and_shows_lexical_values():
    graph = Graph()
    graph.bind("ex", EX)
    result = kq.QueryResult(
        ["thing", "n"],
        [(URIRef(EX + "a"), Literal(12)), (URIRef("http://other.org/x/y"), Literal(3))],
        graph.namespace_manager,
    )
    assert kq.to_table(result) == (
        "thing                  n\n"
        "--------------------  --\n"
        "ex:a                  12\n"
        "http://other.org/x/y   3\n"
    )


# ---------------------------------------------------------------- own queries and declared parameters (issue #14)


def test_a_users_file_needs_no_header_but_a_shipped_query_does(tmp_path: Path):
    plain = tmp_path / "plain.rq"
    plain.write_text("SELECT ?s WHERE { ?s ?p ?o }\n", encoding="utf-8")
    named = kq.load_query(str(plain))
    assert (named.name, named.summary, named.description, named.params) == ("plain", "", "", ())
    # the shipped folder (and any root list_queries reads) still requires the summary
    (tmp_path / "cq").mkdir()
    (tmp_path / "cq" / "plain.rq").write_text("SELECT ?s WHERE { ?s ?p ?o }\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cq/plain.rq: the query has no '#\+ summary:' header line"):
        kq.list_queries(tmp_path)


def test_every_shipped_query_keeps_its_summary():
    shipped = sorted(resources.query_dir().rglob("*.rq"))
    assert len(shipped) == len(kq.list_queries()) >= 30
    for path in shipped:
        assert path.read_text(encoding="utf-8").startswith("#+ summary: "), path


def test_a_query_file_that_is_not_utf8_names_the_byte(tmp_path: Path):
    path = tmp_path / "latin.rq"
    path.write_bytes(b"# Link\xf6ping\nSELECT ?s WHERE { ?s ?p ?o }\n")
    with pytest.raises(DataError, match=r"latin.rq: the query file is not UTF-8 \(byte 0xf6 at offset 6\)"):
        kq.load_query(str(path))


def test_param_header_lines(tmp_path: Path):
    path = tmp_path / "p.rq"
    path.write_text("#+ summary: s\n#+ param: ?key  only this key\n#+ param: $year: the year\n#+ param: bare\n"
                    "SELECT ?key ?year ?bare WHERE { ?key ?year ?bare }\n", encoding="utf-8")
    named = kq.load_query(str(path))
    assert named.params == (("key", "only this key"), ("year", "the year"), ("bare", ""))
    assert named.param_names == ["key", "year", "bare"]
    path.write_text("#+ summary: s\n#+ param: 1st  not a name\nSELECT * WHERE { ?s ?p ?o }\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"p.rq: '#\+ param: 1st  not a name' does not start with a variable name"):
        kq.load_query(str(path))


def test_unknown_param_names_the_ones_the_query_takes():
    with pytest.raises(UsageError) as info:
        kq.check_params(kq.load_query("platform-by-activity"), ["dimension"])
    assert str(info.value) == ("query 'cq/platform-by-activity' has no parameter ?dimension: it takes ?platform, "
                               "?activity. See 'smqi query --list'.")
    with pytest.raises(UsageError, match=r"has no parameter \?propery: it takes \?property, \?subset\. "
                                         r"Did you mean property\?"):
        kq.check_params(kq.load_query("agreement-single"), ["propery"])
    with pytest.raises(UsageError, match=r"'cq/study-table' has no parameter \?key: it takes no parameters\."):
        kq.check_params(kq.load_query("study-table"), ["key"])
    kq.check_params(kq.load_query("platform-by-activity"), ["activity", "platform"])  # both declared: no error


def test_a_users_file_without_param_lines_takes_the_variables_it_uses(tmp_path: Path):
    path = tmp_path / "own.rq"
    path.write_text("SELECT ?s $o WHERE { ?s ?p $o }\n", encoding="utf-8")
    named = kq.load_query(str(path))
    kq.check_params(named, ["s", "o", "p"])
    with pytest.raises(UsageError, match=r"own.rq has no parameter \?x: it takes \?o, \?p, \?s\.$"):
        kq.check_params(named, ["x"])


def _projected(text: str) -> str:
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return body[body.index("SELECT"):body.index("WHERE")]


@pytest.mark.parametrize("named", [q for q in kq.list_queries() if q.params], ids=lambda q: q.qualified_name)
def test_declared_params_are_projected_and_described(named: kq.NamedQuery):
    for name, text in named.params:
        assert f"?{name}" in _projected(named.text), f"?{name} is not SELECTed: the store could not bind it"
        assert text, f"#+ param: {name} says nothing about what it does"


def test_queries_whose_description_names_parameters_declare_them():
    for named in kq.list_queries():
        if "parameter" in named.description.lower() or "--param" in named.description:
            assert named.params, named.qualified_name
    assert sorted(q.qualified_name for q in kq.list_queries() if q.params)[:5] == [
        "agreement/agreement-disagreements", "agreement/agreement-multi", "agreement/agreement-single",
        "claims/claim-studies-per-key", "claims/claim-uses-per-key"]


@pytest.fixture(scope="module")
def shipped_store():
    from kg.publish.pipeline import run_pipeline

    return run_pipeline(None, check=False).store


@pytest.mark.parametrize("named", [q for q in kq.list_queries() if q.kind == "cq" and q.params],
                         ids=lambda q: q.qualified_name)
def test_each_example_param_selects_exactly_its_rows(named: kq.NamedQuery, shipped_store):
    import re

    from kg.cli.common import parse_params
    from kg.io.store import select_store

    every = [{v.value: (s[v].value if s[v] is not None else None) for v in sol.variables}
             for sol in [select_store(shipped_store, named)] for s in sol]
    for name, text in named.params:
        example = re.search(rf"--param {name}=(\S+?)\)", text)
        value = example[1] if example else every[0][name]
        rows = [{v.value: (s[v].value if s[v] is not None else None) for v in sol.variables}
                for sol in [select_store(shipped_store, named, parse_params([f"{name}={value}"]))] for s in sol]
        assert rows == [r for r in every if r[name] == value]
        assert rows, f"{named.qualified_name}: the example --param {name}={value} selects no row"


def test_every_group_concat_column_is_declared_unordered():
    for named in kq.list_queries():
        if "GROUP_CONCAT" in named.text:
            assert named.unordered, f"{named.qualified_name}: say which column holds the GROUP_CONCAT"
            for column in named.unordered:
                assert f"?{column}" in _projected(named.text)
    assert kq.load_query("study-table").unordered == ("models",)


def test_fit_widths_cuts_the_widest_columns_to_one_cap():
    assert kq.fit_widths([5, 40, 30], 100) == [5, 40, 30]  # fits: unchanged
    assert kq.fit_widths([5, 40, 30], 50) == [5, 20, 20]  # 5 + 20 + 20 + 2 gaps of 2 = 49; cap 21 makes 51
    assert kq.fit_widths([5, 40, 30], 10) == [3, 3, 3]  # never below three characters, even if still wider
    assert kq.fit_widths([2, 40], 10) == [2, 6]
    assert kq.fit_widths([], 10) == []


def test_layout_table_cuts_cells_with_an_ellipsis_and_says_so():
    body = [["a", "abcdefghijkl", "7"], ["bb", "xyz", "12"]]
    assert kq.layout_table(["k", "value", "n"], body, [False, False, True], 16) == (
        "k   value      n\n"
        "--  --------  --\n"
        "a   abcdefg…   7\n"
        "bb  xyz       12\n"
        "(cells cut with … to fit 16 columns; --format csv or json gives the full values)\n")
    assert kq.layout_table(["k", "value", "n"], body, [False, False, True], 20) == \
        kq.layout_table(["k", "value", "n"], body, [False, False, True]) == (
        "k   value          n\n"
        "--  ------------  --\n"
        "a   abcdefghijkl   7\n"
        "bb  xyz           12\n")
