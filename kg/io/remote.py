"""Asking a remote SPARQL 1.1 endpoint a query: protocol choices that work on any store.

The SPARQL 1.1 Protocol gives three ways to send a query: ``GET ?query=``, a form POST
(``application/x-www-form-urlencoded``, ``query=…``) and a direct POST (``application/sparql-query``).
Every store answers the first two; not every one answers the third (Virtuoso 7.2.5, Debian's
``virtuoso-opensource``, keeps a direct POST waiting until the client gives up, while it answers a
form POST at once). So a query goes as a form POST, and as a GET when the endpoint refuses the form
POST with 405, 415 or 501 (and the query fits in a URL). :class:`Answer` says which was used.

Loopback endpoints are reached without any proxy of the environment (:func:`http_opener`). Every
failure is a :class:`RemoteError` (exit 2) naming the URL, the method and what happened.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from kg import __version__
from kg.model.errors import DataError

__all__ = ["FORM_POST", "GET", "Answer", "RemoteError", "http_opener", "sparql_query", "explain_http_error"]

FORM_POST = "form POST"
GET = "GET"
FALLBACK_STATUSES = frozenset({405, 415, 501})  # "not this way": try the next method
MAX_GET_URL = 8000  # longer URLs are refused by many servers


class RemoteError(DataError):
    """A remote endpoint could not be asked, or refused the query."""


@dataclass(frozen=True)
class Answer:
    """The body of an endpoint's answer, its media type and the protocol method that got it."""

    body: bytes
    content_type: str
    method: str


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def http_opener(url: str) -> urllib.request.OpenerDirector:
    """An opener for ``url``; loopback addresses never go through a proxy from the environment."""
    if _loopback(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def explain_http_error(exc: BaseException, timeout: float | None = None) -> str:
    """One line saying what went wrong with an HTTP request (status and the start of the body,
    a refused connection, a timeout)."""
    if isinstance(exc, urllib.error.HTTPError):
        body = exc.read().decode("utf-8", "replace").strip().replace("\n", " ")[:200]
        return f"HTTP {exc.code} {exc.reason}" + (f": {body}" if body else "")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the store running?)"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s" if timeout is not None else "no answer in time"
    return str(reason) or type(reason).__name__


def _request(url: str, query: str, accept: str, method: str) -> urllib.request.Request:
    headers = {"Accept": accept, "User-Agent": f"smqi-kg/{__version__}"}
    form = urllib.parse.urlencode({"query": query})
    if method == GET:
        return urllib.request.Request(f"{url}{'&' if '?' in url else '?'}{form}", method="GET", headers=headers)
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return urllib.request.Request(url, data=form.encode("ascii"), method="POST", headers=headers)


def sparql_query(url: str, query: str, accept: str = "application/sparql-results+json",
                 timeout: float = 60.0) -> Answer:
    """Send ``query`` to the endpoint ``url`` (form POST, then GET on 405/415/501); its answer.

    Raises :class:`RemoteError` naming the URL and method for a refused connection, a timeout or
    any other HTTP error."""
    opener = http_opener(url)
    get_fits = len(_request(url, query, accept, GET).full_url) <= MAX_GET_URL
    method = FORM_POST
    while True:
        try:
            with opener.open(_request(url, query, accept, method), timeout=timeout) as response:
                return Answer(response.read(), response.headers.get_content_type(), method)
        except urllib.error.HTTPError as exc:
            if method == FORM_POST and exc.code in FALLBACK_STATUSES and get_fits:
                exc.close()
                method = GET
                continue
            raise RemoteError(f"{url}: the endpoint answered the query ({method}) with "
                              f"{explain_http_error(exc)}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RemoteError(f"{url}: cannot ask the SPARQL endpoint ({method}): "
                              f"{explain_http_error(exc, timeout)}") from None
