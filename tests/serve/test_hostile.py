"""Hostile queries (issue #8): injection through --param, updates, SERVICE, huge answers, slow queries.

`smqi query` checks the parsed algebra (kg/check/guard.py); `smqi serve` puts a read-only front
(kg/serve/front.py) before the Oxigraph server, which would otherwise federate: the first endpoint
test shows Oxigraph itself reaching a loopback stub, the next that the front stops it. Every server
here listens on 127.0.0.1 and every request loop is bounded.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kg.cli import main
from kg.serve.server import start_server
from kg.serve.front import start_front

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ROOT = Path(__file__).resolve().parents[1].parent
GRAPH = """@prefix smqi: <https://w3id.org/smqi/ontology#> .
<https://w3id.org/smqi/kg/study/a2020> smqi:studyId "a2020" .
<https://w3id.org/smqi/kg/study/b2021> smqi:studyId "b2021" .
<https://w3id.org/smqi/kg/study/c2022> smqi:studyId "c2022" .
"""
BY_ID = """#+ summary: Study by id (test)
PREFIX smqi: <https://w3id.org/smqi/ontology#>
SELECT ?s WHERE { ?s smqi:studyId ?id }
"""


class Stub:
    """A loopback HTTP server that records every request it gets (it should get none)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def _record(self) -> None:
                hits.append(self.path)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _record

            def log_message(self, *_args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sparql"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def stub():
    running = Stub()
    yield running
    running.close()


def call(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def post(url: str, query: str, accept: str = "application/sparql-results+json"):
    return call(url, query.encode(), {"Content-Type": "application/sparql-query", "Accept": accept})


# ---------------------------------------------------------------- smqi query


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, Path]:
    graph, query = tmp_path / "g.ttl", tmp_path / "by-id.rq"
    graph.write_text(GRAPH, encoding="utf-8")
    query.write_text(BY_ID, encoding="utf-8")
    return graph, query


@pytest.mark.parametrize("value", [
    'a2020" } UNION { ?s ?p ?o } #',
    "a2020' } UNION { ?s ?p ?o } #",
    'x" . ?s ?p ?o . FILTER("1"="1',
    "a2020\n} UNION { ?s ?p ?o }",
    "<https://w3id.org/smqi/kg/study/a2020> } UNION { ?s ?p ?o",
    "?s", "*", "\\u0022",
])
def test_param_injection_gives_no_extra_rows(small, capsys, value: str) -> None:
    graph, query = small
    assert main(["query", str(query), "--graph", str(graph), "--format", "json", "--param", "id=a2020"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]["bindings"]) == 1  # the check works
    code = main(["query", str(query), "--graph", str(graph), "--format", "json", "--param", f"id={value}"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 0:
        assert json.loads(out)["results"]["bindings"] == []  # bound as one literal: matches nothing
    else:
        assert code == 2 and "internal error" not in err


def test_iri_param_with_query_text_is_refused(small, capsys) -> None:
    graph, query = small
    value = "<urn:x> } UNION { ?s ?p ?o } #>"
    assert main(["query", str(query), "--graph", str(graph), "--param", f"id={value}"]) == 2
    assert "is not an IRI" in capsys.readouterr().err


def test_relative_iri_param_is_a_usage_error(small, capsys) -> None:
    """Found by `make fuzz`: pyoxigraph refuses <0> (no scheme); that was an internal error."""
    graph, query = small
    assert main(["query", str(query), "--graph", str(graph), "--param", "id=<0>"]) == 2
    assert capsys.readouterr().err == (
        "smqi query: error: --param 'id=<0>': '<0>' is not an absolute IRI (No scheme found in an absolute "
        "IRI); write <scheme:…>, e.g. <https://w3id.org/smqi/vocab/platform/twitter>\n")


@pytest.mark.parametrize(("text", "expect"), [
    ("INSERT DATA { <urn:a> <urn:b> <urn:c> }", "SPARQL Update"),
    ("DELETE WHERE { ?s ?p ?o }", "SPARQL Update"),
    ("LOAD <http://127.0.0.1:9/x.ttl>", "SPARQL Update"),
    ("CLEAR ALL", "SPARQL Update"),
    ("SELECT * WHERE { SERVICE <{stub}> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * WHERE { ?s ?p ?o FILTER EXISTS { SERVICE SILENT <{stub}> { ?s ?p ?o } } }", "SERVICE"),
    ("SELECT * WHERE { { SELECT ?s WHERE { OPTIONAL { SERVICE ?x { ?s ?p ?o } } } } }", "SERVICE"),
    ("SELECT * FROM <{stub}> WHERE { ?s ?p ?o }", "FROM"),
])
def test_query_refuses_updates_and_federation(small, stub, capsys, tmp_path: Path, text: str, expect: str) -> None:
    graph, _query = small
    rq = tmp_path / "hostile.rq"
    rq.write_text("#+ summary: hostile (test)\n" + text.replace("{stub}", stub.url) + "\n", encoding="utf-8")
    assert main(["query", str(rq), "--graph", str(graph)]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err and "internal error" not in err
    assert stub.hits == []


def test_allow_service_lets_the_user_federate(small, stub, capsys, tmp_path: Path) -> None:
    """The refusal is not vacuous: with --allow-service rdflib does contact the (loopback) stub."""
    graph, _query = small
    rq = tmp_path / "fed.rq"
    rq.write_text(f"#+ summary: federated (test)\nSELECT * WHERE {{ SERVICE <{stub.url}> {{ ?s ?p ?o }} }}\n",
                  encoding="utf-8")
    assert main(["query", str(rq), "--graph", str(graph), "--allow-service"]) == 2  # the stub answers 500
    err = capsys.readouterr().err
    assert stub.hits and "remote service did not answer" in err and "internal error" not in err


# ---------------------------------------------------------------- smqi serve


@pytest.fixture(scope="module")
def endpoint(small_store: Path):
    # a generous timeout: every query these tests send finishes, however loaded the machine is
    with start_server(small_store, "127.0.0.1", timeout=120) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=50, timeout=120) as front:
            yield backend, front


@pytest.fixture(scope="module")
def hasty(small_store: Path):
    """A front with a 2 s timeout, for queries that cannot finish in any time (no race: they never end)."""
    with start_server(small_store, "127.0.0.1", timeout=2) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=50, timeout=2) as front:
            yield backend, front


COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def count(url: str) -> int:
    status, body = post(url, COUNT)
    assert status == 200, body
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def test_oxigraph_alone_would_federate(endpoint, stub) -> None:
    """Why the front exists: Oxigraph 0.5 sends a SERVICE query on to the named host."""
    backend, _front = endpoint
    post(backend.query_url, f"SELECT * WHERE {{ SERVICE SILENT <{stub.url}> {{ ?s ?p ?o }} }}")
    assert stub.hits


def test_front_refuses_service_before_it_reaches_anyone(endpoint, stub) -> None:
    _backend, front = endpoint
    for text in (f"SELECT * WHERE {{ SERVICE <{stub.url}> {{ ?s ?p ?o }} }}",
                 f"ASK {{ FILTER NOT EXISTS {{ SERVICE SILENT <{stub.url}> {{ ?s ?p ?o }} }} }}",
                 f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{stub.url}> {{ ?s ?p ?o }} }} }} }}"):
        for status, body in (post(front.query_url, text),
                             call(f"{front.query_url}?query={urllib.parse.quote(text)}")):
            assert status == 403 and "SERVICE" in body, (status, body)
    assert stub.hits == []


