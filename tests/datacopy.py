"""Copying a data folder for a test: ``shutil.copytree`` without the folder's lock file.

Another test (another xdist worker, or a concurrent run) may be reading the same fixture folder, and
a reader holds the folder's lock file (kg.io.lock, ``.smqi-write.lock``) for as long as it reads; a copy
made meanwhile would take that transient file along and make the copy differ from the fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

from kg.io.lock import LOCK


def copy_data(source: Path, target: Path, *skip: str) -> Path:
    """``source`` copied to ``target`` (which must not exist), without the lock file or ``skip`` names."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(LOCK, *skip))
    return Path(target)
