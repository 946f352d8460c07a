"""Reading RDF files safely: clear errors naming the file and line, and no remote fetching.

rdflib would dereference a remote JSON-LD ``@context``; smqi-kg never fetches anything at run time,
so JSON-LD documents whose context is not inline are refused with a message saying so. The one
exception is the project's own context, ``https://w3id.org/smqi/context.jsonld``: the copy shipped in
ontology/context.jsonld is put in its place (kg.io.jsonld), so it is never fetched either.

Every accepted input is read in time linear in its size (issue 16). rdflib binds each declared
prefix into the graph's namespace manager, at a cost that grows with the prefixes already bound,
so a file declaring tens of thousands of prefixes took minutes: a file with more than
``SMQI_MAX_PREFIXES`` prefix declarations (``@prefix`` / ``PREFIX`` in Turtle and TriG, ``xmlns:``
in RDF/XML, terms of a JSON-LD ``@context``) is refused before it is parsed. RDF/XML with a document
type declaration (``<!DOCTYPE``) or an entity declaration (``<!ENTITY``) is refused before it is
parsed: entities can expand without bound (the "billion laughs"), and RDF/XML needs neither.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import rdflib

from rdflib import Dataset, Graph

from kg.model.errors import DataError

__all__ = ["rdf_format", "parse_into", "parse_file", "syntax_error", "nquads_of", "check_bounds", "FORMATS", "QUAD_FORMATS"]

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


def _contexts(doc: object) -> tuple[list[str], int]:
    """Every @context (or @import) of a JSON-LD document that would have to be fetched, and the
    number of terms its inline contexts define; without recursion (any depth). A context value may
    be a string (a remote context), an inline object, or a list of these, nested lists too (rdflib
    flattens them)."""
    found: list[str] = []
    terms = 0
    stack: list[tuple[object, bool]] = [(doc, False)]  # (node, node is the value of an @context)
    while stack:
        node, is_context = stack.pop()
        if is_context and isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            stack.extend((item, is_context) for item in node)
        elif isinstance(node, dict):
            if is_context:
                terms += sum(1 for key in node if not str(key).startswith("@"))
            for key, value in node.items():
                if key == "@context":
                    stack.append((value, True))
                elif key == "@import" and isinstance(value, str):
                    found.append(value)
                else:  # term definitions of an inline context may hold scoped contexts
                    stack.append((value, False))
    return found, terms


# a prefix declaration: "@prefix p:" or SPARQL-style "PREFIX p:" (Turtle, TriG), "xmlns:p=" (RDF/XML).
# Counted on the raw text (linear, no backtracking): a mention inside a literal or comment counts too,
# which can only make a file with more than the limit's worth of such mentions be refused.
_TURTLE_PREFIX = re.compile(r"(?:@prefix|(?<![\w:@])prefix)\s+[^\s:]*:", re.IGNORECASE)
_XML_PREFIX = re.compile(r"\bxmlns:")
_XML_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)\b", re.IGNORECASE)


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def check_bounds(text: str, fmt: str, path: Path | str) -> None:
    """Refuse (DataError) what rdflib would read in more than linear time or without bound:
    RDF/XML with a DTD or entity declarations, and more than ``SMQI_MAX_PREFIXES`` prefixes."""
    from kg.model.limits import max_prefixes

    if fmt == "xml":
        dtd = _XML_DTD.search(text)
        if dtd:
            raise DataError(
                f"{path}:{_line_at(text, dtd.start())}: RDF/XML with a document type declaration "
                f"(<!{dtd.group(1).upper()} …>) is refused: entities can expand without bound. Write the "
                "values out in full and remove the <!DOCTYPE …> block (RDF/XML needs no DTD)")
        pattern, what = _XML_PREFIX, "xmlns: namespace declarations"
    elif fmt in ("turtle", "trig", "n3"):
        pattern, what = _TURTLE_PREFIX, "@prefix / PREFIX declarations"
    else:
        return
    cap = max_prefixes()
    for count, match in enumerate(pattern.finditer(text), start=1):
        if count > cap:
            raise DataError(
                f"{path}:{_line_at(text, match.start())}: more than {cap:,} {what}; smqi reads at most "
                f"{cap:,} prefixes in one file (raise the limit with the environment variable SMQI_MAX_PREFIXES)")


class _QuietIllTyped(logging.Filter):
    """rdflib logs a warning with a traceback for every ill-typed literal ("bad"^^xsd:integer) it
    reads; it keeps the literal, and SHACL reports it with a clear message, so the log is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to convert Literal lexical form")


