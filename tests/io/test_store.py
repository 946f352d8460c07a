"""The build's Oxigraph store (build/store): the reading commands read it; the N-Quads loader and the
synthetic generator. Where an rdflib result is compared, rdflib is an independent SPARQL engine; the
loader's triples are compared with triples recomputed from the sheets with the csv module."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kg.model import resources
from kg.cli import main
from kg.io.sheets import STUDY_COLUMNS, USE_COLUMNS, load_sheets
from kg.io.queries import list_queries, run_query
from kg.io.store import open_store, parse_store_spec, query_store
from kg.model.vocabularies import default_vocabulary
from pipelinedata import pipeline_data

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.generate import generate  # noqa: E402

SHEETS = Path(__file__).parents[1] / "fixtures" / "sheets"
CQ = [q for q in list_queries() if q.kind == "cq"]


def _cell(value):
    # GROUP_CONCAT (study-table) joins in an unspecified order: compare its words as a multiset.
    return tuple(sorted(str(value).split(" "))) if value is not None else None


def rows(result) -> list:
    return sorted((tuple(_cell(v) for v in row) for row in result.rows), key=str)


@pytest.fixture(scope="module")
def in_memory():
    from kg.derive.typology import derive

    kg = pipeline_data()
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


def coding_triples(path: Path) -> Graph:
    """The oracle of the codings graph: ``codings.csv`` recomputed with the csv module and rdflib terms
    from data/README.md (one smqi:Coding per row, attributed to its coder, adjudicated into its use)."""
    import csv

    from rdflib import RDF, RDFS, Literal
    from rdflib.namespace import PROV

    from kg.model.namespaces import SMQI, coder_iri, coding_iri, concept_iri, use_iri

    columns = {"platforms": ("platform", SMQI.platform), "communication_model": ("communication-model",
               SMQI.communicationModel), "host": ("host", SMQI.host), "user_populations": ("user-population",
               SMQI.userPopulation), "qi_activities": ("qi-activity", SMQI.qiActivity),
               "qi_stages": ("qi-stage", SMQI.qiStage)}
    graph = Graph()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for rec in csv.DictReader(handle):
            node, coder = coding_iri(rec["study_id"], rec["use_no"], rec["coder"]), coder_iri(rec["coder"])
            graph.add((coder, RDF.type, PROV.Agent))
            graph.add((coder, RDFS.label, Literal(rec["coder"])))
            graph.add((node, RDF.type, SMQI.Coding))
            graph.add((node, SMQI.adjudicatedInto, use_iri(rec["study_id"], rec["use_no"])))
            graph.add((node, PROV.wasAttributedTo, coder))
            for column, (slug, predicate) in columns.items():
                for key in rec[column].split(";"):
                    graph.add((node, predicate, concept_iri(slug, key.strip())))
    return graph


def sheet_triples(folder: Path) -> Graph:
    """The oracle: the evidence triples of ``folder``'s sheets recomputed with the csv module and rdflib
    terms, from the column table of data/README.md (no code of kg.io.sheets)."""
    import csv

    from rdflib import RDF, XSD, Literal
    from rdflib.namespace import DCTERMS, PROV

    from kg.model.namespaces import FABIO, PRISM, SMQI, concept_iri, study_iri, use_iri

    def split(value: str) -> list[str]:
        return [v.strip() for v in value.split(";") if v.strip()]

    graph = Graph()
    with (folder / "studies.csv").open(newline="", encoding="utf-8-sig") as handle:
        for rec in csv.DictReader(handle):
            rec = {k: v.strip() for k, v in rec.items()}
            if not any(rec.values()):
                continue
            s = study_iri(rec["study_id"])
            graph.add((s, RDF.type, SMQI.Study))
            graph.add((s, SMQI.studyId, Literal(rec["study_id"])))
            graph.add((s, SMQI.firstAuthor, Literal(rec["first_author"])))
            graph.add((s, FABIO.hasPublicationYear, Literal(rec["year"], datatype=XSD.gYear)))
            if rec["authors"]:
                graph.add((s, SMQI.authorList, Literal(rec["authors"])))
            for author in split(rec["authors"]):
                graph.add((s, DCTERMS.creator, Literal(author)))
            for column, predicate in (("title", DCTERMS.title), ("journal", PRISM.publicationName),
                                      ("doi", PRISM.doi), ("pmid", FABIO.hasPubMedId),
                                      ("summary", DCTERMS.description)):
                if rec[column]:
                    graph.add((s, predicate, Literal(rec[column])))
            for country in split(rec["countries"]):
                if country != "XX":
                    graph.add((s, SMQI.country, concept_iri("country", country)))
            graph.add((s, SMQI.studyDesign, concept_iri("study-design", rec["design"])))
            for url in split(rec["source_url"]):
                graph.add((s, PROV.wasDerivedFrom, URIRef(url)))
    coded = {"platforms": ("platform", SMQI.platform), "communication_model": ("communication-model",
             SMQI.communicationModel), "host": ("host", SMQI.host), "user_populations": ("user-population",
             SMQI.userPopulation), "qi_activities": ("qi-activity", SMQI.qiActivity),
             "qi_stages": ("qi-stage", SMQI.qiStage), "confidence": ("confidence", SMQI.codingConfidence)}
    with (folder / "uses.csv").open(newline="", encoding="utf-8-sig") as handle:
        for rec in csv.DictReader(handle):
            rec = {k: v.strip() for k, v in rec.items()}
            if not any(rec.values()):
                continue
            u, s = use_iri(rec["study_id"], rec["use_no"]), study_iri(rec["study_id"])
            graph.add((u, RDF.type, SMQI.SocialMediaUse))
            graph.add((u, SMQI.reportedIn, s))
            graph.add((s, SMQI.reportsUse, u))
            graph.add((u, SMQI.useNumber, Literal(rec["use_no"], datatype=XSD.integer)))
            for column, (slug, predicate) in coded.items():
                for key in split(rec[column]):
                    graph.add((u, predicate, concept_iri(slug, key)))
            if rec["note"]:
                graph.add((u, SMQI.codingNote, Literal(rec["note"])))
    return graph


def _graph_of(text: str, name: str = "urn:g") -> Graph:
    from rdflib import Dataset

    dataset = Dataset()
    dataset.parse(data=text, format="nquads")
    graph = Graph()
    for triple in dataset.graph(URIRef(name)):
        graph.add(triple)
    return graph


@pytest.mark.parametrize("folder", [resources.data_dir(), SHEETS / "valid"], ids=["real", "fixture"])
def test_loader_makes_the_triples_of_the_sheets(folder: Path) -> None:
    vocab = default_vocabulary()
    loaded = load_sheets(folder / "studies.csv", folder / "uses.csv", vocab, graph="urn:g")
    assert len(loaded.lines) == len(set(loaded.lines))
    expected = sheet_triples(folder)
    assert isomorphic(_graph_of("".join(loaded.lines)), expected)
    assert isomorphic(loaded.graph, expected)  # the rdflib view of the same lines
    # N-Triples without a graph name: the same triples
    assert isomorphic(load_sheets(folder / "studies.csv", folder / "uses.csv", vocab).graph, expected)


def test_loader_streams_the_same_lines_to_a_sink_with_the_links(tmp_path: Path) -> None:
    """In chunks to a sink (as the build loads the store) the lines are the same; the links are the
    studies' DOI resolver and PubMed IRIs."""
    import csv

    from kg.model.namespaces import SCHEMA, study_iri

    generate(200, tmp_path, seed=1)
    vocab = default_vocabulary()
    chunks: list[bytes] = []
    streamed = load_sheets(tmp_path / "studies.csv", tmp_path / "uses.csv", vocab, graph="urn:g",
                           links_graph="urn:l", sink=chunks.append, chunk=500)
    assert streamed.lines == [] and len(chunks) > 2 and not streamed.warnings
    assert isomorphic(_graph_of(b"".join(chunks).decode("utf-8")), sheet_triples(tmp_path))
    links = set(_graph_of("".join(streamed.links), "urn:l"))
    with (tmp_path / "studies.csv").open(newline="", encoding="utf-8") as handle:
        studies = list(csv.DictReader(handle))
    expected = {(study_iri(r["study_id"]), SCHEMA.sameAs, URIRef(f"https://doi.org/{r['doi']}"))
                for r in studies if r["doi"]}
    expected |= {(study_iri(r["study_id"]), SCHEMA.sameAs, URIRef(f"https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/"))
                 for r in studies if r["pmid"]}
    assert expected and links == expected
    assert streamed.study_ids == [r["study_id"] for r in studies]


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


