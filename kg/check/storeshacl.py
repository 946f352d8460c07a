"""SHACL Core validation compiled to SPARQL and run on Oxigraph: the fast engine (``--engine fast``),
and ``smqi validate DATA --shapes SHAPES`` for any RDF against any shapes.

Every target kind, property paths, value type, cardinality, value range, string-based, property-pair,
logical and shape-based constraints, closed shapes, sh:hasValue, sh:in and SPARQL-based constraints
(``sh:select`` with ``$this``) are compiled to SPARQL over the union of the store's graphs
(``kg.check.shaclstore.engine``); literals are judged as written (``kg.check.shaclstore.forms``). A shape the
store cannot judge exactly goes, alone, to pySHACL on the data graph (``kg.check.shaclstore.fallback``), or
is refused with ``Unsupported`` (a SmqiError naming the shape and the feature) — never a silent
difference. ``tests/test_fastshacl.py`` compares the engine with pyshacl on every shape fixture and
``tests/test_w3c_shacl.py`` runs the W3C SHACL Core test suite through the command line.

Like pyshacl with ``ont_graph``, the ontology must be in the store (its ``rdfs:subClassOf`` axioms
widen targetClass and sh:class).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pyoxigraph as ox
from rdflib import Dataset, Graph

from kg.check.shaclstore.engine import StoreEngine
from kg.check.shaclstore.fallback import PyshaclFallback, graph_of_store
from kg.check.shaclstore.forms import WrittenForms, load_graph, written_forms_of
from kg.check.shaclstore.model import Result, Unsupported
from kg.check.shaclstore.report import as_json, as_text, as_turtle, report_graph

__all__ = ["Unsupported", "Result", "WrittenForms", "load_graph", "written_forms_of", "validate_store",
           "validate_graphs", "validate_files", "report_graph", "as_text", "as_json", "as_turtle", "read_graph"]


def validate_store(store: ox.Store, shapes: Graph, written: WrittenForms | None = None, *,
                   data: Graph | None = None, fallback: bool = True) -> list[Result]:
    """Every validation result of ``shapes`` on the union of the graphs in ``store``.

    ``written`` (from ``load_graph`` or the fast loader) restores literals as written. A shape the
    store cannot judge exactly is run by pySHACL on ``data`` (the same triples as an rdflib graph,
    literals as written), or on a copy of a small store; with ``fallback=False``, or a store too big
    to copy, it raises ``Unsupported``."""
    engine = StoreEngine(store, shapes, written)
    pyshacl: list[PyshaclFallback] = []

    def run_fallback(shape, reason: str) -> list[Result]:
        if not fallback:
            raise Unsupported(f"shape {shape} cannot be judged exactly on the store ({reason})")
        if not pyshacl:
            try:
                graph = data if data is not None else graph_of_store(store, written)
            except Unsupported as exc:
                raise Unsupported(f"shape {shape} cannot be judged exactly on the store ({reason}), and {exc}") from None
            pyshacl.append(PyshaclFallback(graph, shapes))
        return pyshacl[0](shape, reason)

    return engine.run(run_fallback)


def validate_graphs(data: Sequence[Graph], shapes: Graph) -> tuple[bool, list[Result], Graph]:
    """Validate rdflib graphs (literals as written) against a shapes graph on a fresh in-memory
    store: (conforms, results, W3C report graph)."""
    store, written = load_graph(list(data))
    union = data[0] if len(data) == 1 else _union(data)
    results = validate_store(store, shapes, written, data=union)
    return not results, results, report_graph(results, shapes, union)


def read_graph(paths: Sequence[Path]) -> Graph:
    """The triples of RDF files (any format kg.io.rdf reads; named graphs merged), literals as written,
    with the project's safe parser (never fetches a remote document)."""
    from kg.io.rdf import QUAD_FORMATS, parse_into, rdf_format

    graph = Graph()
    for path in paths:
        fmt = rdf_format(Path(path))
        if fmt in QUAD_FORMATS:
            dataset = parse_into(Dataset(default_union=True), Path(path), fmt, as_written=True)
            for triple in dataset.triples((None, None, None)):
                graph.add(triple)
        else:
            parse_into(graph, Path(path), fmt, as_written=True)
        for prefix, namespace in graph.namespaces():
            graph.bind(prefix, namespace, override=False)
    return graph


def validate_files(data_paths: Sequence[Path], shapes_paths: Sequence[Path]) -> tuple[bool, list[Result], Graph]:
    """Any RDF against any shapes: parse the files (kg.io.rdf, literals as written), load the data
    into a fresh in-memory Oxigraph store, validate. Returns (conforms, results, report graph)."""
    from kg.model.errors import UsageError

    if not data_paths or not shapes_paths:
        raise UsageError("give at least one data file and one shapes file")
    rdflib_terms = logging.getLogger("rdflib.term")
    quiet = _IllTyped()
    rdflib_terms.addFilter(quiet)  # an ill-typed literal is data to judge, not a traceback to print
    try:
        data = read_graph(data_paths)
        same = sorted(Path(p).resolve() for p in data_paths) == sorted(Path(p).resolve() for p in shapes_paths)
        shapes = data if same else read_graph(shapes_paths)
        return validate_graphs([data], shapes)
    finally:
        rdflib_terms.removeFilter(quiet)


class _IllTyped(logging.Filter):
    """Drops rdflib's "Failed to convert Literal lexical form to value" warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to convert Literal lexical form")


def _union(graphs: Sequence[Graph]) -> Graph:
    union = Graph()
    for graph in graphs:
        for triple in graph:
            union.add(triple)
    return union
