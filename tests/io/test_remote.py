"""kg/io/remote.py: remote answers are bounded in total time and bytes (issue 16), and a query goes to
a remote endpoint as a form POST, or a GET where that is refused (issue 13).

Loopback servers made up for the test: one drips its answer one byte a second (in the body, or
already in the status line), one sends an answer far over a small byte limit. `smqi link URL`,
`smqi push` and `smqi query --endpoint` each end with a clear message, not a hang. The limits are
set small for the test (a 1.5 s deadline, SMQI_MAX_REMOTE_BYTES=1000); the drip never ends on its
own, so no timing is assumed. A second loopback stub records each query request and answers as told.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kg.cli import main
from kg.io.queries import NamedQuery
from kg.io.remote import FORM_POST, GET, RemoteError, RemoteTimeout, RemoteTooLarge, fetch, sparql_query
from kg.io.store import query_endpoint
from kg.serve.push import PushError, push
from kg.serve.server import free_port

RESULTS = json.dumps({"head": {"vars": ["s", "p", "o"]}, "results": {"bindings": []}}).encode()


class Server:
    """A loopback HTTP server whose every answer is given by ``mode``: "drip" (status and headers,
    then one byte of the body a second), "drip-status" (the status line itself one byte a second),
    "oversize" (a valid answer of 5,000,000 bytes) or "ok"."""

    def __init__(self, mode: str) -> None:
        self.stop = threading.Event()
        stop = self.stop

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                try:
                    if mode == "drip-status":
                        for byte in head:
                            if stop.wait(1.0):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        return
                    if mode == "oversize":
                        padding = b" " * 5_000_000
                        body = RESULTS[:-1] + padding + b"}"
                    else:
                        body = RESULTS
                    self.wfile.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode())
                    if mode == "drip":
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if stop.wait(1.0):
                                return
                    else:
                        self.wfile.write(body)
                except OSError:  # the client gave up: that is the point
                    return

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *_args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/sparql"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["drip", "drip-status"])
def drip(request):
    server = Server(request.param)
    yield server
    server.close()


@pytest.fixture()
def oversize():
    server = Server("oversize")
    yield server
    server.close()


def request_to(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, data=b"query=ASK%7B%7D", method="POST")


def test_drip_feed_ends_at_the_total_deadline(drip) -> None:
    with pytest.raises(RemoteTimeout) as caught:
        fetch(request_to(drip.url), timeout=1.5, what="the test endpoint")
    assert str(caught.value) == ("the test endpoint: no complete answer within 1.5 s (the time allowed for "
                                 "the whole answer, not for each read)")


def test_oversize_answer_is_cut_at_the_limit(oversize, monkeypatch) -> None:
    monkeypatch.setenv("SMQI_MAX_REMOTE_BYTES", "1000")
    with pytest.raises(RemoteTooLarge) as caught:
        fetch(request_to(oversize.url), timeout=60)
    assert str(caught.value) == (f"{oversize.url}: the answer is longer than 1,000 bytes; smqi stopped reading "
                                 "(raise the limit with the environment variable SMQI_MAX_REMOTE_BYTES)")
    with pytest.raises(RemoteTooLarge, match="longer than 10 bytes"):
        fetch(request_to(oversize.url), timeout=60, max_bytes=10)


def test_whole_answer_within_the_limits() -> None:
    server = Server("ok")
    try:
        answer = fetch(request_to(server.url), timeout=60, max_bytes=len(RESULTS))
        assert (answer.status, answer.content_type, answer.body) == (200, "application/sparql-results+json", RESULTS)
    finally:
        server.close()


def _ours(tmp_path: Path) -> Path:
    graph = tmp_path / "ours.ttl"
    graph.write_text("<urn:s> <urn:p> <urn:o> .\n", encoding="utf-8")
    return graph


def test_link_to_a_dripping_endpoint(drip, tmp_path: Path, capsys) -> None:
    assert main(["link", drip.url, "--timeout", "1.5", "--graph", str(_ours(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert f"{drip.url} (the SPARQL endpoint): no complete answer within 1.5 s" in err and "Traceback" not in err


def test_link_to_an_oversize_answer(oversize, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SMQI_MAX_REMOTE_BYTES", "1000")
    assert main(["link", oversize.url, "--graph", str(_ours(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert f"{oversize.url} (the SPARQL endpoint): the answer is longer than 1,000 bytes" in err


def test_query_endpoint_drip_and_oversize(drip, oversize, tmp_path: Path, capsys, monkeypatch) -> None:
    query = tmp_path / "q.rq"
    query.write_text("#+ summary: made up\nSELECT ?s WHERE { ?s ?p ?o }\n", encoding="utf-8")
    monkeypatch.setenv("SMQI_MAX_REMOTE_BYTES", "1000")
    assert main(["query", str(query), "--endpoint", oversize.url]) == 2
    assert "the answer is longer than 1,000 bytes" in capsys.readouterr().err
    from kg.io.store import query_endpoint

    with pytest.raises(RemoteTimeout, match=r"no complete answer within 1\.5 s"):
        query_endpoint(drip.url, str(query), timeout=1.5)


def test_push_to_a_dripping_store(drip, tmp_path: Path) -> None:
    trig = tmp_path / "d.trig"
    trig.write_text("<urn:g> { <urn:s> <urn:p> <urn:o> . }\n", encoding="utf-8")
    store = drip.url.replace("/sparql", "/store")
    with pytest.raises(PushError) as caught:
        push(store, trig, timeout=1.5)
    assert str(caught.value) == (f"push to {store} failed: {store}?graph=urn%3Ag: no complete answer within "
                                 "1.5 s (the time allowed for the whole answer, not for each read); failed: urn:g")


def test_push_count_answer_over_the_limit(oversize, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMQI_MAX_REMOTE_BYTES", "1000")
    trig = tmp_path / "d.trig"
    trig.write_text("<urn:g> { <urn:s> <urn:p> <urn:o> . }\n", encoding="utf-8")
    store = oversize.url.replace("/sparql", "/store")
    with pytest.raises(PushError, match=r"failed: .*the answer is longer than 1,000 bytes"):
        push(store, trig, timeout=60)


# ---------------------------------------------------------------- how a query is sent (issue 13)

QUERY = "SELECT ?x WHERE { ?x ?p \"é & =\" }"
QUERY_RESULTS = b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "uri", "value": "urn:x:1"}}]}}'


class _Stub(http.server.BaseHTTPRequestHandler):
    refuse_post: int = 0  # answer a POST with this status (0: answer it)
    status = 200
    seen: list[tuple[str, str, dict]] = []

    def _answer(self, method: str, form: dict) -> None:
        type(self).seen.append((method, self.headers.get("Content-Type", ""), form))
        status = self.refuse_post if method == "POST" and self.refuse_post else self.status
        body = QUERY_RESULTS if status == 200 else b"refused here"
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
    assert (answer.body, answer.content_type, answer.method) == (QUERY_RESULTS, "application/sparql-results+json", FORM_POST)
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
