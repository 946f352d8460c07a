"""On-disk Oxigraph stores (``--store oxigraph:DIR``) and remote SPARQL endpoints (``--endpoint URL``).

The default stays an rdflib Dataset in memory. ``smqi build --store oxigraph:DIR`` also writes the
dataset, named graphs and all, into a pyoxigraph (RocksDB) store in DIR, swapped in only when the
whole write succeeded; every query command can then read it read-only. Queries see the union of the
named graphs, as the in-memory Dataset (``default_union=True``) does.

Results come back as ``kg.io.queries.QueryResult`` with rdflib terms, so the table/CSV/JSON formatters and
every comparison work the same whichever engine ran the query. Parameters are bound as RDF terms:
``substitutions`` on Oxigraph, a trailing ``VALUES`` block (terms written in N-Triples syntax) on a
remote endpoint; values are never pasted into the query's own text.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pyoxigraph as ox
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # rdflib is imported where terms are converted: opening and querying a store need none
    from rdflib import Dataset
    from rdflib.term import Node

from kg.io.atomic import swap_folder
from kg.model.errors import DataError, UsageError
from kg.io.queries import NamedQuery, QueryResult, load_query
from kg.io.remote import sparql_query

__all__ = [
    "parse_store_spec", "to_ox", "from_ox", "write_store", "write_nquads_store", "open_store",
    "store_from_dataset", "graphs_of", "quads_by_subject", "select_store", "query_store", "query_endpoint",
    "select_union", "select_text", "dataset_of",
]

SCHEME = "oxigraph:"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def parse_store_spec(spec: str) -> Path:
    """``oxigraph:DIR`` → DIR. Anything else is a usage error naming what is accepted."""
    if not spec.startswith(SCHEME) or not spec[len(SCHEME):]:
        raise UsageError(f"--store {spec!r}: write oxigraph:DIR (an Oxigraph store in folder DIR)")
    return Path(spec[len(SCHEME):])


# ---------------------------------------------------------------- terms


def to_ox(term: Node):
    """An rdflib term as a pyoxigraph term (a pyoxigraph term is returned as it is)."""
    if isinstance(term, (ox.NamedNode, ox.BlankNode, ox.Literal)):
        return term
    from rdflib import BNode, Literal, URIRef

    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"cannot convert {term!r} to an Oxigraph term")


def from_ox(term, *, exact: bool = False) -> Node | None:
    """A pyoxigraph term as an rdflib term (``None`` stays ``None``: an unbound variable). ``exact``
    keeps a typed literal's lexical form as the store holds it (rdflib's normalisation off:
    ``"1"^^xsd:double`` stays ``"1"``, not ``"1.0"``), as the SHACL engine needs."""
    from rdflib import BNode, Literal, URIRef

    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return Literal(term.value)
        if exact:
            return Literal(term.value, datatype=URIRef(datatype), normalize=False)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"cannot convert {term!r} to an rdflib term")


# ---------------------------------------------------------------- writing and opening stores


def write_nquads_store(chunks: Iterable[bytes], directory: Path) -> Path:
    """Bulk-load N-Quads ``chunks`` into a new store at ``directory``, replacing it only on success."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
    try:
        store = ox.Store(str(tmp))
        for chunk in chunks:
            store.bulk_load(chunk, ox.RdfFormat.N_QUADS)
        store.flush()
        del store  # closes RocksDB before the folder moves
        swap_folder(tmp, directory)  # one atomic folder swap for builds and stores alike
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def write_store(dataset: Dataset, directory: Path) -> Path:
    """Write every graph of ``dataset`` (named graphs kept) into an Oxigraph store at ``directory``."""
    data = dataset.serialize(format="nquads", encoding="utf-8")
    return write_nquads_store([data], directory)


def store_from_dataset(dataset: Dataset) -> ox.Store:
    """A new in-memory Oxigraph store holding every quad of ``dataset``, named graphs kept.

    For callers that still assemble an rdflib Dataset (``smqi report``, ``smqi export``) and then read
    it as the build's store would be read. Oxigraph keeps literal values: an ``xsd:positiveInteger``
    comes back as ``xsd:integer``, a double in its canonical form (``"1"^^xsd:double``)."""
    store = ox.Store()
    data = dataset.serialize(format="nquads", encoding="utf-8")
    if data.strip():
        store.bulk_load(data, ox.RdfFormat.N_QUADS)
    return store


