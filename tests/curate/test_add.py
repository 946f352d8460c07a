"""`smqi validate` in context and `smqi add` (issue #4): new entries, duplicates, atomicity.

The acceptance runs use REAL rows: the last two studies of data/studies.csv (and their uses) are
held out of a temporary copy of the sheets and added back as new entries. Everything else under
tests/add/ is made up (see tests/add/README.md). data/ itself is never written: every command here
gets ``--data`` pointing at a temporary copy.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.model import resources
from kg.cli import main

HERE = Path(__file__).parents[1] / "add"
VALID, INVALID = HERE / "valid", HERE / "invalid"
SHEETS = ("studies.csv", "uses.csv")


def real_lines(name: str) -> list[str]:
    return (resources.data_dir() / name).read_bytes().decode("utf-8").splitlines(keepends=True)


def held_out_ids() -> list[str]:
    """The last two studies of the real studies sheet."""
    rows = list(csv.DictReader(real_lines("studies.csv")))
    return [r["study_id"] for r in rows[-2:]]


def split_real(tmp_path: Path) -> tuple[Path, Path]:
    """A data folder without the held-out studies, and a folder with just their rows (real data)."""
    held = set(held_out_ids())
    data, new = tmp_path / "data", tmp_path / "new"
    data.mkdir()
    new.mkdir()
    for name in SHEETS:
        lines = real_lines(name)
        assert len(list(csv.reader(lines))) == len(lines)  # one row per line, so lines can be split
        keep = [lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0] not in held]
        out = [lines[0]] + [line for line in lines[1:] if line.split(",", 1)[0] in held]
        (data / name).write_bytes("".join(keep).encode("utf-8"))
        (new / name).write_bytes("".join(out).encode("utf-8"))
    return data, new


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def new_sheets(new: Path) -> list[str]:
    return [str(new / name) for name in SHEETS]


def edit_new(new: Path, tmp: Path, study: dict | None = None, use: dict | None = None) -> list[str]:
    """Copies of the held-out sheets with the first row's fields changed."""
    out = tmp / "edited"
    out.mkdir(exist_ok=True)
    for name, change in (("studies.csv", study or {}), ("uses.csv", use or {})):
        rows = list(csv.DictReader((new / name).open(encoding="utf-8", newline="")))
        rows[0].update(change)
        with (out / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return [str(out / name) for name in SHEETS]


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path]:
    return split_real(tmp_path)


# ---------------------------------------------------------------- validate, in context


@pytest.mark.parametrize("name", ["entry.ttl", "entry.jsonld"])
def test_valid_rdf_entries(name: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(VALID / name)]) == 0
    assert capsys.readouterr().out == "Conforms: yes\n"


# (file, expected problems as (line, entry, field, value, words in the message))
INVALID_CASES = {
    "unknown-platform.ttl": [(35, "testc2021-1", "platforms", "tweeter", "unknown platform key")],
    "missing-host.ttl": [(32, "testc2021-1", "host", None, "exactly one host")],
    "two-communication-models.ttl": [(32, "testc2021-1", "communication_model", None, "exactly one communication model")],
    "bad-doi.ttl": [(26, "testc2021", "doi", "doi:10.5555/SMQI-ADD.0001", "bare and in lower case")],
    "duplicate-doi-url-form.ttl": [
        (28, "testc2021", "doi", "https://doi.org/10.2196/JMIR.3812", "already in the graph for study wong2015"),
        (28, "testc2021", "doi", "https://doi.org/10.2196/JMIR.3812", "bare and in lower case")],
    "near-miss-key.jsonld": [(22, "testd2022-1", "platforms", "Facebook", "unknown platform key")],
    "use-of-unknown-study.jsonld": [(18, "testd2022-1", "study_id", "nobody2022", "exists nowhere")],
}


