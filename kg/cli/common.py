"""What the command modules share: usage errors, parameters, the graph to read, progress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence


def progress(quiet: bool, forced: bool = False) -> Callable[[str], None]:
    """A long command's step reporter (kg.io.progress.Progress): ``smqi: <step>… (1.2 s)`` lines on
    stderr when stderr is a terminal, or always with ``forced`` (``--progress``); never with ``quiet``,
    never on stdout."""
    from kg.io.progress import Progress, progress_for

    return Progress(enabled=True) if forced and not quiet else progress_for(quiet)


def add_progress_option(p) -> None:
    """``--progress``: report the steps on stderr even when it is not a terminal."""
    p.add_argument("--progress", action="store_true",
                   help="report each step on stderr even when it is not a terminal (on a terminal it is always "
                        "reported)")


def raise_usage(message: str) -> None:
    from kg.model.errors import UsageError

    raise UsageError(message)


def parse_params(params: Sequence[str]) -> dict:
    """``NAME=VALUE`` (a literal) or ``NAME=<IRI>`` as pyoxigraph terms, by variable name."""
    import pyoxigraph as ox

    bindings: dict = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name.isidentifier():
            raise_usage(f"--param {param!r}: write NAME=VALUE (a variable name, '=', a value)")
        is_iri = value.startswith("<") and value.endswith(">") and len(value) >= 2
        if is_iri and (not value[1:-1] or any(c in '<>"{}|^`\\' or ord(c) <= 0x20 for c in value[1:-1])):
            raise_usage(f"--param {param!r}: {value!r} is not an IRI (no spaces, quotes or any of <>{{}}|^`\\)")
        try:
            bindings[name] = ox.NamedNode(value[1:-1]) if is_iri else ox.Literal(value)
        except ValueError as exc:  # pyoxigraph checks the IRI (RFC 3987): e.g. <0> has no scheme
            raise_usage(f"--param {param!r}: {value!r} is not an absolute IRI ({exc}); write <scheme:…>, "
                        "e.g. <https://w3id.org/smqi/vocab/platform/twitter>")
    return bindings


def rdflib_terms(bindings: dict) -> dict:
    from kg.io.store import from_ox

    return {name: from_ox(term) for name, term in bindings.items()}


def load_graph(path: str | None, args=None):
    """The graph to read as rdflib: a built file (TriG/Turtle/…), or the store ``source_store(args)`` picks."""
    if path:
        from kg.io.rdf import parse_file

        return parse_file(Path(path))
    from kg.io.store import dataset_of

    return dataset_of(source_store(args))


BUILD = Path("build")  # where `smqi build` writes by default; the reading commands look here


def _inputs_now(data: Path, names: Sequence[str]) -> dict[str, str]:
    """The hashes of the data folder's inputs now, read under its shared lock (so never half-way
    through an add)."""
    from kg.io.atomic import sha256
    from kg.io.lock import data_lock
    from kg.model import resources

    found = {}
    with data_lock(data):
        for name in names:
            for folder in (data, data / "entries", resources.data_dir()):
                if (folder / name).is_file():
                    found[name] = sha256(folder / name)
                    break
        for entry in sorted((data / "entries").glob("*.ttl")):
            found.setdefault(entry.name, sha256(entry))
    return found


def source_store(args):
    """The store a reading command reads (a pyoxigraph Store).

    ``--store DIR``: that store. Otherwise the last build's store (``build/store``) when that build
    was made from the data folder asked for (``--data DIR``, default: the shipped data), with a
    warning naming the command that rebuilds when the data changed since; with no such build, the
    pipeline runs in memory (nothing is written)."""
    import json

    from kg.io.store import open_store, parse_store_spec
    from kg.model import resources
    from kg.publish.manifest import STORE

    spec = getattr(args, "store", None)
    if spec:
        return open_store(parse_store_spec(spec) if spec.startswith("oxigraph:") else Path(spec))
    data_arg = getattr(args, "data", None)
    data = Path(data_arg).resolve() if data_arg else resources.data_dir().resolve()
    summary_file = BUILD / "summary.json"
    if (BUILD / STORE).is_dir() and summary_file.is_file():
        try:
            summary = json.loads(summary_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
        if summary.get("data") == str(data):
            recorded = summary.get("inputs", {})
            now = _inputs_now(data, list(recorded))
            changed = sorted(n for n in set(recorded) | set(now) if recorded.get(n) != now.get(n))
            if changed:
                rebuild = "smqi build" + (f" --data {data_arg}" if data_arg else "")
                print(f"smqi: warning: {', '.join(changed)} changed since the build in {BUILD}/ "
                      f"({summary.get('built_at', '?')}); reading that build. Run '{rebuild}' to rebuild.",
                      file=sys.stderr)
            return open_store(BUILD / STORE)
    if sys.stderr.isatty():
        print(f"smqi: no build of {data} in {BUILD}/: building in memory (run 'smqi build"
              f"{' --data ' + data_arg if data_arg else ''}' to keep one)", file=sys.stderr)
    from kg.publish.pipeline import run_pipeline

    return run_pipeline(data if data_arg else None).store


def table_width(stream=None) -> int | None:
    """How wide a text table may be on ``stream`` (default stdout): the COLUMNS environment variable
    when it is a whole number, else the terminal's width (100 when it cannot be told) when the stream
    is a terminal, else None: piped output is never cut."""
    import os
    import shutil

    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return shutil.get_terminal_size((100, 24)).columns if tty else None


def exit_codes(*codes: tuple[int, str]) -> str:
    """A command's ``--help`` epilog: ``exit codes:`` and one line per (code, meaning), meanings of more
    than one line indented under the first."""
    import textwrap

    lines = ["exit codes:"]
    for code, meaning in codes:
        wrapped = textwrap.wrap(meaning, 90)
        lines.append(f"  {code}  {wrapped[0]}")
        lines += [f"     {more}" for more in wrapped[1:]]
    return "\n".join(lines)


# what a command reading the store can meet: the in-memory build of --data fails, or nothing can be read
READ_INVALID = (1, "the data folder had to be built in memory (no build of it in build/) and breaks the codebook "
                   "or the shapes")
READ_ERROR = (2, "usage error, an unreadable store or data folder, or output that cannot be written")


def add_store_options(p, *, with_data: bool = True) -> None:
    """``--store DIR`` and ``--data DIR`` of a command that reads the built store."""
    p.add_argument("--store", metavar="DIR",
                   help="read the Oxigraph store in DIR (default: the last build's, build/store)")
    if with_data:
        p.add_argument("--data", help="read the build made from this data folder (default: the shipped "
                                      "data); with no such build in build/, build in memory first")
