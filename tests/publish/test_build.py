"""End to end: `smqi build` on the real evidence, checked against counts taken straight from the CSVs.

The oracle here is deliberately independent of the graph: plain csv-module counting of
data/studies.csv and data/uses.csv, compared with summary.json (which comes from SPARQL).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, Dataset, Graph

from kg.model import resources
from kg.cli import main
from kg.model.namespaces import G_CODINGS, G_DERIVED, G_EVIDENCE, G_ONTOLOGY, G_PROVENANCE, G_REFERENCE, G_VOCAB, SMQI

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sheets"
OUTPUTS = ["smqi.trig", "smqi.nq", "store", "smqi.ttl", "smqi.nt", "smqi.jsonld", "summary.json", "validation.txt", "network",
           "void.ttl", "manifest.json", "report", "docs"]


def rows(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("b") / "build"
    assert main(["build", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def summary(built: Path) -> dict:
    return json.loads((built / "summary.json").read_text(encoding="utf-8"))


def query_counts(summary: dict, name: str, value: str = "studies") -> dict[str, int]:
    return {r["key"]: r[value] for r in summary["queries"][name]["rows"]}


def per_study(field: str) -> dict[str, int]:
    """Distinct studies per key of a multi-valued uses.csv field, counted with the csv module."""
    studies: dict[str, set[str]] = defaultdict(set)
    for r in rows("uses.csv"):
        for key in r[field].split(";"):
            studies[key.strip()].add(r["study_id"])
    return {k: len(v) for k, v in studies.items()}


def test_outputs_written(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == sorted(OUTPUTS)
    assert sorted(p.name for p in (built / "network").iterdir()) == [
        "bipartite.graphml", "cooccurrence.graphml", "network.json"]
    assert (built / "validation.txt").read_text(encoding="utf-8").startswith("Conforms: yes\n")


def test_counts_equal_the_sheets(summary: dict) -> None:
    assert summary["counts"]["studies"] == len(rows("studies.csv")) > 0
    assert summary["counts"]["uses"] == len(rows("uses.csv")) > 0
    assert "not that review's own list of 40 studies" in summary["notice"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("studies-per-platform", "platforms"), ("studies-per-communication-model", "communication_model"),
     ("studies-per-host", "host"), ("studies-per-population", "user_populations"),
     ("studies-per-activity", "qi_activities"), ("studies-per-stage", "qi_stages")],
)
def test_summary_queries_equal_csv_counts(summary: dict, query: str, field: str) -> None:
    assert query_counts(summary, query) == per_study(field)


def test_uses_per_communication_model(summary: dict) -> None:
    expected: dict[str, int] = defaultdict(int)
    for r in rows("uses.csv"):
        expected[r["communication_model"]] += 1
    assert query_counts(summary, "uses-per-communication-model", "uses") == dict(expected)


def test_studies_per_year_and_country(summary: dict) -> None:
    years: dict[str, int] = defaultdict(int)
    countries: dict[str, int] = defaultdict(int)
    for r in rows("studies.csv"):
        years[r["year"]] += 1
        for c in set(r["countries"].split(";")) - {"XX"}:
            countries[c] += 1
    assert query_counts(summary, "studies-per-year") == dict(years)
    assert query_counts(summary, "studies-per-country") == dict(countries)


def test_studies_per_income_group_latest_fiscal_year(summary: dict) -> None:
    latest: dict[str, tuple[str, str]] = {}
    for r in rows("world_bank_income_groups.csv"):
        if r["country_code"] not in latest or r["fiscal_year"] > latest[r["country_code"]][0]:
            latest[r["country_code"]] = (r["fiscal_year"], r["income_group"])
    groups: dict[str, set[str]] = defaultdict(set)
    for r in rows("studies.csv"):
        for c in set(r["countries"].split(";")) - {"XX"}:
            if c in latest:
                groups[latest[c][1]].add(r["study_id"])
    assert query_counts(summary, "studies-per-income-group") == {k: len(v) for k, v in groups.items()}


def test_gap_map_equals_csv(summary: dict) -> None:
    cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in rows("uses.csv"):
        for p in r["platforms"].split(";"):
            for a in r["qi_activities"].split(";"):
                cells[(p, a)].add(r["study_id"])
    got = {(r["platform"], r["activity"]): r["studies"] for r in summary["queries"]["platform-by-activity"]["rows"]}
    assert got == {k: len(v) for k, v in cells.items()}


def test_named_graphs_kept_apart(built: Path) -> None:
    ds = Dataset().parse(built / "smqi.trig", format="trig")
    names = {g.identifier for g in ds.graphs()}
    assert {G_ONTOLOGY, G_VOCAB, G_EVIDENCE, G_REFERENCE, G_PROVENANCE} <= names
    evidence = ds.graph(G_EVIDENCE)
    assert len(set(evidence.subjects(RDF.type, SMQI.Study))) == len(rows("studies.csv"))
    assert list(evidence.triples((None, SMQI.modelOfUse, None))) == []  # derived triples live elsewhere
    assert len(set(ds.graph(G_VOCAB).subjects(RDF.type, SMQI.Study))) == 0
    uses = set(evidence.subjects(RDF.type, SMQI.SocialMediaUse))
    models = list(ds.graph(G_DERIVED).triples((None, SMQI.modelOfUse, None)))
    assert len([t for t in models if t[0] in uses]) == len(rows("uses.csv"))  # one per use
    codings = set(ds.graph(G_CODINGS).subjects(RDF.type, SMQI.Coding))
    assert len(codings) == len(rows("codings.csv"))
    assert {t[0] for t in models} - uses <= codings  # the rest are the codings' models (at most one each)
    assert len(models) == len({t[0] for t in models})


def test_independent_shacl_run_over_turtle_conforms(built: Path) -> None:
    data = Graph().parse(built / "smqi.ttl", format="turtle")
    shapes = Graph()
    for path in resources.shape_files():
        shapes.parse(path, format="turtle")
    conforms, _graph, text = validate(data, shacl_graph=shapes, inference="none", advanced=True)
    assert conforms, text


def test_serialisations_agree(built: Path) -> None:
    from rdflib.compare import isomorphic

    ttl = Graph().parse(built / "smqi.ttl", format="turtle")
    nt = Graph().parse(built / "smqi.nt", format="nt")
    union = Graph()
    from kg.io.rdf import parse_into

    for name in ("smqi.jsonld", "smqi.trig"):  # kg's reader: the JSON-LD context is the shipped copy, never fetched
        ds = parse_into(Dataset(default_union=True), built / name)
        union = Graph()
        for triple in ds.triples((None, None, None)):
            union.add(triple)
        assert isomorphic(union, nt), name
    assert isomorphic(ttl, nt)
    assert len(nt) > 5000


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_build_leaves_previous_build_untouched(built: Path, capsys: pytest.CaptureFixture) -> None:
    before = snapshot(built)
    code = main(["build", "--out", str(built), "--data", str(FIXTURES / "bad"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert snapshot(built) == before
    assert [line for line in err.splitlines() if line.startswith("tests/") or "sheets/bad" in line] == [
        line for line in err.splitlines()[1:]
    ]
    assert len(err.splitlines()) == 4  # heading + one line per problem
    assert "studies.csv:row 4, smithb2020, field study_id, value 'smithb2020': duplicate study_id" in err
    assert "uses.csv:row 2, smithb2020-1, field platforms, value 'tweeter': unknown platform key" in err
    assert "uses.csv:row 3, doeb2019-1, field host, value '': host is required" in err
    assert "Traceback" not in err
    assert not [p for p in built.parent.iterdir() if p.name.startswith(".build.")]  # no temp left


def test_build_into_new_folder_from_fixture(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "out"
    assert main(["build", "--out", str(out), "--data", str(FIXTURES / "valid"), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["studies"] == 2 and summary["counts"]["uses"] == 3
    assert query_counts(summary, "studies-per-platform") == {
        "twitter": 1, "rating-site": 1, "facebook": 1, "online-forum": 1}


def test_typology_in_summary_matches_assignments(summary: dict) -> None:
    uses = query_counts(summary, "uses-per-model", "uses")
    assert sum(uses.values()) + summary["typology"]["unclassified_uses"] == len(rows("uses.csv"))
    assert summary["typology"]["owl_cross_check"] == "HermiT agrees with the SPARQL derivation on every use"


def test_missing_java_skips_cross_check_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "java" else real_which(name, *a, **k))
    out = tmp_path / "b"
    assert main(["build", "--out", str(out), "--data", str(FIXTURES / "valid"), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["typology"]["owl_cross_check"].startswith("skipped: HermiT")
    err = capsys.readouterr().err
    assert "OWL cross-check skipped" in err and "apt-get install default-jre-headless" in err


def test_typology_disagreement_fails_build_and_keeps_previous(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    """A deliberately conflicting OWL answer for one use must fail the build, naming both answers."""
    from kg.derive import owl as reason
    from kg.model.namespaces import use_iri

    real = reason.owl_assignments

    def tampered(graph):
        answers = real(graph)
        answers[use_iri("ahne2020", 1)] = "feedback-seeking"
        return answers

    monkeypatch.setattr(reason, "owl_assignments", tampered)
    before = snapshot(built)
    assert main(["build", "--out", str(built), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "ahne2020-1: SPARQL says listening, HermiT says feedback-seeking" in err
    assert "Traceback" not in err
    assert snapshot(built) == before


# ---------------------------------------------------------------- OS errors are user errors (issue 16)


def test_build_on_a_full_disk_or_read_only_folder_is_a_message(tmp_path: Path, capsys) -> None:
    """ENOSPC (a small tmpfs filled up) and EROFS (a read-only bind mount): exit 2, a message saying
    what failed and that the previous build is as it was; no temporary folder is left."""
    from mounts import fill, read_only, small_tmpfs

    data = FIXTURES / "valid"
    with small_tmpfs(tmp_path / "disk", "16m") as disk:
        out = disk / "build"
        assert main(["build", "--data", str(data), "--out", str(out), "--no-owl", "--quiet"]) == 0
        capsys.readouterr()
        before = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
        fill(disk)
        assert main(["build", "--data", str(data), "--out", str(out), "--no-owl", "--quiet"]) == 2
        assert capsys.readouterr().err == (f"smqi build: error: writing {out} failed: No space left on device (the "
                                           f"disk is full); nothing was changed: {out} is as it was.\n")
        assert {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
        assert sorted(p.name for p in disk.iterdir()) == [".filler", ".filler-tail", "build"]
    (tmp_path / "src").mkdir()
    with read_only(tmp_path / "src", tmp_path / "ro") as ro:
        assert main(["build", "--data", str(data), "--out", str(ro / "build"), "--no-owl", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"smqi build: error: creating the output folder {ro / 'build'} failed: Read-only file "
                              "system (the folder is on a read-only file system)") and \
            err.endswith("; nothing was written.\n"), err
        assert list(ro.iterdir()) == []


def test_study_table_models_are_sorted_in_the_summary(summary: dict) -> None:
    """study-table's GROUP_CONCAT comes in no set order; the summary keeps it sorted (issue #14)."""
    models = [r.get("models", "") for r in summary["queries"]["study-table"]["rows"]]
    assert any(len(m.split()) >= 2 for m in models), "no study with two models: the check proves nothing"
    assert models == [" ".join(sorted(m.split())) for m in models]


def test_triple_count_leaves_out_the_provenance(built: Path, summary: dict) -> None:
    from kg.io.rdf import parse_file

    dataset = parse_file(built / "smqi.trig")
    provenance = len(dataset.graph(G_PROVENANCE))
    assert summary["provenance_triples"] == provenance > 0
    assert summary["counts"]["triples"] == len(dataset) - provenance
