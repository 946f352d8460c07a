"""`smqi push URL`: upload the built dataset to a SPARQL 1.1 store with the Graph Store Protocol.

One ``PUT URL?graph=<IRI>`` per named graph (N-Triples body; a non-empty default graph goes to
``URL?default``), then a check through the store's query endpoint that every graph holds as many
triples as were sent. ``URL`` is the store's Graph Store endpoint (Oxigraph: ``http://host:7878/store``);
the query endpoint defaults to the same URL with ``/store`` replaced by ``/query`` (Virtuoso's
``/sparql-graph-crud`` and ``/sparql-graph-crud-auth`` by ``/sparql``; ``--query-url`` gives another).
The counts are asked with :func:`kg.io.remote.sparql_query` (a form POST, or a GET where that is
refused), which every SPARQL 1.1 store answers. Every failure (connection refused, an HTTP error, a graph that did not arrive whole)
is a ``PushError``: exit 2, one message naming the URL and which graphs did and did not arrive.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from kg.model.errors import DataError, SmqiError, UsageError
from kg.io.remote import (PASSWORD_VARIABLE, USER_VARIABLE, Answer, credentials_for, fetch, http_opener,
                           refuse_userinfo, same_host, sparql_query)

__all__ = ["PushError", "PushResult", "push", "read_graphs", "default_query_url"]

DEFAULT = "default graph"


class PushError(SmqiError):
    """The upload or its check failed; the message says what arrived and what did not."""

    exit_code = 2


@dataclass
class PushResult:
    url: str
    query_url: str
    counts: dict[str, int] = field(default_factory=dict)  # graph IRI (or DEFAULT) -> triples
    query_method: str = ""  # how the counts were asked: kg.io.remote.FORM_POST or GET


def default_query_url(url: str) -> str:
    """The query endpoint beside a Graph Store endpoint: ``…/store`` → ``…/query`` (Oxigraph),
    ``…/sparql-graph-crud`` or ``…/sparql-graph-crud-auth`` → ``…/sparql`` (Virtuoso); else ``url``."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/store"):
        path = path[: -len("/store")] + "/query"
    else:
        path = re.sub(r"/sparql-graph-crud(-auth)?$", "/sparql", path) or parts.path
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def read_graphs(source: Path | ox.Store) -> dict[str, list[ox.Quad]]:
    """Quads of each graph in a built file (TriG/N-Quads) or an open store, keyed by graph IRI."""
    graphs: dict[str, list[ox.Quad]] = {}
    if isinstance(source, ox.Store):
        quads = source.quads_for_pattern(None, None, None, None)
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{path}: no such file (run 'smqi build' first, or give --from)")
        fmt = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
        if fmt is None:
            raise UsageError(f"{path}: give a .trig or .nq file (or --store oxigraph:DIR)")
        try:
            quads = list(ox.parse(path=str(path), format=fmt))
        except (SyntaxError, OSError, ValueError) as exc:
            raise PushError(f"{path}: cannot be read: {exc}") from None
    for quad in quads:
        name = DEFAULT if isinstance(quad.graph_name, ox.DefaultGraph) else quad.graph_name.value
        graphs.setdefault(name, []).append(quad)
    return graphs


def _ntriples(quads: list[ox.Quad]) -> bytes:
    return ox.serialize([q.triple for q in quads], format=ox.RdfFormat.N_TRIPLES)


