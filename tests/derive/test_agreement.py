"""Inter-coder agreement by SPARQL over the graph's codings (issue 15).

The oracle is independent of the graph: every figure is recomputed here from codings.csv with the csv
module (and, for the model of use, with the codebook's rule table written out by hand in
tests/codebook.py), and each round's figures are compared with the tables of data/METHODS.md.
tests/agreement/sheets is a made-up folder whose figures were worked out by hand (its README).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from datacopy import copy_data

from codebook import model_of
from kg.cli import main
from kg.derive.agreement import Agreement, agreement, rounded
from kg.model import resources
from kg.model.errors import InputInvalid
from kg.publish.pipeline import run_pipeline

FIXTURE = Path(__file__).parents[1] / "agreement" / "sheets"

# The 19 studies of round 2 (data/METHODS.md, "Round 2"): the studies the second search added.
ROUND_2 = sorted("aligieri2021 bau2025 geia2017 hao2016 hlatshwako2025 hswen2020 jung2022 lopes2024 nadel2024 "
                 "nwaozuru2021 ogunlana2025 rahim2021b rahim2021c riordan2021 stautz2017 sweet2015 syarif2022 "
                 "tse2024 zhang2018".split())

SINGLE = {"communication_model": "communication_model", "host": "host"}
MULTI = {"platform": "platforms", "user_population": "user_populations", "qi_activity": "qi_activities",
         "qi_stage": "qi_stages"}


def sheet(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def keys(cell: str) -> frozenset[str]:
    return frozenset(k.strip() for k in cell.split(";") if k.strip())


def oracle(folder: Path, studies: set[str] | None = None) -> dict[str, dict]:
    """Every figure recomputed from codings.csv: per dimension uses, agreements, observed, and chance
    and kappa (single-valued, kappa None when chance is 1) or mean Jaccard (multi-valued)."""
    pairs: dict[tuple[str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    for row in sheet(folder, "codings.csv"):
        if studies is None or row["study_id"] in studies:
            pairs[(row["study_id"], row["use_no"])][row["coder"]] = row
    coded = [(p["coder-1"], p["coder-2"]) for p in pairs.values() if {"coder-1", "coder-2"} <= set(p)]
    n = len(coded)
    figures: dict[str, dict] = {}
    singles = {name: [(a[column], b[column]) for a, b in coded] for name, column in SINGLE.items()}
    singles["model_of_use"] = [(model_of(a["communication_model"], a["host"], a["qi_activities"]),
                                model_of(b["communication_model"], b["host"], b["qi_activities"])) for a, b in coded]
    for name, values in singles.items():
        agree = sum(x == y for x, y in values)
        first, second = Counter(x for x, _ in values), Counter(y for _, y in values)
        chance = sum(first[k] * second[k] for k in first) / n / n
        observed = agree / n
        figures[name] = {"uses": n, "agreements": agree, "observed": observed, "chance": chance,
                         "kappa": None if chance == 1 else (observed - chance) / (1 - chance)}
    for name, column in MULTI.items():
        sets = [(keys(a[column]), keys(b[column])) for a, b in coded]
        exact = sum(x == y for x, y in sets)
        figures[name] = {"uses": n, "agreements": exact, "observed": exact / n,
                         "mean_jaccard": sum(len(x & y) / len(x | y) for x, y in sets) / n}
    return figures


def figures_of(found: Agreement) -> dict[str, dict]:
    out = {}
    for f in found.figures:
        row = {"uses": f.uses, "agreements": f.agreements, "observed": rounded(f.observed)}
        if f.kind == "single":
            row |= {"chance": rounded(f.chance), "kappa": rounded(f.kappa)}
        else:
            row["mean_jaccard"] = rounded(f.mean_jaccard)
        out[f.dimension] = row
    return out


def to_third(figures: dict[str, dict]) -> dict[str, dict]:
    return {d: {k: (round(v + 1e-12, 3) if isinstance(v, float) else v) for k, v in row.items()}
            for d, row in figures.items()}


@pytest.fixture(scope="module")
def shipped():
    return run_pipeline(check=False).store


@pytest.fixture(scope="module")
def made_up():
    return run_pipeline(FIXTURE, check=False).store


# ---------------------------------------------------------------- the made-up folder, worked by hand


def test_hand_worked_figures(made_up) -> None:
    found = agreement(made_up)
    assert [f.dimension for f in found.figures] == ["communication_model", "host", "model_of_use", "platform",
                                                    "user_population", "qi_activity", "qi_stage"]
    assert {(f.coder1, f.coder2) for f in found.figures} == {("coder-1", "coder-2")}
    assert figures_of(found) == {
        # coder 1: two-way x2, one-way-inbound, one-way-outbound; coder 2: the same but many-to-many once
        "communication_model": {"uses": 4, "agreements": 3, "observed": 0.75, "chance": 0.25, "kappa": 0.667},
        # coder 1: health-organisation x3, third-party; coder 2: health-organisation x2, third-party, government
        "host": {"uses": 4, "agreements": 3, "observed": 0.75, "chance": 0.438, "kappa": 0.556},
        # coder 2's codes of fixagrb2021-1 match no rule: unclassified is a category (chance 3/16)
        "model_of_use": {"uses": 4, "agreements": 3, "observed": 0.75, "chance": 0.188, "kappa": 0.692},
        "platform": {"uses": 4, "agreements": 3, "observed": 0.75, "mean_jaccard": 0.875},
        "user_population": {"uses": 4, "agreements": 4, "observed": 1.0, "mean_jaccard": 1.0},
        "qi_activity": {"uses": 4, "agreements": 2, "observed": 0.5, "mean_jaccard": 0.625},
        "qi_stage": {"uses": 4, "agreements": 3, "observed": 0.75, "mean_jaccard": 0.875},
    }
    assert to_third(figures_of(found)) == to_third(oracle(FIXTURE))
    assert [(d.use, d.dimension, d.coder1, d.coder2, d.consensus) for d in found.disagreements] == [
        ("fixagra2020-1", "qi_activity", ("consultation",), ("consultation", "feedback-collection"),
         ("consultation", "feedback-collection")),
        ("fixagra2020-1", "qi_stage", ("plan",), ("do", "plan"), ("plan",)),
        ("fixagra2020-2", "platform", ("rating-site",), ("rating-site", "twitter"), ("rating-site", "twitter")),
        ("fixagrb2021-1", "communication_model", ("two-way",), ("many-to-many",), ("two-way",)),
        ("fixagrb2021-1", "model_of_use", ("co-design-space",), (), ("co-design-space",)),
        ("fixagrb2021-1", "qi_activity", ("co-design",), ("advocacy",), ("co-design",)),
        ("fixagrc2022-1", "host", ("health-organisation",), ("government",), ("health-organisation",)),
    ]


def test_kappa_is_undefined_when_chance_agreement_is_one(made_up) -> None:
    found = agreement(made_up, ["fixagrb2021"])  # one use; both coders gave health-organisation
    host = found.figure("host")
    assert (host.uses, host.agreements, rounded(host.chance), host.kappa) == (1, 1, 1.0, None)
    assert found.figure("communication_model").kappa == 0  # two-way vs many-to-many: defined, zero
    assert found.as_json()["figures"][1]["kappa"] is None
    assert "host                 single-valued     1  1/1 (100.0%)        undefined" in found.to_text()
    assert [d.use for d in found.disagreements] == ["fixagrb2021-1"] * 3


# ---------------------------------------------------------------- the real codings


@pytest.mark.parametrize("subset", ["all", "round-1", "round-2"])
def test_real_figures_equal_the_csv_recomputation(shipped, subset: str) -> None:
    data = resources.data_dir()
    ids = {r["study_id"] for r in sheet(data, "studies.csv")}
    chosen = {"all": None, "round-1": sorted(ids - set(ROUND_2)), "round-2": ROUND_2}[subset]
    found = agreement(shipped, chosen)
    expected = oracle(data, set(chosen) if chosen else None)
    assert to_third(figures_of(found)) == to_third(expected)
    coded = {(r["study_id"], r["use_no"]) for r in sheet(data, "codings.csv")
             if chosen is None or r["study_id"] in chosen}
    assert found.coded_uses == len(coded) > 0


def methods_tables() -> dict[str, dict[str, tuple]]:
    """data/METHODS.md's agreement tables: round -> field -> (percent, kappa or None, Jaccard or None)."""
    text = (resources.data_dir() / "METHODS.md").read_text(encoding="utf-8")
    split = text.index("## Round 2")
    tables = {}
    for name, part in (("round-1", text[:split]), ("round-2", text[split:])):
        table = part[part.index("**Agreement before adjudication**"):]
        rows = {}
        for line in table.splitlines():
            match = re.match(r"^\|\s*([A-Za-z ]+?)\s*\|\s*(\d+)%(?: exact)?\s*\|\s*([0-9.]*)\s*\|\s*([0-9.]*)\s*\|$", line)
            if match:
                rows[match[1]] = (int(match[2]), match[3] or None, match[4] or None)
            elif rows and not line.startswith("|"):
                break
        tables[name] = rows
    return tables


