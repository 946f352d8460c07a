"""The read-only front of `smqi serve` (kg/serve/front.py) is sound (issue 16).

SERVICE hidden by nesting is refused whatever the depth (and never reaches the loopback stub); the
timeout stops every kind of answer with a 503 sent before any byte of a partial answer; answers are
counted and converted whatever the format; 50 parallel POSTs are all answered, none reset. The
store is made up (300 triples); every server listens on 127.0.0.1. The timeout tests use queries
that cannot finish (cartesian products of 300^4 solutions), so no timing is assumed.
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.model.limits import DEFAULTS
from kg.serve.front import start_front
from kg.serve.server import start_server

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NESTING = DEFAULTS["SMQI_MAX_QUERY_NESTING"]
PRODUCT = "?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l"  # 300^4 solutions: cannot finish
STOPPED = "the query was stopped after the timeout of 2 s\n"


def post(url: str, query: str, accept: str = "application/sparql-results+json") -> tuple[int, str, str]:
    request = urllib.request.Request(url, data=query.encode(), headers={
        "Content-Type": "application/sparql-query", "Accept": accept})
    try:
        with OPENER.open(request, timeout=300) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


@pytest.fixture(scope="module")
def endpoint(small_store: Path):
    """A generous timeout: every query sent here finishes, however loaded the machine is."""
    with start_server(small_store, "127.0.0.1", timeout=300) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=50, timeout=300) as front:
            yield front


@pytest.fixture(scope="module")
def hasty(small_store: Path):
    """A 2 s timeout, for queries that cannot finish in any time."""
    with start_server(small_store, "127.0.0.1", timeout=2) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=50, timeout=2) as front:
            yield front


class Stub:
    """A loopback HTTP server that records every request it gets (it should get none)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *_args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sparql"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def stub():
    running = Stub()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.mark.parametrize("depth", [NESTING + 1, 2_000, 150_000])
def test_service_nested_deep_is_refused_before_parsing(endpoint, stub, depth: int) -> None:
    query = "SELECT * WHERE " + "{ " * depth + f"SERVICE <{stub.url}> {{ ?s ?p ?o }}" + " }" * depth
    status, _ctype, body = post(endpoint.query_url, query)
    assert (status, body) == (400, f"the query: line 1: the query nests brackets ({{ }}, ( ), [ ]) more than "
                                   f"{NESTING} levels deep; smqi reads at most {NESTING} "
                                   "(SMQI_MAX_QUERY_NESTING): write it flatter\n")
    assert stub.hits == []


@pytest.mark.parametrize("levels", [2, 3, 8])
def test_service_in_nested_exists_is_refused(endpoint, stub, levels: int) -> None:
    """rdflib's algebra drops a SERVICE inside FILTER EXISTS inside FILTER EXISTS; Oxigraph would run it."""
    query = ("SELECT * WHERE { ?s ?p ?o " + "FILTER EXISTS { ?s ?p ?o " * levels
             + f"SERVICE <{stub.url}> {{ ?s ?p ?o }}" + " }" * levels + " }")
    status, _ctype, body = post(endpoint.query_url, query)
    assert status == 403 and body.startswith(f"the query: SERVICE <{stub.url}> would send the query"), body
    assert stub.hits == []


def test_service_in_a_long_chain_is_refused(endpoint, stub) -> None:
    """Deep algebra without deep brackets: 600 OPTIONALs in a row, then SERVICE."""
    query = "SELECT * WHERE { ?a ?b ?c " + "OPTIONAL { ?a ?b ?c } " * 600 + f"SERVICE <{stub.url}> {{ ?s ?p ?o }} }}"
    status, _ctype, body = post(endpoint.query_url, query)
    assert status == 403 and "SERVICE" in body, (status, body[:300])
    assert stub.hits == []


