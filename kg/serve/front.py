"""The read-only front of `smqi serve`: a small HTTP proxy in front of the Oxigraph server.

The Oxigraph server (0.5) has no switch for federation: a ``SERVICE <http://host/…>`` clause makes
it send the query to that host (tests/serve/test_hostile.py shows it reaching a loopback stub). Nor
does it cap the size of an answer, and past its timeout it ends a 200 answer it has begun with a
"cancelled" notice. So `smqi serve` runs Oxigraph on a private loopback port and puts this front on
the address the user asked for. The front

- speaks the SPARQL 1.1 Protocol on ``/query`` (and ``/sparql``): GET, HEAD and POST
  (``application/sparql-query`` or a form with ``query=``); exactly one query (two are 400); a POST
  body without a Content-Type, or of another type or charset, is 415; ``GET /query`` without a
  query answers the service description (kg/serve/describe.py; Turtle by default). The dataset of
  a request (``default-graph-uri`` / ``named-graph-uri``, else the query's FROM / FROM NAMED) is
  honoured when it names graphs of the served dataset and passed to Oxigraph as protocol
  parameters (its union default graph ignores FROM); any other IRI is 400 and nothing is fetched;
- answers in the client's format by Accept; without one, or for ``*/*``: SPARQL JSON for SELECT
  and ASK, Turtle for CONSTRUCT and DESCRIBE; every read carries ``Access-Control-Allow-Origin: *``
  and OPTIONS answers the CORS preflight (reads only);
- serves the query page at ``/`` (kg/serve/page.py) and the Linked Data description of an IRI of
  the dataset (``GET /kg/study/ahne2020``, ``/vocab/…``, ``/describe?uri=…``; 404 when the dataset
  says nothing about it);
- refuses every write: ``/update``, ``/store``, PUT, DELETE, PATCH and any update request get 403;
- refuses a query nested deeper than ``SMQI_MAX_QUERY_NESTING`` before any parser sees it (400),
  then parses it with rdflib and refuses SPARQL Update (403), any SERVICE clause at any depth (403)
  and text that does not parse (400), before Oxigraph sees it (kg/check/guard.py);
- refuses a request body over ``SMQI_MAX_REQUEST_BYTES`` (413);
- asks Oxigraph for a format it checks whole (SPARQL JSON results, N-Triples for CONSTRUCT and
  DESCRIBE), reads the whole answer into memory (at most ``MAX_BYTES``) within the timeout,
  counts its rows and only then answers, in the format the client asked for (converted by
  pyoxigraph): more than ``--max-rows`` rows is 413 ("add a LIMIT"); no whole answer by the
  timeout, or one Oxigraph cut short, is 503 before any byte of it is sent. A client never receives
  a silently cut answer, whatever the format;
- runs at most ``max_concurrent`` queries at once; a request waits for a free slot up to the
  timeout (the listen queue holds 128 connections) and is then refused with 503, never reset.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyoxigraph as ox

from kg.model.errors import DataError, UsageError
from kg.serve.endpoint import HttpEndpoint
from kg.check.guard import QueryRefused, check_dataset, check_nesting, check_query, query_dataset
from kg.model.namespaces import BASE
from kg.serve.describe import (GRAPH_FORMATS, PREFIXES, RESULT_FORMATS, describe_html, describe_query, is_served_iri,
                               service_description, wants_html)
from kg.serve.page import query_page
from kg.io.remote import RemoteTimeout, RemoteTooLarge, fetch

IDLE_S = 60.0

__all__ = ["IDLE_S", "Backend", "Front", "start_front", "count_rows", "MAX_BYTES", "MAX_CONCURRENT"]

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_BYTES = 512 * 1024 * 1024
MAX_CONCURRENT = 8
GRACE_S = 1.0  # Oxigraph stops a query after the timeout; the front waits this much more for its answer
RESULTS_JSON = ox.QueryResultsFormat.JSON
DEFAULT_RESULTS = ox.QueryResultsFormat.JSON
DEFAULT_GRAPH = ox.RdfFormat.TURTLE


def _content_type(out) -> str:
    kind = out.media_type
    return kind + ("; charset=utf-8" if kind.startswith("text/") and "charset" not in kind else "")


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def count_rows(body: bytes, graph: bool, stop_after: int | None = None) -> int:
    """Rows of a whole answer from Oxigraph: triples of N-Triples (``graph``), else solutions of
    SPARQL JSON results (1 for a boolean), counted up to ``stop_after`` + 1 at most. Raises
    SyntaxError or ValueError for a cut or bad answer."""
    rows = ox.parse(body, format=ox.RdfFormat.N_TRIPLES) if graph else \
        ox.parse_query_results(body, format=RESULTS_JSON)
    if isinstance(rows, ox.QueryBoolean):
        return 1
    count = 0
    for _row in rows:
        count += 1
        if stop_after is not None and count > stop_after:
            break
    return count


def _media_types(accept: str) -> list[str]:
    """The media types of an Accept header, most preferred first (q=0 left out)."""
    ranked = []
    for n, part in enumerate(accept.split(",")):
        kind, *params = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if kind and q > 0:
            ranked.append((-q, n, kind.lower()))
    return [kind for _q, _n, kind in sorted(ranked)]


def _output_format(accept: str, graph: bool):
    """The format to answer in (ox.RdfFormat for a graph, ox.QueryResultsFormat otherwise): the
    first acceptable one in the client's order; no Accept, ``*/*`` or ``application/*``: SPARQL JSON
    for SELECT and ASK, Turtle for CONSTRUCT and DESCRIBE (``text/*``: CSV or Turtle)."""
    kinds = _media_types(accept) or ["*/*"]
    for kind in kinds:
        if kind in ("*/*", "application/*"):
            return DEFAULT_GRAPH if graph else DEFAULT_RESULTS
        if kind == "text/*":
            return DEFAULT_GRAPH if graph else ox.QueryResultsFormat.CSV
        found = ox.RdfFormat.from_media_type(kind) if graph else ox.QueryResultsFormat.from_media_type(kind)
        if found is not None and found in (GRAPH_FORMATS if graph else RESULT_FORMATS):
            return found
    offered = ", ".join(f.media_type for f in (GRAPH_FORMATS if graph else RESULT_FORMATS))
    raise _Refused(406, f"Accept {accept!r}: this query's answer can be sent as {offered}")


_PARSE_LOCK = threading.Lock()  # rdflib's (pyparsing's) parser is not thread-safe


@lru_cache(maxsize=512)
def _verdict(text: str) -> tuple[int, str] | tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """(HTTP status, message) when the query is refused, else (whether it answers with a graph
    (CONSTRUCT, DESCRIBE), its FROM IRIs, its FROM NAMED IRIs); cached by query text."""
    try:
        check_nesting(text)  # linear and without recursion: before the lock and before any parser
        with _PARSE_LOCK:
            query = check_query(text, "the query", allow_service=False, refuse_from=False)
    except QueryRefused as exc:
        return 403, str(exc)
    except UsageError as exc:
        return 400, str(exc)
    defaults, named = query_dataset(query)
    return query.algebra.name in ("ConstructQuery", "DescribeQuery"), tuple(defaults), tuple(named)


def _ends_whole(body: bytes, graph: bool) -> bool:
    """Whether an answer ends as a whole one does: N-Triples with a statement's "." (or nothing at
    all), SPARQL JSON with "}". Oxigraph's timeout notice is plain text after what it had sent."""
    tail = body.rstrip()
    return (not tail or tail.endswith(b".")) if graph else tail.endswith(b"}")


def _cancelled(body: bytes) -> bool:
    tail = body[-2000:].decode("utf-8", "replace").lower()
    return "cancel" in tail or "timeout" in tail or "timed out" in tail


@dataclass(frozen=True)
class _Operation:
    """A query request as the protocol reads it: the query text and the dataset it names."""

    text: str
    default_graphs: tuple[str, ...]
    named_graphs: tuple[str, ...]


_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_READS = "GET, HEAD, POST, OPTIONS"
_CORS = {"Access-Control-Allow-Origin": "*"}
_UPDATE_FIELDS = ("update", "using-graph-uri", "using-named-graph-uri")
_READ_ONLY = "SPARQL Update is refused: this endpoint is read-only"


class Backend:
    """The Oxigraph server the front forwards to, swappable while the front runs (a new build): each
    request reads the URL once, so a query in flight finishes on the server it started on, and the
    served graphs are asked again after a swap."""

    def __init__(self, url: str) -> None:
        self._lock = threading.Lock()
        self._url = url
        self._graphs: dict[str, int] = {}

    @property
    def url(self) -> str:
        with self._lock:
            return self._url

    def swap(self, url: str) -> None:
        """Forward every request from now on to ``url``."""
        with self._lock:
            self._url = url
            self._graphs = {}

    def graphs(self, ask) -> dict[str, int]:
        """The served named graphs and their triple counts, asked with ``ask()`` once per backend."""
        with self._lock:
            url, known = self._url, dict(self._graphs)
        if known:
            return known
        found = ask()
        with self._lock:
            if self._url == url:
                self._graphs = dict(found)
        return found


@dataclass
class Front(HttpEndpoint):
    """A running front: ``url`` is its query endpoint; ``stop()`` shuts it down; ``backend.swap(url)``
    forwards to another Oxigraph server (``kg.serve.server.StoreFollower`` does, for a new build)."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread
    host: str
    port: int
    backend: Backend | None = None

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self) -> "Front":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _handler(backend: Backend, max_rows: int, timeout: float, max_request: int, max_concurrent: int):
    slots = threading.BoundedSemaphore(max_concurrent)

    class Handler(BaseHTTPRequestHandler):
        server_version = "smqi-serve"
        timeout = IDLE_S  # a connection that sends nothing for this long is closed (its thread freed)
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

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if status == 503:
                self.send_header("Retry-After", "1")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _refuse(self, status: int, message: str) -> None:
            extra = dict(_CORS) if self.command in ("GET", "HEAD", "POST") else {}
            if status == 405:
                extra["Allow"] = "GET, HEAD"
            self._send(status, (message + "\n").encode("utf-8"), headers=extra)

        def _body(self) -> bytes:
            length_text = self.headers.get("Content-Length") or "0"
            if not length_text.isascii() or not length_text.isdigit():
                raise _Refused(400, "bad Content-Length")
            length = int(length_text)
            if length > max_request:
                self._drain(length)
                raise _Refused(413, f"the request is {length:,} bytes, over the limit of {max_request:,} "
                                    "(SMQI_MAX_REQUEST_BYTES)")
            return self.rfile.read(length)

        def _operation(self, params: dict[str, list[str]]) -> _Operation | None:
            """The query and dataset of a request to /query; None for a GET without a query (the
            service description). Refusals: an update (403), two queries or no query in a POST
            (400), a POST body without a type or of another type or charset (415)."""
            if any(field in params for field in _UPDATE_FIELDS):
                raise _Refused(403, _READ_ONLY)
            if self.command in ("GET", "HEAD"):
                queries = params.get("query", [])
                fields = params
            else:
                raw = self._body()
                ctype, _sep, rest = (self.headers.get("Content-Type") or "").partition(";")
                ctype = ctype.strip().lower()
                charset = next((v.strip().strip('"').lower() for k, _e, v in
                                (p.partition("=") for p in rest.split(";")) if k.strip().lower() == "charset"), "utf-8")
                if not ctype:
                    raise _Refused(415, "a POST needs a Content-Type: application/sparql-query (the query as "
                                        "the body) or application/x-www-form-urlencoded (query=…)")
                if ctype == "application/sparql-update":
                    raise _Refused(403, _READ_ONLY)
                if ctype not in ("application/sparql-query", "application/x-www-form-urlencoded"):
                    raise _Refused(415, f"Content-Type {ctype!r}: use application/sparql-query or "
                                        "application/x-www-form-urlencoded (a form with query=…)")
                if charset not in ("utf-8", "utf8"):
                    raise _Refused(415, f"charset {charset!r}: send the query as UTF-8")
                try:
                    body = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _Refused(400, f"the request body is not UTF-8 (byte {exc.start})") from None
                if ctype == "application/sparql-query":
                    if "query" in params:
                        raise _Refused(400, "two queries: the body and query= in the URL; give one")
                    queries, fields = [body], params
                else:
                    try:
                        form = urllib.parse.parse_qs(body, keep_blank_values=True, errors="strict")
                    except UnicodeDecodeError:
                        raise _Refused(400, "the form is not UTF-8 once decoded") from None
                    if any(field in form for field in _UPDATE_FIELDS):
                        raise _Refused(403, _READ_ONLY)
                    fields = {k: params.get(k, []) + form.get(k, []) for k in set(params) | set(form)}
                    queries = fields.get("query", [])
                if not queries:
                    raise _Refused(400, "give the query as the form field query=…")
            if len(queries) > 1:
                raise _Refused(400, f"{len(queries)} query= parameters: give exactly one query")
            if not queries:
                return None
            return _Operation(queries[0], tuple(dict.fromkeys(fields.get("default-graph-uri", []))),
                              tuple(dict.fromkeys(fields.get("named-graph-uri", []))))

        def _graphs(self) -> dict[str, int]:
            """The named graphs of the served dataset and their triple counts (asked once)."""
            def ask() -> dict[str, int]:
                body = self._ask_backend("SELECT ?g (COUNT(?s) AS ?n) WHERE { GRAPH ?g { OPTIONAL { ?s ?p ?o } } } "
                                         "GROUP BY ?g", False, (), ())
                return {row["g"].value: int(row["n"].value)
                        for row in ox.parse_query_results(body, format=RESULTS_JSON)}

            return backend.graphs(ask)

        def _route(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path
            if path in ("/", "/index.html"):
                if self.command not in ("GET", "HEAD"):
                    raise _Refused(405, f"{self.command} {path}: the query page is read with GET; "
                                        "queries go to /query")
                self._send(200, query_page(), "text/html; charset=utf-8", dict(_CORS))
                return
            params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
            if path == "/describe" or path.startswith(("/kg/", "/vocab/")):
                iri = (params.get("uri") or [""])[0] if path == "/describe" else BASE + path[1:]
                self._linked_data(iri)
                return
            if path.rstrip("/") not in ("/query", "/sparql"):
                raise _Refused(403 if self.command == "POST" or path.startswith(("/update", "/store")) else 404,
                               f"{path}: no such resource; this endpoint is read-only: queries go to /query "
                               "(GET or POST), the query page is /")
            operation = self._operation(params)
            if operation is None:
                self._describe_service()
            else:
                self._answer(operation)

        def _linked_data(self, iri: str) -> None:
            """The triples about one IRI of the dataset (Turtle by default; JSON-LD, N-Triples or
            RDF/XML by Accept); 404 for an IRI the dataset says nothing about."""
            if self.command not in ("GET", "HEAD"):
                raise _Refused(405, f"{self.command}: a resource of the dataset is read with GET")
            try:
                ox.NamedNode(iri)
            except ValueError:
                raise _Refused(400, f"uri={iri!r} is not an IRI; give e.g. /describe?uri={BASE}kg/study/ahne2020") from None
            if not is_served_iri(iri):
                raise _Refused(404, f"<{iri}> is not an IRI of this dataset (they start with {BASE})")
            accept = self.headers.get("Accept") or ""
            html = wants_html(accept)
            out = None if html else _output_format(accept, graph=True)
            body = self._ask_backend(describe_query(iri), True, (), ())
            if not body.strip():
                raise _Refused(404, f"<{iri}>: the dataset has no triple about it")
            if html:
                self._send(200, describe_html(iri, body), "text/html; charset=utf-8", headers={**_CORS, "Vary": "Accept"})
                return
            self._send(200, *self._convert(body, True, out), headers={**_CORS, "Vary": "Accept"})

        def _describe_service(self) -> None:
            host = self.headers.get("Host") or ""
            if not _HOST.match(host):
                address = self.server.server_address
                host = f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
            triples = service_description(f"http://{host}/query", self._graphs())
            out = _output_format(self.headers.get("Accept") or "", graph=True)
            data = ox.serialize(triples, format=out, prefixes=PREFIXES) if out in (
                ox.RdfFormat.TURTLE,) else ox.serialize(triples, format=out)
            self._send(200, data, _content_type(out), {**_CORS, "Vary": "Accept"})

        def _answer(self, operation: _Operation) -> None:
            verdict = _verdict(operation.text)
            if isinstance(verdict[0], int) and not isinstance(verdict[0], bool):
                raise _Refused(*verdict)
            graph, from_defaults, from_named = verdict
            if operation.default_graphs or operation.named_graphs:  # the protocol's dataset wins
                defaults, named = operation.default_graphs, operation.named_graphs
                sources = {"default-graph-uri": list(defaults), "named-graph-uri": list(named)}
            else:
                defaults, named = from_defaults, from_named
                sources = {"FROM": list(defaults), "FROM NAMED": list(named)}
            if defaults or named:
                try:
                    check_dataset(sources, frozenset(self._graphs()))
                except UsageError as exc:
                    raise _Refused(400, str(exc)) from None
            out = _output_format(self.headers.get("Accept") or "", graph)
            body = self._ask_backend(operation.text, graph, defaults, named)
            self._send(200, *self._convert(body, graph, out), headers={**_CORS, "Vary": "Accept"})

        def _ask_backend(self, text: str, graph: bool, defaults: tuple[str, ...], named: tuple[str, ...]) -> bytes:
            """Oxigraph's whole answer (N-Triples or SPARQL JSON), checked and counted; the dataset
            is passed as the protocol's parameters (Oxigraph's union default graph ignores FROM)."""
            if not slots.acquire(timeout=timeout):
                raise _Refused(503, f"the endpoint is busy ({max_concurrent} queries running); try again")
            try:
                return self._ask_backend_now(text, graph, defaults, named)
            finally:
                slots.release()

        def _ask_backend_now(self, text: str, graph: bool, defaults: tuple[str, ...], named: tuple[str, ...]) -> bytes:
            stopped = f"the query was stopped after the timeout of {timeout:g} s"
            dataset = urllib.parse.urlencode([("default-graph-uri", g) for g in defaults] +
                                             [("named-graph-uri", g) for g in named])
            request = urllib.request.Request(
                backend.url + (f"?{dataset}" if dataset else ""), data=text.encode("utf-8"), method="POST",
                headers={"Content-Type": "application/sparql-query; charset=utf-8",
                         "Accept": "application/n-triples" if graph else "application/sparql-results+json"})
            try:
                answer = fetch(request, timeout=timeout + GRACE_S, max_bytes=MAX_BYTES, opener=OPENER,
                               what="the Oxigraph server")
            except RemoteTimeout:
                raise _Refused(503, stopped) from None
            except RemoteTooLarge:
                raise _Refused(413, f"the answer is over {MAX_BYTES:,} bytes; add a LIMIT") from None
            except (DataError, urllib.error.URLError, OSError) as exc:
                raise _Refused(502, f"the Oxigraph server did not answer: {exc}") from None
            if answer.status >= 400:
                raise _Refused(answer.status, answer.body[:4000].decode("utf-8", "replace"))
            unreadable = _Refused(502, "the Oxigraph server sent an answer that cannot be read")
            if not _ends_whole(answer.body, graph):  # cut short: Oxigraph ends it with a "cancelled" notice
                raise (_Refused(503, stopped) if _cancelled(answer.body) else unreadable)
            try:
                rows = count_rows(answer.body, graph, stop_after=max_rows)
            except (SyntaxError, ValueError):
                raise (_Refused(503, stopped) if _cancelled(answer.body) else unreadable) from None
            if rows > max_rows:
                raise _Refused(413, f"the answer has more than {max_rows:,} rows, the limit "
                                    "(smqi serve --max-rows); add a LIMIT")
            return answer.body

        def _convert(self, body: bytes, graph: bool, out) -> tuple[bytes, str]:
            """The checked answer in the format ``out`` and its Content-Type."""
            if graph:
                data = body if out == ox.RdfFormat.N_TRIPLES else \
                    ox.serialize(ox.parse(body, format=ox.RdfFormat.N_TRIPLES), format=out)
            else:
                data = body if out == RESULTS_JSON else \
                    ox.parse_query_results(body, format=RESULTS_JSON).serialize(format=out)
            return data, _content_type(out)

        def _handle(self) -> None:
            try:
                self._route()
            except _Refused as exc:
                self._refuse(exc.status, str(exc))

        do_GET = do_HEAD = do_POST = _handle  # noqa: N815 (http.server's naming)

        def do_OPTIONS(self) -> None:  # noqa: N802
            """CORS preflight and the methods allowed: reads only."""
            self._send(204, b"", headers={"Allow": _READS, "Access-Control-Allow-Origin": "*",
                                          "Access-Control-Allow-Methods": _READS,
                                          "Access-Control-Allow-Headers": "Accept, Content-Type",
                                          "Access-Control-Max-Age": "600"})

        def _forbidden(self) -> None:
            length = self.headers.get("Content-Length") or "0"
            if length.isascii() and length.isdigit() and int(length) <= max_request:
                self.rfile.read(int(length))
            else:
                self.close_connection = True
            self._refuse(403, "this endpoint is read-only: no updates, no Graph Store writes")

        do_PUT = do_DELETE = do_PATCH = _forbidden  # noqa: N815

    return Handler

class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 made the kernel reset connections under 50 parallel POSTs
    allow_reuse_address = True
    daemon_threads = True


def start_front(backend_query_url: str, host: str = "127.0.0.1", port: int = 0, *,
                max_rows: int | None = None, timeout: float = 30.0,
                max_concurrent: int = MAX_CONCURRENT) -> Front:
    """Serve the read-only front on ``host:port`` (0: any free port) in a background thread.

    At most ``max_concurrent`` queries run at once; others wait for a slot up to ``timeout``."""
    from kg.model.limits import max_request_bytes, max_rows_served

    backend = Backend(backend_query_url)
    handler = _handler(backend, max_rows or max_rows_served(), timeout, max_request_bytes(), max_concurrent)
    try:
        httpd = _Server((host, port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    thread = threading.Thread(target=httpd.serve_forever, name="smqi-serve-front", daemon=True)
    thread.start()
    return Front(httpd, thread, host, httpd.server_address[1], backend)
