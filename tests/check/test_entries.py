"""New entries are checked on the store (kg.check.entries): `smqi validate` and `smqi add` neither run
nor import pySHACL, and the store engine's results, through the one mapping to problems
(kg.check.shacl.problems_of), are pySHACL's on the same data (pySHACL, the reference, as oracle).

Fixtures: tests/add (made up) and tests/fixtures/sheets/valid (made up); the real data is only read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datacopy import copy_data
from rdflib import RDF, Graph, URIRef

from kg.cli import main
from kg.model import resources

HERE = Path(__file__).parents[1]
ADD = HERE / "add"
SHEETS = HERE / "fixtures" / "sheets" / "valid"
ENTRIES = sorted((ADD / "valid").iterdir()) + sorted((ADD / "invalid").iterdir())


def new_study_sheets(tmp_path: Path) -> tuple[Path, Path]:
    """One made-up study with one use, new to the fixture folder."""
    studies, uses = tmp_path / "new-studies.csv", tmp_path / "new-uses.csv"
    studies.write_text(
        "study_id,first_author,authors,year,title,journal,doi,pmid,countries,design,source_url,summary\n"
        "newb2022,New B,New B,2022,Made-up title,,10.9999/made-up.new,,GB,qualitative,,made up\n",
        encoding="utf-8")
    uses.write_text(
        "study_id,use_no,platforms,communication_model,host,user_populations,qi_activities,qi_stages,note,"
        "confidence\nnewb2022,1,twitter,two-way,health-organisation,patients-consumers,consultation,plan,,high\n",
        encoding="utf-8")
    return studies, uses


def test_validate_and_add_never_run_pyshacl(tmp_path: Path, monkeypatch, capsys) -> None:
    import pyshacl
    from pyshacl.validator import Validator

    def refuse(*_args, **_kwargs):
        raise AssertionError("pySHACL ran")

    monkeypatch.setattr(pyshacl, "validate", refuse)
    monkeypatch.setattr(Validator, "run", refuse)  # however pySHACL is entered
    data = tmp_path / "data"
    copy_data(SHEETS, data)
    studies, uses = new_study_sheets(tmp_path)
    assert main(["validate", str(ADD / "valid" / "entry.ttl"), "--data", str(data)]) == 0
    assert main(["validate", str(ADD / "invalid" / "missing-host.ttl"), "--data", str(data)]) == 1
    assert "exactly one host" in capsys.readouterr().out
    assert main(["validate", str(studies), str(uses), "--data", str(data)]) == 0
    assert main(["add", str(studies), str(uses), "--data", str(data)]) == 0
    assert "newb2022-1: model of use" in capsys.readouterr().out
    assert main(["add", str(ADD / "valid" / "entry.ttl"), "--data", str(data)]) == 0
    assert main(["build", "--out", str(tmp_path / "build"), "--data", str(data), "--no-owl", "--quiet"]) == 0


def test_validate_and_add_never_import_pyshacl(tmp_path: Path) -> None:
    data = tmp_path / "data"
    copy_data(SHEETS, data)
    studies, uses = new_study_sheets(tmp_path)
    script = (
        "import sys\n"
        "from kg.cli import main\n"
        f"codes = [main(['validate', {str(ADD / 'invalid' / 'unknown-platform.ttl')!r}, '--data', {str(data)!r}]),\n"
        f"         main(['validate', {str(studies)!r}, {str(uses)!r}, '--data', {str(data)!r}]),\n"
        f"         main(['add', {str(studies)!r}, {str(uses)!r}, '--data', {str(data)!r}])]\n"
        "print(codes, sorted(m for m in sys.modules if m.split('.')[0] == 'pyshacl'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          check=False, cwd=HERE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[1, 0, 0] []"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_store_engine_reports_what_pyshacl_reports_on_the_entries(entry: Path) -> None:
    """The data check_entries validates (ontology, vocabularies, the entries, the existing studies their
    uses point to), judged by the store engine and by pySHACL, mapped by the one mapping: the same
    problems, in the same order, with the same text."""
    import pyoxigraph as ox
    from pyshacl import validate

    from kg.check.entries import existing_in, read_entries, studies_with_uses
    from kg.check.shacl import notations_in, problems_of, shapes_graph
    from kg.check.shaclstore.fallback import results_of_report
    from kg.check.storeshacl import load_graph, validate_store
    from kg.io.datafolder import data_files, load_evidence
    from kg.model.namespaces import SMQI
    from kg.model.vocabularies import default_ontology, default_vocabulary

    vocab = default_vocabulary()
    existing_store = ox.Store()
    load_evidence(data_files(resources.data_dir()), vocab, existing_store)
    entries = read_entries([entry], vocab, existing_in(existing_store))
    pointed = {s for s in entries.graph.objects(None, SMQI.reportedIn)
               if isinstance(s, URIRef) and (s, RDF.type, SMQI.Study) not in entries.graph}
    data = Graph()
    for graph in (vocab.graph, entries.graph, studies_with_uses(existing_store, pointed)):
        data += graph
    shapes = shapes_graph()

    store, written = load_graph([default_ontology(), data])
    results = validate_store(store, shapes, written, fallback=False)
    engine = problems_of(results, vocab, entries.origins, notations_in(store, results))
    _conforms, report, _text = validate(data, shacl_graph=shapes, ont_graph=default_ontology(), inference="none",
                                        advanced=True, allow_warnings=True)
    oracle_results = results_of_report(report, shapes)
    notations = {c: str(n) for c in {r.value for r in oracle_results}
                 for n in data.objects(c, URIRef("http://www.w3.org/2004/02/skos/core#notation"))}
    oracle = problems_of(oracle_results, vocab, entries.origins, notations)
    assert engine[0] == oracle[0]  # violations: sorted, so in the same order
    assert sorted(map(repr, engine[1])) == sorted(map(repr, oracle[1]))
    assert (engine[0] == []) == (entry.parent.name == "valid")


def test_a_term_the_store_cannot_hold_is_refused_with_a_message(tmp_path: Path, capsys) -> None:
    """rdflib reads ``"@type": false`` as a literal of datatype ``<>``: refused (exit 2), not a crash."""
    path = tmp_path / "entry.jsonld"
    path.write_text('{"@type": false}', encoding="utf-8")
    assert main(["validate", str(path), "--data", str(SHEETS)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smqi validate: error: ") and 'the literal "false" of datatype <> is not an RDF term' in err


def test_sheet_kind_of_a_semicolon_sheet_and_a_cp1252_sheet(tmp_path) -> None:
    """issue #14: Excel's ';'-separated and Windows-1252 sheets get a message saying how to re-save them."""
    import pytest as _pytest

    from kg.check.entries import sheet_kind
    from kg.model.errors import DataError as _DataError

    semi = tmp_path / "semi.csv"
    semi.write_text("study_id;use_no;platforms\nx2020;1;twitter\n", encoding="utf-8")
    with _pytest.raises(_DataError, match=r"semi.csv:1: not an extraction sheet: .*\. The header looks "
                                          r"';'-separated \(Excel uses ';'"):
        sheet_kind(semi)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("study_id,title\nx2020,Linköping\n".encode("cp1252"))
    with _pytest.raises(_DataError, match=r"latin.csv:2: not UTF-8 text: byte 0xf6 at offset 25 .*'ö' there"):
        sheet_kind(latin)


