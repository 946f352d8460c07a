"""Another host's answers: bounded in total time and in bytes (issue 16), and SPARQL queries sent the
way every store answers (issue 13).

A socket timeout bounds each read, not the whole answer: a server that sends one byte a second
never trips it. :func:`fetch` reads the answer (status line, headers and body) in a worker thread
and gives up when the total deadline passes, and stops reading past ``max_bytes``. Used by
``smqi link URL`` (the other graph's endpoint), ``smqi push`` (the store's answers), ``smqi query
--endpoint`` and the read-only front of ``smqi serve`` (Oxigraph's answers).

The byte limit is ``SMQI_MAX_REMOTE_BYTES`` (kg.model.limits) unless the caller gives one.

The SPARQL 1.1 Protocol gives three ways to send a query: ``GET ?query=``, a form POST
(``application/x-www-form-urlencoded``, ``query=…``) and a direct POST (``application/sparql-query``).
Every store answers the first two; not every one answers the third (Virtuoso 7.2.5, Debian's
``virtuoso-opensource``, keeps a direct POST waiting until the client gives up, while it answers a
form POST at once). So :func:`sparql_query` sends a form POST, and a GET when the endpoint refuses the
form POST with 405, 415 or 501 (and the query fits in a URL); its :class:`QueryAnswer` says which was
used. Every failure is a :class:`RemoteError` (exit 2) naming the URL, the method and what happened.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

from kg import __version__
from kg.model.errors import DataError

__all__ = ["Answer", "RemoteTimeout", "RemoteTooLarge", "fetch", "http_opener", "credentials_for", "is_loopback",
           "refuse_userinfo", "same_host",
           "USER_VARIABLE", "PASSWORD_VARIABLE", "FORM_POST",
           "GET", "QueryAnswer", "RemoteError", "sparql_query", "explain_http_error"]

CHUNK = 65536
FORM_POST = "form POST"
GET = "GET"
FALLBACK_STATUSES = frozenset({405, 415, 501})  # "not this way": try the next method
MAX_GET_URL = 8000  # longer URLs are refused by many servers


class RemoteTimeout(DataError):
    """No complete answer within the total time allowed."""


class RemoteTooLarge(DataError):
    """The answer is longer than the byte limit."""


@dataclass
class Answer:
    """A whole answer: HTTP status (an error status too), headers and body."""

    status: int
    headers: Message
    body: bytes
    reason: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "application/octet-stream")


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


USER_VARIABLE, PASSWORD_VARIABLE = "SMQI_PUSH_USER", "SMQI_PUSH_PASSWORD"


def credentials_for(url: str) -> tuple[str, str] | None:
    """The user name and password for ``url``'s host: from the environment (``SMQI_PUSH_USER`` and
    ``SMQI_PUSH_PASSWORD``, both), else from a netrc file (``NETRC``, default ``~/.netrc``) entry for
    the host; None when neither has one. Never from the command line, never shown in a message."""
    import netrc
    import os

    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if user is not None or password is not None:
        if not (user and password):
            raise DataError(f"give both {USER_VARIABLE} and {PASSWORD_VARIABLE} (or neither, to use a netrc file)")
        return user, password
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(urllib.parse.urlsplit(url).hostname or "")
    except netrc.NetrcParseError as exc:  # its message may quote a token of a password: not shown
        raise DataError(f"{exc.filename}:{exc.lineno}: not a readable netrc file (see the netrc(5) format: "
                        "machine HOST login USER password PASSWORD)") from None
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{path}: not a readable netrc file (not text in this system's encoding)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if entry is None or not entry[0] or not entry[2]:
        return None
    return entry[0], entry[2]


def refuse_userinfo(url: str, what: str = "URL") -> None:
    """DataError for a ``url`` with a user name or password in it (it would show in the process list,
    in logs and in messages), naming where credentials go instead; the password is never shown."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise DataError(f"{what} {parts.scheme}://…@{parts.hostname}: do not put a user name or password in a "
                        f"URL (it would show in the process list and in logs); give them in {USER_VARIABLE} and "
                        f"{PASSWORD_VARIABLE}, or in a netrc file (NETRC, default ~/.netrc)")


def same_host(a: str, b: str) -> bool:
    """Whether two URLs name the same scheme, host and port (credentials for one may go to the other)."""
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def http_opener(url: str, credentials: tuple[str, str] | None = None) -> urllib.request.OpenerDirector:
    """An opener for ``url``; loopback addresses never go through a proxy from the environment. With
    ``credentials`` (user, password) it answers the server's HTTP Basic or Digest challenge for ``url``."""
    handlers: list[urllib.request.BaseHandler] = []
    if is_loopback(url):
        handlers.append(urllib.request.ProxyHandler({}))
    if credentials is not None:
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, url, *credentials)
        handlers += [urllib.request.HTTPBasicAuthHandler(manager), urllib.request.HTTPDigestAuthHandler(manager)]
    return urllib.request.build_opener(*handlers)