def test_each_round_equals_its_table_in_methods(shipped) -> None:
    ids = {r["study_id"] for r in sheet(resources.data_dir(), "studies.csv")}
    names = {"communication model": "communication_model", "host": "host", "platforms": "platform",
             "user populations": "user_population", "QI activities": "qi_activity", "QI stages": "qi_stage"}
    tables = methods_tables()
    assert set(tables["round-1"]) == set(names) - {"platforms"} and set(tables["round-2"]) == set(names)
    for name, studies in (("round-1", sorted(ids - set(ROUND_2))), ("round-2", ROUND_2)):
        found = agreement(shipped, studies)
        for field, (percent, kappa, jaccard) in tables[name].items():
            figure = found.figure(names[field])
            assert round(100 * rounded(figure.observed, 6)) == percent, (name, field)
            if kappa is not None:
                assert f"{rounded(figure.kappa, 2):.2f}" == kappa, (name, field)
            if jaccard is not None:
                assert f"{rounded(figure.mean_jaccard, 2):.2f}" == jaccard, (name, field)


def test_real_disagreements_equal_the_csv(shipped) -> None:
    data = resources.data_dir()
    pairs: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for row in sheet(data, "codings.csv"):
        pairs[f"{row['study_id']}-{row['use_no']}"][row["coder"]] = row
    consensus = {f"{r['study_id']}-{r['use_no']}": r for r in sheet(data, "uses.csv")}
    expected = set()
    for use, p in pairs.items():
        a, b, c = p["coder-1"], p["coder-2"], consensus[use]
        for name, column in {**SINGLE, **MULTI}.items():
            if keys(a[column]) != keys(b[column]):
                expected.add((use, name, tuple(sorted(keys(a[column]))), tuple(sorted(keys(b[column]))),
                              tuple(sorted(keys(c[column])))))
        m1, m2 = (model_of(x["communication_model"], x["host"], x["qi_activities"]) for x in (a, b))
        if m1 != m2:
            m = model_of(c["communication_model"], c["host"], c["qi_activities"])
            expected.add((use, "model_of_use", *(() if k == "unclassified" else (k,) for k in (m1, m2, m))))
    found = agreement(shipped).disagreements
    assert {(d.use, d.dimension, d.coder1, d.coder2, d.consensus) for d in found} == expected
    assert len(found) == len(expected) > 0


