"""Reading RDF files safely: clear errors naming the file and line, and no remote fetching.

rdflib would dereference a remote JSON-LD ``@context``; smqi-kg never fetches anything at run time,
so JSON-LD documents whose context is not inline are refused with a message saying so. The one
exception is the project's own context, ``https://w3id.org/smqi/context.jsonld``: the copy shipped in
ontology/context.jsonld is put in its place (kg.io.jsonld), so it is never fetched either.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import rdflib

from rdflib import Dataset, Graph

from kg.model.errors import DataError

__all__ = ["rdf_format", "parse_into", "parse_file", "nquads_of", "FORMATS", "QUAD_FORMATS"]

FORMATS = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".nq": "nquads",
    ".trig": "trig",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
QUAD_FORMATS = {"trig", "nquads"}


def rdf_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the RDF format from the file extension {path.suffix!r}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    return fmt


def _remote_contexts(node: object) -> list[str]:
    """Every @context in a JSON-LD document that would have to be fetched."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                for ctx in value if isinstance(value, list) else [value]:
                    if isinstance(ctx, str):
                        found.append(ctx)
                    else:  # an inline context may hold scoped contexts or an @import
                        found.extend(_remote_contexts(ctx))
            elif key == "@import" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_remote_contexts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_remote_contexts(item))
    return found


_AS_WRITTEN = threading.Lock()


def parse_into(graph: Graph, path: Path, fmt: str | None = None, *, as_written: bool = False) -> Graph:
    """Parse ``path`` into ``graph``; raise DataError naming the file (and line) on failure.

    ``as_written``: keep every literal's lexical form as the file writes it (rdflib otherwise
    normalises some, e.g. ``"1"^^xsd:boolean`` to ``"true"``, ``"01"^^xsd:integer`` to ``"1"``)."""
    from kg.model.limits import check_file_size

    path = Path(path)
    fmt = fmt or rdf_format(path)
    check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not an RDF file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    if fmt == "json-ld":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise DataError(f"{path}: not valid JSON-LD: nested too deeply to read") from None
        if isinstance(doc, dict) and "@context" not in doc and "head" in doc and ("results" in doc
                                                                                or "boolean" in doc):
            raise DataError(f"{path}: this is a SPARQL query results document (JSON with head and "
                            f"{'results' if 'results' in doc else 'boolean'}), not RDF: give an RDF file "
                            "(Turtle, N-Triples, TriG, JSON-LD) or the SPARQL endpoint's URL")
        from kg.io.jsonld import CONTEXT_IRI, substitute_context

        try:
            contexts = _remote_contexts(doc)
        except RecursionError:
            raise DataError(f"{path}: not valid JSON-LD: nested too deeply to read") from None
        remote = [ctx for ctx in contexts if ctx != CONTEXT_IRI]
        if remote:
            raise DataError(
                f"{path}: JSON-LD @context {remote[0]!r} would have to be fetched; smqi never fetches "
                f"remote documents. Put the context inline in the file, or use {CONTEXT_IRI} "
                "(the project's context, read from the shipped copy)."
            )
        if CONTEXT_IRI in contexts:
            text = json.dumps(substitute_context(doc))
    try:
        def read(target, text=text) -> None:
            if fmt == "json-ld" and not target.context_aware:
                # rdflib puts the triples of named graphs ("@graph" objects with an "@id", as in
                # smqi.jsonld) nowhere in a plain Graph: read the document as a dataset, keep the union
                dataset = Dataset()
                dataset.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
                for s, p, o, _g in dataset.quads((None, None, None, None)):
                    target.add((s, p, o))
            else:
                target.parse(data=text, format=fmt, publicID=path.resolve().as_uri())

        if as_written:
            with _AS_WRITTEN:  # rdflib reads one module-wide switch
                normalize, rdflib.NORMALIZE_LITERALS = rdflib.NORMALIZE_LITERALS, False
                try:
                    read(graph)
                finally:
                    rdflib.NORMALIZE_LITERALS = normalize
        else:
            read(graph)
    except RecursionError:  # deeply nested collections or JSON
        raise DataError(f"{path}: not valid {fmt}: nested too deeply to read") from None
    except Exception as exc:  # rdflib raises many types (BadSyntax, SAXParseException, ValueError…)
        raise DataError(f"{path}:{_line_of(exc)}: not valid {fmt}: {_short(exc)}") from None
    return graph


def _line_of(exc: Exception) -> str:
    lines = getattr(exc, "lines", None)
    if isinstance(lines, int):
        return str(lines + 1)
    match = re.search(r"line (\d+)", str(exc))
    return match.group(1) if match else "?"


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def parse_file(path: Path) -> Graph:
    """A new Graph (or Dataset for TriG / N-Quads) with the content of ``path``."""
    fmt = rdf_format(Path(path))
    graph: Graph = Dataset(default_union=True) if fmt in QUAD_FORMATS else Graph()
    return parse_into(graph, Path(path), fmt)


def nquads_of(graph: Graph, name: str) -> bytes:
    """The triples of an rdflib graph as UTF-8 N-Quads in the named graph ``name``."""
    nt = graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    # each N-Triples line ends with " ."; the graph name goes before the dot. Lines end with "\n" only:
    # a literal may hold other characters str.splitlines breaks at (U+2028, U+0085, \x0c, …)
    return "".join(f"{line.rstrip(' ')[:-1]}<{name}> .\n" for line in nt.split("\n") if line.strip()).encode("utf-8")
