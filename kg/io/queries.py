"""Named SPARQL queries: find them, read their headers, run them, format their results.

A named query is a ``.rq`` file under ``queries/<kind>/`` (``cq`` competency questions,
``typology``, ``qc`` quality checks). Every file opens with a header that tools can read (as in
grlc)::

    #+ summary: Studies per platform
    #+ description: Counts distinct studies (not uses) that report each platform.
    #+ param: key  only the row of this platform key (e.g. twitter)

The shipped queries must have a summary; a user's own ``.rq`` file may have no header at all. Each
``#+ param:`` line names one variable the query takes as a parameter (``--param key=twitter``);
binding any other variable is refused. ``#+ unordered: models`` names a column that holds a
``GROUP_CONCAT`` (space-separated values in no set order, as SPARQL gives them): the summary a build
keeps sorts them, so that ``smqi diff`` sees no change where there is none. A user's file with no ``#+ param:`` line takes any variable
its text uses. Parameters are bound with rdflib's ``initBindings`` only; query text is never built by pasting
values into it. Results can be written as an aligned text table or in the W3C SPARQL 1.1 Query
Results CSV and JSON formats.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rdflib is imported where it is used: reading a named query needs none of it
    from rdflib import Graph
    from rdflib.namespace import NamespaceManager
    from rdflib.term import Node

from kg.model.errors import DataError, UsageError
from kg.model.resources import query_dir

__all__ = [
    "NamedQuery",
    "QueryResult",
    "list_queries",
    "load_query",
    "run_query",
    "to_table",
    "layout_table",
    "fit_widths",
    "to_csv",
    "to_json",
    "solutions_text",
    "check_params",
]

_HEADER = re.compile(r"^#\+\s*(?P<key>[A-Za-z_-]+)\s*:\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class NamedQuery:
    """One ``.rq`` file: its name (file stem), kind (sub-folder), header fields and text."""

    name: str
    kind: str
    path: Path
    summary: str
    description: str
    text: str
    params: tuple[tuple[str, str], ...] = ()  # (variable name, what it does) from ``#+ param:`` lines
    unordered: tuple[str, ...] = ()  # ``#+ unordered:`` columns: space-separated values in no set order

    @property
    def param_names(self) -> list[str]:
        """The names of the declared parameters, in header order."""
        return [name for name, _ in self.params]

    @property
    def qualified_name(self) -> str:
        """``<kind>/<name>``, unique even where a bare name is not."""
        return f"{self.kind}/{self.name}" if self.kind else self.name


@dataclass
class QueryResult:
    """The rows of a SELECT query; ``None`` marks an unbound value."""

    variables: list[str]
    rows: list[tuple[Node | None, ...]]
    namespace_manager: NamespaceManager | None = field(default=None, repr=False, compare=False)


_PARAM = re.compile(r"^[?$]?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:[-:—–]\s*)?(?P<help>.*)$")


def _parse_header(path: Path, text: str, require_summary: bool = True):
    """Read ``#+ summary:``, ``#+ description:`` and the ``#+ param:`` lines from the leading comments."""
    fields: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break  # the header ends at the first line of SPARQL
        match = _HEADER.match(stripped)
        if not match:
            continue
        key = match["key"].lower()
        if key == "param":
            found = _PARAM.match(match["value"])
            if not found:
                raise DataError(f"{path}: '#+ param: {match['value']}' does not start with a variable name "
                                "(write '#+ param: NAME  what it does')")
            params.append((found["name"], found["help"].strip()))
        else:
            fields.setdefault(key, match["value"])
    summary = fields.get("summary", "")
    if not summary and require_summary:
        raise DataError(f"{path}: the query has no '#+ summary:' header line")
    unordered = tuple(v.lstrip("?$") for v in fields.get("unordered", "").replace(",", " ").split())
    return summary, fields.get("description", ""), tuple(params), unordered