def test_queries_other_than_agreement_do_not_see_the_codings(tmp_path: Path, shipped) -> None:
    """Codings reuse the use dimensions' properties: every other shipped query gives the same rows with
    and without codings.csv."""
    from kg.io.queries import list_queries
    from kg.io.store import select_text

    folder = tmp_path / "data"
    copy_data(resources.data_dir(), folder, "codings.csv")
    without = run_pipeline(folder, check=False).store
    checked = 0
    for query in list_queries():
        if query.kind == "agreement" or "?property" in query.text or "?dimension" in query.text:
            continue
        assert select_text(shipped, query.text) == select_text(without, query.text), query.qualified_name
        checked += 1
    assert checked > 20


# ---------------------------------------------------------------- the command, the build, bad rows


def test_cli_formats(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["agreement", "--data", str(FIXTURE), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["coded_uses"] == 4 and doc["subset"] is None and len(doc["disagreements"]) == 7
    assert doc["figures"][0] == {"dimension": "communication_model", "kind": "single", "coders": ["coder-1", "coder-2"],
                                 "uses": 4, "agreements": 3, "observed": 0.75, "chance": 0.25, "kappa": 0.6667,
                                 "mean_jaccard": None}
    assert main(["agreement", "--data", str(FIXTURE), "--format", "csv", "--studies", "fixagra2020,fixagrc2022"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dimension,kind,coder1,coder2,uses,agreements,observed,chance,kappa,mean_jaccard"
    # coder 1: ho, tpp, ho; coder 2: ho, tpp, government: chance (2*1 + 1*1) / 9, kappa (2/3 - 1/3) / (2/3)
    assert lines[2] == "host,single,coder-1,coder-2,3,2,0.6667,0.3333,0.5,"
    listed = tmp_path / "ids.txt"
    listed.write_text("fixagra2020\nfixagrc2022\n", encoding="utf-8")
    assert main(["agreement", "--data", str(FIXTURE), "--format", "csv", "--studies-file", str(listed)]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    assert main(["agreement", "--data", str(FIXTURE), "--disagreements"]) == 0
    out = capsys.readouterr().out
    assert "7 disagreements (use × dimension):" in out
    assert "  fixagrb2021-1 model_of_use: coder-1 co-design-space | coder-2 unclassified | consensus co-design-space" in out
    assert main(["agreement", "--data", str(FIXTURE), "--studies", "fixagrd2023"]) == 2
    assert "not a study of this graph: 'fixagrd2023' (did you mean fixagrc2022?)" in capsys.readouterr().err


def test_build_summary_holds_the_agreement(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--data", str(FIXTURE), "--out", str(tmp_path / "b"), "--quiet", "--no-owl"]) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    assert summary["agreement"]["coded_uses"] == 4
    assert [f["kappa"] for f in summary["agreement"]["figures"][:3]] == [0.6667, 0.5556, 0.6923]
    assert main(["agreement", "--store", str(tmp_path / "b" / "store"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary["agreement"]


def bad_codings(tmp_path: Path, row: int, **change: str) -> Path:
    """A copy of the made-up folder with one row of codings.csv changed."""
    folder = tmp_path / "bad"
    copy_data(FIXTURE, folder)
    rows = sheet(folder, "codings.csv")
    rows[row].update(change)
    with (folder / "codings.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.mark.parametrize(("row", "change", "field", "value", "words"), [
    (0, {"use_no": "3"}, "use_no", "3", "this coding is of use fixagra2020-3, which is not a use"),
    (1, {"coder": "coder-1"}, "coder", "coder-1", "duplicate coding: coder-1 already coded use fixagra2020-1 on row 2"),
    (2, {"platforms": "Facebook"}, "platforms", "Facebook", "unknown platform key 'Facebook'"),
    (3, {"coder": "Coder 2"}, "coder", "Coder 2", "coder must be a short key"),
    (4, {"host": ""}, "host", "", "host is required and is empty"),
])
def test_bad_coding_rows_name_file_row_field_and_value(tmp_path: Path, row: int, change: dict, field: str,
                                                       value: str, words: str) -> None:
    folder = bad_codings(tmp_path, row, **change)
    before = (folder / "codings.csv").read_bytes()
    with pytest.raises(InputInvalid) as caught:
        run_pipeline(folder, check=False)
    (problem,) = caught.value.problems
    assert (problem.file.endswith("codings.csv"), problem.row, problem.field, problem.value) == (
        True, row + 2, field, value)
    assert words in problem.message
    assert (folder / "codings.csv").read_bytes() == before


def test_two_unclassified_codings_count_in_the_chance_term(tmp_path: Path) -> None:
    """Both coders' codes of fixagrb2021-1 match no rule: 'unclassified' is then a category both used,
    and the pair counts in the chance agreement (4 categories once each: 4/16)."""
    folder = copy_data(FIXTURE, tmp_path / "both")
    text = (folder / "codings.csv").read_text(encoding="utf-8")
    changed = text.replace("coder-1,fixagrb2021,1,online-forum,two-way,health-organisation,patients-consumers,co-design,",
                           "coder-1,fixagrb2021,1,online-forum,many-to-many,health-organisation,patients-consumers,advocacy,")
    assert changed != text
    (folder / "codings.csv").write_text(changed, encoding="utf-8")
    found = agreement(run_pipeline(folder, check=False).store)
    model = found.figure("model_of_use")
    assert (model.uses, model.agreements, rounded(model.chance, 4), rounded(model.kappa, 4)) == (4, 4, 0.25, 1.0)
    assert to_third(figures_of(found)) == to_third(oracle(folder))


def test_a_third_coding_of_a_use_is_refused(tmp_path: Path) -> None:
    folder = copy_data(FIXTURE, tmp_path / "three")
    with (folder / "codings.csv").open("a", encoding="utf-8") as handle:
        handle.write("coder-3,fixagra2020,1,facebook,two-way,health-organisation,patients-consumers,consultation,plan\n")
    with pytest.raises(InputInvalid) as caught:
        run_pipeline(folder, check=False)
    (problem,) = caught.value.problems
    assert (problem.row, problem.entry, problem.field) == (10, "fixagra2020-1-coder-3", "coder")
    assert "use fixagra2020-1 already has the codings of two coders (coder-1, coder-2)" in problem.message
