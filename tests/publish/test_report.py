"""The HTML evidence report: its numbers are the named queries' results, it escapes what it shows,
and it builds with zero, one and all studies.

The report reads an Oxigraph store (kg.io.store.store_from_dataset of the assembled graph, as the build
will hand it over); the oracle for the numbers is kg.io.queries.run_query with rdflib on the same dataset
(the report must show exactly what the queries say); the CSV-based oracle for the queries themselves
is in test_build.py. Fixtures under tests/report/ are made up (see tests/report/README.md); the large
report is checked on tests/report/many/ with small limits and on synthetic sheets from
benchmarks/generate.py (made up, labelled SYNTHETIC) at the default limits.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from rdflib import Graph

from htmltree import Element, parse
from kg.publish import figures
from kg.derive import network
from kg.publish import report
from kg.io import queries as kq
from kg.cli import main
from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib
from kg.io.store import store_from_dataset
from kg.derive.typology import derive

HERE = Path(__file__).parents[1] / "report"


def derived(data: Path | None = None) -> Graph:
    kg = assemble(data)
    derive(kg.dataset)
    return kg.dataset


def write(data: Path | None, out: Path, **options) -> Path:
    """The report of ``data`` written from a store, with the network analysis of the same graph."""
    dataset = derived(data)
    return report.write_report(store_from_dataset(dataset), out, network_report=network.analyse(dataset),
                               **options)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Path, Element]:
    dataset = derived()
    out = tmp_path_factory.mktemp("report") / "report"
    report.write_report(store_from_dataset(dataset), out, claims=None, network_report=network.analyse(dataset))
    return dataset, out, parse((out / "index.html").read_text(encoding="utf-8"))


def sheet(name: str) -> list[dict[str, str]]:
    """Rows of a shipped sheet (the oracle of the counts)."""
    from kg.model import resources

    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def rows(dataset: Graph, name: str) -> list[dict[str, str]]:
    result = kq.run_query(dataset, name)
    return [{k: ("" if v is None else str(v)) for k, v in zip(result.variables, r)} for r in result.rows]


def concept_keys(dataset: Graph, scheme: str) -> set[str]:
    from kg.model.namespaces import scheme_iri

    query = "SELECT DISTINCT ?n WHERE { ?c skos:inScheme ?s ; skos:notation ?n }"
    return {str(r[0]) for r in dataset.query(query, initBindings={"s": scheme_iri(scheme)})}


# ---------------------------------------------------------------- numbers equal the queries


def test_gap_map_cells_equal_the_query(real) -> None:
    dataset, _, html = real
    table = html.find("table", id="gap-map-table")
    cells = table.find_all("td", data_platform=True)
    shown = {(c.attrs["data-platform"], c.attrs["data-activity"]): int(c.attrs["data-count"]) for c in cells}
    expected = {(r["platform"], r["activity"]): int(r["studies"]) for r in rows(dataset, "platform-by-activity")}
    assert expected, "the query returned nothing: the comparison would be vacuous"
    assert {k: v for k, v in shown.items() if v} == expected
    # Every platform and activity of the vocabularies is a row / column, empty ones included.
    platforms, activities = concept_keys(dataset, "platform"), concept_keys(dataset, "qi-activity")
    assert set(shown) == {(p, a) for p in platforms for a in activities}
    assert len(cells) == len(platforms) * len(activities)
    assert {th.attrs["data-platform"] for th in table.find_all("th", data_platform=True)} == platforms
    gaps = [c for c in cells if c.attrs["data-count"] == "0"]
    assert gaps and all("l0" in c.attrs["class"].split() for c in gaps)
    # The number shown and the studies listed agree with both queries.
    listed: dict[tuple[str, str], list[str]] = {}
    for r in rows(dataset, "gap-map-studies"):
        listed.setdefault((r["platform"], r["activity"]), []).append(r["study_id"])
    for cell in cells:
        key = (cell.attrs["data-platform"], cell.attrs["data-activity"])
        links = [a.text for a in cell.find_all("a")]
        assert links == listed.get(key, []), key
        assert len(links) == shown[key]
        if shown[key]:
            assert cell.find("span", **{"class": "n"}).text == str(shown[key])


def test_gap_map_shading_grows_with_the_count(real) -> None:
    _, _, html = real
    cells = html.find("table", id="gap-map-table").find_all("td", data_platform=True)
    level = {int(c.attrs["data-count"]): int(c.attrs["class"].split()[1][1:]) for c in cells}
    counts = sorted(level)
    assert [level[c] for c in counts] == sorted(level[c] for c in counts)
    assert level[max(counts)] == report.LEVELS and level[0] == 0


def test_typology_counts_equal_the_queries(real) -> None:
    dataset, _, html = real
    table = html.find("table", id="typology-table")
    shown = {tr.attrs["data-model"]: (int(tr.find("td", data_field="uses").text),
                                      int(tr.find("td", data_field="studies").text))
             for tr in table.find_all("tr", data_model=True)}
    uses = {r["key"]: int(r["uses"]) for r in rows(dataset, "uses-per-model")}
    studies = {r["key"]: int(r["studies"]) for r in rows(dataset, "studies-per-model")}
    assert uses and studies
    assert set(shown) == concept_keys(dataset, "typology")
    assert {k: v for k, v in shown.items() if v != (0, 0)} == {k: (uses[k], studies.get(k, 0)) for k in uses}
    unclassified = int(html.find("span", data_count="unclassified").text)
    assert unclassified + sum(uses.values()) == int(html.find("span", data_count="uses").text) == len(
        sheet("uses.csv"))


def test_countries_income_and_study_table_equal_the_queries(real) -> None:
    dataset, _, html = real
    for table_id, query in (("country-table", "studies-per-country"), ("income-table", "studies-per-income-group")):
        shown = {tr.attrs["data-key"]: int(tr.find_all("td")[-1].text)
                 for tr in html.find("table", id=table_id).find_all("tr", data_key=True)}
        assert shown == {r["key"]: int(r["studies"]) for r in rows(dataset, query)}, table_id
    study_rows = html.find("table", id="study-table").find_all("tr", data_study=True)
    expected = rows(dataset, "study-table")
    assert [tr.attrs["data-study"] for tr in study_rows] == [r["study_id"] for r in expected]
    assert len(study_rows) == len(sheet("studies.csv")) == int(html.find("span", data_count="studies").text)
    for tr, r in zip(study_rows, expected):
        cells = tr.find_all("td")
        assert [cells[1].text, cells[2].text, cells[3].text] == [r["first_author"], r["year"], r["title"]]
        hrefs = [a.attrs["href"] for a in cells[4].find_all("a")]
        wanted = ([f"https://doi.org/{r['doi']}"] if r["doi"] else []) + (
            [f"https://pubmed.ncbi.nlm.nih.gov/{r['pmid']}/"] if r["pmid"] else [])
        assert hrefs == wanted
        assert sorted(s.attrs["title"] for s in cells[5].find_all("span")) == sorted(r["models"].split())


def test_notice_figures_and_assets(real) -> None:
    _, out, html = real
    notice = html.find("p", id="notice").text
    assert "independent" in notice and "not the review's own list of 40 studies" in notice
    assert "data/METHODS.md" in notice
    images = [img.attrs["src"] for img in html.find_all("img")]
    assert sorted(images) == sorted(f"figures/{name}" for name in report.FIGURES)
    for name in report.FIGURES:
        svg = (out / "figures" / name).read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<svg" in svg and figures.EMPTY not in svg, name
        assert ("<rect" in svg or "<circle" in svg) and "<title>" in svg and "<desc>" in svg, name
    assert (out / "report.css").is_file()
    text = (out / "index.html").read_text(encoding="utf-8")
    # Offline: nothing is fetched from another host, no scripts.
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    external = [e.attrs.get("src") or e.attrs.get("href") for e in html.find_all("img") + html.find_all("link")]
    assert all(not u.startswith(("http:", "https:", "//")) for u in external)
    assert "Claims are not available in this build" in text  # claims=None in this fixture


# ---------------------------------------------------------------- the claims section


@dataclass
class FakeVerdict:  # the shape of kg.derive.claims.ClaimVerdict
    claim_id: str
    statement: str
    verdict: str
    numbers: dict = field(default_factory=dict)
    explanation: str = ""


def test_claims_section_shows_verdicts_and_numbers() -> None:
    claims = [FakeVerdict("C1", "Twitter & <Facebook> were used most", "supported", {"twitter": 12, "share": 0.5},
                          "Made-up explanation with \"quotes\"."),
              FakeVerdict("C2", "Made-up claim two", "not supported", {}, ""),
              SimpleNamespace(claim_id="C3", statement="Made up three", verdict="not checkable", numbers=None,
                              explanation="no data")]
    html = report.render(report.ReportData(), claims)
    tree = parse(html)
    trs = tree.find("table", id="claims-table").find_all("tr", data_claim=True)
    assert [tr.attrs["data-claim"] for tr in trs] == ["C1", "C2", "C3"]
    first = trs[0].find_all("td")
    assert first[1].text == "Twitter & <Facebook> were used most"
    assert first[2].text == "supported" and "supported" in first[2].attrs["class"]
    assert [dt.text for dt in first[3].find_all("dt")] == ["twitter", "share"]
    assert [dd.text for dd in first[3].find_all("dd")] == ["12", "0.5"]
    assert "&lt;Facebook&gt;" in html and "<Facebook>" not in html
    assert "not-supported" in trs[1].find_all("td")[2].attrs["class"]
    assert "Claims are not available" not in html


def test_claims_unavailable_are_said_so() -> None:
    html = report.render(report.ReportData(), None)
    assert parse(html).find("p", id="claims-unavailable").text == "Claims are not available in this build."


# ---------------------------------------------------------------- hostile, one, zero


def test_hostile_titles_are_escaped(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write(HERE / "hostile", out, claims=None)
    text = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in text and "<img src=x" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    tree = parse(text)
    titles = {tr.attrs["data-study"]: tr.find("td", **{"class": "title"}).text
              for tr in tree.find_all("tr", data_study=True)}
    assert titles == {"hostilea2020": "Made up: tweets & \"reviews\" <script>alert('x')</script> of A&E",
                      "hostileb2019": "Made up: <img src=x onerror=alert(1)> & friends"}
    row = tree.find("tr", data_study="hostilea2020")
    assert row.find_all("td")[1].text == "O'Brien <b>"
    assert row.find("a").attrs["href"] == "https://doi.org/10.9999/made-up%3C1%3E%26x"
    assert [img.attrs["src"] for img in tree.find_all("img")]  # still a whole page


def test_report_with_one_study(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write(HERE / "one", out, claims=[])
    tree = parse((out / "index.html").read_text(encoding="utf-8"))
    assert [tr.attrs["data-study"] for tr in tree.find_all("tr", data_study=True)] == ["onlyone2021"]
    filled = [c for c in tree.find_all("td", data_platform=True) if c.attrs["data-count"] != "0"]
    assert [(c.attrs["data-platform"], c.attrs["data-activity"], c.attrs["data-count"]) for c in filled] == [
        ("facebook", "consultation", "1")]
    assert tree.find("p", id="claims-empty")
    assert tree.find("tr", data_model="consultation").find("td", data_field="uses").text == "1"


def test_report_with_zero_studies(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write(HERE / "empty", out, claims=None)
    tree = parse((out / "index.html").read_text(encoding="utf-8"))
    assert tree.find("span", data_count="studies").text == "0"
    cells = tree.find_all("td", data_platform=True)
    assert cells and all(c.attrs["data-count"] == "0" for c in cells)  # a whole map of gaps
    assert tree.find_all("tr", data_study=True) == []
    assert "No studies in this build." in tree.find("table", id="study-table").text
    for name in report.FIGURES:
        svg = (out / "figures" / name).read_text(encoding="utf-8")
        assert "<svg" in svg and figures.EMPTY in svg, name


def test_figures_are_reproducible(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write(HERE / "hostile", tmp_path / run, claims=None)
    for name in ("index.html", "map.html", "data/map.json", *(f"figures/{f}" for f in report.FIGURES),
                 *(f"data/{f}" for f in report.DATA_FILES)):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    svg = (tmp_path / "a" / "figures" / "typology.svg").read_text(encoding="utf-8")
    assert "date" not in svg.lower()


def test_figures_state_every_value_in_their_text_alternative() -> None:
    bars = figures.bar_chart(["Listening", "Co-design"], {"uses": [35, 8], "studies": [30, 7]},
                             title="Models", xlabel="n", ylabel="model")
    assert "<desc>Listening: 35 uses, 30 studies; Co-design: 8 uses, 7 studies</desc>" in bars
    assert bars.count("<rect x=") == 4 + 2  # four bars and two legend keys
    columns = figures.column_chart(["2019", "2020"], [3, 0], title="Years", xlabel="year", ylabel="studies")
    assert "<desc>2019: 3; 2020: 0</desc>" in columns
    heat = figures.heat_map(["patients"], ["listening", "co-design"], [[2, 0]], title="H", xlabel="x", ylabel="y")
    assert "<desc>patients × listening: 2</desc>" in heat
    assert figures.EMPTY in figures.column_chart([], [], title="Years", xlabel="year", ylabel="studies")


# ---------------------------------------------------------------- the command


def test_report_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rep"
    assert main(["report", "--data", str(HERE / "one"), "--out", str(out)]) == 0
    assert f"Wrote {out / 'index.html'}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["data", "figures", "index.html", "map.html", "map.js",
                                                     "report.css"]
    assert sorted(p.name for p in (out / "data").iterdir()) == sorted([*report.DATA_FILES, "map.json"])
    before = (out / "index.html").read_bytes()
    assert main(["report", "--data", str(tmp_path / "missing"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "missing" in err
    assert (out / "index.html").read_bytes() == before  # a failed run leaves the old report


def test_report_help_documents_exit_codes(capsys: pytest.CaptureFixture) -> None:
    for command in ("report", "docs"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "exit codes:" in out and "  2  usage error" in out


# ---------------------------------------------------------------- a large report: bounded page, full data files


def _cell(tree: Element, platform: str, activity: str) -> Element:
    return next(c for c in tree.find("table", id="gap-map-table").find_all("td", data_platform=True)
                if (c.attrs["data-platform"], c.attrs["data-activity"]) == (platform, activity))


MANY = [f"many{n}2020" for n in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")]


def test_a_report_within_the_limits_lists_everything(tmp_path: Path) -> None:
    write(HERE / "many", tmp_path / "r", claims=None)  # 8 studies, default limits (200)
    text = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    tree = parse(text)
    assert [a.text for a in _cell(tree, "facebook", "consultation").find_all("a")] == MANY
    assert len(tree.find_all("tr", data_study=True)) == 8
    assert "<script" not in text and "gap-map-note" not in text and "study-table-note" not in text


def test_a_report_over_the_limits_shows_counts_first_ids_and_points_to_the_data(tmp_path: Path) -> None:
    out = tmp_path / "r"
    write(HERE / "many", out, claims=None, cell_studies=5, study_rows=3)  # 8 studies > 3: shortened
    text = (out / "index.html").read_text(encoding="utf-8")
    tree = parse(text)
    cell = _cell(tree, "facebook", "consultation")
    assert cell.attrs["data-count"] == "8" and cell.find("span", **{"class": "n"}).text == "8"
    ids = cell.find("span", **{"class": "ids"})
    # the first five by id: links for the three studies in the (shortened) table, text for the others
    assert [a.text for a in ids.find_all("a") if "more" not in a.attrs.get("class", "")] == MANY[:3]
    assert [s.text for s in ids.find_all("span", **{"class": "id"})] == MANY[3:5]
    more = ids.find("a", **{"class": "more"})
    assert more.text == "+ 3 more" and more.attrs["href"] == "data/gap-map-studies.csv"
    assert more.attrs["data-cell"] == "facebook|consultation"
    twitter = _cell(tree, "twitter", "consultation")  # one study: listed whole, no "more"
    assert twitter.find("span", **{"class": "ids"}).text.split() == ["manyhotel2020"]
    assert twitter.find_all("a", **{"class": "more"}) == []
    assert [tr.attrs["data-study"] for tr in tree.find_all("tr", data_study=True)] == MANY[:3]
    assert tree.find("span", data_count="study-rows").text == "3"
    note = tree.find("p", id="study-table-note").text
    assert "first 3 of 8 studies" in " ".join(note.split()) and "data/studies.csv" in text
    assert tree.find("p", id="gap-map-note")
    # the full lists of the shortened cells, embedded for the page opened from disk
    block = tree.find("script", id="gap-map-data")
    assert block.attrs["type"] == "application/json"
    assert json.loads(block.text) == {"cells": {"facebook|consultation": MANY}}
    # and every list, in full, in data/
    with (out / "data" / "gap-map-studies.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["platform", "activity", "study_id"],
                                            *(["facebook", "consultation", s] for s in MANY),
                                            ["twitter", "consultation", "manyhotel2020"]]
    cells = json.loads((out / "data" / "gap-map-studies.json").read_text(encoding="utf-8"))["cells"]
    assert cells == [{"platform": "facebook", "activity": "consultation", "studies": 8, "study_ids": MANY},
                     {"platform": "twitter", "activity": "consultation", "studies": 1,
                      "study_ids": ["manyhotel2020"]}]
    with (out / "data" / "studies.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == MANY and rows[0]["models"] == "consultation"
    assert rows[0]["title"] == "Made-up study alpha of a crowded cell" and rows[0]["doi"] == "10.9999/made-up.many1"
    studies = json.loads((out / "data" / "studies.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in studies] == MANY and studies[7]["models"] == ["consultation"]


def test_the_embedded_lists_cannot_end_the_script_block() -> None:
    data = report.ReportData(studies=2, platforms=[(report.Concept("p", "P"), 2)],
                             activities=[(report.Concept("a", "A"), 2)], gap_counts={("p", "a"): 2},
                             gap_studies={("p", "a"): ["x</script><b>", "y&z"]})
    html = report.render(data, None, cell_studies=1, study_rows=1)
    block = html.split('<script type="application/json" id="gap-map-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(block) == {"cells": {"p|a": ["x</script><b>", "y&z"]}}
    assert "<" not in block and "&" not in block


def test_report_at_the_default_limits_on_a_synthetic_store(tmp_path: Path) -> None:
    """250 synthetic studies (benchmarks/generate.py) run through the pipeline into a store."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.generate import generate
    from kg.publish.build import run_pipeline
    from kg.io.store import query_store

    generate(250, tmp_path / "sheets", seed=3)
    store = run_pipeline(tmp_path / "sheets").store
    out = tmp_path / "r"
    report.write_report(store, out, claims=None)
    tree = parse((out / "index.html").read_text(encoding="utf-8"))
    assert tree.find("span", data_count="studies").text == "250"
    assert len(tree.find_all("tr", data_study=True)) == report.STUDY_ROWS == 200
    expected = {(str(r[0]), str(r[1])): int(r[2]) for r in query_store(store, "platform-by-activity").rows}
    listed: dict[tuple[str, str], list[str]] = {}
    for r in query_store(store, "gap-map-studies").rows:
        listed.setdefault((str(r[0]), str(r[1])), []).append(str(r[2]))
    cells = tree.find("table", id="gap-map-table").find_all("td", data_platform=True)
    crowded = 0
    for cell in cells:
        key = (cell.attrs["data-platform"], cell.attrs["data-activity"])
        assert int(cell.attrs["data-count"]) == expected.get(key, 0), key
        if key not in expected:
            continue
        ids = cell.find("span", **{"class": "ids"})
        shown = [e.text for e in ids.find_all("a") + ids.find_all("span", **{"class": "id"})
                 if "more" not in e.attrs.get("class", "")]
        assert sorted(shown) == listed[key][:report.CELL_STUDIES], key
        more = [a.text for a in ids.find_all("a", **{"class": "more"})]
        if expected[key] > report.CELL_STUDIES:
            crowded += 1
            assert more == [f"+ {expected[key] - report.CELL_STUDIES} more"], key
        else:
            assert more == [], key
    assert crowded > 5  # the synthetic data does crowd cells
    with (out / "data" / "studies.csv").open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 250