def _read(path: Path, kind: str, require_summary: bool = True) -> NamedQuery:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read query file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: the query file is not UTF-8 (byte {exc.object[exc.start]:#04x} at "
                        f"offset {exc.start}); save it as UTF-8") from None
    summary, description, params, unordered = _parse_header(path, text, require_summary)
    return NamedQuery(path.stem, kind, path, summary, description, text, params, unordered)


def list_queries(root: Path | None = None) -> list[NamedQuery]:
    """Every ``.rq`` file under the shipped ``queries`` folder (or ``root``), by kind and name."""
    base = query_dir() if root is None else Path(root)
    found = []
    for path in sorted(base.rglob("*.rq")):
        rel = path.relative_to(base)
        kind = rel.parts[0] if len(rel.parts) > 1 else ""
        found.append(_read(path, kind))
    return sorted(found, key=lambda q: (q.kind, q.name))


def _unknown(name: str, candidates: Sequence[str]) -> UsageError:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return UsageError(
        f"unknown query {name!r}.{hint} Run 'smqi query --list' to see the named queries."
    )


def load_query(name_or_path: str | Path, root: Path | None = None) -> NamedQuery:
    """Find a query by bare name (unique across folders), by ``kind/name``, or by ``.rq`` path.

    Raises ``UsageError`` for an unknown or ambiguous name, naming close matches.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".rq"):
        path = Path(name_or_path)
        if not path.is_file():
            raise UsageError(
                f"no query file {text!r}. Run 'smqi query --list' to see the named queries."
            )
        shipped = path.resolve().is_relative_to(query_dir().resolve())
        return _read(path, path.parent.name, require_summary=shipped)  # a user's own file needs no header
    queries = list_queries(root)
    if "/" in text:
        matches = [q for q in queries if q.qualified_name == text]
        candidates = [q.qualified_name for q in queries]
    else:
        matches = [q for q in queries if q.name == text]
        candidates = sorted({q.name for q in queries})
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(q.qualified_name for q in matches)
        raise UsageError(f"query name {text!r} is ambiguous: say which one of {names}.")
    raise _unknown(text, candidates)


_VARIABLE = re.compile(r"[?$]([A-Za-z_][A-Za-z0-9_]*)")


def check_params(named: NamedQuery, names: Sequence[str]) -> None:
    """Refuse a parameter the query does not take (``UsageError``, exit 2), naming the ones it does.

    A query takes its ``#+ param:`` variables; a query with none declared takes none, except a user's
    own file (outside the shipped ``queries`` folder), which takes any variable its text uses."""
    allowed = named.param_names
    shipped = named.path.resolve().is_relative_to(query_dir().resolve())
    if not allowed and not shipped:
        allowed = sorted(set(_VARIABLE.findall(named.text)))
    unknown = [n for n in names if n not in allowed]
    if not unknown:
        return
    takes = (f"it takes {', '.join('?' + a for a in allowed)}" if allowed
             else "it takes no parameters")
    close = difflib.get_close_matches(unknown[0], allowed, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else ""
    where = f"query {named.qualified_name!r}" if shipped else str(named.path)
    see = " See 'smqi query --list'." if shipped else ""
    raise UsageError(f"{where} has no parameter {', '.join('?' + u for u in unknown)}: {takes}.{hint}{see}")


def run_query(
    graph: Graph,
    query: NamedQuery | str,
    bindings: Mapping[str, Node] | None = None,
) -> QueryResult:
    """Run a SELECT query on a Graph or Dataset (with ``default_union=True`` it sees every graph).

    ``query`` is a NamedQuery or anything ``load_query`` accepts. ``bindings`` maps variable names
    (without ``?``) to RDF terms and is passed to rdflib as ``initBindings``.
    """
    from rdflib import BNode, Literal, URIRef
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.term import Variable

    named = query if isinstance(query, NamedQuery) else load_query(query)
    try:
        prepared = prepareQuery(named.text)
    except Exception as exc:  # pyparsing and rdflib raise several types for a broken query
        raise DataError(f"{named.path}: the query does not parse: {exc}") from exc
    init = {Variable(k.lstrip("?$")): v for k, v in (bindings or {}).items()}
    for key, value in init.items():
        if not isinstance(value, (URIRef, Literal, BNode)):
            raise UsageError(f"binding for ?{key} must be an RDF term, not {type(value).__name__}")
    try:
        result = graph.query(prepared, initBindings=init)
        if result.type != "SELECT":
            raise UsageError(f"{named.path}: only SELECT queries are supported, not {result.type}")
        variables = [str(v) for v in (result.vars or [])]
        rows = [tuple(row[v] for v in (result.vars or [])) for row in result]  # type: ignore[index]
    except UsageError:
        raise
    except OSError as exc:  # a SERVICE the user allowed (--allow-service) that did not answer
        raise DataError(f"{named.path}: a remote service did not answer: {exc}") from None
    except RecursionError:
        raise DataError(f"{named.path}: the query is nested too deeply to run") from None
    return QueryResult(variables, rows, graph.namespace_manager)


# ---------------------------------------------------------------- formatters


def _shorten(iri: str, nm: NamespaceManager | None) -> str:
    """``prefix:local`` using the longest bound namespace that leaves a simple local name."""
    if nm is None:
        return str(iri)
    best: tuple[int, str] | None = None
    for prefix, ns in nm.namespaces():
        ns_text = str(ns)
        if ns_text and str(iri).startswith(ns_text):
            local = str(iri)[len(ns_text):]
            if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*|", local) and not local.endswith("."):
                if best is None or len(ns_text) > best[0]:
                    best = (len(ns_text), f"{prefix}:{local}")
    return best[1] if best else str(iri)


def _cell(value: Node | None, nm: NamespaceManager | None) -> str:
    from rdflib import BNode, URIRef

    if value is None:
        return ""
    if isinstance(value, URIRef):
        return _shorten(value, nm)
    if isinstance(value, BNode):
        return f"_:{value}"
    return str(value)


def _is_number(value: Node | None) -> bool:
    from rdflib import Literal

    if value is None:
        return True
    return isinstance(value, Literal) and isinstance(value.toPython(), (int, float))


def to_table(result: QueryResult, width: int | None = None) -> str:
    """An aligned text table: literals as lexical values, IRIs shortened where a prefix fits; with
    ``width``, cells cut with … so that a line fits in that many characters (``fit_widths``)."""
    header = list(result.variables)
    body = [[_cell(v, result.namespace_manager) for v in row] for row in result.rows]
    # Right-align columns that hold only numbers (counts), as a reader expects.
    numeric = [
        bool(result.rows) and all(_is_number(row[i]) for row in result.rows)
        for i in range(len(header))
    ]
    return layout_table(header, body, numeric, width)


MIN_CELL = 3  # a cut column keeps at least this many characters (two and the …)


def fit_widths(widths: Sequence[int], width: int) -> list[int]:
    """Column widths whose line (columns two spaces apart) fits in ``width`` characters: the widest
    columns are cut to one common cap, the largest that fits; no column goes below ``MIN_CELL`` (or its
    own width), so a table of very many columns may still be wider."""
    gaps = 2 * max(len(widths) - 1, 0)
    if sum(widths) + gaps <= width:
        return list(widths)

    def total(cap: int) -> int:
        return sum(min(w, cap) for w in widths) + gaps

    low, high = MIN_CELL, max(widths)
    while low < high:  # the largest cap whose total fits (or MIN_CELL)
        mid = (low + high + 1) // 2
        low, high = (mid, high) if total(mid) <= width else (low, mid - 1)
    return [min(w, low) for w in widths]


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


def layout_table(header: Sequence[str], body: Sequence[Sequence[str]], numeric: Sequence[bool],
                 width: int | None = None) -> str:
    """Header, dashes and rows, columns two spaces apart, numeric columns right-aligned; with ``width``
    the cells (header too) are cut with … to the widths of ``fit_widths``, and a last line says so."""
    full = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    widths = full if width is None else fit_widths(full, width)
    note = [] if widths == full else [f"(cells cut with … to fit {width} columns; --format csv or json gives "
                                      "the full values)"]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(_cut(c, w).rjust(w) if num else _cut(c, w).ljust(w)
                         for c, w, num in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body), *note]) + "\n"


def to_csv(result: QueryResult) -> str:
    """W3C SPARQL 1.1 Query Results CSV: header of names, IRIs in full, literals lexical, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow([_cell(v, None) for v in row])
    return buffer.getvalue()


def _json_term(value: Node) -> dict[str, str]:
    from rdflib import BNode, Literal, URIRef

    if isinstance(value, URIRef):
        return {"type": "uri", "value": str(value)}
    if isinstance(value, BNode):
        return {"type": "bnode", "value": str(value)}
    if isinstance(value, Literal):
        term = {"type": "literal", "value": str(value)}
        if value.language:
            term["xml:lang"] = value.language
        elif value.datatype is not None:
            term["datatype"] = str(value.datatype)
        return term
    raise TypeError(f"cannot write {value!r} as a SPARQL JSON result term")


def to_json(result: QueryResult) -> str:
    """W3C SPARQL 1.1 Query Results JSON: ``head.vars``, ``results.bindings``; unbound omitted."""
    bindings = [
        {var: _json_term(v) for var, v in zip(result.variables, row) if v is not None}
        for row in result.rows
    ]
    document = {"head": {"vars": list(result.variables)}, "results": {"bindings": bindings}}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


_NUMERIC = {"http://www.w3.org/2001/XMLSchema#" + t for t in (
    "integer decimal double float int long short byte nonNegativeInteger positiveInteger "
    "negativeInteger nonPositiveInteger unsignedLong unsignedInt unsignedShort unsignedByte").split()}


def solutions_text(solutions, fmt: str, width: int | None = None) -> str:
    """pyoxigraph SELECT solutions as ``table`` (as ``to_table``, cut to ``width``), ``csv`` or ``json``
    (the W3C SPARQL 1.1 results formats, written by pyoxigraph, never cut), with no rdflib object made."""
    import pyoxigraph as ox

    if fmt in ("csv", "json"):
        kind = ox.QueryResultsFormat.CSV if fmt == "csv" else ox.QueryResultsFormat.JSON
        return solutions.serialize(format=kind).decode("utf-8") + ("\n" if fmt == "json" else "")
    from kg.model.prefixes import PREFIXES

    spaces = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))

    def cell(term) -> str:
        if term is None:
            return ""
        if isinstance(term, ox.NamedNode):
            for prefix, ns in spaces:
                local = term.value[len(ns):]
                if term.value.startswith(ns) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*|", local) \
                        and not local.endswith("."):
                    return f"{prefix}:{local}"
            return term.value
        if isinstance(term, ox.BlankNode):
            return f"_:{term.value}"
        return term.value

    header = [v.value for v in solutions.variables]
    rows = [[s[v] for v in solutions.variables] for s in solutions]
    body = [[cell(t) for t in row] for row in rows]
    numeric = [bool(rows) and all(t is None or (isinstance(t, ox.Literal) and t.datatype.value in _NUMERIC)
                                  for t in (row[i] for row in rows)) for i in range(len(header))]
    return layout_table(header, body, numeric, width)
