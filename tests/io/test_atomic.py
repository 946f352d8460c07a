"""Atomic writes under SIGKILL (issue #8): `smqi add` and `smqi build` killed at random moments.

`smqi add` runs in a subprocess and is killed after a random delay (seeded) between 0 and its
typical runtime; each data file must then be byte-identical to the old or the new version, and
after kg.io.atomic.recover (under the folder's lock, as the next add runs it) the pair of sheets is
all old or all new, with no temporary or lock file left.
SMQI_KILLTEST_RUNS sets the number of kills (default 5; `make killtest` and `make fuzz` run 50).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.io.atomic import recover
from kg.io.lock import data_lock
from kg.cli import main

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
    shutil.copytree(VALID, probe)
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
        shutil.copytree(VALID, data)
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
