"""Write several files all or nothing: temporary file in the same folder, fsync, ``os.replace``.

A crash before the renames leaves every file as it was; a failure between two renames is rolled
back to the old bytes, so the folder holds either all old or all new content. Temporary files are
always removed.

A process killed outright (SIGKILL, power loss) between two renames cannot roll back, so before the
first rename a journal (``.smqi-write.journal`` in the data folder) lists every finished temporary
file and its target, relative to the folder; ``recover(folder)`` (run under the folder's exclusive lock,
kg.io.lock, by ``smqi add`` and by a command that finds the journal while it reads the folder)
completes such an interrupted write: the set of files is then all new. Killed before the journal
exists, nothing was renamed: the files are all old and the stray dot-prefixed temporary files are
removed by ``recover``. The journal is read as untrusted data (``read_journal``: a format and version,
field types, every path inside the folder): a malformed or hostile one is refused with a message
saying what to do, and nothing is renamed. A rollback renames the old file back from a second name
(a hard link made before the renames), so it needs no space on a full disk; an operating-system
error is a DataError (``os_error``: what failed, why, what is unchanged).

Folders (a build, a report) are swapped the same way: ``swap_folder`` writes nothing in place; the
new folder is renamed over the old one with one atomic exchange where the system has it (Linux
``renameat2(RENAME_EXCHANGE)``), and ``clean_stale`` removes the dot-prefixed leftovers of a killed
run (``.build.new-<pid>-*``, ``.build.old-<pid>``) once their process is gone.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from kg.model.errors import DataError

__all__ = ["sha256", "write_files", "read_journal", "recover", "inside", "os_error", "swap_folder", "temp_folder",
           "clean_stale", "write_folder", "JOURNAL", "JOURNAL_FORMAT", "JOURNAL_VERSION"]


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex (inputs in summary.json, provenance and the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

JOURNAL = ".smqi-write.journal"
JOURNAL_FORMAT = "smqi-write-journal"
JOURNAL_VERSION = 1
MAX_JOURNAL_BYTES = 1_000_000
MAX_JOURNAL_FILES = 10_000


def os_error(exc: OSError, action: str, unchanged: str) -> DataError:
    """A DataError (exit 2) for an operating-system error: what failed, why (a full disk, a
    read-only folder, a permission), and what was left as it was."""
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    hint = {errno.ENOSPC: " (the disk is full)", errno.EDQUOT: " (the disk quota is used up)",
            errno.EROFS: " (the folder is on a read-only file system)",
            errno.EACCES: " (no permission to write there)"}.get(exc.errno, "")
    return DataError(f"{action} failed: {exc.strerror or exc}{hint}{where}; {unchanged}.")


def inside(root: Path, path: Path) -> Path:
    """``path`` with its folder resolved, after checking that it lies inside folder ``root`` (symbolic
    links of its folders followed) and is no symbolic link itself. Raises DataError otherwise."""
    root_real = Path(root).resolve()
    path = Path(path)
    full = path.parent.resolve() / path.name
    if not full.is_relative_to(root_real) or full == root_real:
        raise DataError(f"{path}: leads outside the data folder {root} (to {full}); smqi reads and writes "
                        "only inside it. Replace the symbolic link by a folder or file of its own.")
    if path.is_symlink():
        raise DataError(f"{path}: is a symbolic link (to {os.readlink(path)}); smqi writes only regular "
                        "files inside the data folder. Replace it by a copy of the file.")
    return full


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


def _backup(path: Path) -> Path | None:
    """A second name (hard link) for the old file, so that rolling back is a rename and needs no
    space on a full disk; None where the system cannot link."""
    for _ in range(100):
        name = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.link(path, name)
            return name
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def write_files(changes: dict[Path, bytes], *, journal_dir: Path | None = None) -> None:
    """Replace (or create) each path with its bytes; all of them or none of them.

    Several files get a journal in ``journal_dir`` (default: their common folder; every path must lie
    inside it) while they are renamed. An operating-system error (a full disk, a read-only folder)
    raises DataError after every file was put back as it was."""
    changes = {Path(p): c for p, c in changes.items()}
    created_dirs: list[Path] = []
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path | None] = {}
    done: list[Path] = []
    journal: Path | None = None
    current: Path | None = None
    try:
        for path in changes:
            missing = []
            parent = path.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                current = folder
                folder.mkdir()
                created_dirs.append(folder)
        old: dict[Path, bytes | None] = {p: (p.read_bytes() if p.exists() else None) for p in changes}
        for path, content in changes.items():
            current = path
            temps[path] = _write_temp(path, content)
        if len(changes) > 1:
            root = Path(journal_dir).resolve() if journal_dir is not None else \
                Path(os.path.commonpath([str(p.parent.resolve()) for p in changes]))
            plan = []
            for path in changes:
                target = path.parent.resolve() / path.name
                if not target.is_relative_to(root):
                    raise ValueError(f"{path} is not inside the journal's folder {root}")
                plan.append({"temp": temps[path].name, "target": target.relative_to(root).as_posix()})
            document = {"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "replace": plan}
            current = root / JOURNAL
            journal_temp = _write_temp(root / JOURNAL, json.dumps(document, indent=1).encode())
            try:
                os.replace(journal_temp, root / JOURNAL)
            except BaseException:
                journal_temp.unlink(missing_ok=True)
                raise
            journal = root / JOURNAL
            _fsync_dir(root)
        for path in changes:
            backups[path] = _backup(path) if old[path] is not None else None
        for path in changes:
            current = path
            os.replace(temps[path], path)
            del temps[path]
            done.append(path)
        for folder in {p.parent for p in changes}:
            _fsync_dir(folder)
        if journal is not None:
            journal.unlink(missing_ok=True)
        for backup in backups.values():
            if backup is not None:
                backup.unlink(missing_ok=True)
    except BaseException as exc:
        if journal is not None:
            journal.unlink(missing_ok=True)
        for path in reversed(done):
            _restore(path, old[path], backups.get(path))
        for leftover in [*temps.values(), *(b for b in backups.values() if b is not None)]:
            leftover.unlink(missing_ok=True)
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, (BrokenPipeError, InterruptedError)):
            what = f"writing {current}" if current is not None else "writing"
            raise os_error(exc, what, "nothing was changed: every file is as it was") from exc
        raise


def _restore(path: Path, content: bytes | None, backup: Path | None = None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        return
    if backup is not None:
        try:
            os.replace(backup, path)  # a rename: needs no space
            return
        except OSError:
            pass
    try:
        os.replace(_write_temp(path, content), path)
    except BaseException:
        for stray in path.parent.glob(f".{path.name}.*.tmp"):
            if stray != backup:
                stray.unlink(missing_ok=True)
        if path.is_symlink() or path.stat().st_nlink != 1:
            raise  # writing in place would write through the link, maybe outside the folder
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


def _journal_refused(journal: Path, reason: str):
    return DataError(
        f"{journal}: {reason}, so it is not a journal smqi wrote and nothing was renamed. smqi leaves this "
        "file only when an `smqi add` is killed while it renames its files; look at the data files, then "
        f"delete it (rm '{journal}') and run the command again.")


def read_journal(folder: Path) -> list[tuple[Path, Path]]:
    """The (temporary file, target) pairs of the journal in data folder ``folder``, both inside it.

    The journal is untrusted like every file of a data folder: it must be a regular file of at most
    MAX_JOURNAL_BYTES, JSON ``{"format": "smqi-write-journal", "version": 1, "replace": [{"temp":
    NAME, "target": PATH}, …]}`` with PATH relative to the folder (``studies.csv``,
    ``entries/<id>.ttl``: no ``..``, no absolute path, no folder leading outside through a symbolic
    link, no target that is a symbolic link) and NAME the temporary file ``.<target name>.<8
    characters>.tmp`` beside it. Raises DataError saying what is wrong and what to do."""
    folder = Path(folder)
    journal = folder / JOURNAL
    root = folder.resolve()
    if journal.is_symlink() or not journal.is_file():
        raise _journal_refused(journal, "it is a symbolic link or not a regular file")
    if journal.stat().st_size > MAX_JOURNAL_BYTES:
        raise _journal_refused(journal, f"it is larger than {MAX_JOURNAL_BYTES:,} bytes")
    try:
        document = json.loads(journal.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _journal_refused(journal, "it is not JSON") from None
    if not isinstance(document, dict) or document.get("format") != JOURNAL_FORMAT:
        raise _journal_refused(journal, f'it has no "format": "{JOURNAL_FORMAT}"')
    version = document.get("version")
    if version != JOURNAL_VERSION or isinstance(version, bool):
        raise _journal_refused(journal, f"its version is {version!r}, not {JOURNAL_VERSION} (the one this "
                               "smqi-kg writes)")
    plan = document.get("replace")
    if not isinstance(plan, list) or not 1 <= len(plan) <= MAX_JOURNAL_FILES:
        raise _journal_refused(journal, f'its "replace" is not a list of 1 to {MAX_JOURNAL_FILES:,} files')
    pairs: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for number, item in enumerate(plan, 1):
        if not isinstance(item, dict) or set(item) != {"temp", "target"} or \
                not all(isinstance(v, str) for v in item.values()):
            raise _journal_refused(journal, f'file {number} is not {{"temp": NAME, "target": PATH}} (two strings)')
        rel = PurePosixPath(item["target"])
        parts = item["target"].split("/")
        if rel.is_absolute() or "\\" in item["target"] or "\x00" in item["target"] or \
                any(p in ("", ".", "..") for p in parts) or len(parts) > 2 or \
                (len(parts) == 2 and parts[0] != "entries"):
            raise _journal_refused(journal, f"file {number}'s target {item['target']!r} is not a data file "
                                   "of the folder (a name, or entries/<name>)")
        target = root.joinpath(*parts)
        if not target.parent.resolve().is_relative_to(root):
            raise _journal_refused(journal, f"file {number}'s target {item['target']!r} leads outside the folder "
                                   f"(its folder is a symbolic link to {target.parent.resolve()})")
        if target.is_symlink():
            raise _journal_refused(journal, f"file {number}'s target {item['target']!r} is a symbolic link")
        if target in seen:
            raise _journal_refused(journal, f"file {number}'s target {item['target']!r} is named twice")
        seen.add(target)
        if not re.fullmatch(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}\.tmp", item["temp"]):
            raise _journal_refused(journal, f"file {number}'s temporary file {item['temp']!r} is not "
                                   f"'.{target.name}.<8 characters>.tmp'")
        temp = target.with_name(item["temp"])
        if temp.is_symlink() or (temp.exists() and not temp.is_file()):
            raise _journal_refused(journal, f"file {number}'s temporary file {item['temp']!r} is not a "
                                   "regular file")
        pairs.append((temp, target))
    return pairs


def recover(folder: Path) -> bool:
    """Finish a write of ``write_files`` that was killed between its renames (roll forward), and
    remove temporary files a killed write left behind. Returns True when something was done.

    The journal is checked first (:func:`read_journal`): a malformed or hostile one raises DataError
    and nothing is renamed; every rename stays inside ``folder``. Call it holding the folder's lock
    exclusively (``kg.io.lock.data_lock``)."""
    folder = Path(folder)
    journal = folder / JOURNAL
    did = False
    if os.path.lexists(journal):
        for temp, target in read_journal(folder):
            if temp.is_file():
                os.replace(temp, target)
        journal.unlink()
        did = True
    if folder.is_dir():
        root = folder.resolve()
        for sub in (folder, folder / "entries"):
            if not sub.is_dir() or not sub.resolve().is_relative_to(root):
                continue
            for stray in sub.glob(".*.tmp"):
                if _TEMP_RE.match(stray.name) and (stray.is_symlink() or stray.is_file()):
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
    stays as it was. Raises DataError when the folder cannot be created or written (a full disk, a
    read-only folder).
    """
    out = Path(out)
    unchanged = f"nothing was changed: {out} is as it was" if out.exists() else "nothing was written"
    try:
        clean_stale(out)
        tmp = temp_folder(out)
    except OSError as exc:
        raise os_error(exc, f"creating the output folder {out}", unchanged) from exc
    try:
        write(tmp)
        swap_folder(tmp, out)
    except (OSError, DataError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        cause = exc if isinstance(exc, OSError) else exc.__cause__  # a writer's "cannot write …" names the temp folder
        if not isinstance(cause, OSError) or isinstance(cause, (BrokenPipeError, InterruptedError)):
            raise
        raise os_error(cause, f"writing {out}", unchanged) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