def test_rdf_titles_are_checked_against_the_graph_and_each_other(tmp_path: Path) -> None:
    """Made up: the fixture folder holds smitha2020 "Made-up study: listening to tweets & reviews <test>"."""
    from kg.check.entries import check_entries

    data = tmp_path / "data"
    copy_data(SHEETS, data)
    text = (ADD / "valid" / "entry.ttl").read_text(encoding="utf-8")
    second = text[text.index("study:testc2021 a"):].replace("testc2021", "testd2021").replace(
        "10.5555/smqi-add.0001", "10.5555/smqi-add.0002").replace(
        "A made-up study of an online panel", "A made up study of an online panel!")
    entry = tmp_path / "two.ttl"
    entry.write_text(text.replace("A made-up study of an online panel", "made-up study: listening to tweets and "
                                  "reviews (test)") + "\n" + second, encoding="utf-8")
    report, _entries = check_entries([entry], data)
    assert [(p.row, p.entry, p.field, p.message) for p in report.problems] == [
        (23, "testc2021", "title", "possible duplicate study: a very close title (95% alike; 93% or more counts) is "
         "already in the graph for study smitha2020: 'Made-up study: listening to tweets & reviews <test>'. If "
         "this is a different study, add it with --allow-similar-title.")]
    entry.write_text(text + "\n" + second, encoding="utf-8")
    report, _entries = check_entries([entry], data)
    assert [(p.row, p.entry, p.field, p.message) for p in report.problems] == [
        (44, "testd2021", "title", "possible duplicate study: the same title (ignoring case, accents and "
         "punctuation) is already in the new entries for study testc2021. If this is a different study, add it "
         "with --allow-similar-title.")]
    assert check_entries([entry], data, similar_titles=True)[0].problems == []
