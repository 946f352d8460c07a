"""The seed review in the graph and `smqi claims` (issue #5).

Real data: the verdicts and every number are recomputed here from data/*.csv with the csv module,
independently of the graph and SPARQL. Fixture data (tests/claims/sheets, made up) makes each
verdict occur.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS

from kg.model import resources
from kg.cli import main
from pipelinedata import pipeline_data
from kg.model.errors import InputInvalid
from kg.model.namespaces import FABIO, PRISM, SCHEMA, SMQI
from kg.derive.typology import derive
from kg.derive.claims import NOT_CHECKABLE, NOT_SUPPORTED, SUPPORTED, check_claims
from kg.io.review import G_REVIEW, REVIEW, review_graph

SHEETS = Path(__file__).parents[1] / "claims" / "sheets"


def rows(name: str) -> list[dict[str, str]]:
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def real() -> dict:
    kg = pipeline_data(derived=True)  # as in the build: the claims read the typology's models
    return {v.claim_id: v for v in check_claims(kg.dataset)} | {"_kg": kg}


def test_review_node_bibliographic_data(real: dict) -> None:
    g = real["_kg"].graph(G_REVIEW)
    assert (REVIEW, RDF.type, SMQI.Review) in g
    assert str(g.value(REVIEW, DCTERMS.title)).startswith("The use of social media as a tool for stakeholder")
    assert g.value(REVIEW, PRISM.doi) == Literal("10.1177/2055207621996870")
    assert g.value(REVIEW, FABIO.hasPubMedId) == Literal("33717499")
    assert str(g.value(REVIEW, FABIO.hasPublicationYear)) == "2021"
    assert str(g.value(REVIEW, PRISM.publicationName)) == "Digital Health"
    assert sorted(map(str, g.objects(REVIEW, DCTERMS.creator))) == sorted(
        ["Walsh L", "Hyett N", "Juniper N", "Li C", "Rodier S", "Hill S"])
    assert set(g.objects(REVIEW, SCHEMA.sameAs)) == {
        URIRef("https://doi.org/10.1177/2055207621996870"), URIRef("https://pubmed.ncbi.nlm.nih.gov/33717499/")}
    # The review's own list of included studies is not available: nothing may claim inclusion.
    assert list(real["_kg"].dataset.triples((None, SMQI.includesStudy, None))) == []


def test_review_conforms_to_review_shape() -> None:
    shapes = Graph().parse(resources.resource_dir("shapes") / "review.ttl")
    conforms, _g, text = validate(review_graph(), shacl_graph=shapes, inference="none")
    assert conforms, text


def test_claims_as_rdf_equal_the_csv() -> None:
    g = review_graph()
    claims = {str(g.value(c, DCTERMS.identifier)): c for c in g.subjects(RDF.type, SMQI.Claim)}
    sheet = rows("review_claims.csv")
    assert sorted(claims) == sorted(r["claim_id"] for r in sheet)
    for r in sheet:
        node = claims[r["claim_id"]]
        assert (REVIEW, SMQI.makesClaim, node) in g
        assert str(g.value(node, SMQI.claimKind)) == r["claim_kind"]
        assert str(g.value(node, SMQI.claimedValue)) == r["value"]
        assert str(g.value(node, DCTERMS.description)) == r["statement"]
        concepts = sorted(str(c).rsplit("/", 1)[-1] for c in g.objects(node, SMQI.claimedConcept))
        assert concepts == ([] if r["claim_kind"] == "count" else sorted(r["value"].split(";")))


def test_real_verdicts_and_numbers_equal_csv_counts(real: dict) -> None:
    """Every verdict and number recomputed from the sheets with the csv module (the oracle)."""
    studies, uses = rows("studies.csv"), rows("uses.csv")
    per: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for u in uses:
        for column in ("platforms", "user_populations", "host"):
            for key in u[column].split(";"):
                per[column][key].add(u["study_id"])

    def most_common(column: str, claim: str, claimed: str) -> None:
        counts = {k: len(v) for k, v in per[column].items()}
        top = max(counts.values())
        leaders = sorted(k for k, n in counts.items() if n == top)
        v = real[claim]
        assert v.verdict == (SUPPORTED if claimed in leaders else NOT_SUPPORTED)
        assert v.numbers == {"claimed": claimed, "claimed_studies": counts.get(claimed, 0),
                             "most_common": ";".join(leaders), "most_common_studies": top,
                             "studies_with_any": len({u["study_id"] for u in uses})}

    most_common("platforms", "most-common-platform", "twitter")
    most_common("host", "mostly-health-organisation-hosted", "health-organisation")

    two_way = sum(1 for u in uses if u["communication_model"] == "two-way")
    v = real["mostly-two-way"]
    assert v.verdict == (SUPPORTED if two_way * 2 > len(uses) else NOT_SUPPORTED)
    assert v.numbers == {"claimed": "two-way", "uses_with_claimed": two_way, "uses": len(uses),
                         "share": round(two_way / len(uses), 4)}

    latest: dict[str, tuple[str, str]] = {}
    for r in rows("world_bank_income_groups.csv"):
        if r["country_code"] not in latest or r["fiscal_year"] > latest[r["country_code"]][0]:
            latest[r["country_code"]] = (r["fiscal_year"], r["income_group"])
    stated = [s for s in studies if set(s["countries"].split(";")) - {"XX"}]
    classified = [s for s in stated if any(c in latest for c in s["countries"].split(";"))]
    hic = [s for s in classified if any(latest.get(c, ("", ""))[1] == "HIC" for c in s["countries"].split(";"))]
    v = real["mostly-high-income"]
    assert v.verdict == (SUPPORTED if len(hic) * 2 > len(classified) else NOT_SUPPORTED)
    assert v.numbers == {"claimed": "HIC", "studies_with_claimed": len(hic),
                         "studies_with_stated_country": len(classified), "share": round(len(hic) / len(classified), 4)}

    listed = "organisations;clinical-providers;non-clinical-providers;young-people;chronic-illness-disability;first-nations"
    found = [k for k in listed.split(";") if per["user_populations"].get(k)]
    v = real["populations-involved"]
    assert v.verdict == (SUPPORTED if len(found) == 6 else NOT_SUPPORTED)
    missing = [k for k in listed.split(";") if k not in found]
    assert v.numbers == {**{k: len(per["user_populations"].get(k, ())) for k in listed.split(";")},
                         "found": len(found), "listed": 6, **({"missing": ";".join(missing)} if missing else {})}

    v = real["included-studies"]
    assert v.verdict == NOT_CHECKABLE and v.numbers == {"claimed": 40, "our_studies": len(studies)}
    typology = Graph().parse(next(p for p in resources.vocab_files() if p.name == "typology.ttl"))
    models = set(typology.subjects(RDF.type, SMQI.ModelOfUse))
    used = {key for _sid, _no, key in derive(real["_kg"].dataset).rows} - {"unclassified"}
    v = real["models-of-use"]
    assert v.verdict == NOT_CHECKABLE and v.numbers == {"claimed": 9, "our_models": len(models),
                                                        "models_with_a_use": len(used)}
    assert f"({len(used)} of our {len(models)} models have at least one use" in v.explanation
    for v in (x for k, x in real.items() if k != "_kg"):
        assert v.explanation and v.statement


def test_each_verdict_occurs_on_fixture_data() -> None:
    verdicts = {v.claim_id: v for v in check_claims(pipeline_data(SHEETS).dataset)}
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "included-studies": NOT_CHECKABLE, "models-of-use": NOT_CHECKABLE,
        "most-common-platform": SUPPORTED, "mostly-two-way": NOT_SUPPORTED,
        "mostly-high-income": SUPPORTED, "populations-involved": NOT_SUPPORTED,
        "mostly-health-organisation-hosted": NOT_SUPPORTED,
    }
    assert verdicts["most-common-platform"].numbers["claimed_studies"] == 2
    assert verdicts["mostly-health-organisation-hosted"].numbers == {
        "claimed": "health-organisation", "claimed_studies": 1, "most_common": "third-party-platform",
        "most_common_studies": 2, "studies_with_any": 4}
    assert verdicts["mostly-two-way"].numbers == {"claimed": "two-way", "uses_with_claimed": 1, "uses": 4, "share": 0.25}
    assert verdicts["mostly-high-income"].numbers["studies_with_stated_country"] == 3
    assert verdicts["populations-involved"].numbers["missing"] == (
        "non-clinical-providers;young-people;chronic-illness-disability;first-nations")
    assert verdicts["included-studies"].numbers == {"claimed": 40, "our_studies": 4}


def test_cli_claims_json_and_build_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["claims", "--data", str(SHEETS), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["review"]["doi"] == "10.1177/2055207621996870"
    assert {c["claim_id"]: c["verdict"] for c in doc["claims"]}["most-common-platform"] == SUPPORTED
    out = tmp_path / "b"
    assert main(["build", "--out", str(out), "--data", str(SHEETS), "--quiet", "--no-owl"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["claims"] == doc["claims"]
    assert main(["claims", "--graph", str(out / "smqi.trig")]) == 0
    assert "most-common-platform: SUPPORTED" in capsys.readouterr().out


def test_bad_claim_rows_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "review_claims.csv"
    bad.write_text(
        "review_doi,claim_id,dimension,claim_kind,value,statement\n"
        "10.1177/2055207621996870,a,platform,most-common,tweeter,Made up.\n"
        "10.1177/2055207621996870,b,platform,guess,twitter,Made up.\n"
        "10.9999/other,c,study,count,forty,Made up.\n", encoding="utf-8")
    with pytest.raises(InputInvalid) as info:
        review_graph(bad)
    text = str(info.value)
    assert "row 2, a, field value, value 'tweeter': unknown platform key 'tweeter'" in text
    assert "row 3, b, field claim_kind, value 'guess': unknown claim kind" in text
    assert "row 4, c, field review_doi" in text and "row 4, c, field value, value 'forty'" in text


def test_claims_help_documents_exit_codes(capsys: pytest.CaptureFixture) -> None:
    for command in ("claims", "link"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "exit codes:" in capsys.readouterr().out