def graphs_of(store: ox.Store) -> list:
    """The default graph, then every named graph by name (IRIs, then blank nodes)."""
    named = sorted(store.named_graphs(), key=lambda g: (isinstance(g, ox.BlankNode), g.value))
    return [ox.DefaultGraph(), *named]


SORT_LIMIT = 200_000  # quads of one graph sorted in memory; a larger graph streams in store order


def _quad_key(quad) -> tuple:
    subject, obj = quad.subject, quad.object
    return (isinstance(subject, ox.BlankNode), subject.value, quad.predicate.value, type(obj).__name__,
            obj.value, getattr(obj, "language", None) or "", str(getattr(obj, "datatype", "")))


def _runs(quads: Iterable) -> Iterator[tuple[object, list]]:
    subject, group = None, []
    for quad in quads:
        if group and quad.subject != subject:
            yield subject, group
            group = []
        subject = quad.subject
        group.append(quad)
    if group:
        yield subject, group


def quads_by_subject(store: ox.Store, graph, sort_limit: int | None = None) -> Iterator[tuple[object, list]]:
    """(subject, its quads) for one graph of ``store``, in one pass over the graph's index.

    A graph of at most ``sort_limit`` (default ``SORT_LIMIT``) quads is sorted (by subject, predicate, object: the same order
    whatever order the quads were added in); a larger one streams in the store's own order, holding
    at most ``sort_limit`` quads, and a subject's quads come together as long as the store keeps them
    together (an on-disk store does: its index is by graph and subject; otherwise a subject may come
    back in several runs, which every caller accepts)."""
    sort_limit = SORT_LIMIT if sort_limit is None else sort_limit
    quads = iter(store.quads_for_pattern(None, None, None, graph))
    head = list(itertools.islice(quads, sort_limit + 1))
    if len(head) <= sort_limit:
        head.sort(key=_quad_key)
        yield from _runs(head)
    else:
        yield from _runs(itertools.chain(head, quads))


def open_store(directory: Path | str) -> ox.Store:
    """Open an existing store read-only; a missing or broken folder is a DataError (exit 2)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no Oxigraph store there (build one with "
                        f"'smqi build --store oxigraph:{directory}')")
    try:
        return ox.Store.read_only(str(directory))
    except OSError as exc:
        raise DataError(f"{directory}: cannot open the Oxigraph store: {exc}") from None


# ---------------------------------------------------------------- queries


def _named(query: NamedQuery | str) -> NamedQuery:
    return query if isinstance(query, NamedQuery) else load_query(query)


def _result(variables: list[str], rows: list[tuple]) -> QueryResult:
    from rdflib import Graph

    from kg.model.namespaces import bind_prefixes

    return QueryResult(variables, rows, bind_prefixes(Graph()).namespace_manager)


def select_store(store: ox.Store, query: NamedQuery | str, bindings: Mapping | None = None, *,
                 union: bool = True) -> ox.QuerySolutions:
    """Run a SELECT over the union of the store's graphs and return pyoxigraph's solutions (no rdflib:
    what `smqi query` prints comes straight from these). ``bindings`` (rdflib or pyoxigraph terms)
    become substitutions, which pyoxigraph accepts for projected variables only. ``union=False``
    for a query whose FROM / FROM NAMED name its dataset (the union default graph ignores FROM)."""
    named = _named(query)
    subs = {ox.Variable(k.lstrip("?$")): to_ox(v) for k, v in (bindings or {}).items()}
    try:
        try:
            solutions = store.query(named.text, use_default_graph_as_union=union, substitutions=subs or None)
        except RuntimeError as exc:
            if not subs or "projection" not in str(exc):
                raise
            names = ", ".join(f"?{v.value}" for v in subs)
            raise UsageError(f"{named.path}: a parameter ({names}) must be a variable the query SELECTs: "
                             "the store binds only projected variables") from None
    except SyntaxError as exc:
        raise DataError(f"{named.path}: the query does not parse: {exc}") from None
    if not isinstance(solutions, ox.QuerySolutions):
        raise UsageError(f"{named.path}: only SELECT queries are supported")
    return solutions


def query_store(store: ox.Store, query: NamedQuery | str,
                bindings: Mapping[str, Node] | None = None) -> QueryResult:
    """``select_store`` with the rows as rdflib terms (a ``QueryResult``)."""
    solutions = select_store(store, query, bindings)
    variables = [v.value for v in solutions.variables]
    rows = [tuple(from_ox(s[v]) for v in variables) for s in solutions]
    return _result(variables, rows)


def select_union(source, text: str) -> list[tuple[Node | None, ...]]:
    """Rows of a SELECT ``text`` over the union of every graph of ``source``, as rdflib terms.

    ``source`` is a pyoxigraph ``Store`` (queried with ``use_default_graph_as_union=True``), an rdflib
    Dataset (with or without ``default_union``: a union view over the same store, nothing copied), a
    KnowledgeGraph (its dataset) or a plain Graph. ``GRAPH <iri> { … }`` in ``text`` still reads one
    named graph of a Store or a Dataset. Columns are in the order of the SELECT's variables."""
    source = getattr(source, "dataset", source)
    if isinstance(source, ox.Store):
        solutions = source.query(text, use_default_graph_as_union=True)
        variables = solutions.variables
        return [tuple(from_ox(s[v]) for v in variables) for s in solutions]
    from rdflib import Dataset

    if isinstance(source, Dataset) and not source.default_union:
        source = Dataset(store=source.store, default_union=True)
    return [tuple(row) for row in source.query(text)]


