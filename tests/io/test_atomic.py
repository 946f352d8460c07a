"""Atomic writes under SIGKILL (issue #8): `smqi add` and `smqi build` killed at random moments.

`smqi add` runs in a subprocess and is killed after a random delay (seeded) between 0 and its
typical runtime; each data file must then be byte-identical to the old or the new version, and
after kg.io.atomic.recover (under the folder's lock, as the next add runs it) the pair of sheets is
all old or all new, with no temporary or lock file left.
SMQI_KILLTEST_RUNS sets the number of kills (default 5; `make killtest` and `make fuzz` run 50).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.io.atomic import read_journal, recover, write_files
from kg.io.lock import data_lock
from kg.cli import main
from kg.model.errors import DataError

HERE = Path(__file__).parents[1]
VALID = HERE / "fixtures" / "sheets" / "valid"
RUNS = int(os.environ.get("SMQI_KILLTEST_RUNS", "5"))
SHEETS = ("studies.csv", "uses.csv")
NEW_STUDY = ("newb2022,New B,New B,2022,A made-up study,,,,GB,qualitative,https://example.org/newb2022,\n")
NEW_USE = "newb2022,1,twitter,two-way,health-organisation,patients-consumers,consultation,plan,,high\n"


def entries(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    studies = (VALID / "studies.csv").read_text(encoding="utf-8").splitlines(keepends=True)[0] + NEW_STUDY
    uses = (VALID / "uses.csv").read_text(encoding="utf-8").splitlines(keepends=True)[0] + NEW_USE
    (folder / "studies.csv").write_text(studies, encoding="utf-8")
    (folder / "uses.csv").write_text(uses, encoding="utf-8")
    return [str(folder / "studies.csv"), str(folder / "uses.csv")]


def smqi(*args: str) -> list[str]:
    return [sys.executable, "-m", "kg", *args]


def state(data: Path) -> dict[str, bytes]:
    return {name: (data / name).read_bytes() for name in SHEETS}


def test_add_killed_at_random_points(tmp_path: Path) -> None:
    new = entries(tmp_path / "new")
    # the old and the new version, and the command's typical runtime
    probe = tmp_path / "probe"
    copy_data(VALID, probe)
    old = state(probe)
    started = time.monotonic()
    done = subprocess.run(smqi("add", *new, "--data", str(probe)), capture_output=True, text=True, timeout=120)
    typical = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    after = state(probe)
    assert all(after[n] != old[n] for n in SHEETS)
    rng = random.Random(8)
    outcomes = {"old": 0, "new": 0, "finished by recover": 0}
    for run in range(RUNS):
        data = tmp_path / f"data{run}"
        copy_data(VALID, data)
        process = subprocess.Popen(smqi("add", *new, "--data", str(data)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, typical))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        files = state(data)
        for name in SHEETS:
            assert files[name] in (old[name], after[name]), (run, name)
        journal = (data / ".smqi-write.journal").exists()
        with data_lock(data, exclusive=True):  # what the next smqi add does first (the killed one's lock is gone)
            recover(data)
        files = state(data)
        assert files == old or files == after, run
        kind = "old" if files == old else "new"
        outcomes["finished by recover" if journal else kind] += 1
        assert sorted(p.name for p in data.iterdir()) == sorted(SHEETS), run  # no temporary or lock file left
    print(f"\nSIGKILL of smqi add ({RUNS} runs, typical runtime {typical:.2f} s): {outcomes}")


def _build_hashes(out: Path) -> dict[str, str]:
    """Every file of a build but the store's (a database: its file names differ from build to build),
    plus the store's content: its quads as sorted N-Quads."""
    import pyoxigraph as ox

    hashes = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(out.rglob("*")) if p.is_file() and p.relative_to(out).parts[0] != "store"}
    store = ox.Store.read_only(str(out / "store"))
    quads = sorted(str(q) for q in store)
    hashes["store (quads)"] = hashlib.sha256("\n".join(quads).encode()).hexdigest() if quads else "empty"
    return hashes


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("atomic") / "build"
    assert main(["build", "--out", str(out), "--data", str(VALID), "--no-owl", "--quiet"]) == 0
    return out


