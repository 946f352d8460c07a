"""`smqi push`, `smqi query --endpoint` and `smqi link ENDPOINT` on a second real store: Virtuoso 7.

The tests start their own Virtuoso (Debian's ``virtuoso-opensource``; not the system service) in a
temporary folder with its own virtuoso.ini, on free loopback ports, and stop it afterwards. Virtuoso
never answers a direct POST (``application/sparql-query``) there, so these tests fail if counting or
querying goes back to it. Skipped, saying why, when ``virtuoso-t`` is not installed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main
from kg.model import resources
from kg.io.queries import list_queries
from kg.io.remote import FORM_POST
from kg.serve.push import push, read_graphs
from kg.serve.server import free_port

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt") or shutil.which("isql")
pytestmark = pytest.mark.skipif(
    not (VIRTUOSO and ISQL),
    reason="Virtuoso is not installed (Debian package virtuoso-opensource: virtuoso-t and isql-vt)")

LINK = Path(__file__).parents[1] / "link"
INI = """[Database]
DatabaseFile = {d}/virtuoso.db
ErrorLogFile = {d}/virtuoso.log
LockFile = {d}/virtuoso.lck
TransactionFile = {d}/virtuoso.trx
xa_persistent_file = {d}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {d}/virtuoso-temp.db
TransactionFile = {d}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql}
DisableUnixSocket = 1
MaxClientConnections = 5
CheckpointInterval = 0
CaseMode = 2
DirsAllowed = .
NumberOfBuffers = 5000
MaxDirtyBuffers = 3000
ThreadsPerQuery = 1

