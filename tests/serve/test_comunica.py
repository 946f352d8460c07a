"""Comunica (`comunica-sparql`, from npm), a real SPARQL client nobody here wrote, against `smqi serve`.

`.ci/run` installs it into `.ci/comunica/` (or set SMQI_COMUNICA to its `comunica-sparql`); without it
the test is skipped, saying how to install it. The served store is made up for the test: two named
graphs (`urn:smqi-test:g1` with 2 triples, `urn:smqi-test:g2` with 1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.serve.front import start_front
from kg.serve.server import start_server

ROOT = Path(__file__).resolve().parents[2]


def comunica() -> str | None:
    for candidate in (os.environ.get("SMQI_COMUNICA"), str(ROOT / ".ci" / "comunica" / "node_modules" / ".bin" /
                                                           "comunica-sparql"), shutil.which("comunica-sparql")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


pytestmark = pytest.mark.skipif(
    comunica() is None or shutil.which("node") is None,
    reason="Comunica is not installed: npm install --prefix .ci/comunica @comunica/query-sparql@4 (.ci/run does)")


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("comunica") / "store"
    store = ox.Store(str(folder))
    p = ox.NamedNode("urn:smqi-test:p")
    for s, g in (("a", "g1"), ("b", "g1"), ("c", "g2")):
        store.add(ox.Quad(ox.NamedNode(f"urn:smqi-test:{s}"), p, ox.Literal(s), ox.NamedNode(f"urn:smqi-test:{g}")))
    store.flush()
    del store
    with start_server(folder, "127.0.0.1", timeout=120) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, timeout=120) as running:
            yield running


def ask(front, query: str) -> list[dict]:
    done = subprocess.run([comunica(), front.query_url, query], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_select_over_the_union(front) -> None:
    rows = ask(front, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert rows == [{"n": '"3"^^http://www.w3.org/2001/XMLSchema#integer'}]


def test_from_names_one_graph_of_the_dataset(front) -> None:
    rows = ask(front, "SELECT ?s FROM <urn:smqi-test:g1> WHERE { ?s ?p ?o } ORDER BY ?s")
    assert rows == [{"s": "urn:smqi-test:a"}, {"s": "urn:smqi-test:b"}]


def test_construct(front) -> None:
    done = subprocess.run([comunica(), front.query_url,
                           "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <urn:smqi-test:g2> { ?s ?p ?o } }"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == '<urn:smqi-test:c> <urn:smqi-test:p> "c".'