def fetch(request: urllib.request.Request, *, timeout: float, max_bytes: int | None = None,
          opener: urllib.request.OpenerDirector | None = None, what: str | None = None) -> Answer:
    """Send ``request`` and read the whole answer within ``timeout`` seconds in all and at most
    ``max_bytes`` bytes of body (default ``SMQI_MAX_REMOTE_BYTES``).

    An HTTP error status is returned as an Answer like any other. Raises RemoteTimeout or
    RemoteTooLarge (DataError, naming ``what``, default the URL) and, for a host that cannot be
    reached, urllib's URLError / OSError as urlopen does."""
    from kg.model.limits import max_remote_bytes

    cap = max_remote_bytes() if max_bytes is None else max_bytes
    what = what or request.full_url
    opener = opener or http_opener(request.full_url)
    stop = threading.Event()
    box: dict[str, object] = {}

    def work() -> None:
        try:
            try:
                response = opener.open(request, timeout=timeout)
            except urllib.error.HTTPError as exc:  # an answer too: read its body the same way
                response = exc
            with response:
                read = getattr(response, "read1", response.read)
                chunks: list[bytes] = []
                size = 0
                while not stop.is_set() and size <= cap:
                    chunk = read(min(CHUNK, cap + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                status = getattr(response, "status", None) or getattr(response, "code", 0)
                box["answer"] = Answer(int(status), response.headers, b"".join(chunks),
                                       str(getattr(response, "reason", "") or ""))
        except (TimeoutError, urllib.error.URLError) as exc:  # one read outlasted the whole time allowed
            reason = getattr(exc, "reason", exc)
            box["error"] = timed_out() if isinstance(reason, TimeoutError) else exc
        except http.client.HTTPException as exc:  # e.g. IncompleteRead: the answer broke off
            box["error"] = DataError(f"{what}: the answer broke off ({type(exc).__name__}: {exc})")
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    def timed_out() -> RemoteTimeout:
        return RemoteTimeout(f"{what}: no complete answer within {timeout:g} s (the time allowed for "
                             "the whole answer, not for each read)")

    worker = threading.Thread(target=work, name="smqi-fetch", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():  # the worker stops at its next read and closes the connection
        stop.set()
        raise timed_out()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    answer = box["answer"]
    assert isinstance(answer, Answer)
    if len(answer.body) > cap:
        raise RemoteTooLarge(f"{what}: the answer is longer than {cap:,} bytes; smqi stopped reading "
                             "(raise the limit with the environment variable SMQI_MAX_REMOTE_BYTES)")
    return answer


class RemoteError(DataError):
    """A remote endpoint could not be asked, or refused the query."""


@dataclass(frozen=True)
class QueryAnswer:
    """The body of an endpoint's answer to a query, its media type and the protocol method that got it."""

    body: bytes
    content_type: str
    method: str


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


def _query_request(url: str, query: str, accept: str, method: str) -> urllib.request.Request:
    headers = {"Accept": accept, "User-Agent": f"smqi-kg/{__version__}"}
    form = urllib.parse.urlencode({"query": query})
    if method == GET:
        return urllib.request.Request(f"{url}{'&' if '?' in url else '?'}{form}", method="GET", headers=headers)
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return urllib.request.Request(url, data=form.encode("ascii"), method="POST", headers=headers)


def sparql_query(url: str, query: str, accept: str = "application/sparql-results+json",
                 timeout: float = 60.0, max_bytes: int | None = None,
                 credentials: tuple[str, str] | None = None) -> QueryAnswer:
    """Send ``query`` to the endpoint ``url`` (form POST, then GET on 405/415/501) and read its whole
    answer within ``timeout`` seconds and ``max_bytes`` (:func:`fetch`).

    Raises :class:`RemoteError` naming the URL and method for a refused connection or an HTTP error,
    RemoteTimeout / RemoteTooLarge past the bounds."""
    refuse_userinfo(url, "the SPARQL endpoint")
    opener = http_opener(url, credentials)
    get_fits = len(_query_request(url, query, accept, GET).full_url) <= MAX_GET_URL
    method = FORM_POST
    while True:
        try:
            answer = fetch(_query_request(url, query, accept, method), timeout=timeout, max_bytes=max_bytes,
                           opener=opener, what=f"{url} (the SPARQL endpoint, {method})")
        except (RemoteTimeout, RemoteTooLarge):
            raise
        except DataError as exc:
            raise RemoteError(str(exc)) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RemoteError(f"{url}: cannot ask the SPARQL endpoint ({method}): "
                              f"{explain_http_error(exc, timeout)}") from None
        if answer.status >= 400:
            if method == FORM_POST and answer.status in FALLBACK_STATUSES and get_fits:
                method = GET
                continue
            body = answer.body[:200].decode("utf-8", "replace").strip().replace("\n", " ")
            raise RemoteError(f"{url}: the endpoint answered the query ({method}) with HTTP {answer.status} "
                              f"{answer.reason}" + (f": {body}" if body else ""))
        return QueryAnswer(answer.body, answer.headers.get_content_type(), method)