# ---------------------------------------------------------------- readable figures, safe CSV cells


def test_every_network_node_is_named_or_numbered_and_the_table_lists_all(real) -> None:
    dataset, out, html = real
    graph = network.analyse(dataset).cooccurrence
    svg = (out / "figures" / "network.svg").read_text(encoding="utf-8")
    tree = parse(svg)
    order = figures.network_order(graph)
    labels = [str(graph.nodes[n]["label"]) for n in order]
    texts = {int(t.attrs["data-node"]): t.text for t in tree.find_all("text", data_node=True)}
    assert sorted(texts) == list(range(1, len(order) + 1)) and len(order) == graph.number_of_nodes()  # every node has a text
    assert all(text in (labels[i - 1], str(i)) for i, text in texts.items())
    rows = html.find("table", id="network-table").find_all("tr", data_node=True)
    assert [(r.find_all("td")[0].text, r.find_all("td")[1].text) for r in rows] == [
        (str(i), label) for i, label in enumerate(labels, start=1)]
    boxes = [(float(r.attrs["x"]), float(r.attrs["y"]), float(r.attrs["x"]) + float(r.attrs["width"]),
              float(r.attrs["y"]) + float(r.attrs["height"])) for r in tree.find_all("rect", fill_opacity="0.8")]
    assert len(boxes) == len(texts)
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]  # no two labels overlap


