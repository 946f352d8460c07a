"""`smqi serve`: a read-only SPARQL 1.1 Protocol endpoint over the built graph, by the real Oxigraph server.

The ``oxigraph`` package from PyPI ships the Oxigraph server binary (``oxigraph serve-read-only``);
this module starts it on a store folder (``--store oxigraph:DIR``) or on a store made from a built
file (``--graph build/smqi.trig``, loaded into a temporary store that is removed on exit). The
server is bound to loopback unless told otherwise, is read-only (updates and Graph Store writes are
refused with HTTP 4xx), answers over the union of the named graphs and stops a query after
``--timeout`` seconds. ``start_server`` is also used by tests and by ``smqi push`` tests, in writable
mode (``oxigraph serve``) there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kg.model.errors import DataError, UsageError
from kg.serve.endpoint import HttpEndpoint

__all__ = ["Server", "StoreFollower", "find_oxigraph", "free_port", "start_server", "store_from_file", "serve",
           "POLL_S"]

POLL_S = 2.0  # how often `smqi serve` looks for a new build of the store it serves

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def find_oxigraph() -> str:
    """The ``oxigraph`` server binary: beside this Python (a venv's bin/) or on PATH."""
    here = Path(sys.executable).parent / "oxigraph"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("oxigraph")
    if not found:
        raise DataError("the Oxigraph server binary is not installed: pip install oxigraph")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Server(HttpEndpoint):
    """A running Oxigraph server process."""

    process: subprocess.Popen
    host: str
    port: int
    cleanup: list[Path] = field(default_factory=list)

    @property
    def update_url(self) -> str:
        return f"{self.base}/update"

    @property
    def store_url(self) -> str:
        return f"{self.base}/store"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _wait_ready(server: Server, deadline_s: float = 20.0) -> None:
    """Poll the query endpoint (a bounded number of times) until it answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    probe = f"{server.query_url}?query=ASK%7B%7D"
    for _ in range(int(deadline_s / 0.05)):
        if server.process.poll() is not None:
            err = server.process.stderr.read().decode("utf-8", "replace") if server.process.stderr else ""
            raise DataError(f"the Oxigraph server stopped at start (exit {server.process.returncode}): "
                            f"{err.strip()[:400]}")
        try:
            with opener.open(probe, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    server.stop()
    raise DataError(f"the Oxigraph server did not answer on {server.base} within {deadline_s:.0f} s")


def start_server(location: Path | None, host: str = "127.0.0.1", port: int | None = None,
                 timeout: float | None = 30.0, writable: bool = False,
                 cleanup: list[Path] | None = None, quiet: bool = True) -> Server:
    """Start ``oxigraph serve-read-only`` (or ``serve`` when ``writable``) and wait until it answers.

    ``location`` None (writable only) keeps the data in memory.
    """
    if location is None and not writable:
        raise UsageError("a read-only server needs a store folder")
    port = port or free_port(host)
    args = [find_oxigraph(), "serve" if writable else "serve-read-only", "--bind", f"{host}:{port}",
            "--union-default-graph"]
    if location is not None:
        args += ["--location", str(location)]
    if timeout:
        args += ["--timeout-s", str(max(1, int(round(timeout))))]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL if quiet else None,
                               stderr=subprocess.PIPE if quiet else None)
    server = Server(process, host, port, list(cleanup or []))
    try:
        _wait_ready(server)
    except BaseException:  # an interrupt while it starts too: never leave the process running
        server.stop()
        raise
    return server


def store_from_file(path: Path) -> Path:
    """Load a built RDF file (TriG, N-Quads, Turtle, N-Triples) into a new temporary store folder."""
    import pyoxigraph as ox

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (run 'smqi build' first, or give --store oxigraph:DIR)")
    fmt = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    if fmt is None:
        raise UsageError(f"{path}: give a .trig, .nq, .ttl or .nt file")
    folder = Path(tempfile.mkdtemp(prefix="smqi-serve-"))
    try:
        store = ox.Store(str(folder))
        store.bulk_load(path=str(path), format=fmt)
        store.flush()
        del store
    except (OSError, SyntaxError, ValueError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise DataError(f"{path}: cannot be loaded: {exc}") from None
    return folder


class StoreFollower:
    """Picks up a new build of the store folder ``path`` (``smqi build`` swaps the whole build folder in,
    so ``build/store`` becomes another folder): ``check()`` starts an Oxigraph server on the new store,
    points the front's backend at it, and stops the previous server once the queries in flight on it
    have had their timeout (``retire_after`` seconds), never cutting one off. ``serve`` calls ``check``
    every ``POLL_S`` seconds; a new store that does not open yet (a build still writing) is tried again
    at the next check."""

    def __init__(self, path: Path, front, server: Server, timeout: float | None,
                 say=lambda message: print(message, file=sys.stderr, flush=True)) -> None:
        self.path, self.front, self.server, self.timeout, self.say = Path(path), front, server, timeout, say
        self.identity = self._identity()
        self.retiring: list[tuple[float, Server]] = []
        self.swaps = 0

    def _identity(self) -> tuple[int, int, int] | None:
        # the folder's inode and its inode-change time: a new build's store is a new folder, and two builds
        # within one look cannot pass for one even where the file system gives the new folder an old inode
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino, info.st_ctime_ns)

    @property
    def retire_after(self) -> float:
        return (self.timeout or 30.0) + 2.0

    def check(self, now: float | None = None) -> bool:
        """One look: True when a new store was picked up."""
        now = time.monotonic() if now is None else now
        for entry in [e for e in self.retiring if e[0] <= now]:
            self.retiring.remove(entry)
            entry[1].stop()
        identity = self._identity()
        if identity is None or identity == self.identity:
            return False
        try:
            fresh = start_server(self.path, "127.0.0.1", None, self.timeout, quiet=True)
        except (DataError, OSError) as exc:
            self.say(f"smqi serve: a new build in {self.path} does not open yet ({exc}); serving the previous one")
            return False
        old, self.server, self.identity = self.server, fresh, identity
        self.front.backend.swap(fresh.query_url)
        self.retiring.append((now + self.retire_after, old))
        self.swaps += 1
        self.say(f"smqi serve: picked up a new build of {self.path} (queries in flight finish on the previous one)")
        return True

    def stop(self) -> None:
        """Stop every server, the current one and those still retiring."""
        for _when, old in self.retiring:
            old.stop()
        self.retiring.clear()
        self.server.stop()


def serve(host: str, port: int, store: Path | None, graph: Path | None, timeout: float | None,
          max_rows: int | None = None) -> int:
    """Run the server in the foreground until interrupted; returns an exit code.

    Oxigraph listens on a private loopback port; the read-only front (kg/serve/front.py: no
    updates, no SERVICE, at most ``max_rows`` rows) listens on ``host:port``."""
    from kg.serve.front import start_front

    cleanup: list[Path] = []
    if store is not None:
        from kg.io.store import open_store

        del_store = open_store(store)  # fails clearly (exit 2) if there is no store
        del del_store
        location = store
    else:
        location = store_from_file(graph or Path("build/smqi.trig"))
        cleanup.append(location)
    if host not in LOOPBACK:
        print(f"smqi serve: warning: listening on {host}, not only on this machine", file=sys.stderr)
    try:
        server = start_server(location, "127.0.0.1", None, timeout, cleanup=cleanup, quiet=True)
    except BaseException:
        for path in cleanup:
            shutil.rmtree(path, ignore_errors=True)
        raise
    try:
        front = start_front(server.query_url, host, port, max_rows=max_rows, timeout=timeout or 30.0)
    except BaseException:
        server.stop()
        raise
    print(f"SPARQL endpoint (read-only): {front.query_url}  (Ctrl-C stops)", file=sys.stderr, flush=True)

    def _terminate(*_args: object) -> None:  # SIGTERM stops cleanly too: no orphaned Oxigraph
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (tests)
        previous = None
    follower = StoreFollower(location, front, server, timeout) if store is not None else None
    try:
        while True:
            current = follower.server if follower else server
            try:
                return current.process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                if follower is not None:
                    follower.check()
    except KeyboardInterrupt:
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        front.stop()
        if follower is not None:
            follower.stop()
        else:
            server.stop()
