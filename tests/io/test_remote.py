"""kg.io.remote: how a query is sent to a remote SPARQL endpoint (form POST, GET where refused), on a
loopback stub that records each request and answers as told."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kg.io.queries import NamedQuery
from kg.io.remote import FORM_POST, GET, RemoteError, sparql_query
from kg.io.store import query_endpoint
from kg.serve.server import free_port

QUERY = "SELECT ?x WHERE { ?x ?p \"é & =\" }"
RESULTS = b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "uri", "value": "urn:x:1"}}]}}'


class _Stub(http.server.BaseHTTPRequestHandler):
    refuse_post: int = 0  # answer a POST with this status (0: answer it)
    status = 200
    seen: list[tuple[str, str, dict]] = []

    def _answer(self, method: str, form: dict) -> None:
        type(self).seen.append((method, self.headers.get("Content-Type", ""), form))
        status = self.refuse_post if method == "POST" and self.refuse_post else self.status
        body = RESULTS if status == 200 else b"refused here"
        self.send_response(status)
        self.send_header("Content-Type", "application/sparql-results+json" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
        self._answer("POST", parse_qs(body))

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET", parse_qs(urlsplit(self.path).query))

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture()
def stub():
    handler = type("Handler", (_Stub,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_goes_as_a_form_post(stub) -> None:
    url, handler = stub
    answer = sparql_query(url, QUERY)
    assert (answer.body, answer.content_type, answer.method) == (RESULTS, "application/sparql-results+json", FORM_POST)
    assert handler.seen == [("POST", "application/x-www-form-urlencoded; charset=utf-8", {"query": [QUERY]})]


@pytest.mark.parametrize("status", [405, 415, 501])
def test_a_refused_form_post_is_sent_again_as_get(stub, status: int) -> None:
    url, handler = stub
    handler.refuse_post = status
    assert sparql_query(url, QUERY).method == GET
    assert [(m, form) for m, _t, form in handler.seen] == [("POST", {"query": [QUERY]}), ("GET", {"query": [QUERY]})]
    named = NamedQuery("x", "test", Path("x.rq"), "", "", QUERY)
    assert [str(r[0]) for r in query_endpoint(url, named).rows] == ["urn:x:1"]


def test_other_errors_name_the_url_and_the_method(stub) -> None:
    url, handler = stub
    handler.refuse_post = 500
    with pytest.raises(RemoteError) as err:
        sparql_query(url, QUERY)
    assert str(err.value) == f"{url}: the endpoint answered the query (form POST) with HTTP 500 " \
                             "Internal Server Error: refused here"
    assert len(handler.seen) == 1  # no second try for a server error
    handler.refuse_post, handler.status = 405, 403
    with pytest.raises(RemoteError) as err:
        sparql_query(url, QUERY)
    assert str(err.value) == f"{url}: the endpoint answered the query (GET) with HTTP 403 Forbidden: refused here"


def test_a_query_too_long_for_a_url_is_not_sent_as_get(stub) -> None:
    url, handler = stub
    handler.refuse_post = 405
    with pytest.raises(RemoteError, match=r"\(form POST\) with HTTP 405"):
        sparql_query(url, "SELECT * WHERE { ?s ?p ?o } #" + "x" * 9000)
    assert [m for m, _t, _f in handler.seen] == ["POST"]


def test_a_refused_connection_is_an_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/sparql"
    with pytest.raises(RemoteError) as err:
        sparql_query(url, QUERY)
    assert str(err.value) == f"{url}: cannot ask the SPARQL endpoint (form POST): connection refused " \
                             "(is the store running?)"
