"""Write several files all or nothing: temporary file in the same folder, fsync, ``os.replace``.

A crash before the renames leaves every file as it was; a failure between two renames is rolled
back to the old bytes, so the folder holds either all old or all new content. Temporary files are
always removed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
    try:
        for path, content in changes.items():
            temps[path] = _write_temp(path, content)
        for path in changes:
            os.replace(temps[path], path)
            del temps[path]
            done.append(path)
    except BaseException:
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
