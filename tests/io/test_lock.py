"""The lock of a data folder (kg/io/lock.py, issue 16): one writer or many readers, a bounded wait
with a message naming who holds the folder, re-entrant in one process, no lock file left behind,
and a hostile lock file (a symbolic link) refused. Fixture: tests/fixtures/sheets/valid (made up).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datacopy import copy_data

from kg.io.lock import LOCK, data_lock, holds_lock, lock_wait_seconds
from kg.model.errors import DataError, UsageError

HERE = Path(__file__).parents[1]
VALID = HERE / "fixtures" / "sheets" / "valid"

# holds the lock of argv[1] (exclusive when argv[2] == "ex") until its standard input closes
HOLDER = """
import sys
from kg.io.lock import data_lock
with data_lock(sys.argv[1], exclusive=sys.argv[2] == "ex"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    copy_data(VALID, folder)
    return folder


class Holder:
    """Another process holding the lock of a folder (the lock is per open file, so a thread of this
    process would not do)."""

    def __init__(self, folder: Path, mode: str):
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder), mode], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline() == "held\n"

    def __enter__(self) -> "Holder":
        return self

    def __exit__(self, *_exc) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0


def test_exclusive_holder_refuses_writers_and_readers_after_the_wait(data: Path) -> None:
    with Holder(data, "ex") as holder:
        pid = holder.process.pid
        for exclusive in (True, False):
            with pytest.raises(DataError) as info:
                with data_lock(data, exclusive=exclusive, wait=0):
                    pass
            assert str(info.value) == (
                f"another smqi add (process {pid}) is running on {data.resolve()} and did not finish within "
                "0 s; nothing was changed. Try again when it has finished (or wait longer: SMQI_LOCK_WAIT_SECONDS).")
    assert sorted(p.name for p in data.iterdir()) == ["studies.csv", "uses.csv"]  # the lock file went with it


def test_shared_holders_let_readers_in_and_keep_writers_out(data: Path) -> None:
    with Holder(data, "sh"):
        with data_lock(data, wait=0):  # another reader: at once
            assert holds_lock(data)
        with pytest.raises(DataError) as info:
            with data_lock(data, exclusive=True, wait=0):
                pass
        assert str(info.value).startswith("another smqi command (an add, or a build or validate reading it) is "
                                          f"using {data.resolve()} and did not finish within 0 s; nothing was changed.")
        assert (data / LOCK).exists()  # still held by the other reader: not removed by this one
    assert not (data / LOCK).exists()
    assert not holds_lock(data)


def test_the_lock_is_reentrant_and_a_writer_records_itself(data: Path) -> None:
    with data_lock(data, exclusive=True):
        assert (data / LOCK).read_text(encoding="ascii") == f"add {os.getpid()}\n"
        with data_lock(data):  # add validates and snapshots the folder it holds
            with data_lock(data, exclusive=True):
                assert holds_lock(data)
        assert holds_lock(data)
    assert not holds_lock(data) and not (data / LOCK).exists()
    with data_lock(data):
        with pytest.raises(RuntimeError, match="exclusive lock asked for inside a shared one"):
            with data_lock(data, exclusive=True):
                pass


def test_a_stale_lock_file_of_a_killed_run_does_not_block(data: Path) -> None:
    """flock dies with its process: a lock file left by a killed add (naming a gone process) is
    locked at once and removed afterwards."""
    (data / LOCK).write_text("add 999999999\n", encoding="ascii")
    with data_lock(data, exclusive=True, wait=0):
        pass
    assert not (data / LOCK).exists()


def test_a_symlinked_lock_file_is_refused(data: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n", encoding="utf-8")
    (data / LOCK).symlink_to(victim)
    with pytest.raises(DataError) as info:
        with data_lock(data):
            pass
    assert str(info.value).startswith(f"{data.resolve() / LOCK}: the lock file is a symbolic link; smqi never makes one.")
    assert victim.read_text(encoding="utf-8") == "victim\n" and (data / LOCK).is_symlink()


def test_a_read_only_folder_is_read_without_a_lock_and_refused_to_writers(data: Path, tmp_path: Path) -> None:
    from mounts import read_only

    with read_only(data, tmp_path / "ro") as ro:
        with data_lock(ro):
            assert holds_lock(ro)
        with pytest.raises(DataError) as info:
            with data_lock(ro, exclusive=True):
                pass
        assert str(info.value) == (f"locking the data folder {ro.resolve()} for writing failed: Read-only file "
                                   f"system (the folder is on a read-only file system) ({ro.resolve() / LOCK}); "
                                   "nothing was changed.")


@pytest.mark.parametrize("value, expected", [("", 30.0), ("0", 0.0), ("2.5", 2.5), (" 7 ", 7.0)])
def test_wait_from_the_environment(monkeypatch, value: str, expected: float) -> None:
    monkeypatch.setenv("SMQI_LOCK_WAIT_SECONDS", value)
    assert lock_wait_seconds() == expected


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "1e9"])
def test_a_bad_wait_is_a_usage_error(monkeypatch, value: str) -> None:
    monkeypatch.setenv("SMQI_LOCK_WAIT_SECONDS", value)
    with pytest.raises(UsageError, match="give a number of seconds from 0 to 86400"):
        lock_wait_seconds()


@pytest.mark.parametrize("kind", ["hard-link", "fifo"])
def test_a_lock_file_that_is_not_its_own_regular_file_is_refused(data: Path, tmp_path: Path, kind: str) -> None:
    """A hard link to a file outside would let the writer's note land outside the folder."""
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n", encoding="utf-8")
    if kind == "hard-link":
        os.link(victim, data / LOCK)
        names = 2
    else:
        os.mkfifo(data / LOCK)
        names = 1
    for exclusive in (True, False):
        with pytest.raises(DataError) as info:
            with data_lock(data, exclusive=exclusive, wait=0):
                pass
        assert str(info.value) == (f"{data.resolve() / LOCK}: the lock file is not a regular file of its own (it is a "
                                   f"special file or has {names} names); smqi never makes one. Delete it (rm "
                                   f"'{data.resolve() / LOCK}') and run the command again.")
    assert victim.read_text(encoding="utf-8") == "victim\n"


def test_build_and_validate_read_only_while_no_add_writes(data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """The readers take the lock shared: while an add holds the folder they wait (here: not at all)
    and stop with the message, writing nothing."""
    from kg.cli import main

    monkeypatch.setenv("SMQI_LOCK_WAIT_SECONDS", "0")
    entry = HERE / "add" / "valid" / "entry.ttl"
    with Holder(data, "ex") as holder:
        for argv in (["build", "--data", str(data), "--out", str(tmp_path / "build"), "--no-owl", "--quiet"],
                     ["validate", str(entry), "--data", str(data)]):
            assert main(argv) == 2
            assert capsys.readouterr().err == (
                f"smqi {argv[0]}: error: another smqi add (process {holder.process.pid}) is running on "
                f"{data.resolve()} and did not finish within 0 s; nothing was changed. Try again when it has "
                "finished (or wait longer: SMQI_LOCK_WAIT_SECONDS).\n")
    assert not (tmp_path / "build").exists()
    assert main(["validate", str(entry), "--data", str(data)]) == 0  # released: at once