def test_front_is_read_only(endpoint) -> None:
    _backend, front = endpoint
    before = count(front.query_url)
    base = front.query_url.rsplit("/", 1)[0]
    form = "application/x-www-form-urlencoded"
    for url, body, ctype, method in [
        (f"{base}/update", b"INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }", "application/sparql-update", "POST"),
        (front.query_url, b"INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }", "application/sparql-query", "POST"),
        (front.query_url, b"INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }", "application/sparql-update", "POST"),
        (front.query_url, urllib.parse.urlencode({"update": "CLEAR ALL"}).encode(), form, "POST"),
        (front.query_url, b"LOAD <http://127.0.0.1:9/x.ttl>", "application/sparql-query", "POST"),
        (front.query_url, b"CLEAR ALL", "application/sparql-query", "POST"),
        (front.query_url, b"DROP DEFAULT", "application/sparql-query", "POST"),
        (f"{base}/store?default", b"<urn:x:a> <urn:x:b> <urn:x:c> .", "application/n-triples", "PUT"),
        (f"{base}/store?default", b"<urn:x:a> <urn:x:b> <urn:x:c> .", "application/n-triples", "POST"),
        (f"{base}/store?default", None, None, "DELETE"),
    ]:
        status, _body = call(url, body, {"Content-Type": ctype} if ctype else {}, method)
        assert 400 <= status < 500, (url, method, status)
    assert call(f"{front.query_url}?update={urllib.parse.quote('CLEAR ALL')}")[0] == 403
    assert count(front.query_url) == before == 300


def test_front_row_limit_and_timeout(endpoint, hasty) -> None:
    _backend, front = endpoint
    for accept in ("application/sparql-results+json", "text/csv", "text/tab-separated-values",
                   "application/sparql-results+xml"):
        status, body = post(front.query_url, "SELECT * WHERE { ?s ?p ?o }", accept)
        assert status == 413 and "more than 50 rows" in body and "--max-rows" in body, (accept, status, body[:200])
        status, body = post(front.query_url, "SELECT * WHERE { ?s ?p ?o } LIMIT 50", accept)
        assert status == 200, (accept, status, body[:200])
    slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"  # cannot finish
    status, body = post(hasty[1].query_url, slow, "text/csv")
    assert status == 503 and "timeout" in body, (status, body[:200])
    assert post(front.query_url, "SELEC oops")[0] == 400
    huge = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 1_100_000
    assert post(front.query_url, huge)[0] == 413


def test_serve_defaults_to_loopback() -> None:
    from kg.cli import make_parser

    args = make_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.max_rows is None


def test_load_from_a_second_process(small_store: Path, capsys) -> None:
    """100 queries over loopback from 8 threads against `smqi serve` in another process: 0 errors
    (`make loadtest` runs 1,000 on the shipped data)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import loadtest
    finally:
        sys.path.pop(0)
    port = loadtest.free_port()
    process = loadtest.start_serve(small_store, port, max_rows=1000)
    try:
        queries = ["SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
                   "SELECT ?s WHERE { ?s <urn:p> ?o FILTER(STRSTARTS(?o, \"1\")) } ORDER BY ?s",
                   "SELECT ?o WHERE { <urn:s:7> ?p ?o }"]
        result = loadtest.run_load(f"http://127.0.0.1:{port}/query", queries, 100, 8)
    finally:
        process.terminate()
        process.wait(timeout=20)
    with capsys.disabled():
        print(f"\nload test: {result}")
    assert result["queries"] == 100 and result["errors"] == 0, result["error_samples"]
    assert process.returncode is not None
    assert subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True).stdout == b""