def test_every_invalid_fixture_has_a_case() -> None:
    found = sorted(p.name for p in INVALID.iterdir())
    assert found and found == sorted(INVALID_CASES)


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_invalid_rdf_entries(name: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(INVALID / name), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    got = [(p["row"], p["entry"], p["field"], p.get("value")) for p in doc["problems"]]
    assert got == [case[:4] for case in INVALID_CASES[name]]
    for problem, case in zip(doc["problems"], INVALID_CASES[name]):
        assert case[4] in problem["message"]
        assert Path(problem["file"]).name == name


def test_near_miss_keys_get_a_suggestion(capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(INVALID / "near-miss-key.jsonld")]) == 1
    out = capsys.readouterr().out
    assert "Did you mean 'facebook'?" in out and "Allowed: blog," in out
    assert main(["validate", str(INVALID / "unknown-platform.ttl")]) == 1
    assert "Did you mean 'twitter'?" in capsys.readouterr().out


def test_other_remote_context_still_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    doc = json.loads((VALID / "entry.jsonld").read_text(encoding="utf-8"))
    doc["@context"] = ["https://w3id.org/smqi/context.jsonld", "https://example.org/other.jsonld"]
    path = tmp_path / "entry.jsonld"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert "https://example.org/other.jsonld' would have to be fetched" in capsys.readouterr().err


