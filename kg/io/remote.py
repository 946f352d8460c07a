"""Reading an answer from another host, bounded in total time and in bytes (issue 16).

A socket timeout bounds each read, not the whole answer: a server that sends one byte a second
never trips it. :func:`fetch` reads the answer (status line, headers and body) in a worker thread
and gives up when the total deadline passes, and stops reading past ``max_bytes``. Used by
``smqi link URL`` (the other graph's endpoint), ``smqi push`` (the store's answers), ``smqi query
--endpoint`` and the read-only front of ``smqi serve`` (Oxigraph's answers).

The byte limit is ``SMQI_MAX_REMOTE_BYTES`` (kg.model.limits) unless the caller gives one.
"""

from __future__ import annotations

import http.client
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message

from kg.model.errors import DataError

__all__ = ["Answer", "RemoteTimeout", "RemoteTooLarge", "fetch", "http_opener", "is_loopback"]

CHUNK = 65536


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


def http_opener(url: str) -> urllib.request.OpenerDirector:
    """An opener for ``url``; loopback addresses never go through a proxy from the environment."""
    if is_loopback(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


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
