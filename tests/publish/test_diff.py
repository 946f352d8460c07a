"""`smqi diff` and the build manifest (issue #4), on the made-up fixture sheets of tests/fixtures/.

The acceptance diff on real data (before and after `smqi add`) is in test_add.py.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sheets" / "valid"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the fixture sheets, then again after changing one use's host (made-up data)."""
    root = tmp_path_factory.mktemp("diff")
    changed = root / "data"
    copy_data(FIXTURES, changed)
    rows = list(csv.DictReader((changed / "uses.csv").open(encoding="utf-8", newline="")))
    target = next(r for r in rows if r["study_id"] == "smitha2020" and r["use_no"] == "2")
    target["host"] = "third-party-platform"
    target["communication_model"] = "one-way-inbound"  # so that its model of use changes too
    with (changed / "uses.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    old, new = root / "old", root / "new"
    assert main(["build", "--out", str(old), "--data", str(FIXTURES), "--quiet", "--no-owl"]) == 0
    assert main(["build", "--out", str(new), "--data", str(changed), "--quiet", "--no-owl"]) == 0
    return old, new


def test_manifest(two_builds: tuple[Path, Path]) -> None:
    import hashlib

    old, _new = two_builds
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["studies"] == 2 and manifest["counts"]["uses"] == 3
    assert manifest["smqi_kg_version"] and manifest["built_at"]
    assert set(manifest["inputs"]) >= {"studies.csv", "uses.csv"}
    assert manifest["inputs"]["studies.csv"] == hashlib.sha256((FIXTURES / "studies.csv").read_bytes()).hexdigest()
    for name, digest in manifest["outputs"].items():
        assert hashlib.sha256((old / name).read_bytes()).hexdigest() == digest
    assert "smqi.trig" in manifest["outputs"] and "manifest.json" not in manifest["outputs"]
    assert {(r["study_id"], r["use_no"]) for r in manifest["typology"]} == {
        ("smitha2020", 1), ("smitha2020", 2), ("doeb2019", 1)}


def test_diff_of_identical_builds_is_empty(two_builds, capsys) -> None:
    old, _new = two_builds
    assert main(["diff", str(old), str(old), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["studies_added"] == doc["studies_removed"] == doc["studies_changed"] == []
    assert doc["model_changes"] == [] and doc["counts"] == {} and doc["queries"] == {}


def test_diff_reports_changed_study_model_and_counts(two_builds, capsys) -> None:
    old, new = two_builds
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["study_id"] for s in doc["studies_changed"]] == ["smitha2020"]
    assert doc["studies_added"] == [] and doc["studies_removed"] == []
    changes = {c["use"]: (c["old"], c["new"]) for c in doc["model_changes"]}
    assert list(changes) == ["smitha2020-2"] and changes["smitha2020-2"][0] != changes["smitha2020-2"][1]
    hosts = {r["row"]["key"]: (r["status"], r["old"], r["new"]) for r in doc["queries"]["studies-per-host"]}
    assert hosts == {"health-organisation": ("removed", {"studies": 1}, {})}
    uses = {r["row"]["key"]: (r["old"], r["new"]) for r in doc["queries"]["uses-per-communication-model"]}
    assert uses == {"one-way-inbound": ({"uses": 1}, {"uses": 2}), "two-way": ({"uses": 1}, {})}
    assert main(["diff", str(old), str(new)]) == 0
    text = capsys.readouterr().out
    assert "Studies changed: 1\n  smitha2020" in text and "smitha2020-2: " in text


def test_diff_of_a_folder_that_is_not_a_build(tmp_path: Path, capsys) -> None:
    assert main(["diff", str(tmp_path), str(tmp_path)]) == 2
    assert "summary.json: no such file" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None and not os.environ.get("CI"), reason="needs git")
def test_diff_git_revisions(tmp_path: Path, capsys) -> None:
    """A throw-away repository in tmp_path (never the project's): two commits of fixture sheets."""
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                       check=True, capture_output=True)

    git("init", "-q")
    for name in ("studies.csv", "uses.csv"):
        shutil.copy(FIXTURES / name, repo / "data" / name)
    git("add", "data")
    git("commit", "-q", "-m", "one")
    text = (repo / "data" / "uses.csv").read_text(encoding="utf-8").replace(",confidence\n", ",confidence\n", 1)
    lines = text.splitlines(keepends=True)
    (repo / "data" / "uses.csv").write_text("".join(line for line in lines if not line.startswith("smitha2020,2,")),
                                            encoding="utf-8")
    git("commit", "-q", "-am", "two")
    from kg.publish.diff import diff_git

    doc = diff_git("HEAD~1", "HEAD", repo)
    assert doc["studies_changed"][0]["study_id"] == "smitha2020"
    assert [u["use"] for u in doc["uses_removed"]] == ["smitha2020-2"]
    assert doc["counts"]["uses"] == {"old": 3, "new": 2}


