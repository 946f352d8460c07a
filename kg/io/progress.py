"""Progress for long commands (build at scale, push, benchmark): on stderr, only on a terminal.

When stderr is not a terminal (a pipe, a file, a test's capture) nothing is printed, so scripts and
logs stay clean. ``Progress`` is a callable taking one message, the shape ``kg.publish.build.build`` expects.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "progress_for"]


class Progress:
    """Prints ``smqi: <message>… (1.2 s)`` lines to ``stream`` when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, prefix: str = "smqi"):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(isatty()) if enabled is None else enabled
        self.prefix = prefix
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        print(f"{self.prefix}: {message}… ({elapsed:.1f} s)", file=self.stream, flush=True)

    def step(self, done: int, total: int, what: str) -> None:
        """A counter that rewrites one terminal line (``what 3/10``)."""
        if not self.enabled:
            return
        end = "\n" if done >= total else ""
        print(f"\r{self.prefix}: {what} {done}/{total}", end=end, file=self.stream, flush=True)


def progress_for(quiet: bool = False, stream: TextIO | None = None) -> Progress:
    """A Progress that is silent when ``quiet`` or when the stream is not a terminal."""
    return Progress(stream, enabled=False) if quiet else Progress(stream)
