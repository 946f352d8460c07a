"""Real operating-system errors for tests (issue 16): a tiny tmpfs that fills up (ENOSPC) and a
read-only bind mount (EROFS). Tests run as root in CI, where chmod does not make a folder read-only,
so the errors come from mounts; where the platform refuses to mount (not root, no mount namespace,
a container without CAP_SYS_ADMIN) the test is skipped with the reason. Every mount is unmounted in
a ``finally``, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(args: list[str], what: str) -> None:
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip(f"{what}: needs Linux mount(8)")
    if os.geteuid() != 0:
        pytest.skip(f"{what}: needs root to mount (as in CI)")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"{what}: the platform refused to mount ({done.stderr.strip() or done.returncode})")


def _unmount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)
    if os.path.ismount(path):  # still busy: detach it, so no mount outlives the test
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on the new folder ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    _mount(["-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], f"a tmpfs of {size}")
    try:
        yield path
    finally:
        _unmount(path)


@contextlib.contextmanager
def read_only(source: Path, path: Path) -> Iterator[Path]:
    """Folder ``source`` seen read-only at the new folder ``path`` (a read-only bind mount)."""
    path.mkdir(parents=True, exist_ok=True)
    _mount(["--bind", "-o", "ro", str(source), str(path)], "a read-only bind mount")
    try:
        probe = path / ".probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("a read-only bind mount: the platform mounted it writable")
        yield path
    finally:
        _unmount(path)


def fill(folder: Path) -> None:
    """Fill the file system of ``folder`` up to the last byte (unbuffered: nothing is left to flush)."""
    for name, size in ((".filler", 65536), (".filler-tail", 1)):
        with open(folder / name, "wb", buffering=0) as handle:
            chunk = b"\0" * size
            try:
                while handle.write(chunk):
                    pass
            except OSError:
                pass