def test_diff_reports_agreement_that_moved(tmp_path: Path, capsys) -> None:
    """Coder 2 agreeing with coder 1 on fixagrc2022-1's host moves the host figures only (made-up folder
    tests/agreement/sheets: 3/4 agreements, kappa 5/9, become 4/4, kappa 1)."""
    source = Path(__file__).parents[1] / "agreement" / "sheets"
    old, new = tmp_path / "old", tmp_path / "new"
    copy_data(source, old)
    copy_data(source, new)
    codings = (new / "codings.csv").read_text(encoding="utf-8")
    changed = codings.replace("coder-2,fixagrc2022,1,twitter,one-way-outbound,government,",
                              "coder-2,fixagrc2022,1,twitter,one-way-outbound,health-organisation,")
    assert changed != codings
    (new / "codings.csv").write_text(changed, encoding="utf-8")
    for folder in (old, new):
        assert main(["build", "--data", str(folder), "--out", str(folder / "build"), "--quiet", "--no-owl"]) == 0
    capsys.readouterr()
    assert main(["diff", str(old / "build"), str(new / "build"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["agreement"] == [{"dimension": "host",
                                 "old": {"uses": 4, "agreements": 3, "observed": 0.75, "kappa": 0.5556},
                                 "new": {"uses": 4, "agreements": 4, "observed": 1.0, "kappa": 1.0}}]
    assert doc["studies_changed"] == [] and doc["model_changes"] == []
    assert main(["diff", str(old / "build"), str(new / "build")]) == 0
    out = capsys.readouterr().out
    assert "Agreement figures changed: 1\n  host: agreements 3 -> 4; observed 0.75 -> 1; kappa 0.5556 -> 1\n" in out


def test_a_group_concat_in_another_order_is_no_change() -> None:
    """study-table's models come from GROUP_CONCAT, in no set order: the same set in another order is
    not a row removed and re-added (issue #14); another set is."""
    from kg.publish.diff import Snapshot, compare

    def side(models: str) -> Snapshot:
        row = {"study_id": "x2020", "title": "A b", "models": models}
        return Snapshot(label=models, summary={"queries": {"study-table": {"rows": [row]}}})

    assert compare(side("listening broadcasting"), side("broadcasting listening"))["queries"] == {}
    moved_rows = compare(side("listening broadcasting"), side("listening"))["queries"]["study-table"]
    assert [(r["status"], r["row"]["models"]) for r in moved_rows] == [
        ("removed", "broadcasting listening"), ("added", "listening")]
    # a column that is not declared unordered keeps its order: a title is not a set of words
    def titled(title: str) -> Snapshot:
        return Snapshot(label=title, summary={"queries": {"study-table": {"rows": [{"study_id": "x", "title": title}]}}})

    assert [(r["status"], r["row"]["title"]) for r in compare(titled("A b"), titled("b A"))["queries"]["study-table"]] \
        == [("removed", "A b"), ("added", "b A")]


def test_one_triple_count_in_build_diff_and_the_pipeline(two_builds, capsys) -> None:
    """build, add and diff --git all count the pipeline's store (every graph but the build's provenance)."""
    from kg.io.rdf import parse_file
    from kg.model.namespaces import G_PROVENANCE
    from kg.publish.diff import snapshot_of_data

    old, _new = two_builds
    summary = json.loads((old / "summary.json").read_text(encoding="utf-8"))
    in_memory = snapshot_of_data(FIXTURES, "fixtures").summary["counts"]["triples"]
    dataset = parse_file(old / "smqi.trig")
    provenance = len(dataset.graph(G_PROVENANCE))
    assert provenance > 0 and summary["provenance_triples"] == provenance
    assert summary["counts"]["triples"] == in_memory == len(dataset) - provenance
    out = capsys.readouterr()
    assert main(["build", "--out", str(old.parent / "again"), "--data", str(FIXTURES), "--no-owl", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"{in_memory} triples (+{provenance} of provenance)" in printed, out
