"""`smqi export` (issue #4): JSON-LD with the project context, flat CSV, ORKG comparison CSV.

The round trip and the CSV rows run on the real data (read only); the CSVs are read from an Oxigraph
store by SPARQL, and their bytes are checked against rows recomputed from data/*.csv with the csv
module (model_of_use from kg.derive.typology.derive with rdflib).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rdflib import XSD, BNode, Dataset, Graph, Literal
from rdflib.compare import isomorphic

from kg.model import resources
from kg.cli import main
from kg.publish.export import ORKG_COLUMNS, export
from kg.io.jsonld import CONTEXT_IRI, local_context
from kg.model.namespaces import G_DERIVED, G_EVIDENCE, G_ONTOLOGY, use_iri
from kg.io.rdf import parse_into
from kg.io.store import from_ox


def sheet(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def assembled():
    """The shipped data assembled with rdflib, typology derived, and the same graph in a store."""
    from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib
    from kg.io.store import store_from_dataset
    from kg.derive.typology import derive

    kg = assemble()
    derivation = derive(kg.dataset)
    return kg.dataset, derivation, store_from_dataset(kg.dataset)


@pytest.fixture(scope="module")
def jsonld_text() -> str:
    return export("jsonld")


def store_quads(store) -> set:
    return {(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object), from_ox(q.graph_name)) for q in store}


def ontology_graph(quads: set) -> Graph:
    graph = Graph()
    for s, p, o, g in quads:
        if g == G_ONTOLOGY:
            graph.add((s, p, o))
    return graph


def test_jsonld_expands_to_the_store_quads(jsonld_text: str, assembled, tmp_path: Path) -> None:
    """Read back with rdflib's JSON-LD parser (the shipped context substituted): the same quads, named graphs and datatypes included (no blank node in these graphs
    but the ontology's lists, compared by isomorphism)."""
    _dataset, _derivation, store = assembled
    (tmp_path / "smqi.jsonld").write_text(jsonld_text, encoding="utf-8")
    back = parse_into(Dataset(), tmp_path / "smqi.jsonld")
    got = {(s, p, o, g) for s, p, o, g in back.quads()}
    want = store_quads(store)
    assert len(want) > 5000 and len(got) == len(want)
    plain = lambda quads: {q for q in quads if not any(isinstance(t, BNode) for t in q)}  # noqa: E731
    assert plain(got) == plain(want)
    assert isomorphic(ontology_graph(got), ontology_graph(want))
    doubles = [q for q in got if isinstance(q[2], Literal) and q[2].datatype == XSD.double]
    assert len(doubles) == 12  # the SSSOM confidences, 1.0 among them
    assert {q[3] for q in got} == {from_ox(g) for g in store.named_graphs()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "build"
    assert main(["build", "--out", str(out), "--no-owl", "--quiet"]) == 0
    return out


def test_pyld_expands_the_export_to_exactly_the_dataset(built: Path, capsys: pytest.CaptureFixture) -> None:
    """PyLD, a JSON-LD processor nobody here wrote, with a document loader that refuses the network
    (the project context is served from the shipped copy): expansion, then toRdf, gives every quad
    of the store, the provenance graph included, each xsd:double still an xsd:double. Blank nodes
    (the ontology's OWL lists) are compared after RDF canonicalisation (URDNA2015)."""
    import pyoxigraph as ox
    from pyld import jsonld

    capsys.readouterr()
    assert main(["export", "--format", "jsonld", "--store", str(built / "store")]) == 0
    jsonld_text = capsys.readouterr().out
    store = ox.Store.read_only(str(built / "store"))
    asked: list[str] = []

    def offline(url: str, options=None) -> dict:
        asked.append(url)
        if url != CONTEXT_IRI:
            raise jsonld.JsonLdError(f"refused to fetch {url}", "jsonld.LoadDocumentError",
                                     code="loading document failed")
        return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
                "document": {"@context": local_context()}}

    expanded = jsonld.expand(json.loads(jsonld_text), {"documentLoader": offline})
    assert set(asked) == {CONTEXT_IRI}
    nquads = jsonld.to_rdf(expanded, {"format": "application/n-quads"})
    want = store.dump(format=ox.RdfFormat.N_QUADS).decode("utf-8")
    got_quads = list(ox.parse(nquads.encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    want_quads = list(ox.parse(want.encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    assert len(got_quads) == len(want_quads) > 5000
    names = lambda quads: {q.graph_name.value for q in quads}  # noqa: E731
    assert names(got_quads) == names(want_quads) and "https://w3id.org/smqi/graph/provenance" in names(got_quads)

    double = "http://www.w3.org/2001/XMLSchema#double"
    doubles = lambda quads: sorted((q.subject.value, float(q.object.value)) for q in quads  # noqa: E731
                                   if isinstance(q.object, ox.Literal) and q.object.datatype.value == double)
    assert len(doubles(want_quads)) == 12 and doubles(got_quads) == doubles(want_quads)
    # PyLD (as jsonld.js) writes an xsd:double in the canonical XSD form ("1.0E0", "8.0E-1"); the
    # store keeps the same values as "1", "0.8". Loaded into a store they are the same literals.
    reloaded = ox.Store()
    reloaded.load(nquads.encode("utf-8"), format=ox.RdfFormat.N_QUADS)
    canonical = {"algorithm": "URDNA2015", "inputFormat": "application/n-quads", "format": "application/n-quads"}
    got = set(jsonld.normalize(reloaded.dump(format=ox.RdfFormat.N_QUADS).decode("utf-8"), canonical).splitlines())
    assert got == set(jsonld.normalize(want, canonical).splitlines())


def test_jsonld_uses_short_keys_and_codebook_values(jsonld_text: str) -> None:
    doc = json.loads(jsonld_text)
    assert doc["@context"] == CONTEXT_IRI  # referenced, substituted locally when read
    graphs = {g["@id"]: g["@graph"] for g in doc["@graph"]}
    assert str(G_EVIDENCE) in graphs and str(G_DERIVED) in graphs
    uses = [n for n in graphs[str(G_EVIDENCE)] if n.get("@type") == "SocialMediaUse"]
    assert len(uses) == len(sheet("uses.csv"))
    ahne = next(n for n in uses if n["@id"].endswith("/ahne2020-1"))
    assert ahne["platforms"] == ["twitter"] and ahne["host"] == "third-party-platform"
    assert ahne["reported_in"] == "kg:study/ahne2020"
    assert ahne["use_no"] == "1"  # xsd:integer, the type of the context term
    model = next(n for n in graphs[str(G_DERIVED)] if n["@id"] == ahne["@id"])
    assert model == {"@id": ahne["@id"], "model_of_use": "listening"}
    evidence = [n for n in graphs[str(G_EVIDENCE)] if n.get("@type") in ("Study", "SocialMediaUse")]
    assert not any(k.startswith("http") for n in evidence for k in n)


def test_context_keys_do_not_shadow_codebook_keys() -> None:
    """A coded value equal to a term of the context would expand to that term (e.g. qi stage
    'study'); no term may share a name with any codebook key."""
    from kg.model.namespaces import SCHEMES
    from kg.model.vocabularies import default_vocabulary

    context, vocab = local_context(), default_vocabulary()
    clashes = [(slug, k) for slug, _c in SCHEMES.values() for k in vocab.keys(slug) if k in context]
    assert clashes == []


def test_csv_one_row_per_use(capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    uses = sheet("uses.csv")
    assert len(rows) == len(uses) > 0
    by_id = {(r["study_id"], r["use_no"]): r for r in rows}
    for use in uses:
        row = by_id[(use["study_id"], use["use_no"])]
        for col in ("platforms", "user_populations", "qi_activities", "qi_stages"):
            assert row[col].split(";") == sorted(use[col].split(";"))
        assert row["communication_model"] == use["communication_model"] and row["model_of_use"]


def test_orkg_csv_one_row_per_use_with_the_study_id(tmp_path: Path) -> None:
    """An ORKG CSV import makes one contribution per row and one paper of the rows that repeat its
    paper columns: a use is a contribution (issue #14)."""
    out = tmp_path / "orkg.csv"
    assert main(["export", "--format", "orkg-csv", "--out", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ORKG_COLUMNS
        rows = list(reader)
    uses = sheet("uses.csv")
    assert sorted((r["study_id"], int(r["use_no"])) for r in rows) == sorted(
        (u["study_id"], int(u["use_no"])) for u in uses)
    studies = {s["study_id"]: s for s in sheet("studies.csv")}
    for row in rows:
        study = studies[row["study_id"]]
        assert (row["paper:title"], row["paper:doi"], row["paper:publication_year"], row["paper:authors"]) == (
            study["title"], study["doi"], study["year"], study["authors"])
    use = next(u for u in uses if u["study_id"] == "ahne2020" and u["use_no"] == "1")
    row = next(r for r in rows if r["study_id"] == "ahne2020" and r["use_no"] == "1")
    assert row["platform"] == ";".join(sorted(use["platforms"].split(";")))


def test_excel_export_starts_with_a_byte_order_mark(tmp_path: Path, capsys) -> None:
    out = tmp_path / "excel.csv"
    assert main(["export", "--format", "csv", "--excel", "--out", str(out)]) == 0
    raw = out.read_bytes()
    plain = tmp_path / "plain.csv"
    assert main(["export", "--format", "csv", "--out", str(plain)]) == 0
    assert raw[:3] == b"\xef\xbb\xbf" and raw[3:] == plain.read_bytes() and plain.read_bytes()[:3] != b"\xef\xbb\xbf"
    capsys.readouterr()
    assert main(["export", "--format", "jsonld", "--excel"]) == 2
    assert capsys.readouterr().err == "smqi export: error: --excel is for the CSV formats (csv, orkg-csv), not jsonld\n"


LISTS = {"countries", "source_url", "platforms", "user_populations", "qi_activities", "qi_stages"}


def _joined(column: str, value: str) -> str:
    return ";".join(sorted(set(value.split(";")))) if column in LISTS and value else value


def test_csv_bytes_equal_the_sheets(assembled) -> None:
    from kg.io.sheets import STUDY_COLUMNS, USE_COLUMNS

    _dataset, derivation, _store = assembled
    studies = {s["study_id"]: s for s in sheet("studies.csv")}
    uses = sorted(sheet("uses.csv"), key=lambda u: (u["study_id"], int(u["use_no"])))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*STUDY_COLUMNS, *USE_COLUMNS[1:], "model_of_use"])
    for use in uses:
        study = studies[use["study_id"]]
        writer.writerow([*(_joined(c, study[c]) for c in STUDY_COLUMNS), *(_joined(c, use[c]) for c in USE_COLUMNS[1:]),
                         derivation.assignments[use_iri(use["study_id"], use["use_no"])]])
    assert export("csv") == buffer.getvalue()


def test_orkg_csv_bytes_equal_the_sheets(assembled) -> None:
    _dataset, derivation, _store = assembled
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ORKG_COLUMNS)
    uses: dict[str, list[dict[str, str]]] = {}
    for use in sheet("uses.csv"):
        use["model_of_use"] = derivation.assignments[use_iri(use["study_id"], use["use_no"])]
        uses.setdefault(use["study_id"], []).append(use)
    dimension = {"platform": "platforms", "communication_model": "communication_model", "host": "host",
                 "user_population": "user_populations", "qi_activity": "qi_activities", "qi_stage": "qi_stages",
                 "model_of_use": "model_of_use"}
    for study in sorted(sheet("studies.csv"), key=lambda s: s["study_id"]):
        for use in sorted(uses[study["study_id"]], key=lambda u: int(u["use_no"])):
            row = [study["title"], study["authors"], study["year"], study["doi"], study["study_id"], use["use_no"]]
            for column, field in dimension.items():
                row.append(";".join(sorted({k for k in use[field].split(";") if k})))
            row += ["" if study["countries"] == "XX" else _joined("countries", study["countries"]), study["design"]]
            writer.writerow(row)
    assert export("orkg-csv") == buffer.getvalue()


def test_export_reads_a_given_store(assembled) -> None:
    """With the build's store, export reads it and assembles nothing (a made-up one-study store)."""
    import pyoxigraph as ox

    sid = "https://w3id.org/smqi/kg/study/madeup2020"
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode(sid), ox.NamedNode("https://w3id.org/smqi/ontology#studyId"),
                      ox.Literal("madeup2020"), ox.NamedNode(str(G_EVIDENCE))))
    lines = export("orkg-csv", store=store).splitlines()
    assert lines == [",".join(ORKG_COLUMNS), ",,,,madeup2020" + "," * 10]  # no use: one row, use columns empty
    assert export("csv", store=store).splitlines()[1:] == []  # a study without uses has no row
    doc = json.loads(export("jsonld", store=store))
    assert doc["@graph"] == [{"@id": str(G_EVIDENCE), "@graph": [{"@id": "kg:study/madeup2020",
                                                                  "study_id": "madeup2020"}]}]


# ---------------------------------------------------------------- spreadsheet-safe CSV (issue 16)

FORMULAS = Path(__file__).parents[1] / "curate" / "hostile" / "formula-cells"  # made up: see its README


@pytest.mark.parametrize("cell, safe", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("", ""), ("plain", "plain"), ("a=b", "a=b"), (" =x", " =x"),
    ("'=x", "'=x"), ("2021", "2021"),
])
def test_spreadsheet_safe(cell: str, safe: str) -> None:
    from kg.publish.export import spreadsheet_safe

    assert spreadsheet_safe(cell) == safe


def test_csv_exports_neutralise_formula_cells_unless_raw(capsys) -> None:
    """Cells beginning with = + - @ tab or CR get a leading ' by default; --raw writes them exactly."""
    expected = {
        "csv": {
            "formula2021": {"first_author": "'=Formula F", "authors": "'=Formula F; +Plus P",
                            "title": "'=HYPERLINK(\"https://example.org/x\",\"click\")",
                            "journal": "'+Journal of Sums", "summary": "'@SUM(1+1) a made-up study",
                            "note": "'=1+2 made up"},
            "tabcr2022": {"first_author": "'-Minus M", "summary": "'-2+3 a made-up summary", "note": "'@note made up",
                          "title": "Tab-led made-up title", "journal": "CR-led journal"},  # a sheet's cells are stripped
            "testc2021": {"first_author": "'\rCR-led C", "title": "'\tTab-led made-up title"},  # entries/ keep them
        },
        "orkg-csv": {
            "formula2021": {"paper:title": "'=HYPERLINK(\"https://example.org/x\",\"click\")",
                            "paper:authors": "'=Formula F; +Plus P"},
            "tabcr2022": {"paper:title": "Tab-led made-up title", "paper:authors": "'-Minus M"},
            "testc2021": {"paper:title": "'\tTab-led made-up title", "paper:authors": ""},
        },
    }
    for fmt, rows in expected.items():
        outputs = {}
        for raw in (False, True):
            assert main(["export", "--format", fmt, "--data", str(FORMULAS), *(["--raw"] if raw else [])]) == 0
            outputs[raw] = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
        key = "study_id" if fmt == "csv" else "paper:publication_year"
        years = {"formula2021": "2021", "tabcr2022": "2022", "testc2021": "2021"}
        for sid, cells in rows.items():
            found = [r for r in outputs[False] if (r[key] == sid if fmt == "csv" else
                                                   r["paper:title"] == cells["paper:title"] and r[key] == years[sid])]
            assert len(found) == 1, (fmt, sid)
            assert {c: found[0][c] for c in cells} == cells, (fmt, sid)
        unsafe = {"=", "+", "-", "@", "\t", "\r"}
        assert all(v[:1] not in unsafe for r in outputs[False] for v in r.values()), fmt
        assert [{k: v[1:] if v[:2] in {"'" + c for c in unsafe} else v for k, v in r.items()}
                for r in outputs[False]] == outputs[True], fmt  # --raw: the same cells, exactly


def test_sparql_csv_results_stay_exact(capsys) -> None:
    """`smqi query --format csv` writes W3C SPARQL CSV results: a protocol format, not neutralised."""
    assert main(["query", "study-table", "--format", "csv", "--data", str(FORMULAS)]) == 0
    text = capsys.readouterr().out
    assert '"=HYPERLINK(""https://example.org/x"",""click"")"' in text and "'=" not in text


def test_export_to_a_full_disk_or_read_only_folder_is_a_message(tmp_path: Path, capsys) -> None:
    from mounts import fill, read_only, small_tmpfs

    with small_tmpfs(tmp_path / "disk", "256k") as disk:
        (disk / "old.csv").write_text("old\n", encoding="utf-8")
        fill(disk)
        assert main(["export", "--format", "csv", "--data", str(FORMULAS), "--out", str(disk / "old.csv")]) == 2
        assert capsys.readouterr().err == (f"smqi export: error: writing {disk / 'old.csv'} failed: No space left "
                                           "on device (the disk is full); nothing was changed: every file is as it was.\n")
        assert (disk / "old.csv").read_text(encoding="utf-8") == "old\n"
    (tmp_path / "src").mkdir()
    with read_only(tmp_path / "src", tmp_path / "ro") as ro:
        assert main(["export", "--format", "csv", "--data", str(FORMULAS), "--out", str(ro / "x.csv")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"smqi export: error: writing {ro / 'x.csv'} failed: Read-only file system (the folder "
                              "is on a read-only file system)") and err.endswith("nothing was changed: every file is as it was.\n")
