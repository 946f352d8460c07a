"""Sane bounds on input, so that an absurd file gets a clear error instead of a hang.

Every limit has a default and an environment variable that changes it (a whole number; read each
time a limit is checked, so a test or a user can lower or raise it for one run):

==========================  ====================  ==================================================
limit                       default               environment variable
==========================  ====================  ==================================================
size of an input file       200,000,000 bytes     ``SMQI_MAX_FILE_BYTES`` (sheets, RDF, .rq files)
characters in one cell      100,000               ``SMQI_MAX_CELL_CHARS`` (CSV cells and RDF literals)
rows in one sheet           100,000               ``SMQI_MAX_ROWS``
uses of one study           1,000                 ``SMQI_MAX_USES_PER_STUDY``
rows of an endpoint answer  10,000                ``SMQI_MAX_ROWS_SERVED`` (or ``smqi serve --max-rows``)
bytes of a served request   1,000,000             ``SMQI_MAX_REQUEST_BYTES`` (the query text)
prefixes in one RDF file    1,000                 ``SMQI_MAX_PREFIXES`` (@prefix, xmlns:, JSON-LD terms)
nesting of a query          24                    ``SMQI_MAX_QUERY_NESTING`` ({ } ( ) [ ] levels)
bytes of a remote answer    100,000,000           ``SMQI_MAX_REMOTE_BYTES`` (link, push, query --endpoint)
==========================  ====================  ==================================================

A file over the size limit is refused before it is read (exit 2); a cell, literal, sheet or study
over its limit is reported like any other invalid value, naming the file, row or line, field and
the start of the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from kg.model.errors import DataError, UsageError

__all__ = [
    "limit", "max_file_bytes", "max_cell_chars", "max_rows", "max_uses_per_study", "max_rows_served",
    "max_request_bytes", "max_prefixes", "max_query_nesting", "max_remote_bytes", "check_file_size", "preview", "DEFAULTS"
]

DEFAULTS = {
    "SMQI_MAX_FILE_BYTES": 200_000_000,
    "SMQI_MAX_CELL_CHARS": 100_000,
    "SMQI_MAX_ROWS": 100_000,
    "SMQI_MAX_USES_PER_STUDY": 1_000,
    "SMQI_MAX_ROWS_SERVED": 10_000,
    "SMQI_MAX_REQUEST_BYTES": 1_000_000,
    "SMQI_MAX_PREFIXES": 1_000,
    "SMQI_MAX_QUERY_NESTING": 24,
    "SMQI_MAX_REMOTE_BYTES": 100_000_000,
}


def limit(name: str) -> int:
    """The current value of limit ``name`` (its environment variable, else the default)."""
    raw = os.environ.get(name, "").strip().replace("_", "")
    raw = raw if raw.isascii() else "x"
    if not raw:
        return DEFAULTS[name]
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"environment variable {name}={os.environ[name]!r}: give a whole number from 1")
    return int(raw)


def max_file_bytes() -> int:
    return limit("SMQI_MAX_FILE_BYTES")


def max_cell_chars() -> int:
    return limit("SMQI_MAX_CELL_CHARS")


def max_rows() -> int:
    return limit("SMQI_MAX_ROWS")


def max_uses_per_study() -> int:
    return limit("SMQI_MAX_USES_PER_STUDY")


def max_rows_served() -> int:
    return limit("SMQI_MAX_ROWS_SERVED")


def max_request_bytes() -> int:
    return limit("SMQI_MAX_REQUEST_BYTES")


def max_prefixes() -> int:
    """Prefix declarations in one RDF file: rdflib binds each at a cost that grows with those bound."""
    return limit("SMQI_MAX_PREFIXES")


def max_query_nesting() -> int:
    """Bracket levels in one SPARQL query, checked before any parser sees it (rdflib gives up at a few
    dozen levels, pyoxigraph crashes the process at about 3,000)."""
    return limit("SMQI_MAX_QUERY_NESTING")


def max_remote_bytes() -> int:
    """Bytes of one answer read from another host (an endpoint for link, a store for push)."""
    return limit("SMQI_MAX_REMOTE_BYTES")


def check_file_size(path: Path, shown: str | None = None) -> None:
    """Refuse (DataError, exit 2) a file larger than ``SMQI_MAX_FILE_BYTES``, before reading it."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # a missing or unreadable file is reported by whoever opens it
    cap = max_file_bytes()
    if size > cap:
        raise DataError(f"{shown or path}: the file is {size:,} bytes, over the limit of {cap:,} bytes "
                        "(raise it with the environment variable SMQI_MAX_FILE_BYTES)")


def preview(value: str, width: int = 40) -> str:
    """The start of a long value, for a message."""
    return value if len(value) <= width else f"{value[:width]}… ({len(value):,} characters)"
