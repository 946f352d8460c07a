"""What the command modules share: usage errors, parameters, the graph to read, progress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence


def progress(quiet: bool) -> Callable[[str], None]:
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: print(f"smqi: {msg}…", file=sys.stderr)


def raise_usage(message: str) -> None:
    from kg.model.errors import UsageError

    raise UsageError(message)


def parse_params(params: Sequence[str]) -> dict:
    from rdflib import Literal, URIRef

    bindings: dict = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name.isidentifier():
            raise_usage(f"--param {param!r}: write NAME=VALUE (a variable name, '=', a value)")
        is_iri = value.startswith("<") and value.endswith(">") and len(value) >= 2
        if is_iri and (not value[1:-1] or any(c in '<>"{}|^`\\' or ord(c) <= 0x20 for c in value[1:-1])):
            raise_usage(f"--param {param!r}: {value!r} is not an IRI (no spaces, quotes or any of <>{{}}|^`\\)")
        bindings[name] = URIRef(value[1:-1]) if is_iri else Literal(value)
    return bindings


def load_graph(path: str | None):
    """The graph to query: a built file (TriG/Turtle/…) or, by default, a fresh in-memory build."""
    if path:
        from kg.io.rdf import parse_file

        return parse_file(Path(path))
    from kg.io.dataset import assemble

    return assemble().dataset
