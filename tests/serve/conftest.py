"""Fixtures shared by the tests of the read-only front (test_front.py, test_hostile.py)."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A made-up store of 300 triples (``urn:s:0`` … ``urn:s:299`` ``urn:p`` "0" … "299"), default graph."""
    folder = tmp_path_factory.mktemp("front") / "store"
    db = ox.Store(str(folder))
    for i in range(300):
        db.add(ox.Quad(ox.NamedNode(f"urn:s:{i}"), ox.NamedNode("urn:p"), ox.Literal(str(i))))
    db.flush()
    del db
    return folder
