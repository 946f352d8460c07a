"""The build's Oxigraph store (build/store): the reading commands read it; the N-Quads loader and the
synthetic generator. Where an rdflib result is compared, rdflib is an independent SPARQL engine."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kg.model import resources
from kg.cli import main
from kg.io.dataset import assemble
from kg.io.nquads import load_nquads
from kg.io.sheets import load_sheets
from kg.io.queries import list_queries, run_query
from kg.io.store import open_store, parse_store_spec, query_store
from kg.model.vocabularies import default_vocabulary

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.generate import generate  # noqa: E402

SHEETS = Path(__file__).parent / "fixtures" / "sheets"
CQ = [q for q in list_queries() if q.kind == "cq"]


def _cell(value):
    # GROUP_CONCAT (study-table) joins in an unspecified order: compare its words as a multiset.
    return tuple(sorted(str(value).split(" "))) if value is not None else None


def rows(result) -> list:
    return sorted((tuple(_cell(v) for v in row) for row in result.rows), key=str)


@pytest.fixture(scope="module")
def in_memory():
    from kg.derive.typology import derive

    kg = assemble()
    derive(kg.dataset)
    return kg.dataset


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("s")
    assert main(["build", "--out", str(base / "build"), "--no-owl", "--quiet"]) == 0
    return base / "build" / "store"


def test_store_spec() -> None:
    assert parse_store_spec("oxigraph:/x/y") == Path("/x/y")
    from kg.model.errors import UsageError

    for bad in ("/x/y", "oxigraph:", "sqlite:/x"):
        with pytest.raises(UsageError):
            parse_store_spec(bad)


@pytest.mark.parametrize("query", CQ, ids=lambda q: q.name)
def test_store_gives_the_same_rows_as_in_memory(store_dir: Path, in_memory, query) -> None:
    expected = run_query(in_memory, query)
    stored = query_store(open_store(store_dir), query)
    assert stored.variables == expected.variables
    assert rows(stored) == rows(expected)


def test_query_command_reads_the_store(store_dir: Path, capsys: pytest.CaptureFixture) -> None:
    for spec in (str(store_dir), f"oxigraph:{store_dir}"):
        assert main(["query", "studies-per-host", "--store", spec, "--format", "csv"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("key,label,studies\r\n") and "third-party-platform" in out
    assert main(["query", "studies-per-host", "--store", f"{store_dir}/nope"]) == 2
    assert "no Oxigraph store there" in capsys.readouterr().err


def test_build_keeps_its_store_and_the_summary_reads_it(tmp_path: Path) -> None:
    import json

    assert main(["build", "--out", str(tmp_path / "b"), "--data", str(SHEETS / "valid"), "--no-owl", "--quiet"]) == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["studies"] == 2 and summary["counts"]["uses"] == 3
    assert (tmp_path / "b" / "validation.txt").read_text(encoding="utf-8").startswith("Conforms: yes")
    store = open_store(tmp_path / "b" / "store")
    for query in CQ:
        rows_now = query_store(store, query)
        assert len(rows_now.rows) == len(summary["queries"][query.name]["rows"]), query.name


def test_build_as_a_command_writes_everything_before_it_exits(tmp_path: Path) -> None:
    """Run as a command, a build ends with os._exit (no freeing of the store): the output line and
    every file must be complete all the same, and a failing build still exits 1 the normal way."""
    import json
    import subprocess

    out = tmp_path / "b"
    done = subprocess.run([sys.executable, "-m", "kg", "build", "--out", str(out), "--no-owl",
                           "--data", str(SHEETS / "valid"), "--quiet"], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Built {out}/ (store {out}/store/): 2 studies, 3 uses, ")
    assert done.stdout.endswith("OWL cross-check: not run.\n")
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["counts"]["uses"] == 3
    nquads = (out / "smqi.nq").read_text(encoding="utf-8")
    assert nquads.endswith(" .\n") and "kg/use/" in nquads
    failed = subprocess.run([sys.executable, "-m", "kg", "build", "--out", str(tmp_path / "c"),
                             "--data", str(SHEETS / "bad"), "--quiet"], capture_output=True, text=True,
                            timeout=300, check=False)
    assert failed.returncode == 1 and "studies.csv" in failed.stderr and failed.stdout == ""
    assert not (tmp_path / "c").exists()


def _graph_of(lines: list[str]) -> Graph:
    from rdflib import Dataset

    dataset = Dataset()
    dataset.parse(data="".join(lines), format="nquads")
    graph = Graph()
    for triple in dataset.graph(URIRef("urn:g")):
        graph.add(triple)
    assert len(graph) == len(set(lines))
    return graph


@pytest.mark.parametrize("folder", [resources.data_dir(), SHEETS / "valid"], ids=["real", "fixture"])
def test_fast_loader_makes_the_same_graph(folder: Path) -> None:
    vocab = default_vocabulary()
    fast = load_nquads(folder / "studies.csv", folder / "uses.csv", vocab, "urn:g")
    slow = load_sheets(folder / "studies.csv", folder / "uses.csv", vocab)
    assert isomorphic(_graph_of(fast.lines), slow.graph)
    assert fast.use_count == slow.use_count and fast.study_ids == slow.study_ids


def test_fast_loader_on_synthetic_sheets(tmp_path: Path) -> None:
    generate(200, tmp_path, seed=1)
    vocab = default_vocabulary()
    fast = load_nquads(tmp_path / "studies.csv", tmp_path / "uses.csv", vocab, "urn:g")
    slow = load_sheets(tmp_path / "studies.csv", tmp_path / "uses.csv", vocab)
    assert isomorphic(_graph_of(fast.lines), slow.graph)
    assert not slow.warnings


def test_generator_is_deterministic_and_marked(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        generate(300, tmp_path / name, seed=6)
        digests.append({f: hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest()
                        for f in ("studies.csv", "uses.csv")})
    assert digests[0] == digests[1]
    generate(300, tmp_path / "c", seed=7)
    assert hashlib.sha256((tmp_path / "c" / "uses.csv").read_bytes()).hexdigest() != digests[0]["uses.csv"]
    import csv

    with (tmp_path / "a" / "studies.csv").open(encoding="utf-8") as handle:
        studies = list(csv.DictReader(handle))
    with (tmp_path / "a" / "uses.csv").open(encoding="utf-8") as handle:
        per_study = {}
        for u in csv.DictReader(handle):
            per_study[u["study_id"]] = per_study.get(u["study_id"], 0) + 1
    assert len(studies) == 300 and all(s["study_id"].startswith("synth") for s in studies)
    assert all("SYNTHETIC" in s["title"] for s in studies)
    assert set(per_study.values()) <= {1, 2, 3} and len(per_study) == 300


# ---------------------------------------------------------------- the fast engine: typology and dataset

def _normalised_quads(dataset) -> dict:
    """Graph name -> rdflib Graph, with the build's timestamps (activity IRI, start/end) blanked out."""
    import re

    from rdflib import Dataset

    text = dataset.serialize(format="nquads") if isinstance(dataset, Dataset) else dataset
    text = re.sub(r"kg/build/\d{8}T\d{6}Z", "kg/build/T", text)
    text = re.sub(r'"[0-9T:+\-Z]+"\^\^<http://www.w3.org/2001/XMLSchema#dateTime>',
                  '"T"^^<http://www.w3.org/2001/XMLSchema#dateTime>', text)
    parsed = Dataset()
    parsed.parse(data=text, format="nquads")
    return {g.identifier: g for g in parsed.graphs() if len(g)}


