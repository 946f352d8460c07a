"""Write several files all or nothing: temporary file in the same folder, fsync, ``os.replace``.

A crash before the renames leaves every file as it was; a failure between two renames is rolled
back to the old bytes, so the folder holds either all old or all new content. Temporary files are
always removed.

A process killed outright (SIGKILL, power loss) between two renames cannot roll back, so before the
first rename a journal (``.smqi-write.journal`` in the folder the files share) lists every finished
temporary file and its target; ``recover(folder)`` (run by ``smqi add`` and by every load of a data
folder) completes such an interrupted write: the set of files is then all new. Killed before the
journal exists, nothing was renamed: the files are all old and the stray dot-prefixed temporary
files are removed by ``recover``.

Folders (a build, a report) are swapped the same way: ``swap_folder`` writes nothing in place; the
new folder is renamed over the old one with one atomic exchange where the system has it (Linux
``renameat2(RENAME_EXCHANGE)``), and ``clean_stale`` removes the dot-prefixed leftovers of a killed
run (``.build.new-<pid>-*``, ``.build.old-<pid>``) once their process is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["sha256", "write_files", "recover", "swap_folder", "temp_folder", "clean_stale", "write_folder", "JOURNAL"]


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex (inputs in summary.json, provenance and the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

JOURNAL = ".smqi-write.journal"


def _write_temp(path: Path, content: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(name, path.stat().st_mode & 0o7777)
        else:
            os.chmod(name, 0o644)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_files(changes: dict[Path, bytes]) -> None:
    """Replace (or create) each path with its bytes; all of them or none of them."""
    changes = {Path(p): c for p, c in changes.items()}
    created_dirs: list[Path] = []
    for path in changes:
        missing = []
        parent = path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for folder in reversed(missing):
            folder.mkdir()
            created_dirs.append(folder)
    old: dict[Path, bytes | None] = {p: (p.read_bytes() if p.exists() else None) for p in changes}
    temps: dict[Path, Path] = {}
    done: list[Path] = []
    journal: Path | None = None
    try:
        for path, content in changes.items():
            temps[path] = _write_temp(path, content)
        if len(changes) > 1:
            root = Path(os.path.commonpath([str(p.parent.resolve()) for p in changes]))
            plan = [[str(temps[p].resolve()), str(p.resolve())] for p in changes]
            journal_temp = _write_temp(root / JOURNAL, json.dumps({"replace": plan}).encode())
            try:
                os.replace(journal_temp, root / JOURNAL)
            except BaseException:
                journal_temp.unlink(missing_ok=True)
                raise
            journal = root / JOURNAL
            _fsync_dir(root)
        for path in changes:
            os.replace(temps[path], path)
            del temps[path]
            done.append(path)
        for folder in {p.parent for p in changes}:
            _fsync_dir(folder)
        if journal is not None:
            journal.unlink(missing_ok=True)
    except BaseException:
        if journal is not None:
            journal.unlink(missing_ok=True)
        for path in reversed(done):
            _restore(path, old[path])
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def _restore(path: Path, content: bytes | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        return
    try:
        os.replace(_write_temp(path, content), path)
    except BaseException:
        for stray in path.parent.glob(f".{path.name}.*.tmp"):
            stray.unlink(missing_ok=True)
        path.write_bytes(content)  # last resort: the old bytes in place


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def recover(folder: Path) -> bool:
    """Finish a write of ``write_files`` that was killed between its renames (roll forward), and
    remove temporary files a killed write left behind. Returns True when something was done."""
    folder = Path(folder)
    journal = folder / JOURNAL
    did = False
    if journal.is_file():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))["replace"]
        except (OSError, ValueError, KeyError, TypeError):
            plan = []  # a torn journal was never committed (it is renamed into place whole)
        for temp, target in plan:
            if Path(temp).exists():
                os.replace(temp, target)
        journal.unlink(missing_ok=True)
        did = True
    if folder.is_dir():
        for sub in (folder, folder / "entries"):
            if not sub.is_dir():
                continue
            for stray in sub.glob(".*.tmp"):
                if _TEMP_RE.match(stray.name):
                    stray.unlink(missing_ok=True)
                    did = True
    return did


_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # mkstemp's names: .<file>.<8 chars>.tmp


# ---------------------------------------------------------------- folders


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return result == 0


def swap_folder(new: Path, out: Path) -> None:
    """Replace folder ``out`` by ``new`` with renames only; at no moment is ``out`` missing where the
    system can exchange two paths atomically. The old folder is removed last."""
    new, out = Path(new), Path(out)
    if out.exists() and _exchange(new, out):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old build
        return
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def temp_folder(out: Path) -> Path:
    """A new private folder beside ``out`` named ``.<out>.new-<pid>-<random>`` (world-readable)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    tmp.chmod(0o755)
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> list[Path]:
    """Remove the ``.<out>.new-<pid>-*`` / ``.<out>.old-<pid>`` folders of runs that were killed
    (their process is gone; another live build's folders are left alone). Also restores ``out``
    from ``.<out>.old-<pid>`` when a killed swap left ``out`` missing."""
    out = Path(out)
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(new|old)-(\d+)(-.*)?$")
    for path in sorted(out.parent.iterdir()):
        match = pattern.match(path.name)
        if not match or int(match.group(2)) == os.getpid() or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not out.exists():
            os.replace(path, out)  # killed between the two renames of the fallback swap
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def write_folder(out: Path, write) -> None:
    """Run ``write(tmp)`` into a new folder beside ``out`` and swap it in only when it succeeded.

    Leftovers of killed runs are removed first; on any failure the temp folder goes and ``out``
    stays as it was. Raises DataError when the folder cannot be created.
    """
    from kg.model.errors import DataError

    out = Path(out)
    try:
        clean_stale(out)
        tmp = temp_folder(out)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the output folder: {exc.strerror or exc}") from exc
    try:
        write(tmp)
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