[HTTPServer]
ServerPort = 127.0.0.1:{http}
ServerRoot = {d}
MaxClientConnections = 5
ServerThreads = 5
EnabledDavVSP = 0
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 100000
MaxQueryExecutionTime = 120
"""


class Virtuoso:
    """One Virtuoso process on loopback, its database in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sql_port, self.http_port = free_port(), free_port()
        (folder / "virtuoso.ini").write_text(INI.format(d=folder, sql=self.sql_port, http=self.http_port),
                                             encoding="utf-8")
        self.process = subprocess.Popen([VIRTUOSO, "-c", str(folder / "virtuoso.ini"), "+foreground"],
                                        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def log(self) -> str:
        path = self.folder / "virtuoso.log"
        return path.read_text(encoding="utf-8", errors="replace")[-2000:] if path.exists() else ""

    def wait_ready(self, attempts: int = 240) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for _ in range(attempts):
            if self.process.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited with {self.process.returncode}:\n{self.log()}")
            try:
                with opener.open(f"{self.base}/sparql?query=ASK%7B%7D", timeout=5) as response:
                    response.read()
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise RuntimeError(f"Virtuoso did not start listening:\n{self.log()}")

    def sql(self, statements: str) -> None:
        done = subprocess.run([ISQL, f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={statements}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, done.stdout + done.stderr

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def running_virtuoso(tmp_path_factory: pytest.TempPathFactory):
    server = Virtuoso(tmp_path_factory.mktemp("virtuoso"))
    try:
        server.wait_ready()
        server.sql('GRANT SPARQL_UPDATE TO "SPARQL";')  # this instance's anonymous Graph Store writes
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory: pytest.TempPathFactory):
    yield from running_virtuoso(tmp_path_factory)


@pytest.fixture(scope="module")
def other_virtuoso(tmp_path_factory: pytest.TempPathFactory):
    """A second instance holding only another evidence graph (the first holds ours)."""
    yield from running_virtuoso(tmp_path_factory)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vbuild") / "build"
    assert main(["build", "--out", str(out), "--no-owl", "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def pushed(virtuoso: Virtuoso, built: Path) -> Virtuoso:
    assert main(["push", f"{virtuoso.base}/sparql-graph-crud", "--store", f"oxigraph:{built / 'store'}",
                 "--quiet"]) == 0
    return virtuoso


def test_push_to_virtuoso_reports_the_exact_counts(virtuoso: Virtuoso, built: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    graphs = read_graphs(built / "smqi.nq")
    expected = {g: len(set(q)) for g, q in graphs.items()}
    assert len(expected) == 10  # ontology, vocab, evidence, codings, reference, review, links, mappings,
    # provenance, derived
    url = f"{virtuoso.base}/sparql-graph-crud"
    assert main(["push", url, "--from", str(built / "smqi.nq"), "--quiet"]) == 0
    assert capsys.readouterr().out == (
        f"Pushed {len(expected)} graphs ({sum(expected.values())} triples) to {url}; "
        f"checked the counts through {virtuoso.base}/sparql (form POST).\n")
    result = push(url, built / "smqi.nq")  # again: PUT replaces each graph, nothing is added
    assert result.counts == expected and result.query_method == FORM_POST
    assert result.query_url == f"{virtuoso.base}/sparql"


def unordered_lists(csv_text: str) -> list[list[str]]:
    """CSV rows, each cell that is a GROUP_CONCAT of codebook keys sorted (SPARQL leaves that order open)."""
    rows = csv.reader(io.StringIO(csv_text))
    return [[" ".join(sorted(c.split())) if re.fullmatch(r"[a-z0-9-]+( [a-z0-9-]+)+", c) else c for c in row]
            for row in rows]


def test_query_endpoint_on_virtuoso_gives_the_rows_of_the_store(pushed: Virtuoso, built: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    # Only the summary queries: Virtuoso 7.2.5 answers the typology derivation (typology/assign,
    # FILTER NOT EXISTS nested in FILTER NOT EXISTS over outer variables) with other models than
    # Oxigraph, rdflib and HermiT agree on (README, "Stores, serving and scale").
    names = [q.name for q in list_queries() if q.kind == "cq"]
    assert len(names) > 10
    for name in names:
        assert main(["query", name, "--format", "csv", "--store", str(built / "store")]) == 0
        local = capsys.readouterr().out
        assert main(["query", name, "--format", "csv", "--endpoint", f"{pushed.base}/sparql"]) == 0
        remote = capsys.readouterr().out
        assert unordered_lists(remote) == unordered_lists(local) and len(local.splitlines()) > 3, name


def test_query_endpoint_with_a_parameter_on_virtuoso(pushed: Virtuoso, capsys: pytest.CaptureFixture) -> None:
    assert main(["query", "studies-per-platform", "--format", "json", "--endpoint", f"{pushed.base}/sparql",
                 "--param", "key=twitter"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]["bindings"]
    with (resources.data_dir() / "uses.csv").open(newline="", encoding="utf-8") as handle:
        twitter = {r["study_id"] for r in csv.DictReader(handle) if "twitter" in r["platforms"].split(";")}
    assert [(r["key"]["value"], r["studies"]["value"]) for r in rows] == [("twitter", str(len(twitter)))]


def test_link_against_virtuoso(other_virtuoso: Virtuoso, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Two made-up graphs of tests/link (schema.org/BIBO literals, OpenCitations identifier nodes) in
    graphs of their own: linking the endpoint finds what linking the two files finds."""
    virtuoso = other_virtuoso
    other = tmp_path / "other.nq"
    quads = []
    for name in ("schema-bibo", "opencitations-style"):
        graph = ox.NamedNode(f"https://example.org/made-up-graph/{name}")
        quads += [ox.Quad(t.subject, t.predicate, t.object, graph)
                  for t in ox.parse(path=str(LINK / f"{name}.ttl"), format=ox.RdfFormat.TURTLE)]
    ox.serialize(quads, str(other), format=ox.RdfFormat.N_QUADS)
    assert main(["push", f"{virtuoso.base}/sparql-graph-crud", "--from", str(other), "--quiet"]) == 0
    capsys.readouterr()
    from_files: dict[str, list] = {"overlaps": [], "only_theirs": [], "conflicts": []}
    for name in ("schema-bibo", "opencitations-style"):
        assert main(["link", str(LINK / f"{name}.ttl"), "--format", "json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        for key in from_files:
            from_files[key] += doc[key]
    assert main(["link", f"{virtuoso.base}/sparql", "--format", "json"]) == 0
    from_endpoint = json.loads(capsys.readouterr().out)
    assert [(o["study_id"], o["work"]) for o in from_endpoint["overlaps"]] == [
        ("anikamadu2024", "https://example.org/made-up-oc/br/1"),
        ("baines2018", "https://example.org/made-up-graph-a/work/4"),
        ("bardach2013", "https://example.org/made-up-oc/br/2"),
        ("campbell2018", "https://example.org/made-up-graph-a/work/3"),
        ("davis2017", "https://example.org/made-up-graph-a/work/1"),
        ("greaves2012", "https://example.org/made-up-graph-a/work/2")]
    key = json.dumps
    for field in from_files:
        assert sorted(map(key, from_endpoint[field])) == sorted(map(key, from_files[field])), field