@pytest.mark.parametrize("accept", ["text/turtle", "application/rdf+xml", "application/n-triples"])
def test_construct_past_the_timeout_is_503_not_a_cut_answer(hasty, accept: str) -> None:
    query = f"CONSTRUCT {{ ?a <urn:q> ?d . ?g <urn:r> ?j }} WHERE {{ {PRODUCT} }}"
    assert post(hasty.query_url, query, accept) == (503, "text/plain; charset=utf-8", STOPPED)


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "text/csv", "application/sparql-results+xml"])
def test_count_over_a_product_is_503(hasty, accept: str) -> None:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ {PRODUCT} }}"
    assert post(hasty.query_url, query, accept) == (503, "text/plain; charset=utf-8", STOPPED)


def test_construct_is_counted_and_converted(endpoint) -> None:
    status, _ctype, body = post(endpoint.query_url, "CONSTRUCT WHERE { ?s ?p ?o }", "text/turtle")
    assert (status, body) == (413, "the answer has more than 50 rows, the limit (smqi serve --max-rows); "
                                   "add a LIMIT\n")
    query = "CONSTRUCT { ?s <urn:q> ?o } WHERE { ?s ?p ?o FILTER(?o IN (\"1\", \"2\", \"3\")) }"
    expected = {(f"urn:s:{i}", "urn:q", str(i)) for i in (1, 2, 3)}
    for accept, fmt in (("text/turtle", ox.RdfFormat.TURTLE), ("application/rdf+xml", ox.RdfFormat.RDF_XML),
                        ("application/n-triples;q=0.5, application/ld+json", ox.RdfFormat.JSON_LD)):
        status, ctype, body = post(endpoint.query_url, query, accept)
        assert status == 200 and ctype.split(";")[0] == fmt.media_type, (accept, status, ctype, body[:200])
        triples = {(t.subject.value, t.predicate.value, t.object.value) for t in ox.parse(body.encode(), format=fmt)}
        assert triples == expected
    assert post(endpoint.query_url, query, "image/png")[0] == 406


def test_select_is_converted_exactly(endpoint) -> None:
    query = "SELECT ?o WHERE { <urn:s:7> ?p ?o }"
    assert post(endpoint.query_url, query, "text/csv")[1:] == ("text/csv; charset=utf-8", "o\r\n7\r\n")
    assert post(endpoint.query_url, query, "text/tab-separated-values")[2] == '?o\n"7"\n'
    status, ctype, body = post(endpoint.query_url, "ASK { <urn:s:7> ?p \"7\" }", "application/sparql-results+xml")
    assert status == 200 and ctype == "application/sparql-results+xml" and "<boolean>true</boolean>" in body


def test_fifty_parallel_posts_are_all_answered(endpoint) -> None:
    query = "SELECT ?s WHERE { ?s <urn:p> ?o FILTER(STRSTARTS(?o, '1')) } ORDER BY ?s LIMIT 40"
    results: list[object] = [None] * 50
    barrier = threading.Barrier(len(results))

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = post(endpoint.query_url, query)[0]
        except OSError as exc:  # a reset connection
            results[i] = repr(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 50


def test_busy_front_refuses_with_503(small_store: Path) -> None:
    """One slot, held by a query that cannot finish: 20 more parallel POSTs each get 200 or 503
    (busy, or stopped), never a reset; the slot is free again afterwards."""
    with start_server(small_store, "127.0.0.1", timeout=2) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=50, timeout=2, max_concurrent=1) as front:
            queries = [f"SELECT (COUNT(*) AS ?n) WHERE {{ {PRODUCT} }}"] + ["ASK { ?s ?p ?o }"] * 20
            results: list[object] = [None] * len(queries)

            def one(i: int) -> None:
                try:
                    results[i] = post(front.query_url, queries[i])
                except OSError as exc:
                    results[i] = repr(exc)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(queries))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert results[0] == (503, "text/plain; charset=utf-8", STOPPED)
            busy = (503, "text/plain; charset=utf-8", "the endpoint is busy (1 queries running); try again\n")
            done = (200, "application/sparql-results+json", '{"head":{},"boolean":true}')
            assert all(r in (busy, done, results[0]) for r in results[1:]), results
            assert post(front.query_url, "ASK { ?s ?p ?o }") == done
