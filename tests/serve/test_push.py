"""`smqi push`: Graph Store Protocol upload to a writable Oxigraph server on loopback, and its errors."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from kg.cli import main
from kg.serve.push import PushError, push, read_graphs
from kg.serve.server import free_port, start_server
from kg.io.store import query_endpoint

SHEETS = Path(__file__).parents[1] / "fixtures" / "sheets"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("push") / "build"
    assert main(["build", "--out", str(out), "--no-owl", "--data", str(SHEETS / "valid"), "--quiet"]) == 0
    return out / "smqi.trig"


def test_push_round_trip(built: Path, capsys: pytest.CaptureFixture) -> None:
    graphs = read_graphs(built)
    assert "https://w3id.org/smqi/graph/evidence" in graphs
    with start_server(None, writable=True) as server:
        assert main(["push", server.store_url, "--from", str(built)]) == 0
        out = capsys.readouterr().out
        assert f"Pushed {len(graphs)} graphs" in out and server.store_url in out
        rows = query_endpoint(server.query_url, "studies-per-platform").rows
        assert {str(r[0]) for r in rows} == {"twitter", "rating-site", "facebook", "online-forum"}
        # pushing again replaces each graph (PUT), it does not add to it
        result = push(server.store_url, built)
        assert result.counts == {g: len(set(q)) for g, q in graphs.items()}


def test_push_only_one_graph(built: Path) -> None:
    evidence = "https://w3id.org/smqi/graph/evidence"
    with start_server(None, writable=True) as server:
        result = push(server.store_url, built, graphs=[evidence])
        assert list(result.counts) == [evidence] and result.counts[evidence] > 10


def test_refused_connection_exits_2_naming_the_url(built: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/store"  # nothing listens there
    assert main(["push", url, "--from", str(built)]) == 2
    err = capsys.readouterr().err
    assert url in err and "connection refused" in err and "Traceback" not in err


class _Stub(http.server.BaseHTTPRequestHandler):
    """Accepts the first PUT, answers HTTP 500 to the next: a partial upload."""

    puts = 0

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).puts += 1
        if type(self).puts == 1:
            self.send_response(204)
            self.end_headers()
        else:
            body = b"disk full"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def test_http_500_is_a_partial_upload_error(built: Path, capsys: pytest.CaptureFixture) -> None:
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{stub.server_address[1]}/store"
        assert main(["push", url, "--from", str(built)]) == 2
        err = capsys.readouterr().err
        assert url in err and "HTTP 500" in err and "disk full" in err and "Traceback" not in err
        assert "uploaded before the failure" in err and "not sent" in err
    finally:
        stub.shutdown()
        stub.server_close()


def test_bad_url_and_unknown_graph(built: Path) -> None:
    from kg.model.errors import UsageError

    with pytest.raises(UsageError):
        push("ftp://example.org/store", built)
    with pytest.raises(UsageError):
        push("http://127.0.0.1:1/store", built, graphs=["urn:no:such:graph"])
    assert issubclass(PushError, Exception) and PushError.exit_code == 2


def test_default_query_url_beside_the_graph_store() -> None:
    from kg.serve.push import default_query_url

    assert default_query_url("http://127.0.0.1:7878/store") == "http://127.0.0.1:7878/query"
    assert default_query_url("http://h:8890/sparql-graph-crud") == "http://h:8890/sparql"
    assert default_query_url("http://h:8890/sparql-graph-crud-auth") == "http://h:8890/sparql"
    assert default_query_url("http://h:9999/other/gsp") == "http://h:9999/other/gsp"


class _NoCounts(http.server.BaseHTTPRequestHandler):
    """Takes every PUT; refuses every query with HTTP 500."""

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"query engine down"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def test_a_count_that_fails_names_the_query_url_and_method(built: Path, capsys: pytest.CaptureFixture) -> None:
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoCounts)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{stub.server_address[1]}"
        assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
        assert capsys.readouterr().err == (
            f"smqi push: error: push to {base}/store: every graph was sent, but counting them through "
            f"{base}/query failed: the endpoint answered the query (form POST) with HTTP 500 "
            "Internal Server Error: query engine down\n")
    finally:
        stub.shutdown()
        stub.server_close()