def test_build_dataset_equals_its_sources_read_with_rdflib(tmp_path: Path) -> None:
    """Every named graph of the build equals its source read independently with rdflib: ontology and
    vocabularies parsed from their files, the evidence recomputed from the sheets (csv module), the
    reference table, the review, the mappings and the links; the typology derived by rdflib's
    SPARQL engine on them; one derivation per sheet row in the provenance graph."""
    import csv

    from rdflib import Dataset, Literal
    from rdflib.namespace import PROV, RDFS

    from kg.derive.claims import G_REVIEW, review_graph
    from kg.derive.typology import derive
    from kg.io.sheets import load_income_groups
    from kg.model.identifiers import G_LINKS, G_MAPPINGS, mapping_set_graph, read_sssom
    from kg.model.namespaces import (G_CODINGS, G_EVIDENCE, G_ONTOLOGY, G_PROVENANCE, G_REFERENCE, G_VOCAB,
                                     SCHEMA, study_iri)
    from kg.publish.build import build

    build(tmp_path / "b", cross_check=False)
    fast = _normalised_quads((tmp_path / "b" / "smqi.nq").read_text(encoding="utf-8"))
    data, vocab = resources.data_dir(), default_vocabulary()
    oracle = Dataset(default_union=True)
    oracle.graph(G_ONTOLOGY).parse(resources.ontology_file())
    for path in resources.vocab_files():
        oracle.graph(G_VOCAB).parse(path)
    for name, graph in ((G_EVIDENCE, sheet_triples(data)),
                        (G_REFERENCE, load_income_groups(data / "world_bank_income_groups.csv", vocab)),
                        (G_REVIEW, review_graph(data / "review_claims.csv", vocab)),
                        (G_MAPPINGS, mapping_set_graph(read_sssom(data / "platform_mappings.sssom.tsv"))),
                        (G_CODINGS, coding_triples(data / "codings.csv"))):
        target = oracle.graph(name)
        target += graph
    with (data / "studies.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            if r["doi"]:
                oracle.graph(G_LINKS).add((study_iri(r["study_id"]), SCHEMA.sameAs, URIRef(f"https://doi.org/{r['doi']}")))
            if r["pmid"]:
                oracle.graph(G_LINKS).add((study_iri(r["study_id"]), SCHEMA.sameAs,
                                           URIRef(f"https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/")))
    derive(oracle)
    slow = _normalised_quads(oracle)
    assert sorted(map(str, fast)) == sorted(map(str, [*slow, G_PROVENANCE]))
    for name, graph in slow.items():
        assert isomorphic(fast[name], graph), name
    provenance = fast[G_PROVENANCE]
    derivations = set(provenance.subjects(PROV.entity, None))
    rows = sum(1 for name in ("studies.csv", "uses.csv")
               for _ in csv.DictReader((data / name).open(newline="", encoding="utf-8")))
    assert len(derivations) == rows
    row = next(n for n, r in enumerate(csv.DictReader((data / "studies.csv").open(newline="", encoding="utf-8")), 2)
               if r["study_id"] == "wu2019")
    assert list(provenance.objects(URIRef(f"{study_iri('wu2019')}#derivation"), RDFS.comment)) == [
        Literal(f"studies.csv row {row} (wu2019; the header is row 1)")]


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
    rows = store.query(f"SELECT ?u ?m WHERE {{ GRAPH <{G_DERIVED}> {{ ?u <{SMQI.modelOfUse}> ?m }} "
                       f"?u a <{SMQI.SocialMediaUse}> }}", use_default_graph_as_union=True)
    return {r["u"].value: r["m"].value for r in rows}


@pytest.mark.parametrize("data", [Path(__file__).parents[1] / "typology" / "uses.ttl",
                                  Path(__file__).parents[1] / "queries" / "assign" / "data.ttl", None],
                         ids=["typology-fixture", "assign-fixture", "real"])
def test_store_typology_equals_assign_rq(data: Path | None) -> None:
    """derive_on_store (the one derivation) gives the answer of the generic query assign.rq, run by
    rdflib's SPARQL engine."""
    from rdflib import Dataset

    from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB

    if data is None:
        dataset = pipeline_data().dataset
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
    graph.parse(Path(__file__).parents[1] / "typology" / "uses.ttl")
    feedback = URIRef("https://w3id.org/smqi/vocab/typology/feedback-seeking")
    consultation = URIRef("https://w3id.org/smqi/vocab/typology/consultation")
    graph.set((feedback, SMQI.rulePriority, graph.value(consultation, SMQI.rulePriority)))
    with pytest.raises(DataError) as info:
        derive_on_store(_ox_store_of(graph))
    assert "alpha2020-8 (consultation, feedback-seeking)" in str(info.value)


def test_odd_characters_in_cells_reach_the_store_as_written(tmp_path: Path) -> None:
    """Quotes, backslashes, line breaks and the characters str.splitlines breaks at (U+2028, U+0085,
    form feed …) survive the loader's N-Quads, its rdflib view, and an rdflib graph written as N-Quads."""
    import csv

    import pyoxigraph as ox
    from rdflib.namespace import DCTERMS

    from kg.io.rdf import nquads_of

    odd = 'a\u2028b\x0b\x0c\x1c\x85c\x00d\te"f\\g\rh\ni'
    for name, columns, row in (("studies.csv", STUDY_COLUMNS, {
            "study_id": "smith2020", "first_author": "S", "authors": "", "year": "2020", "title": odd,
            "journal": "", "doi": "", "pmid": "", "countries": "GB", "design": "qualitative",
            "source_url": "https://example.org/x", "summary": ""}),
            ("uses.csv", USE_COLUMNS, {
            "study_id": "smith2020", "use_no": "1", "platforms": "twitter", "communication_model": "two-way",
            "host": "health-organisation", "user_populations": "patients-consumers",
            "qi_activities": "consultation", "qi_stages": "plan", "note": "", "confidence": ""})):
        with (tmp_path / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerow(row)
    vocab = default_vocabulary()
    loaded = load_sheets(tmp_path / "studies.csv", tmp_path / "uses.csv", vocab, graph="urn:g")
    assert [str(t) for t in loaded.graph.objects(None, DCTERMS.title)] == [odd]
    for data in ("".join(loaded.lines).encode("utf-8"), nquads_of(loaded.graph, "urn:g")):
        store = ox.Store()
        store.bulk_load(data, ox.RdfFormat.N_QUADS)
        assert [q.object.value for q in store if q.predicate.value == str(DCTERMS.title)] == [odd]