def test_build_dataset_equals_the_assembled_rdflib_dataset(tmp_path: Path) -> None:
    """The store's dataset equals what kg.io.dataset.assemble (rdflib, the entries' checker) makes of
    the same data, provenance and typology included."""
    from datetime import datetime, timezone

    from kg.derive.provenance import add_provenance
    from kg.derive.typology import derive
    from kg.publish.build import build

    build(tmp_path / "b", cross_check=False)
    fast = _normalised_quads((tmp_path / "b" / "smqi.nq").read_text(encoding="utf-8"))
    kg = assemble()
    add_provenance(kg, datetime.now(timezone.utc).replace(microsecond=0))
    derive(kg.dataset)
    slow = _normalised_quads(kg.dataset)
    assert sorted(map(str, fast)) == sorted(map(str, slow))
    for name, graph in slow.items():
        assert isomorphic(fast[name], graph), name


def _ox_store_of(graph: Graph):
    import pyoxigraph as ox

    store = ox.Store()
    store.bulk_load(graph.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("urn:g"))
    return store


def _fast_models(graph: Graph) -> dict[str, str]:
    from kg.derive.typology import derive_on_store
    from kg.model.namespaces import G_DERIVED, SMQI

    store = _ox_store_of(graph)
    derive_on_store(store)
    rows = store.query(f"SELECT ?u ?m WHERE {{ GRAPH <{G_DERIVED}> {{ ?u <{SMQI.modelOfUse}> ?m }} }}")
    return {r["u"].value: r["m"].value for r in rows}


@pytest.mark.parametrize("data", [Path(__file__).parent / "typology" / "uses.ttl",
                                  Path(__file__).parent / "queries" / "assign" / "data.ttl", None],
                         ids=["typology-fixture", "assign-fixture", "real"])
def test_store_typology_equals_assign_rq(data: Path | None) -> None:
    """derive_on_store (the one derivation) gives the answer of the generic query assign.rq, run by
    rdflib's SPARQL engine."""
    from rdflib import Dataset

    from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB

    if data is None:
        dataset = assemble().dataset
    else:
        dataset = Dataset(default_union=True)
        dataset.graph(G_ONTOLOGY).parse(resources.ontology_file())
        for path in resources.vocab_files():
            dataset.graph(G_VOCAB).parse(path)
        dataset.graph(G_EVIDENCE).parse(data)
    union = Graph()
    for triple in dataset.triples((None, None, None)):
        union.add(triple)
    result = run_query(union, "typology/assign")
    col = {v: i for i, v in enumerate(result.variables)}
    expected = {str(r[col["use"]]): str(r[col["model"]]) for r in result.rows if r[col["model"]] is not None}
    assert expected and _fast_models(union) == expected


def test_store_typology_refuses_ties() -> None:
    from kg.model.errors import DataError
    from kg.derive.typology import derive_on_store
    from kg.model.namespaces import SMQI

    graph = Graph()
    graph.parse(resources.ontology_file())
    for path in resources.vocab_files():
        graph.parse(path)
    graph.parse(Path(__file__).parent / "typology" / "uses.ttl")
    feedback = URIRef("https://w3id.org/smqi/vocab/typology/feedback-seeking")
    consultation = URIRef("https://w3id.org/smqi/vocab/typology/consultation")
    graph.set((feedback, SMQI.rulePriority, graph.value(consultation, SMQI.rulePriority)))
    with pytest.raises(DataError) as info:
        derive_on_store(_ox_store_of(graph))
    assert "alpha2020-8 (consultation, feedback-seeking)" in str(info.value)