logging.getLogger("rdflib.term").addFilter(_QuietIllTyped())

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
    check_bounds(text, fmt, path)
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

        from kg.model.limits import max_prefixes

        contexts, terms = _contexts(doc)
        if terms > max_prefixes():
            raise DataError(f"{path}: the JSON-LD @context defines {terms:,} terms, more than the limit of "
                            f"{max_prefixes():,} (raise it with the environment variable SMQI_MAX_PREFIXES)")
        remote = [ctx for ctx in contexts if ctx != CONTEXT_IRI]
        if remote:
            raise DataError(
                f"{path}: JSON-LD @context {remote[0]!r} would have to be fetched; smqi never fetches "
                f"remote documents. Put the context inline in the file, or use {CONTEXT_IRI} "
                "(the project's context, read from the shipped copy)."
            )
        if CONTEXT_IRI in contexts:
            try:
                doc = substitute_context(doc)
            except RecursionError:
                raise DataError(f"{path}: not valid JSON-LD: nested too deeply to read") from None
            left, _terms = _contexts(doc)
            if left:  # where the shipped copy is not put in (e.g. a list inside a list)
                raise DataError(
                    f"{path}: JSON-LD @context {left[0]!r} would have to be fetched; smqi never fetches "
                    f"remote documents. Write \"@context\": \"{CONTEXT_IRI}\" (alone or in a flat list) "
                    "or put the context inline")
            text = json.dumps(doc)
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
        raise syntax_error(path, fmt, exc, text) from None
    return graph


# rdflib's Turtle / TriG messages in plain words (the rest are shown as rdflib words them)
_PLAIN = {
    "objectList expected": "an object is missing here (an IRI, a prefixed name, a literal or a blank node)",
    "expected '.' or '}' or ']' at end of statement": "a statement must end here with '.' (or ';' / ',' to "
                                                      "go on)",
    "newline found in string literal": "a line break inside a \"…\" literal (close the quote, or use "
                                       "\"\"\"…\"\"\" for text over several lines)",
    "unterminated string literal": "a literal's closing quote is missing",
    "unterminated URI reference": "an IRI's closing '>' is missing",
    "expected directive or statement": "a statement (subject predicate object .) or a @prefix line was "
                                       "expected here",
    "expected propertylist": "a predicate and an object were expected here",
    "bad escape": "an escape sequence (\\…) that Turtle does not allow",
}


def syntax_error(path: Path | str, fmt: str, exc: Exception, text: str) -> DataError:
    """The DataError for a file rdflib could not parse: ``<file>:<line>:<column>: not valid <fmt>:``
    what is wrong in plain words, and the line around the place (``▸`` marks it). rdflib's Turtle
    errors carry the position (``BadSyntax``); other errors give a line when they name one."""
    raw, at, lines = getattr(exc, "_str", None), getattr(exc, "_i", None), getattr(exc, "lines", None)
    if isinstance(raw, bytes) and isinstance(at, int) and isinstance(lines, int):
        source = raw.decode("utf-8", "replace")  # rdflib keeps the text as UTF-8; the position counts characters
        start = source.rfind("\n", 0, at) + 1
        end = source.find("\n", at)
        before, after = source[start:at], source[at:end if end >= 0 else len(source)]
        why = str(getattr(exc, "_why", "")).strip()
        what = _PLAIN.get(why, why)
        near = (before[-40:].strip() + " ▸ " + after.strip()[:40]).strip()
        return DataError(f"{path}:{lines + 1}:{len(before) + 1}: not valid {fmt}: {what}, at line {lines + 1}, "
                         f"column {len(before) + 1}: {near}")
    line = _line_of(exc, text)
    return DataError(f"{path}:{line}: not valid {fmt}: {_short(exc)}")


def _line_of(exc: Exception, text: str = "") -> str:
    lines = getattr(exc, "lines", None)
    if isinstance(lines, int):
        return str(lines + 1)
    match = re.search(r"line (\d+)", str(exc))
    if match:
        return match.group(1)
    invalid = re.match(r"Invalid line: (.+)", str(exc).strip())  # N-Triples / N-Quads name the line
    if invalid:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() == invalid.group(1).strip():
                return str(number)
    return "?"


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