def select_text(source, text: str) -> list[tuple[str | None, ...]]:
    """As ``select_union``, but each term as plain text (an IRI, a literal's lexical form, a blank
    node's label): no rdflib term is made per value, which is what costs most on large results."""
    source = getattr(source, "dataset", source)
    if isinstance(source, ox.Store):
        solutions = source.query(text, use_default_graph_as_union=True)
        variables = solutions.variables
        return [tuple(None if (t := s[v]) is None else t.value for v in variables) for s in solutions]
    return [tuple(None if t is None else str(t) for t in row) for row in select_union(source, text)]


def _values_block(bindings: Mapping[str, Node]) -> str:
    names = [k.lstrip("?$") for k in bindings]
    for name in names:
        if not name.isidentifier():
            raise UsageError(f"cannot bind ?{name}: not a variable name")
    terms = " ".join(v.n3() for v in bindings.values())  # N-Triples syntax, escaped by rdflib
    return f"\nVALUES ({' '.join('?' + n for n in names)}) {{ ({terms}) }}\n"


def _json_node(term: dict) -> Node:
    from rdflib import BNode, Literal, URIRef

    kind, value = term["type"], term["value"]
    if kind == "uri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(value)
    if "xml:lang" in term:
        return Literal(value, lang=term["xml:lang"])
    datatype = term.get("datatype")
    return Literal(value, datatype=URIRef(datatype) if datatype and datatype != XSD_STRING else None)


def query_endpoint(url: str, query: NamedQuery | str, bindings: Mapping[str, Node] | None = None,
                   timeout: float = 60.0) -> QueryResult:
    """Run a SELECT on a SPARQL 1.1 Protocol endpoint (form POST, or GET where that is refused;
    JSON results)."""
    named = _named(query)
    text = named.text + (_values_block(bindings) if bindings else "")
    answer = sparql_query(url, text, timeout=timeout)
    try:
        document = json.loads(answer.body.decode("utf-8"))
    except ValueError as exc:
        raise DataError(f"{url}: no usable SPARQL JSON results ({exc})") from None
    if isinstance(document, dict) and "boolean" in document:
        raise UsageError(f"{named.path}: only SELECT queries are supported")
    if not isinstance(document, dict) or not isinstance(document.get("results"), dict):
        raise DataError(f"{url}: the answer ({answer.content_type}) is not SPARQL 1.1 JSON results")
    variables = list(document["head"].get("vars", []))
    rows = [tuple(_json_node(b[v]) if v in b else None for v in variables)
            for b in document["results"]["bindings"]]
    return _result(variables, rows)


def dataset_of(store: ox.Store) -> Dataset:
    """Every quad of ``store`` as an rdflib Dataset (union default graph), for code that reads rdflib."""
    from rdflib import Dataset

    from kg.model.namespaces import bind_prefixes

    dataset = bind_prefixes(Dataset(default_union=True))
    dataset.parse(data=store.dump(format=ox.RdfFormat.N_QUADS).decode("utf-8"), format="nquads")
    return dataset
