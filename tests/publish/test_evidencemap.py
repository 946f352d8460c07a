"""The interactive evidence map's data (kg.publish.evidencemap): what map.html embeds equals the
sheets in data/ (read here with the csv module, the oracle independent of the graph), the page reads
without script, escapes what it shows, and says when a build is too large for it.

The browser half (axes, filters, cells, cards, URL fragment, 400 px) is in test_browser.py.
Fixtures under tests/report/ are made up (tests/report/README.md)."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from htmltree import parse
from kg.derive import network
from kg.derive.typology import derive
from kg.io import queries as kq
from kg.io.store import store_from_dataset
from kg.publish import evidencemap, report
from pipelinedata import pipeline_data as assemble

DATA = Path(__file__).parents[2] / "data"  # the shipped sheets, read with csv as the oracle
HERE = Path(__file__).parents[1] / "report"
USE_COLUMNS = {"platform": "platforms", "communication-model": "communication_model", "host": "host",
               "user-population": "user_populations", "qi-activity": "qi_activities", "qi-stage": "qi_stages"}


def sheet(name: str, folder: Path = DATA) -> list[dict[str, str]]:
    with (folder / name).open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def keys(cell: str) -> list[str]:
    return sorted(k.strip() for k in cell.split(";") if k.strip())


def embedded(html: str) -> dict:
    block = html.split('<script type="application/json" id="map-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block and "&" not in block
    return json.loads(block)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    kg = assemble()
    derive(kg.dataset)
    out = tmp_path_factory.mktemp("map") / "report"
    report.write_report(store_from_dataset(kg.dataset), out, claims=None, network_report=network.analyse(kg.dataset))
    html = (out / "map.html").read_text(encoding="utf-8")
    return kg.dataset, out, html, embedded(html)


def test_the_page_embeds_exactly_data_map_json(built) -> None:
    _, out, _, data = built
    assert json.loads((out / "data" / "map.json").read_text(encoding="utf-8")) == data
    assert "not the review's own list of 40 studies" in data["notice"]
    assert sorted(p.name for p in out.iterdir()) == ["data", "figures", "index.html", "map.html", "map.js",
                                                     "report.css"]


def test_studies_equal_the_studies_sheet(built) -> None:
    _, _, _, data = built
    rows = sorted(sheet("studies.csv"), key=lambda r: r["study_id"])
    assert [s["id"] for s in data["studies"]] == [r["study_id"] for r in rows] and len(rows) > 0
    for study, row in zip(data["studies"], rows):
        assert (study["title"], study["year"], study["first_author"], study["journal"], study["doi"],
                study["pmid"], study["summary"]) == (row["title"], row["year"], row["first_author"],
                                                     row["journal"], row["doi"], row["pmid"], row["summary"])
        assert study["country"] == [c for c in keys(row["countries"]) if c != "XX"], row["study_id"]
        assert study["study-design"] == [row["design"]]
        start = int(row["year"]) // 5 * 5
        assert study["year-band"] == [f"{start}-{start + 4}"]
        assert study["sources"] == keys(row["source_url"])
        assert study["doi_url"] == (f"https://doi.org/{row['doi']}" if row["doi"] else "")
        assert study["pmid_url"] == (f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/" if row["pmid"] else "")


def test_income_groups_are_each_countrys_latest_fiscal_year(built) -> None:
    _, _, _, data = built
    latest: dict[str, tuple[str, str]] = {}
    for row in sheet("world_bank_income_groups.csv"):
        if row["country_code"] not in latest or row["fiscal_year"] > latest[row["country_code"]][0]:
            latest[row["country_code"]] = (row["fiscal_year"], row["income_group"])
    expected = {r["study_id"]: sorted({latest[c][1] for c in keys(r["countries"]) if c in latest})
                for r in sheet("studies.csv")}
    assert {s["id"]: s["income-group"] for s in data["studies"]} == expected
    high = sum(1 for groups in expected.values() if "HIC" in groups)
    assert sum(1 for s in data["studies"] if "HIC" in s["income-group"]) == high and high > 40


def test_uses_equal_the_uses_sheet(built) -> None:
    dataset, _, _, data = built
    rows = sorted(sheet("uses.csv"), key=lambda r: (r["study_id"], int(r["use_no"])))
    assert [(u["study"], u["use_no"]) for u in data["uses"]] == [(r["study_id"], int(r["use_no"])) for r in rows]
    assert len(rows) > 0
    for use, row in zip(data["uses"], rows):
        for dim, column in USE_COLUMNS.items():
            assert use[dim] == keys(row[column]), (row["study_id"], row["use_no"], dim)
    # the model of each use is the derived typology's: its counts are the uses-per-model query's
    per_model = Counter(m for u in data["uses"] for m in u["model-of-use"])
    expected = {str(r[0]): int(str(r[-1])) for r in kq.run_query(dataset, "uses-per-model").rows}
    assert dict(per_model) == expected and all(len(u["model-of-use"]) <= 1 for u in data["uses"])


def test_dimensions_list_every_vocabulary_concept_or_the_values_found(built) -> None:
    dataset, _, _, data = built
    dims = {d["key"]: d for d in data["dimensions"]}
    assert list(dims) == [d.key for d in evidencemap.DIMENSIONS]
    query = "SELECT DISTINCT ?n WHERE { ?c skos:inScheme ?s ; skos:notation ?n }"
    from kg.model.namespaces import scheme_iri

    for dim in evidencemap.DIMENSIONS:
        values = [v["key"] for v in dims[dim.key]["values"]]
        assert len(values) == len(set(values)), dim.key
        real = [v for v in values if v != evidencemap.NONE_KEY]
        if dim.every:
            vocab = {str(r[0]) for r in dataset.query(query, initBindings={"s": scheme_iri(dim.scheme)})}
            assert set(real) == vocab, dim.key
    studies = sheet("studies.csv")
    countries = sorted({c for r in studies for c in keys(r["countries"]) if c != "XX"})
    assert sorted(v["key"] for v in dims["country"]["values"]) == sorted([*countries, evidencemap.NONE_KEY])
    assert [v["key"] for v in dims["income-group"]["values"]][:4] == ["HIC", "UMC", "LMC", "LIC"]
    starts = sorted({int(r["year"]) // 5 * 5 for r in studies})
    assert [v["key"] for v in dims["year-band"]["values"]] == [f"{y}-{y + 4}" for y in
                                                               range(starts[0], starts[-1] + 1, 5)]
    # every use has a model here, so model of use has no "unclassified" value; 4 studies state no country
    assert evidencemap.NONE_KEY not in [v["key"] for v in dims["model-of-use"]["values"]]
    assert sum(1 for r in studies if r["countries"] == "XX") == sum(1 for s in data["studies"] if not s["country"])


def test_the_page_without_script_shows_the_default_table_and_every_card(built) -> None:
    dataset, _, html, data = built
    tree = parse(html)
    cells = tree.find("table", id="map-table").find_all("td", data_row=True)
    shown = {(c.attrs["data-row"], c.attrs["data-column"]): int(c.attrs["data-count"]) for c in cells}
    expected = {(str(r[0]), str(r[1])): int(str(r[2])) for r in kq.run_query(dataset, "platform-by-activity").rows}
    assert {k: v for k, v in shown.items() if v} == expected
    platforms = len(next(d for d in data["dimensions"] if d["key"] == "platform")["values"])
    activities = len(next(d for d in data["dimensions"] if d["key"] == "qi-activity")["values"])
    assert len(cells) == platforms * activities
    gaps = [c for c in cells if c.attrs["data-count"] == "0"]
    assert gaps and all(c.attrs.get("class") == "gap" and c.text == "gap" for c in gaps)
    listed = defaultdict(list)
    for r in kq.run_query(dataset, "gap-map-studies").rows:
        listed[(str(r[0]), str(r[1]))].append(str(r[2]))
    for c in cells:
        links = [a.attrs["href"] for a in c.find_all("a")]
        assert links == [f"#card-{s}" for s in sorted(listed[(c.attrs["data-row"], c.attrs["data-column"])])]
    cards = tree.find_all("article", data_study=True)
    assert [c.attrs["data-study"] for c in cards] == [s["id"] for s in data["studies"]]
    uses_per_study = Counter(r["study_id"] for r in sheet("uses.csv"))
    assert {c.attrs["data-study"]: len(c.find_all("li", data_use=True)) for c in cards} == uses_per_study
    card = tree.find("article", data_study="ahne2020")
    assert card.find("dd", data_field="country").text == "United States"
    assert card.find("dd", data_field="study-design").text == "Quantitative"
    assert [a.attrs["href"] for a in card.find("p", **{"class": "links"}).find_all("a")] == [
        "https://drc.bmj.com/content/8/1/e001190"]
    assert tree.find("form", id="map-controls").attrs.get("hidden") is not None  # the script shows it
    assert tree.find("script", src="map.js") is not None


def test_hostile_titles_are_escaped_in_the_map(tmp_path: Path) -> None:
    kg = assemble(HERE / "hostile")
    derive(kg.dataset)
    evidencemap.write_map(store_from_dataset(kg.dataset), tmp_path, studies=2, version="test", notice="n")
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    data = embedded(html)
    assert data["studies"][0]["title"] == "Made up: tweets & \"reviews\" <script>alert('x')</script> of A&E"
    card = parse(html).find("article", data_study="hostilea2020")
    assert card.find("h3").text == data["studies"][0]["title"]
    assert card.find("a").attrs["href"] == "https://doi.org/10.9999/made-up%3C1%3E%26x"


def test_zero_studies_give_a_map_of_gaps(tmp_path: Path) -> None:
    kg = assemble(HERE / "empty")
    derive(kg.dataset)
    written = evidencemap.write_map(store_from_dataset(kg.dataset), tmp_path, studies=0, version="t", notice="n")
    assert written == [tmp_path / f for f in ("map.html", "map.js", "data/map.json")]
    data = embedded((tmp_path / "map.html").read_text(encoding="utf-8"))
    assert data["studies"] == [] and data["uses"] == []
    cells = parse((tmp_path / "map.html").read_text(encoding="utf-8")).find_all("td", data_row=True)
    assert cells and all(c.attrs["data-count"] == "0" for c in cells)


def test_over_the_limit_the_map_says_so_and_carries_no_data(tmp_path: Path) -> None:
    kg = assemble(HERE / "one")
    derive(kg.dataset)
    written = evidencemap.write_map(store_from_dataset(kg.dataset), tmp_path, studies=1, version="t",
                                    notice="n", limit=0)
    assert written == [tmp_path / "map.html", tmp_path / "map.js"]
    html = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "map-data" not in html and not (tmp_path / "data" / "map.json").exists()
    assert parse(html).find("p", id="map-unavailable").text.startswith("This build has 1 studies, more than the 0")