def test_held_out_real_rows_are_duplicates_of_the_shipped_data(tmp_path: Path, capsys) -> None:
    _data, new = split_real(tmp_path)
    assert main(["validate", *new_sheets(new), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    rows = {r["study_id"]: r for r in csv.DictReader(real_lines("studies.csv"))}
    expected = set()
    for sid in held_out_ids():  # each a duplicate by id and by every identifier it has, and so is its use
        expected |= {(sid, "study_id"), (f"{sid}-1", "use_no")}
        expected |= {(sid, field) for field in ("doi", "pmid") if rows[sid][field]}
    assert {(p["entry"], p["field"]) for p in problems} == expected


def test_shipped_sheets_validate_on_their_own(capsys: pytest.CaptureFixture) -> None:
    sheets = [str(resources.data_dir() / name) for name in SHEETS]
    assert main(["validate", *sheets]) == 0
    assert capsys.readouterr().out.startswith("Conforms: yes")


def test_doi_written_as_url_is_a_duplicate_and_a_form_error(split, tmp_path: Path, capsys) -> None:
    data, new = split
    first = next(r for r in csv.DictReader(real_lines("studies.csv")) if r["doi"])
    url = "https://doi.org/" + first["doi"].upper()
    paths = edit_new(new, tmp_path, study={"doi": url})
    assert main(["validate", *paths, "--data", str(data), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    a = held_out_ids()[0]
    assert [(p["row"], p["entry"], p["field"], p["value"]) for p in problems] == [
        (2, a, "doi", url), (2, a, "doi", url)]
    assert "bare, lower-case" in problems[0]["message"] and problems[0]["suggestion"] == first["doi"]
    assert f"already in the graph for study {first['study_id']}" in problems[1]["message"]


# ---------------------------------------------------------------- add: acceptance on real rows


def test_real_held_out_studies_add_cleanly_and_show_up_in_the_build(split, tmp_path: Path, capsys) -> None:
    data, new = split
    a, b = held_out_ids()
    before_build, after_build = tmp_path / "b1", tmp_path / "b2"
    assert main(["build", "--out", str(before_build), "--data", str(data), "--quiet", "--no-owl"]) == 0
    old = {name: (data / name).read_bytes() for name in SHEETS}
    assert main(["validate", *new_sheets(new), "--data", str(data)]) == 0
    capsys.readouterr()
    assert main(["add", *new_sheets(new), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "Studies added: 2" in out and "Uses added: 2" in out
    assert f"  {a}-1: model of use " in out and f"  {b}-1: model of use " in out
    studies, uses = len(real_lines("studies.csv")) - 1, len(real_lines("uses.csv")) - 1
    assert f"studies {studies - 2} -> {studies}" in out and f"uses {uses - 2} -> {uses}" in out
    assert "studies-per-platform" in out
    # the data files now equal the real sheets: old bytes + exactly the new lines
    for name in SHEETS:
        assert (data / name).read_bytes() == (resources.data_dir() / name).read_bytes()
        assert (data / name).read_bytes().startswith(old[name])
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # no temporary file left
    after_add = snapshot(data)
    assert main(["add", *new_sheets(new), "--data", str(data)]) == 1  # the same entries again
    assert "duplicate study_id: this study is already in the graph" in capsys.readouterr().err
    assert snapshot(data) == after_add
    assert main(["build", "--out", str(after_build), "--data", str(data), "--quiet", "--no-owl"]) == 0
    capsys.readouterr()
    manifest = json.loads((after_build / "manifest.json").read_text(encoding="utf-8"))
    models = {(r["study_id"], r["use_no"]): r["model"] for r in manifest["typology"]}
    expected = {}
    for line in out.splitlines():
        if ": model of use " in line:
            use, model = line.strip().split(": model of use ")
            expected[(use.rsplit("-", 1)[0], int(use.rsplit("-", 1)[1]))] = model
    assert {k: models[k] for k in expected} == expected and len(expected) == 2
    assert manifest["counts"]["studies"] == studies
    # smqi diff between the two builds lists exactly the added studies and their models
    assert main(["diff", str(before_build), str(after_build), "--format", "json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert [s["study_id"] for s in diff["studies_added"]] == sorted([a, b])
    assert {(u["use"], u["model"]) for s in diff["studies_added"] for u in s["uses"]} == {
        (f"{s}-{n}", m) for (s, n), m in expected.items()}
    assert diff["studies_removed"] == [] and diff["studies_changed"] == [] and diff["model_changes"] == []
    assert diff["counts"]["studies"] == {"old": studies - 2, "new": studies}
    assert main(["diff", str(before_build), str(after_build)]) == 0
    text = capsys.readouterr().out
    assert "Studies added: 2" in text and "Studies removed: 0" in text


@pytest.mark.parametrize(
    ("study", "use", "expected"),
    [
        ({}, {"platforms": "tweeter"}, ("uses.csv", 2, "-1", "platforms", "tweeter")),
        ({}, {"host": ""}, ("uses.csv", 2, "-1", "host", "")),
        ({}, {"communication_model": "one-way-inbound;two-way"},
         ("uses.csv", 2, "-1", "communication_model", "one-way-inbound;two-way")),
        ({"doi": "10.2196/JMIR 3812"}, {}, ("studies.csv", 2, "", "doi", "10.2196/JMIR 3812")),
        ({"doi": "https://doi.org/10.1177/2055207621996870"}, {}, None),
    ],
    ids=["unknown-key", "missing-host", "two-communication-models", "bad-doi", "duplicate-doi-other-form"],
)
def test_broken_variants_of_real_rows_are_rejected(split, tmp_path: Path, capsys, study, use, expected) -> None:
    """Each variant breaks one rule; add exits 1, names field and value, and changes no file."""
    data, new = split
    a = held_out_ids()[0]
    if expected is None:  # a DOI of a study already in data/, written as a URL in capitals
        first = next(r for r in csv.DictReader((data / "studies.csv").open(encoding="utf-8")) if r["doi"])
        study = {"doi": "https://doi.org/" + first["doi"].upper()}
        expected = ("studies.csv", 2, "", "doi", study["doi"])
    paths = edit_new(new, tmp_path, study, use)
    before = snapshot(data)
    assert main(["add", *paths, "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert snapshot(data) == before
    file, row, suffix, field, value = expected
    assert f"{file}:row {row}, {a}{suffix}, field {field}, value {value!r}" in err
    if field == "doi" and value.startswith("https://doi.org/"):
        assert "duplicate DOI" in err and "bare, lower-case" in err


@pytest.mark.parametrize("failing_call", [1, 2])
def test_crash_between_write_and_rename_leaves_old_data(split, monkeypatch, capsys, failing_call: int) -> None:
    """os.replace raises on its first (the journal: nothing renamed yet) or second call (one file
    already renamed, so it must be rolled back): either way every data file is byte-identical to
    before, and the error is a message (exit 2), not a traceback."""
    data, new = split
    before = {name: (data / name).read_bytes() for name in SHEETS}
    real_replace = os.replace
    calls = {"n": 0}

    def crashing(src, dst):
        calls["n"] += 1
        if calls["n"] == failing_call:
            raise OSError("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing)
    from kg.curate.add import add_entries
    from kg.model.errors import DataError

    with pytest.raises(DataError, match="failed: simulated crash; nothing was changed: every file is as it was"):
        add_entries([Path(p) for p in new_sheets(new)], data)
    for name in SHEETS:
        assert (data / name).read_bytes() == before[name]
    assert sorted(p.name for p in data.iterdir()) == sorted(SHEETS)  # no temporary file left


def test_rdf_entries_keep_valid_and_idempotence(tmp_path: Path, capsys) -> None:
    """Turtle / JSON-LD entries go to <data>/entries/ and into the graph; --keep-valid adds the
    valid ones and writes the rejected ones; adding an entry twice is rejected."""
    data = tmp_path / "data"
    copy_data(resources.data_dir(), data)
    sheets = {name: (data / name).read_bytes() for name in SHEETS}
    rejected = tmp_path / "rejected.json"
    argv = ["add", str(VALID / "entry.ttl"), str(INVALID / "near-miss-key.jsonld"), "--data", str(data)]
    before = snapshot(data)
    assert main(argv) == 1  # all or nothing by default
    assert snapshot(data) == before
    capsys.readouterr()
    assert main([*argv, "--keep-valid", "--rejected", str(rejected)]) == 1
    out = capsys.readouterr().out
    assert "Studies added: 1" in out and "testc2021-1: model of use consultation" in out
    assert "Rejected: 1 entry" in out
    assert sorted(p.name for p in (data / "entries").iterdir()) == ["testc2021.ttl"]
    doc = json.loads(rejected.read_text(encoding="utf-8"))
    assert [r["study_id"] for r in doc["rejected"]] == ["testd2022"]
    assert (doc["rejected"][0]["problems"][0]["field"], doc["rejected"][0]["problems"][0]["value"]) == (
        "platforms", "Facebook")
    assert main(["add", str(VALID / "entry.jsonld"), "--data", str(data)]) == 0
    assert "testd2022-1: model of use" in capsys.readouterr().out
    assert sorted(p.name for p in (data / "entries").iterdir()) == ["testc2021.ttl", "testd2022.ttl"]
    assert {name: (data / name).read_bytes() for name in SHEETS} == sheets  # sheets untouched
    assert main(["typology", "--data", str(data), "--assignments", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    real_uses = len(list(csv.DictReader(real_lines("uses.csv"))))
    assert "testc2021,1,consultation" in lines and len(lines) == 1 + real_uses + 2  # header, real, two entries
    before = snapshot(data)
    assert main(["add", str(VALID / "entry.ttl"), "--data", str(data)]) == 1  # the same entry again
    assert "duplicate study_id" in capsys.readouterr().err
    assert snapshot(data) == before


def test_add_help_and_usage_errors(tmp_path: Path, capsys) -> None:
    for command in ("add", "diff", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "exit codes:" in capsys.readouterr().out
    assert main(["add", str(VALID / "entry.ttl"), "--data", str(tmp_path)]) == 2
    assert "not a data folder" in capsys.readouterr().err
    assert main(["add", str(tmp_path / "missing.ttl"), "--data", str(resources.data_dir()),
                 "--keep-valid"]) == 2
    assert "no such file" in capsys.readouterr().err


# ---------------------------------------------------------------- hardening (issue 16)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "sheets" / "valid"
HOSTILE = Path(__file__).parent / "hostile"
STUDY_HEADER = "study_id,first_author,authors,year,title,journal,doi,pmid,countries,design,source_url,summary\n"
USE_HEADER = "study_id,use_no,platforms,communication_model,host,user_populations,qi_activities,qi_stages,note,confidence\n"


def made_up_sheets(folder: Path, sid: str, title: str | None = None) -> list[str]:
    """One made-up study with one use, as a pair of entry sheets in ``folder`` (its title, unless
    given, is the study id, so that two made-up studies never have similar titles)."""
    title = sid if title is None else title
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "studies.csv").open("w", encoding="utf-8", newline="") as handle:
        handle.write(STUDY_HEADER)
        csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(
            [sid, "Made Up", "Made Up", "2021", title, "", "", "", "GB", "qualitative",
             f"https://example.org/made-up/{sid}", "made up"])
    (folder / "uses.csv").write_text(
        USE_HEADER + f"{sid},1,twitter,two-way,health-organisation,patients-consumers,consultation,plan,,high\n",
        encoding="utf-8")
    return [str(folder / "studies.csv"), str(folder / "uses.csv")]


def smqi_process(*args: str, env: dict | None = None) -> subprocess.Popen:
    import sys

    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "kg", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environment)


def sheet_ids(data: Path) -> tuple[list[str], list[str]]:
    studies = [r["study_id"] for r in csv.DictReader((data / "studies.csv").open(encoding="utf-8", newline=""))]
    uses = [f"{r['study_id']}-{r['use_no']}" for r in csv.DictReader((data / "uses.csv").open(encoding="utf-8",
                                                                                               newline=""))]
    return studies, uses


def test_four_concurrent_adds_keep_every_entry_or_refuse_cleanly(tmp_path: Path, capsys) -> None:
    """Four `smqi add` processes on one folder at once: each either added its study (and says so)
    or was refused with the lock message (and its study is absent); no row is lost."""
    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    old_studies, old_uses = sheet_ids(data)
    ids = ["conca2021", "concb2021", "concc2021", "concd2021"]
    runs = {sid: smqi_process("add", *made_up_sheets(tmp_path / sid, sid), "--data", str(data)) for sid in ids}
    outcomes = {sid: (run.wait(timeout=600), *run.communicate()) for sid, run in runs.items()}
    added = []
    for sid, (code, out, err) in outcomes.items():
        assert "Traceback" not in err and "internal error" not in err, err
        if code == 0:
            assert f"Studies added: 1\n  {sid}\n" in out, out
            added.append(sid)
        else:
            assert code == 2 and err.startswith("smqi add: error: another smqi add (process "), err
            assert "nothing was changed" in err, err
    studies, uses = sheet_ids(data)
    assert studies == old_studies + [s for s in studies if s in added] and sorted(studies[len(old_studies):]) == added
    assert uses == old_uses + [f"{s}-1" for s in studies[len(old_studies):]]
    assert sorted(p.name for p in data.iterdir()) == ["studies.csv", "uses.csv"]  # no lock, journal or temp left
    assert main(["build", "--data", str(data), "--out", str(tmp_path / "build"), "--no-owl", "--quiet"]) == 0
    assert f"Built {tmp_path / 'build'}/ (store {tmp_path / 'build' / 'store'}/): {len(studies)} studies" in \
        capsys.readouterr().out
    print(f"\n4 concurrent adds: {len(added)} added, {4 - len(added)} refused")


def test_an_add_waiting_for_the_lock_gives_up_with_a_message(tmp_path: Path) -> None:
    """While another add holds the folder (here: this process), an add with SMQI_LOCK_WAIT_SECONDS=0
    is refused at once, naming the holder; nothing changes."""
    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    before = snapshot(data)
    from kg.io.lock import data_lock

    with data_lock(data, exclusive=True):  # held as an add holds it (the lock is per open file)
        run = smqi_process("add", *made_up_sheets(tmp_path / "second", "seconda2021"), "--data", str(data),
                           env={"SMQI_LOCK_WAIT_SECONDS": "0"})
        code, (out, err) = run.wait(timeout=300), run.communicate()
    assert (code, out) == (2, "")
    assert err == (f"smqi add: error: another smqi add (process {os.getpid()}) is running on {data.resolve()} "
                   "and did not finish within 0 s; nothing was changed. Try again when it has finished (or wait "
                   "longer: SMQI_LOCK_WAIT_SECONDS).\n")
    assert snapshot(data) == before


# hostile entry -> (field, value, start of the message) of each problem; all refused, nothing written
HOSTILE_ENTRIES = {
    "predicate-not-an-iri.jsonld": [(None, "http://example.org/p{x}", "the predicate is not a valid IRI (RFC 3987): "
                                     "it holds the character '{'")],
    "source-url-angle-brackets.jsonld": [("source_url", "https://example.org/a<b>c", "the object is not a valid IRI "
                                          "(RFC 3987): it holds the character '<'")],
    "source-url-braces.jsonld": [("source_url", "https://example.org/{x}|y^z`", "the object is not a valid IRI "
                                  "(RFC 3987): it holds the character '{'")],
    "source-url-bad-percent.ttl": [("source_url", "https://example.org/made-up/100%zz", "the object is not a valid "
                                    "IRI (RFC 3987): it holds a '%' at character 32 that is not followed by two hex")],
    "source-url-control-character.ttl": [("source_url", "https://example.org/made-up/a\x01b", "the object is not a "
                                          "valid IRI (RFC 3987): it holds the control character U+0001")],
    "source-url-empty-host.ttl": [("source_url", "https:///made-up/testc2021", "the object is not a valid IRI "
                                   "(RFC 3987): an https address needs a host")],
    "study-iri-no-id.jsonld": [("study_id", "https://w3id.org/smqi/kg/study/", "a study's IRI must be "
                                "https://w3id.org/smqi/kg/study/<study_id> (this one ends in '/': the id is missing)"),
                               ("study_id", "https://w3id.org/smqi/kg/study/", "a use must be reported in a study "
                                "whose IRI is")],
    "study-iri-elsewhere.ttl": [("study_id", "https://example.org/study/testc2021", "a study's IRI must be "
                                 "https://w3id.org/smqi/kg/study/<study_id> (this one is not)"),
                                ("study_id", "https://example.org/study/testc2021", "a use must be reported in a "
                                 "study whose IRI is")],
    "study-iri-path.ttl": [("study_id", "https://w3id.org/smqi/kg/study/..", "a study's IRI must be "
                            "https://w3id.org/smqi/kg/study/<study_id> (this one is not)"),
                           ("study_id", "https://w3id.org/smqi/kg/study/..", "a use must be reported in a study "
                            "whose IRI is"),
                           ("study_id", "..", "this use points to a study that exists nowhere")],
    "study-id-differs.ttl": [("study_id", "other2021", "the study id differs from the one in the study's IRI "
                              "(testc2021)."),
                             ("study_id", "testc2021", "this use points to a study that exists nowhere")],
}


def test_every_hostile_entry_has_a_case() -> None:
    assert sorted(p.name for p in (HOSTILE / "entries").iterdir()) == sorted(HOSTILE_ENTRIES)


@pytest.mark.parametrize("name", sorted(HOSTILE_ENTRIES))
def test_hostile_entry_is_refused_at_the_door(tmp_path: Path, name: str) -> None:
    """An IRI a later build could not hold, or a study IRI without a valid id, is a problem of the
    entry (exit 1, nothing written), also with --keep-valid."""
    from kg.check.entries import check_entries
    from kg.curate.add import add_entries
    from kg.model.errors import InputInvalid

    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    before = snapshot(data)
    path = HOSTILE / "entries" / name
    try:
        report, _entries = check_entries([path], data)
        problems = report.problems
    except InputInvalid as exc:
        problems = exc.problems
    assert [(p.field, p.value) for p in problems] == [(f, v) for f, v, _m in HOSTILE_ENTRIES[name]]
    assert [p.message[:len(m)] for p, (_f, _v, m) in zip(problems, HOSTILE_ENTRIES[name])] == \
        [m for _f, _v, m in HOSTILE_ENTRIES[name]]
    assert {Path(p.file).name for p in problems} == {name} and all(p.row for p in problems)
    with pytest.raises(InputInvalid):
        add_entries([path], data)
    assert snapshot(data) == before
    try:
        kept = add_entries([path], data, keep_valid=True)
        assert (kept.written, kept.exit_code) == ([], 1)
    except InputInvalid:  # a problem tied to no study id: nothing can be kept
        pass
    assert snapshot(data) == before


def test_a_carriage_return_inside_a_cell_keeps_its_row(tmp_path: Path, capsys) -> None:
    """The csv module leaves a bare CR unquoted in a file whose rows end in LF: the appended row is
    quoted, so the sheet still reads back and the next build holds the title as given."""
    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    assert main(["add", *made_up_sheets(tmp_path / "new", "crcell2021", "Title with a\rcarriage return"),
                 "--data", str(data)]) == 0
    rows = list(csv.DictReader((data / "studies.csv").open(encoding="utf-8", newline="")))
    assert [(r["study_id"], r["title"]) for r in rows][-1] == ("crcell2021", "Title with a\rcarriage return")
    capsys.readouterr()
    assert main(["export", "--format", "csv", "--data", str(data)]) == 0
    exported = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
    assert [r["title"] for r in exported if r["study_id"] == "crcell2021"] == ["Title with a\rcarriage return"]


def test_add_on_a_full_disk_is_a_message_and_changes_nothing(tmp_path: Path) -> None:
    from kg.curate.add import add_entries
    from kg.model.errors import DataError
    from mounts import fill, small_tmpfs

    new = made_up_sheets(tmp_path / "new", "fulld2021")
    with small_tmpfs(tmp_path / "disk", "512k") as disk:
        data = disk / "data"
        copy_data(FIXTURE, data)
        before = snapshot(data)
        fill(disk)
        with pytest.raises(DataError) as info:
            add_entries([Path(p) for p in new], data)
        assert str(info.value) == (f"writing {data / 'studies.csv'} failed: No space left on device (the disk is "
                                   "full); nothing was changed: every file is as it was.")
        assert snapshot(data) == before
        assert sorted(p.name for p in data.iterdir()) == ["studies.csv", "uses.csv"]
        (disk / ".filler").unlink()  # space again: the same add goes through
        assert add_entries([Path(p) for p in new], data).written == [data / "studies.csv", data / "uses.csv"]


def test_add_to_a_read_only_folder_is_a_message(tmp_path: Path, capsys) -> None:
    from mounts import read_only

    source = tmp_path / "data"
    copy_data(FIXTURE, source)
    before = snapshot(source)
    with read_only(source, tmp_path / "ro") as ro:
        assert main(["add", *made_up_sheets(tmp_path / "new", "rofs2021"), "--data", str(ro)]) == 2
        assert capsys.readouterr().err == (
            f"smqi add: error: locking the data folder {ro.resolve()} for writing failed: Read-only file system "
            f"(the folder is on a read-only file system) ({ro.resolve() / '.smqi-write.lock'}); nothing was "
            "changed.\n")
    assert snapshot(source) == before


# ---------------------------------------------------------------- new entries with their two codings (issue 15)

AGREEMENT = Path(__file__).parents[1] / "agreement" / "sheets"  # made up (tests/agreement/README.md)


def codings_split(tmp_path: Path) -> tuple[Path, Path]:
    """The made-up agreement folder without fixagrc2022, and a folder with just its three sheets' rows."""
    data, new = tmp_path / "data", tmp_path / "new"
    data.mkdir()
    new.mkdir()
    for name in ("studies.csv", "uses.csv", "codings.csv"):
        lines = (AGREEMENT / name).read_bytes().decode("utf-8").splitlines(keepends=True)
        (data / name).write_text("".join(lines[:1] + [x for x in lines[1:] if "fixagrc2022" not in x]), encoding="utf-8")
        (new / name).write_text("".join(lines[:1] + [x for x in lines[1:] if "fixagrc2022" in x]), encoding="utf-8")
    return data, new


def test_add_appends_the_codings_with_the_consensus(tmp_path: Path, capsys) -> None:
    data, new = codings_split(tmp_path)
    sheets = [str(new / n) for n in ("studies.csv", "uses.csv", "codings.csv")]
    assert main(["validate", *sheets, "--data", str(data)]) == 0
    assert main(["add", *sheets, "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "Added to" in out and "codings.csv" in out
    for name in ("studies.csv", "uses.csv", "codings.csv"):  # old bytes + exactly the new rows
        assert (data / name).read_bytes() == (AGREEMENT / name).read_bytes()
    # the agreement moved: fixagrc2022-1 adds a host disagreement (3/3 -> 3/4)
    assert "Agreement figures that moved (before -> after):\n" in out
    assert "  host: uses 3 -> 4; observed 1 -> 0.75; kappa 1 -> 0.5556\n" in out


def test_add_creates_the_codings_sheet_of_a_folder_without_one(tmp_path: Path, capsys) -> None:
    data, new = codings_split(tmp_path)
    (data / "codings.csv").unlink()
    sheets = [str(new / n) for n in ("studies.csv", "uses.csv", "codings.csv")]
    assert main(["add", *sheets, "--data", str(data)]) == 0
    assert (data / "codings.csv").read_bytes() == (new / "codings.csv").read_bytes()


@pytest.mark.parametrize(("keep", "change", "entry", "words"), [
    (3, ("fixagrc2022,1,", "fixagrc2022,2,"), "fixagrc2022-2-coder-1",
     "this coding is of use fixagrc2022-2, which is not one of the new uses"),
    (2, None, "fixagrc2022-1", "use fixagrc2022-1 has 1 coding(s) in"),
])
def test_codings_must_belong_to_the_new_uses(tmp_path: Path, capsys, keep: int, change, entry: str,
                                             words: str) -> None:
    """A coding of a use that is not among the new uses, and a new use with one coding only, are refused
    by validate and add, naming the entry; nothing is written."""
    data, new = codings_split(tmp_path)
    lines = (new / "codings.csv").read_text(encoding="utf-8").splitlines(keepends=True)[:keep]
    text = "".join(lines)
    if change:
        text = text.replace(*change, 1)
    (new / "codings.csv").write_text(text, encoding="utf-8")
    sheets = [str(new / n) for n in ("studies.csv", "uses.csv", "codings.csv")]
    before = snapshot(data)
    assert main(["validate", *sheets, "--data", str(data), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["entry"], words in p["message"]) for p in problems] == [(entry, True)]
    assert main(["add", *sheets, "--data", str(data)]) == 1
    capsys.readouterr()
    assert snapshot(data) == before


def test_a_study_with_the_title_of_an_existing_one_is_refused_unless_allowed(tmp_path: Path, capsys) -> None:
    """The made-up fixture folder holds smitha2020 "Made-up study: listening to tweets & reviews <test>":
    a new id with that title (case and punctuation changed) is a duplicate for validate and add."""
    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    before = snapshot(data)
    new = made_up_sheets(tmp_path / "new", "othera2021", "MADE-UP STUDY — listening to tweets and reviews (test)")
    assert main(["validate", *new, "--data", str(data), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["row"], p["entry"], p["field"], p["message"]) for p in problems] == [
        (2, "othera2021", "title", "possible duplicate study: a very close title (95% alike; 93% or more counts) "
         "is already in the graph for study smitha2020: 'Made-up study: listening to tweets & reviews <test>'. "
         "If this is a different study, add it with --allow-similar-title.")]
    assert main(["add", *new, "--data", str(data)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("smqi add: 1 problem found:\n") and "for study smitha2020" in err
    assert err.endswith("\nsmqi add: nothing was written: the data folder is unchanged.\n")
    assert snapshot(data) == before
    assert main(["validate", *new, "--data", str(data), "--allow-similar-title"]) == 0
    assert main(["add", *new, "--data", str(data), "--allow-similar-title"]) == 0
    assert sheet_ids(data)[0][-1] == "othera2021"


def test_two_new_studies_with_the_same_title_are_refused(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    new = tmp_path / "new"
    made_up_sheets(new, "firsta2021", "A made-up title")
    with (new / "studies.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write('secondb2021,Made Up,Made Up,2021,"A MADE UP TITLE.",,,,GB,qualitative,'
                     'https://example.org/made-up/b,made up\n')
    with (new / "uses.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write("secondb2021,1,twitter,two-way,health-organisation,patients-consumers,consultation,plan,,high\n")
    assert main(["validate", str(new / "studies.csv"), str(new / "uses.csv"), "--data", str(data),
                 "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [(p["row"], p["entry"], p["field"], p["value"], p["message"]) for p in problems] == [
        (3, "secondb2021", "title", "A MADE UP TITLE.", "possible duplicate study: the same title (ignoring case, "
         "accents and punctuation) is already on row 2 for study firsta2021. If this is a different study, add "
         "it with --allow-similar-title.")]


def test_add_reports_its_steps_on_stderr_with_progress_only(tmp_path: Path, capsys) -> None:
    import re

    data = tmp_path / "data"
    copy_data(FIXTURE, data)
    assert main(["add", *made_up_sheets(tmp_path / "one", "quieta2021"), "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith(f"Added to {data}")  # stderr is no terminal: no steps
    assert main(["add", *made_up_sheets(tmp_path / "two", "loudb2021"), "--data", str(data), "--progress"]) == 0
    out, err = capsys.readouterr()
    assert re.sub(r"… \(\d+\.\d s\)$", "…", err, flags=re.M).splitlines() == [
        f"smqi: locking {data} for writing…",
        f"smqi: checking 2 file(s) against the data of {data}…",
        "smqi: summarising the data before the add…",
        "smqi: writing 2 file(s)…",
        "smqi: checking that the data still loads, and summarising it…",
    ]
    assert out.startswith(f"Added to {data}") and "smqi:" not in out