def test_figures_open_full_size_and_carry_their_text(real) -> None:
    _, out, html = real
    for name in report.FIGURES:
        fig = html.find("figure", id=f"figure-{name[:-4]}")
        assert [a.attrs["href"] for a in fig.find_all("a")] == [f"figures/{name}"] * 2
        text = fig.find("p", id=f"text-{name[:-4]}").text
        assert text == figures.description((out / "figures" / name).read_text(encoding="utf-8")) and text
        assert fig.find("img").attrs["aria-describedby"] == f"text-{name[:-4]}"
    assert [a.attrs["href"] for a in html.find("nav").find_all("a")] == [f"#{s}" for s, _ in report.SECTIONS]
    assert html.find("a", id="map-link").attrs["href"] == "map.html"
    claims = html.find_all("td", data_label=True)
    assert claims == [] or {c.attrs["data-label"] for c in claims} == {"claim", "statement", "verdict", "numbers",
                                                                     "explanation"}


def test_claim_cells_name_their_column() -> None:
    claim = SimpleNamespace(claim_id="c1", statement="s", verdict="supported", numbers={"n": 1}, explanation="e")
    tree = parse(report.render(report.ReportData(), [claim]))
    assert [td.attrs["data-label"] for td in tree.find("tr", data_claim="c1").find_all("td", data_label=True)] == [
        "claim", "statement", "verdict", "numbers", "explanation"]


