"""Canonical Turtle for the committed vocabulary files (``ontology/vocab/*.ttl``).

A file is in canonical form when it is exactly

1. its header: the comment lines it starts with (each beginning ``#``), kept verbatim, then
2. one blank line, then
3. rdflib's ``longturtle`` serialization of the file's triples, with a fixed set of prefixes.

``longturtle`` sorts subjects, predicates and objects, so two runs (in two processes, with any hash
seed) give byte-identical text; the vocabularies contain no blank nodes. Because the form is a pure
function of the triples and the header, hand edits only need ``python -m kg.io.canon --fix PATH`` to
come back into canonical form, and review diffs stay small.

Command line::

    python -m kg.io.canon [--fix] PATH...

PATH is a Turtle file or a directory (its ``*.ttl`` files). Exit status 0: all canonical (or fixed
with ``--fix``); 1: some file is not canonical; 2: a file cannot be read or is not valid Turtle (the
message names the file and, where rdflib reports it, the line).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from rdflib import Graph
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS, XSD

__all__ = [
    "CanonError", "normalise_header", "canonical_turtle", "split_header", "canonical_text", "expand",
    "check_files", "format_files", "main", "SMQI_NS", "VOCAB_NS", "WD_NS", "FORMAT"
]

SMQI_NS = "https://w3id.org/smqi/ontology#"
VOCAB_NS = "https://w3id.org/smqi/vocab/"
WD_NS = "http://www.wikidata.org/entity/"

#: Prefixes bound in every canonical file (only those used appear in the output).
PREFIXES: dict[str, str] = {
    "smqi": SMQI_NS,
    "vocab": VOCAB_NS,
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "wd": WD_NS,
}

FORMAT = "longturtle"

_SLUG = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")


class CanonError(Exception):
    """A file could not be read or parsed; the message names the file (and line, if known)."""


def _scheme_prefixes(graph: Graph) -> dict[str, str]:
    """One prefix per concept scheme ``…/vocab/<slug>``: ``<slug>:`` for ``…/vocab/<slug>/``."""
    out: dict[str, str] = {}
    for scheme in sorted(set(graph.subjects(RDF.type, SKOS.ConceptScheme))):
        iri = str(scheme)
        if not iri.startswith(VOCAB_NS):
            continue
        slug = iri[len(VOCAB_NS):]
        if _SLUG.match(slug) and slug not in PREFIXES:
            out[slug] = iri + "/"
    return out


def normalise_header(header: str) -> str:
    """The header as comment lines: lines already starting with ``#`` are kept, others get ``# ``."""
    lines = []
    for line in header.strip("\n").splitlines():
        line = line.rstrip()
        if not line.startswith("#"):
            line = ("# " + line).rstrip()
        lines.append(line)
    return "\n".join(lines)


def canonical_turtle(graph: Graph, header: str) -> str:
    """The canonical text of ``graph`` below the comment block ``header``.

    The triples are copied into a fresh graph with only the prefixes of :data:`PREFIXES` (plus one
    per concept scheme) bound, so the output does not depend on the bindings of ``graph``.
    """
    g = Graph(bind_namespaces="none")
    for prefix, ns in {**PREFIXES, **_scheme_prefixes(graph)}.items():
        g.bind(prefix, ns, override=True, replace=True)
    for triple in graph:
        g.add(triple)
    body = g.serialize(format=FORMAT)
    body = "\n".join(line.rstrip() for line in body.strip("\n").splitlines())
    head = normalise_header(header)
    return (head + "\n\n" if head else "") + body + "\n"


def split_header(text: str) -> tuple[str, str]:
    """Split a file's text into its leading comment lines and the rest."""
    lines = text.splitlines()
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        n += 1
    return "\n".join(lines[:n]), "\n".join(lines[n:])


def _read(path: Path) -> tuple[str, Graph]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CanonError(f"{path}: cannot read: {exc}") from None
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=path.resolve().as_uri())
    except Exception as exc:  # rdflib raises BadSyntax and assorted others
        line = getattr(exc, "lines", None)
        where = f"{path}:{line + 1}" if isinstance(line, int) else str(path)
        why = getattr(exc, "_why", None) or str(exc).strip().splitlines()[0]
        raise CanonError(f"{where}: not valid Turtle: {why}") from None
    return text, graph


def canonical_text(path: Path) -> tuple[str, str]:
    """(current text, canonical text) of one Turtle file; raises :class:`CanonError`."""
    text, graph = _read(path)
    header, _ = split_header(text)
    return text, canonical_turtle(graph, header)


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``paths``: files as given, directories as their sorted ``*.ttl`` files."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.ttl")) if p.is_dir() else [p])
    return out


def check_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files (or ``*.ttl`` in directories) of ``paths`` that are not in canonical form."""
    bad = []
    for path in expand(paths):
        text, canon = canonical_text(path)
        if text != canon:
            bad.append(path)
    return bad


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Rewrite the files of ``paths`` that are not canonical; return those that were rewritten.

    Every file is parsed before any is written, so a syntax error leaves all files untouched.
    """
    todo = []
    for path in expand(paths):
        text, canon = canonical_text(path)
        if text != canon:
            todo.append((path, canon))
    for path, canon in todo:
        _write_atomic(path, canon)
    return [path for path, _ in todo]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kg.io.canon [--fix] PATH...``; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    fix = "--fix" in args
    paths = [a for a in args if a != "--fix"]
    if not paths or any(a.startswith("-") for a in paths):
        print("usage: python -m kg.io.canon [--fix] PATH...", file=sys.stderr)
        return 2
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        for p in missing:
            print(f"{p}: no such file or directory", file=sys.stderr)
        return 2
    try:
        if fix:
            for path in format_files(paths):
                print(f"reformatted {path}")
            return 0
        bad = check_files(paths)
    except CanonError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for path in bad:
        print(f"not canonical: {path}", file=sys.stderr)
    if bad:
        print("run: python -m kg.io.canon --fix " + " ".join(paths), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
