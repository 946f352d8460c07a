"""One writer or many readers per data folder: an advisory lock on ``<data>/.smqi-write.lock``.

``smqi add`` holds the lock exclusively for its whole read-validate-write; the commands that read a
data folder (``build``, ``validate``, the reading commands that build in memory) hold it shared while
they read the files, so they see the folder before or after an add, never half-way. ``fcntl.flock``
locks are released by the system when a process ends, however it ends, so a killed run never leaves
the folder locked. A run that cannot get the lock within ``SMQI_LOCK_WAIT_SECONDS`` (default 30;
0 means: do not wait) stops with a clear message and changes nothing.

The lock file is created by the first run that needs it and removed by the last one (a waiting run
checks that the file it locked is still the one in the folder, so removing it is safe). A writer
records ``add <pid>`` in it, which lets a waiting run say who holds the folder. In a folder this
process cannot write to (read-only), readers read without a lock: no writer can change it either.

Holding the lock is re-entrant within a process (``smqi add`` validates and snapshots the folder
while it holds it), and a shared holder that finds the journal of a killed add
(``kg.io.atomic.JOURNAL``) takes the lock exclusively and completes that write first
(``kg.io.atomic.recover``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kg.io.atomic import JOURNAL, os_error, recover
from kg.model.errors import DataError, UsageError

__all__ = ["LOCK", "WAIT_VARIABLE", "lock_wait_seconds", "data_lock", "holds_lock"]

LOCK = ".smqi-write.lock"
WAIT_VARIABLE = "SMQI_LOCK_WAIT_SECONDS"
DEFAULT_WAIT = 30.0
_POLL = 0.05

_held: dict[str, list] = {}  # resolved folder -> [fd or None, exclusive, depth]
_guard = threading.Lock()


def lock_wait_seconds() -> float:
    """How long to wait for the lock of a data folder: ``SMQI_LOCK_WAIT_SECONDS`` (a number from 0),
    default 30."""
    raw = os.environ.get(WAIT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise UsageError(f"environment variable {WAIT_VARIABLE}={raw!r}: give a number of seconds from 0 to 86400")
    return value


def holds_lock(folder: Path) -> bool:
    """True when this process holds the lock of ``folder`` (shared or exclusive)."""
    with _guard:
        return str(Path(folder).resolve()) in _held


def _open(path: Path, writer: bool) -> tuple[int | None, str]:
    """The lock file opened (created when missing) for reading and writing, else read-only when it
    exists; (None, why) when the folder cannot be written to and has no lock file (or a writer
    cannot write)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644), ""
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{path}: the lock file is a symbolic link; smqi never makes one. Delete it "
                            f"(rm {path}) and run the command again.") from None
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or writer:
            raise
        why = exc.strerror or str(exc)
    try:  # an existing lock file can be locked through a read-only descriptor
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW), ""
    except OSError:
        return None, why


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii", errors="replace")[:100].split()
    except OSError:
        text = []
    if len(text) == 2 and text[0] == "add" and text[1].isdigit():
        pid = int(text[1])
        try:
            os.kill(pid, 0)
            return f"another smqi add (process {pid}) is running on"
        except ProcessLookupError:
            pass
        except PermissionError:
            return f"another smqi add (process {pid}) is running on"
    return "another smqi command (an add, or a build or validate reading it) is using"


def _acquire(folder: Path, exclusive: bool, wait: float) -> int | None:
    """An open descriptor of the lock file, locked (exclusively when asked, or to complete a killed
    write); None when the folder is read-only for this process and has no lock file."""
    path = folder / LOCK
    deadline = time.monotonic() + wait
    while True:
        try:
            fd, why = _open(path, writer=exclusive)
        except OSError as exc:
            raise os_error(exc, f"locking the data folder {folder} for {'writing' if exclusive else 'reading'}",
                           "nothing was changed") from None
        if fd is not None:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:  # a hard link would write outside
                os.close(fd)
                raise DataError(f"{path}: the lock file is not a regular file of its own (it is a special file or "
                                f"has {info.st_nlink} names); smqi never makes one. Delete it (rm '{path}') and "
                                "run the command again.")
        if fd is None:
            if os.path.lexists(folder / JOURNAL):
                raise DataError(f"{folder}: an smqi add was killed there while it renamed its files "
                                f"({JOURNAL}), and the folder cannot be written to ({why}), so that write "
                                "cannot be completed: make the folder writable and run the command again.")
            return None  # a folder this process cannot write: nobody here can change it; read it as it is
        try:
            while True:
                mode = fcntl.LOCK_EX if exclusive or os.path.lexists(folder / JOURNAL) else fcntl.LOCK_SH
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise DataError(
                            f"{_holder(path)} {folder} and did not finish within {wait:g} s; nothing was "
                            f"changed. Try again when it has finished (or wait longer: {WAIT_VARIABLE}).") from None
                    time.sleep(_POLL)
            if not _same_file(fd, path):  # removed (or replaced) by the run that held it: lock the new one
                os.close(fd)
                continue
            if mode == fcntl.LOCK_EX and os.path.lexists(folder / JOURNAL):
                try:
                    recover(folder)  # a killed add's renames, completed under the exclusive lock
                except OSError as exc:
                    raise os_error(exc, f"completing the interrupted smqi add in {folder}",
                                   "the data files are as the killed add left them") from None
            if exclusive:
                try:  # who holds the folder, for the message of a run that waits (optional: a full disk)
                    os.ftruncate(fd, 0)
                    os.write(fd, f"add {os.getpid()}\n".encode())
                except OSError:
                    pass
            return fd
        except BaseException:
            _release(folder, fd)  # (removes the lock file it made, unless another run holds it too)
            raise


def _release(folder: Path, fd: int | None) -> None:
    if fd is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the last holder removes the lock file
        if _same_file(fd, folder / LOCK):
            os.unlink(folder / LOCK)
    except OSError:
        pass  # another holder, or a read-only folder: leave the file
    finally:
        os.close(fd)


@contextmanager
def data_lock(folder: Path, *, exclusive: bool = False, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of data folder ``folder`` (shared by default) for the ``with`` block.

    Waits at most ``wait`` seconds (default: :func:`lock_wait_seconds`), then raises DataError naming
    who holds the folder. Re-entrant in one process; asking for the exclusive lock inside a shared
    one is a programming error (RuntimeError)."""
    root = Path(folder).resolve()
    key = str(root)
    with _guard:
        entry = _held.get(key)
        if entry is not None:
            if exclusive and not entry[1]:
                raise RuntimeError(f"{root}: exclusive lock asked for inside a shared one")
            entry[2] += 1
    if entry is None:
        if not root.is_dir():  # nothing to lock: the caller reports the missing folder
            yield
            return
        fd = _acquire(root, exclusive, lock_wait_seconds() if wait is None else wait)
        with _guard:
            entry = _held[key] = [fd, exclusive, 1]
    try:
        yield
    finally:
        with _guard:
            entry[2] -= 1
            last = entry[2] == 0
            if last:
                del _held[key]
        if last:
            _release(root, entry[0])