def test_the_report_csv_downloads_use_the_exports_spreadsheet_safe() -> None:
    """One neutralising function for the exports and the report's data files (kg.publish.export)."""
    from kg.publish import export

    assert report.spreadsheet_safe is export.spreadsheet_safe


def test_agreement_section_equals_the_agreement_queries(real) -> None:
    """The table shows every figure of kg.derive.agreement over the build's codings, and each figure's
    disagreements are listed under it with both codings and the consensus."""
    from kg.derive.agreement import agreement, rounded

    dataset, _out, html = real
    found = agreement(store_from_dataset(dataset))
    assert found.coded_uses == len(sheet("uses.csv"))
    section = html.find("section", id="agreement")
    assert int(section.find("span", data_count="coded-uses").text) == found.coded_uses
    rows = section.find("table", id="agreement-table").find_all("tr", data_dimension=True)
    assert [r.attrs["data-dimension"] for r in rows] == [f.dimension for f in found.figures]
    for row, f in zip(rows, found.figures):
        cells = [td.text for td in row.find_all("td")]
        assert cells[2] == str(f.uses) and cells[3] == f"{f.agreements} ({rounded(f.observed, 3):.1%})"
        assert cells[4] == ("" if f.kind == "multi" else f"{rounded(f.kappa, 3):.3f}")
        assert cells[5] == ("" if f.kind == "single" else f"{rounded(f.mean_jaccard, 3):.3f}")
        behind = [d for d in found.disagreements if d.dimension == f.dimension]
        listed = [t for t in section.find_all("table", data_dimension=f.dimension)
                  if t.attrs.get("class") == "disagreements"]
        assert len(listed) == (1 if behind else 0)
        if listed:
            assert [tr.attrs["data-use"] for tr in listed[0].find_all("tr", data_use=True)] == [d.use for d in behind]
    assert "agreement" in [a.attrs["href"][1:] for a in html.find("nav").find_all("a")]


def test_agreement_section_without_codings(tmp_path: Path) -> None:
    from kg.publish.pipeline import run_pipeline

    fixture = Path(__file__).parents[1] / "claims" / "sheets"  # made up, no codings.csv
    assert not (fixture / "codings.csv").exists()
    report.write_report(run_pipeline(fixture, check=False).store, tmp_path / "r")
    html = parse((tmp_path / "r" / "index.html").read_text(encoding="utf-8"))
    assert html.find_all("p", id="agreement-empty") and not html.find_all("table", id="agreement-table")