class _HttpStatus(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _send(opener, request: urllib.request.Request, timeout: float) -> Answer:
    """The store's whole answer, bounded in time and bytes (kg.io.remote); an HTTP error status raises."""
    answer = fetch(request, timeout=timeout, opener=opener)
    if answer.status >= 400:
        raise _HttpStatus(answer)
    return answer


def _explain(exc: Exception) -> str:
    if isinstance(exc, _HttpStatus):
        body = exc.answer.body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
        return f"HTTP {exc.answer.status} {exc.answer.reason}" + (f": {body}" if body else "")
    if isinstance(exc, SmqiError):  # no whole answer in time, or too long (kg.io.remote)
        return str(exc)
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return "connection refused (is the store running?)"
        return str(reason)
    return str(exc) or type(exc).__name__


def _status(done: list[str], failed: str, rest: list[str]) -> str:
    bits = []
    if done:
        bits.append(f"uploaded before the failure: {', '.join(done)}")
    bits.append(f"failed: {failed}")
    if rest:
        bits.append(f"not sent: {', '.join(rest)}")
    return "; ".join(bits)


def _count(query_url: str, graph: str, timeout: float,
           credentials: tuple[str, str] | None = None) -> tuple[int, str]:
    """Triples in ``graph`` as the store counts them, and the protocol method that asked."""
    where = "{ ?s ?p ?o }" if graph == DEFAULT else f"{{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    answer = sparql_query(query_url, f"SELECT (COUNT(*) AS ?n) WHERE {where}", timeout=timeout,
                          credentials=credentials)
    try:
        document = json.loads(answer.body.decode("utf-8"))
        return int(document["results"]["bindings"][0]["n"]["value"]), answer.method
    except (ValueError, KeyError, IndexError, TypeError):
        raise DataError(f"the answer ({answer.content_type}) is not SPARQL JSON results with a count "
                        f"(starts {answer.body[:80].decode('utf-8', 'replace')!r})") from None


def push(url: str, source: Path | ox.Store, graphs: Sequence[str] | None = None,
         query_url: str | None = None, timeout: float = 120.0,
         progress: Callable[[str], None] = lambda _m: None) -> PushResult:
    """Upload each graph of ``source`` to ``url``; check the counts; raise PushError on any failure."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{url!r}: give the store's Graph Store endpoint as an http(s) URL, "
                         "e.g. http://127.0.0.1:7878/store")
    refuse_userinfo(url, "the store")
    if query_url:
        refuse_userinfo(query_url, "--query-url")
    credentials = credentials_for(url)
    available = read_graphs(source)
    if graphs:
        missing = [g for g in graphs if g not in available]
        if missing:
            raise UsageError(f"no graph {', '.join(missing)} in the dataset; it has {', '.join(sorted(available))}")
        chosen = {g: available[g] for g in graphs}
    else:
        chosen = dict(sorted(available.items()))
    if not chosen:
        raise UsageError("the dataset is empty: nothing to push")
    result = PushResult(url, query_url or default_query_url(url))
    opener = http_opener(url, credentials)
    names = list(chosen)
    done: list[str] = []
    for n, name in enumerate(names, 1):
        quads = chosen[name]
        target = f"{url}?default" if name == DEFAULT else f"{url}?graph={urllib.parse.quote(name, safe='')}"
        progress(f"PUT {name} ({len(quads)} triples, graph {n}/{len(names)})")
        request = urllib.request.Request(target, data=_ntriples(quads), method="PUT",
                                         headers={"Content-Type": "application/n-triples"})
        try:
            _send(opener, request, timeout)
        except (urllib.error.URLError, OSError, _HttpStatus, SmqiError) as exc:
            hint = ""
            if isinstance(exc, _HttpStatus) and exc.answer.status in (401, 403):
                hint = (" (the store wants credentials: give them in " f"{USER_VARIABLE} and {PASSWORD_VARIABLE}, "
                        "or in a netrc file)" if credentials is None else " (the credentials were refused)")
            raise PushError(f"push to {url} failed: {_explain(exc)}{hint}; "
                            f"{_status(done, name, names[n:])}") from None
        done.append(name)
    progress(f"checking the triple counts through {result.query_url}")
    wrong = []
    for name in names:
        expected = len(set(chosen[name]))
        try:
            got, result.query_method = _count(result.query_url, name, timeout,
                                              credentials if same_host(url, result.query_url) else None)
        except DataError as exc:
            why = str(exc).removeprefix(f"{result.query_url}: ")
            raise PushError(f"push to {url}: every graph was sent, but counting them through "
                            f"{result.query_url} failed: {why}") from None
        result.counts[name] = got
        if got != expected:
            wrong.append(f"{name} holds {got} triples, {expected} were sent")
    if wrong:
        raise PushError(f"push to {url} is partial: {'; '.join(wrong)}")
    return result
