"""`smqi push`: Graph Store Protocol upload to a writable Oxigraph server on loopback, and its errors."""

from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager
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


@contextmanager
def stub_store(handler: type[http.server.BaseHTTPRequestHandler]):
    """A made-up store on a free loopback port answering with ``handler``; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_500_is_a_partial_upload_error(built: Path, capsys: pytest.CaptureFixture) -> None:
    with stub_store(_Stub) as base:
        url = f"{base}/store"
        assert main(["push", url, "--from", str(built)]) == 2
        err = capsys.readouterr().err
        assert url in err and "HTTP 500" in err and "disk full" in err and "Traceback" not in err
        assert "uploaded before the failure" in err and "not sent" in err


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
    with stub_store(_NoCounts) as base:
        assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
        assert capsys.readouterr().err == (
            f"smqi push: error: push to {base}/store: every graph was sent, but counting them through "
            f"{base}/query failed: the endpoint answered the query (form POST) with HTTP 500 "
            "Internal Server Error: query engine down\n")


# ---------------------------------------------------------------- credentials (issue 13)

class _GuardedStore(http.server.BaseHTTPRequestHandler):
    """A made-up Graph Store on loopback that wants HTTP Basic credentials (user "curator", password
    "s3cret-test") for every request: PUT keeps the N-Triples lines per graph, a form-POSTed COUNT
    query answers their number. ``seen`` records each request's Authorization header."""

    graphs: dict[str, int] = {}
    seen: list[str] = []

    def _authorised(self) -> bool:
        import base64

        header = self.headers.get("Authorization", "")
        type(self).seen.append(header)
        if header == "Basic " + base64.b64encode(b"curator:s3cret-test").decode():
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="made-up store"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_PUT(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self._authorised():
            return
        from urllib.parse import parse_qs, urlsplit

        graph = parse_qs(urlsplit(self.path).query).get("graph", ["default"])[0]
        type(self).graphs[graph] = len(set(line for line in body.decode().splitlines() if line.strip()))
        self.send_response(204)
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        import json
        import re
        from urllib.parse import parse_qs

        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        if not self._authorised():
            return
        graph = re.search(r"GRAPH <([^>]+)>", form["query"][0])
        n = type(self).graphs.get(graph.group(1) if graph else "default", 0)
        body = json.dumps({"head": {"vars": ["n"]}, "results": {"bindings": [
            {"n": {"type": "literal", "value": str(n)}}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture()
def guarded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("SMQI_PUSH_USER", raising=False)
    monkeypatch.delenv("SMQI_PUSH_PASSWORD", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    handler = type("Handler", (_GuardedStore,), {"graphs": {}, "seen": []})
    with stub_store(handler) as base:
        yield base, handler


def test_credentials_from_the_environment(built: Path, guarded, monkeypatch: pytest.MonkeyPatch) -> None:
    base, handler = guarded
    monkeypatch.setenv("SMQI_PUSH_USER", "curator")
    monkeypatch.setenv("SMQI_PUSH_PASSWORD", "s3cret-test")
    result = push(f"{base}/store", built, query_url=f"{base}/query")
    expected = {g: len(set(q)) for g, q in read_graphs(built).items()}
    assert result.counts == expected and handler.graphs == expected


def test_credentials_from_a_netrc_file(built: Path, guarded, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    base, handler = guarded
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login curator password s3cret-test\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    result = push(f"{base}/store", built, query_url=f"{base}/query")
    assert result.counts and result.counts == handler.graphs


def test_without_credentials_the_message_says_where_to_give_them(built: Path, guarded, capsys) -> None:
    base, handler = guarded
    assert main(["push", f"{base}/store", "--from", str(built), "--query-url", f"{base}/query",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "give them in SMQI_PUSH_USER and SMQI_PUSH_PASSWORD, or in a netrc file" in err
    assert handler.graphs == {}


def test_wrong_credentials_and_credentials_in_the_url(built: Path, guarded, monkeypatch, capsys) -> None:
    base, handler = guarded
    monkeypatch.setenv("SMQI_PUSH_USER", "curator")
    monkeypatch.setenv("SMQI_PUSH_PASSWORD", "wrong-test")
    assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "(the credentials were refused)" in err and "wrong-test" not in err
    port = base.rsplit(":", 1)[1]
    assert main(["push", f"http://curator:s3cret-test@127.0.0.1:{port}/store", "--from", str(built),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "do not put a user name or password in a URL" in err and "s3cret-test" not in err
    monkeypatch.delenv("SMQI_PUSH_PASSWORD")
    assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
    assert "give both SMQI_PUSH_USER and SMQI_PUSH_PASSWORD" in capsys.readouterr().err


def test_a_bad_netrc_and_userinfo_in_the_query_url(built: Path, guarded, monkeypatch, tmp_path: Path, capsys) -> None:
    """A netrc file that cannot be read is named without quoting any of its tokens (a password with
    a space in it, bytes that are not text); --query-url with credentials in it is refused like the URL."""
    base, _handler = guarded
    bad = tmp_path / "netrc"
    bad.write_text("machine 127.0.0.1 login curator password my secret-part\n", encoding="utf-8")
    bad.chmod(0o600)
    monkeypatch.setenv("NETRC", str(bad))
    assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: not a readable netrc file" in err and "secret-part" not in err  # netrc counts the end
    bad.write_bytes(b"machine 127.0.0.1 login curator password \xff\xfe\n")
    assert main(["push", f"{base}/store", "--from", str(built), "--quiet"]) == 2
    assert "not a readable netrc file" in capsys.readouterr().err
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    port = base.rsplit(":", 1)[1]
    assert main(["push", f"{base}/store", "--from", str(built), "--quiet",
                 "--query-url", f"http://u:s3cret-test@127.0.0.1:{port}/query"]) == 2
    err = capsys.readouterr().err
    assert "--query-url http://…@127.0.0.1: do not put a user name or password in a URL" in err
    assert "s3cret-test" not in err
