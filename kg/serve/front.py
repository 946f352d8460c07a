"""The read-only front of `smqi serve`: a small HTTP proxy in front of the Oxigraph server.

The Oxigraph server (0.5) has no switch for federation: a ``SERVICE <http://host/…>`` clause makes
it send the query to that host (tests/test_hostile.py shows it reaching a loopback stub). Nor does
it cap the size of an answer. So `smqi serve` runs Oxigraph on a private loopback port and puts this
front on the address the user asked for. The front

- answers only ``GET /query?query=…`` and ``POST /query`` (``application/sparql-query`` or a form
  with ``query=``); every other path and method (``/update``, ``/store``, PUT, DELETE, …) gets 403;
- parses each query with rdflib and refuses SPARQL Update (403), any SERVICE clause (403) and text
  that does not parse (400), on the parsed algebra (kg/sparqlguard.py), before Oxigraph sees it;
- refuses a request body over ``SMQI_MAX_REQUEST_BYTES`` (413);
- counts the rows of the answer and refuses one of more than ``--max-rows`` rows (413, "add a
  LIMIT"), so a client never receives a silently cut answer;
- turns Oxigraph's timeout (``--timeout``; Oxigraph has then already begun a 200 answer and ends it
  with a "cancelled" notice) into a clean 503.

Answers are read whole before they are sent, bounded by the row limit and ``max_bytes``.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kg.model.errors import UsageError
from kg.serve.endpoint import HttpEndpoint
from kg.check.guard import QueryRefused, check_query

__all__ = ["Front", "start_front"]

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DEFAULT_ACCEPT = "application/sparql-results+json"
MAX_BYTES = 512 * 1024 * 1024


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def count_rows(content_type: str, body: bytes) -> int | None:
    """Rows (solutions, or triples for line-based RDF) in an answer; None when it cannot be told."""
    kind = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace")
    if kind in ("application/sparql-results+json", "application/json"):
        document = json.loads(text)
        if "boolean" in document:
            return 1
        return len(document["results"]["bindings"])
    if kind == "text/csv":
        return max(0, len(list(csv.reader(io.StringIO(text)))) - 1)
    if kind == "text/tab-separated-values":
        return max(0, len([line for line in text.split("\n") if line]) - 1)
    if kind == "application/sparql-results+xml":
        import xml.etree.ElementTree as ET

        root = ET.fromstring(text)  # noqa: S314 (Oxigraph's own output)
        return sum(1 for el in root.iter() if el.tag.endswith("}result") or el.tag == "result") or \
            (1 if any(el.tag.endswith("boolean") for el in root.iter()) else 0)
    if kind in ("application/n-triples", "application/n-quads"):
        return len([line for line in text.split("\n") if line.strip() and not line.startswith("#")])
    return None


_PARSE_LOCK = threading.Lock()  # rdflib's (pyparsing's) parser is not thread-safe


@lru_cache(maxsize=512)
def _verdict(text: str) -> tuple[int, str] | None:
    """None when the query may run, else (HTTP status, message); cached by query text."""
    with _PARSE_LOCK:
        try:
            check_query(text, "the query", allow_service=False, refuse_from=False)
        except QueryRefused as exc:
            return 403, str(exc)
        except UsageError as exc:
            return 400, str(exc)
    return None


def _cancelled(body: bytes) -> bool:
    tail = body[-2000:].decode("utf-8", "replace").lower()
    return "cancel" in tail or "timeout" in tail or "timed out" in tail


@dataclass
class Front(HttpEndpoint):
    """A running front: ``url`` is its query endpoint; ``stop()`` shuts it down."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread
    host: str
    port: int

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> "Front":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _handler(backend_query_url: str, max_rows: int, timeout: float, max_request: int):
    class Handler(BaseHTTPRequestHandler):
        server_version = "smqi-serve"
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:  # quiet; errors go back to the client
            pass

        def _drain(self, length: int) -> None:
            """Read and drop an over-long body (up to a bound) so the client sees the 413 answer
            instead of a broken pipe; past the bound the connection is simply closed."""
            self.close_connection = True
            left = length if length <= 16 * max_request else 0
            self.connection.settimeout(5)
            try:
                while left > 0:
                    chunk = self.rfile.read(min(left, 65536))
                    if not chunk:
                        break
                    left -= len(chunk)
            except OSError:
                pass

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _refuse(self, status: int, message: str) -> None:
            self._send(status, (message + "\n").encode("utf-8"))

        def _query_text(self) -> str:
            parsed = urllib.parse.urlsplit(self.path)
            if parsed.path.rstrip("/") not in ("/query", "/sparql"):
                raise _Refused(403, f"{parsed.path}: this endpoint is read-only; only /query answers "
                                    "(no /update, no Graph Store writes)")
            params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            if self.command == "GET":
                if "update" in params:
                    raise _Refused(403, "SPARQL Update is refused: this endpoint is read-only")
                values = params.get("query")
                if not values:
                    raise _Refused(400, "give the query as ?query=…")
                return values[0]
            length_text = self.headers.get("Content-Length") or "0"
            if not length_text.isascii() or not length_text.isdigit():
                raise _Refused(400, "bad Content-Length")
            length = int(length_text)
            if length > max_request:
                self._drain(length)
                raise _Refused(413, f"the request is {length:,} bytes, over the limit of {max_request:,} "
                                    "(SMQI_MAX_REQUEST_BYTES)")
            body = self.rfile.read(length).decode("utf-8", "replace")
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "application/sparql-update":
                raise _Refused(403, "SPARQL Update is refused: this endpoint is read-only")
            if ctype == "application/x-www-form-urlencoded":
                form = urllib.parse.parse_qs(body, keep_blank_values=True)
                if "update" in form:
                    raise _Refused(403, "SPARQL Update is refused: this endpoint is read-only")
                if not form.get("query"):
                    raise _Refused(400, "give the query as the form field query=…")
                return form["query"][0]
            if ctype in ("application/sparql-query", ""):
                return body
            raise _Refused(415, f"Content-Type {ctype!r}: use application/sparql-query or a form")

        def _answer(self) -> None:
            try:
                text = self._query_text()
                verdict = _verdict(text)
                if verdict is not None:
                    raise _Refused(*verdict)
                accept = self.headers.get("Accept") or DEFAULT_ACCEPT
                if accept.strip() in ("*/*", ""):
                    accept = DEFAULT_ACCEPT
                request = urllib.request.Request(
                    backend_query_url, data=text.encode("utf-8"), method="POST",
                    headers={"Content-Type": "application/sparql-query; charset=utf-8", "Accept": accept})
                try:
                    # Oxigraph stops the query after ``timeout``; the front waits a second more and then
                    # answers 503 itself (some queries, e.g. a COUNT over a product, are not stopped at once)
                    with OPENER.open(request, timeout=timeout + 1) as response:
                        ctype = response.headers.get("Content-Type", "application/octet-stream")
                        body = response.read(MAX_BYTES + 1)
                        status = response.status
                except urllib.error.HTTPError as exc:
                    detail = exc.read(4000)
                    self._send(exc.code, detail, exc.headers.get("Content-Type", "text/plain"))
                    return
                except (urllib.error.URLError, OSError) as exc:
                    reason = getattr(exc, "reason", exc)
                    if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                        raise _Refused(503, f"the query was stopped after the timeout of {timeout:g} s") from None
                    raise _Refused(502, f"the Oxigraph server did not answer: {exc}") from None
                if len(body) > MAX_BYTES:
                    raise _Refused(413, f"the answer is over {MAX_BYTES:,} bytes; add a LIMIT")
                try:
                    rows = count_rows(ctype, body)
                except Exception:  # a body cut short: Oxigraph's timeout notice
                    if _cancelled(body):
                        raise _Refused(503, f"the query was stopped after the timeout of {timeout:g} s") from None
                    raise _Refused(502, "the Oxigraph server sent an answer that cannot be read") from None
                if ctype.startswith(("text/csv", "text/tab-separated-values")) and b"cancel" in body[-300:].lower():
                    raise _Refused(503, f"the query was stopped after the timeout of {timeout:g} s")
                if rows is not None and rows > max_rows:
                    raise _Refused(413, f"the answer has {rows:,} rows, more than the limit of {max_rows:,} "
                                        "(smqi serve --max-rows); add a LIMIT")
                self._send(status, body, ctype)
            except _Refused as exc:
                self._refuse(exc.status, str(exc))

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            self._answer()

        def _forbidden(self) -> None:
            length = self.headers.get("Content-Length") or "0"
            if length.isascii() and length.isdigit() and int(length) <= max_request:
                self.rfile.read(int(length))
            else:
                self.close_connection = True
            self._refuse(403, "this endpoint is read-only: no updates, no Graph Store writes")

        do_PUT = do_DELETE = do_PATCH = _forbidden  # noqa: N815

    return Handler


def start_front(backend_query_url: str, host: str = "127.0.0.1", port: int = 0, *,
                max_rows: int | None = None, timeout: float = 30.0) -> Front:
    """Serve the read-only front on ``host:port`` (0: any free port) in a background thread."""
    from kg.model.limits import max_request_bytes, max_rows_served

    handler = _handler(backend_query_url, max_rows or max_rows_served(), timeout, max_request_bytes())
    ThreadingHTTPServer.allow_reuse_address = True
    try:
        httpd = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="smqi-serve-front", daemon=True)
    thread.start()
    return Front(httpd, thread, host, httpd.server_address[1])
