"""`smqi export` (issue #4): JSON-LD with the project context, flat CSV, ORKG comparison CSV.

The round trip and the CSV row counts run on the real data (read only).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kg.model import resources
from kg.cli import main
from kg.publish.export import ORKG_COLUMNS, export
from kg.io.jsonld import CONTEXT_IRI, local_context
from kg.io.rdf import parse_into


def sheet(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def jsonld_text() -> str:
    return export("jsonld")


def test_turtle_jsonld_turtle_round_trip_is_isomorphic(jsonld_text: str, tmp_path: Path) -> None:
    from pipelinedata import pipeline_data
    from kg.derive.typology import derive

    kg = pipeline_data()
    derive(kg.dataset)
    union = Graph()
    for triple in kg.dataset.triples((None, None, None)):
        union.add(triple)
    turtle = Graph().parse(data=union.serialize(format="turtle"), format="turtle")
    (tmp_path / "smqi.jsonld").write_text(jsonld_text, encoding="utf-8")
    back = parse_into(Graph(), tmp_path / "smqi.jsonld")
    again = Graph().parse(data=back.serialize(format="turtle"), format="turtle")
    assert len(turtle) > 5000
    assert isomorphic(turtle, again)


def test_jsonld_uses_short_keys_and_codebook_values(jsonld_text: str) -> None:
    doc = json.loads(jsonld_text)
    assert doc["@context"] == CONTEXT_IRI  # referenced, substituted locally when read
    uses = [n for n in doc["@graph"] if n.get("@type") == "SocialMediaUse"]
    assert len(uses) == 72
    ahne = next(n for n in uses if n["@id"].endswith("/ahne2020-1"))
    assert ahne["platforms"] == ["twitter"] and ahne["host"] == "third-party-platform"
    assert ahne["model_of_use"] == "listening"
    evidence = [n for n in doc["@graph"] if n.get("@type") in ("Study", "SocialMediaUse")]
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
    assert len(rows) == len(uses) == 72
    by_id = {(r["study_id"], r["use_no"]): r for r in rows}
    for use in uses:
        row = by_id[(use["study_id"], use["use_no"])]
        for col in ("platforms", "user_populations", "qi_activities", "qi_stages"):
            assert row[col].split(";") == sorted(use[col].split(";"))
        assert row["communication_model"] == use["communication_model"] and row["model_of_use"]


def test_orkg_csv_one_row_per_study(tmp_path: Path) -> None:
    out = tmp_path / "orkg.csv"
    assert main(["export", "--format", "orkg-csv", "--out", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ORKG_COLUMNS
        rows = list(reader)
    studies = sheet("studies.csv")
    assert len(rows) == len(studies) == 66
    by_title = {r["paper:title"]: r for r in rows}
    for study in studies:
        row = by_title[study["title"]]
        assert row["paper:doi"] == study["doi"] and row["paper:publication_year"] == study["year"]
        assert row["paper:authors"] == study["authors"]
    platforms: dict[str, set[str]] = {}
    for use in sheet("uses.csv"):
        platforms.setdefault(use["study_id"], set()).update(use["platforms"].split(";"))
    wu = next(s for s in studies if s["study_id"] == "ahne2020")
    assert by_title[wu["title"]]["platform"] == ";".join(sorted(platforms["ahne2020"]))