def test_build_failing_late_leaves_previous_build(previous_build: Path, monkeypatch, capsys) -> None:
    before = _build_hashes(previous_build)

    def late_failure(*_args, **_kwargs):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr("kg.publish.manifest.write_manifest", late_failure)
    assert main(["build", "--out", str(previous_build), "--data", str(VALID), "--no-owl", "--quiet"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert _build_hashes(previous_build) == before
    assert [p.name for p in previous_build.parent.iterdir()] == ["build"]  # no temporary folder left


def test_build_killed_midway_leaves_previous_build(previous_build: Path) -> None:
    before = _build_hashes(previous_build)
    rng = random.Random(88)
    argv = smqi("build", "--out", str(previous_build), "--data", str(VALID), "--no-owl", "--quiet")
    started = time.monotonic()
    subprocess.run(argv, capture_output=True, timeout=300, check=True)
    typical = time.monotonic() - started
    before = _build_hashes(previous_build)  # (the manifest's build date changed; the rest did not)
    for _ in range(max(1, RUNS // 5)):
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(typical * 0.5, typical * 0.95))  # during the writing, mostly
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        now = _build_hashes(previous_build)
        # the old build, or (killed after the swap) a complete new one with the same files
        assert now == before or sorted(now) == sorted(before)
        visible = [p.name for p in previous_build.parent.iterdir() if not p.name.startswith(".")]
        assert visible == ["build"]
    from kg.io.atomic import clean_stale

    clean_stale(previous_build)  # what the next build does first
    assert [p.name for p in previous_build.parent.iterdir()] == ["build"]


# ---------------------------------------------------------------- hostile journals (issue 16)

HOSTILE = HERE / "curate" / "hostile" / "journals"
# corpus file -> the reason the refusal names (each file breaks exactly this rule)
JOURNAL_CASES = {
    "absolute-target.json": "file 1's target '{outside}/victim.txt' is not a data file of the folder",
    "dotdot-target.json": "file 1's target '../outside/victim.txt' is not a data file of the folder",
    "entries-dotdot-target.json": "file 1's target 'entries/../../outside/victim.txt' is not a data file",
    "backslash-target.json": "file 1's target '..\\\\outside\\\\victim.txt' is not a data file",
    "nul-in-target.json": "file 1's target 'studies.csv\\x00.txt' is not a data file",
    "deep-target.json": "file 1's target 'entries/sub/x.ttl' is not a data file",
    "temp-outside.json": "file 1's temporary file '../outside/.studies.csv.abcd1234.tmp' is not '.studies.csv.",
    "temp-wrong-name.json": "file 1's temporary file 'uses.csv' is not '.studies.csv.<8 characters>.tmp'",
    "target-twice.json": "file 2's target 'studies.csv' is named twice",
    "previous-format.json": 'it has no "format": "smqi-write-journal"',
    "wrong-format-name.json": 'it has no "format": "smqi-write-journal"',
    "top-level-list.json": 'it has no "format": "smqi-write-journal"',
    "newer-version.json": "its version is 2, not 1",
    "version-as-string.json": "its version is '1', not 1",
    "version-true.json": "its version is True, not 1",
    "replace-not-a-list.json": 'its "replace" is not a list of 1 to 10,000 files',
    "replace-empty.json": 'its "replace" is not a list of 1 to 10,000 files',
    "temp-not-a-string.json": 'file 1 is not {"temp": NAME, "target": PATH} (two strings)',
    "extra-field.json": 'file 1 is not {"temp": NAME, "target": PATH} (two strings)',
    "torn.json": "it is not JSON",
    "not-utf8.json": "it is not JSON",
    "symlinked-entries.json": "file 1's target 'entries/x.ttl' leads outside the folder (its folder is a symbolic link",
    "symlinked-target.json": "file 1's target 'studies.csv' is a symbolic link",
}


def hostile_folder(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A copy of the fixture data folder holding the journal ``name`` and, beside it, a folder
    ``outside`` with a victim file and the temporary files the journal names (a journal that were
    obeyed would rename them: every name it mentions exists)."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    copy_data(VALID, data)
    outside.mkdir()
    (outside / "victim.txt").write_text("victim\n", encoding="utf-8")
    for folder in (outside, data):
        for temp in (".victim.txt.abcd1234.tmp", ".studies.csv.abcd1234.tmp", ".studies.csv.wxyz9876.tmp",
                     ".x.ttl.abcd1234.tmp"):
            (folder / temp).write_text("attacker\n", encoding="utf-8")
    if name.startswith("symlinked-entries"):
        (data / "entries").symlink_to(outside, target_is_directory=True)
    if name.startswith("symlinked-target"):
        (data / "studies.csv").unlink()
        (data / "studies.csv").symlink_to(outside / "victim.txt")
    raw = (HOSTILE / name).read_bytes().replace(b"{outside}", str(outside).encode())
    (data / ".smqi-write.journal").write_bytes(raw)
    return data, outside


def tree(folder: Path) -> dict[str, object]:
    """Every name under ``folder`` with its bytes or link target (links not followed)."""
    found: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = ("link", os.readlink(path)) if path.is_symlink() else \
            path.read_bytes() if path.is_file() else "folder"
    return found


def test_every_hostile_journal_has_a_case() -> None:
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(JOURNAL_CASES)


@pytest.mark.parametrize("name", sorted(JOURNAL_CASES))
def test_hostile_journal_is_refused_and_nothing_moves(tmp_path: Path, name: str, capsys) -> None:
    """`smqi validate` (which reads the folder) and `smqi add` (which writes it) refuse the journal
    with a message naming the rule and what to do (exit 2); no file inside or outside the folder is
    renamed, written or removed, the journal included."""
    data, outside = hostile_folder(tmp_path, name)
    before = tree(tmp_path)
    reason = JOURNAL_CASES[name].replace("{outside}", str(outside))
    for argv in (["validate", str(HERE / "add" / "valid" / "entry.ttl"), "--data", str(data)],
                 ["add", str(HERE / "add" / "valid" / "entry.ttl"), "--data", str(data)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"smqi {argv[0]}: error: {data / '.smqi-write.journal'}: {reason}"), err
        assert "so it is not a journal smqi wrote and nothing was renamed" in err
        assert f"delete it (rm '{data / '.smqi-write.journal'}') and run the command again." in err
        assert tree(tmp_path) == before, argv


@pytest.mark.parametrize("variant", ["nested-deep", "oversize", "journal-is-a-link", "journal-is-a-folder"])
def test_generated_hostile_journals_are_refused(tmp_path: Path, variant: str, capsys) -> None:
    """Variants too big to keep as files, or made of links: the same refusal, nothing moves."""
    data, outside = hostile_folder(tmp_path, "dotdot-target.json")
    journal = data / ".smqi-write.journal"
    journal.unlink()
    if variant == "nested-deep":
        journal.write_text("[" * 200_000 + "]" * 200_000, encoding="ascii")
        reason = "it is not JSON"
    elif variant == "oversize":
        journal.write_text('{"format": "smqi-write-journal", "pad": "' + "x" * 1_000_001 + '"}', encoding="ascii")
        reason = "it is larger than 1,000,000 bytes"
    elif variant == "journal-is-a-link":
        (outside / "journal.json").write_bytes((HOSTILE / "dotdot-target.json").read_bytes())
        journal.symlink_to(outside / "journal.json")
        reason = "it is a symbolic link or not a regular file"
    else:
        journal.mkdir()
        reason = "it is a symbolic link or not a regular file"
    before = tree(tmp_path)
    assert main(["build", "--data", str(data), "--out", str(tmp_path / "build"), "--no-owl", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith(f"smqi build: error: {journal}: {reason}")
    assert tree(tmp_path) == before


def test_journal_of_a_killed_add_is_completed_inside_the_folder(tmp_path: Path) -> None:
    """A well-formed journal (what write_files writes) is obeyed: its renames, all inside the folder."""
    data = tmp_path / "data"
    copy_data(VALID, data)
    (data / "entries").mkdir()
    (data / ".studies.csv.abcd1234.tmp").write_text("new studies\n", encoding="utf-8")
    (data / "entries" / ".newa2020.ttl.wxyz9876.tmp").write_text("# new entry\n", encoding="utf-8")
    (data / "entries" / ".stray.ttl.qqqq1111.tmp").write_text("a stray temporary file\n", encoding="utf-8")
    (data / ".smqi-write.journal").write_text(json.dumps({
        "format": "smqi-write-journal", "version": 1, "replace": [
            {"temp": ".studies.csv.abcd1234.tmp", "target": "studies.csv"},
            {"temp": ".newa2020.ttl.wxyz9876.tmp", "target": "entries/newa2020.ttl"}]}), encoding="utf-8")
    assert read_journal(data) == [(data.resolve() / ".studies.csv.abcd1234.tmp", data.resolve() / "studies.csv"),
                                  (data.resolve() / "entries" / ".newa2020.ttl.wxyz9876.tmp",
                                   data.resolve() / "entries" / "newa2020.ttl")]
    with data_lock(data):  # a reader finding the journal completes the write under the exclusive lock
        assert tree(data) == {".smqi-write.lock": b"", "entries": "folder", "entries/newa2020.ttl": b"# new entry\n",
                              "studies.csv": b"new studies\n", "uses.csv": (VALID / "uses.csv").read_bytes()}
    assert recover(data) is False  # the stray temporary file of the killed write went too
    assert sorted(tree(data)) == ["entries", "entries/newa2020.ttl", "studies.csv", "uses.csv"]


def test_two_entries_keep_their_journal_in_the_data_folder(tmp_path: Path, monkeypatch) -> None:
    """Two entry files (no sheet) share the folder entries/, but the journal goes to the data folder,
    where the next command looks for it, and names them relative to it."""
    data = tmp_path / "data"
    copy_data(VALID, data)
    seen = {}
    real_replace = os.replace

    def watching(src, dst):
        if Path(dst).name == "newb2020.ttl":  # the second rename: the journal is in place
            seen["journal"] = json.loads((data / ".smqi-write.journal").read_text(encoding="utf-8"))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching)
    write_files({data / "entries" / "newa2020.ttl": b"a\n", data / "entries" / "newb2020.ttl": b"b\n"},
                journal_dir=data)
    assert [item["target"] for item in seen["journal"]["replace"]] == ["entries/newa2020.ttl", "entries/newb2020.ttl"]
    assert (seen["journal"]["format"], seen["journal"]["version"]) == ("smqi-write-journal", 1)
    assert sorted(tree(data)) == ["entries", "entries/newa2020.ttl", "entries/newb2020.ttl", "studies.csv", "uses.csv"]


def test_full_disk_while_writing_leaves_every_file(tmp_path: Path) -> None:
    """ENOSPC on the second file's temporary copy: DataError names the file, says nothing changed."""
    from mounts import small_tmpfs

    with small_tmpfs(tmp_path / "disk", "256k") as disk:
        first, second = disk / "a.csv", disk / "b.csv"
        first.write_bytes(b"old a\n")
        second.write_bytes(b"old b\n")
        with pytest.raises(DataError) as info:
            write_files({first: b"new a\n", second: b"x" * 300_000})
        assert str(info.value) == (f"writing {second} failed: No space left on device (the disk is full); "
                                   "nothing was changed: every file is as it was.")
        assert (first.read_bytes(), second.read_bytes()) == (b"old a\n", b"old b\n")
        assert sorted(p.name for p in disk.iterdir()) == ["a.csv", "b.csv"]


def test_rollback_on_a_full_disk_renames_the_old_file_back(tmp_path: Path, monkeypatch) -> None:
    """The disk fills up and the second rename fails after the first file was replaced: the first is
    put back (by renaming its hard link, which needs no space) while the disk stays full, and the
    error is a message naming the file."""
    import errno

    from mounts import fill, small_tmpfs

    with small_tmpfs(tmp_path / "disk", "256k") as disk:
        first, second = disk / "a.csv", disk / "b.csv"
        first.write_bytes(b"old a\n")
        second.write_bytes(b"old b\n")
        real_replace, real_mkstemp = os.replace, tempfile.mkstemp
        failed = []

        def failing(src, dst):
            if Path(dst) == second:
                failed.append(dst)
                fill(disk)
                raise OSError(errno.EIO, "Input/output error (simulated)", str(dst))
            return real_replace(src, dst)

        def mkstemp_on_a_full_disk(*args, **kwargs):  # the disk stays full while rolling back
            if failed:
                fill(disk)
            return real_mkstemp(*args, **kwargs)

        monkeypatch.setattr(os, "replace", failing)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp_on_a_full_disk)
        with pytest.raises(DataError) as info:
            write_files({first: b"new a\n", second: b"new b\n"})
        assert str(info.value) == (f"writing {second} failed: Input/output error (simulated) ({second}); "
                                   "nothing was changed: every file is as it was.")
        assert (first.read_bytes(), second.read_bytes()) == (b"old a\n", b"old b\n")
        assert sorted(p.name for p in disk.iterdir()) == [".filler", ".filler-tail", "a.csv", "b.csv"]
