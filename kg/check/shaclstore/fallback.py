"""pySHACL for one shape: the fallback where the store engine cannot judge a shape exactly.

The shapes graph is copied with the targets of every other shape removed, so pySHACL validates only
that shape (and the shapes it refers to) on the data graph. Boolean parameters not written exactly
``true`` (e.g. ``sh:uniqueLang "1"^^xsd:boolean``) are written ``false`` in the copy: SHACL activates
them only with ``true``, and pySHACL would read ``"1"`` as true.
"""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import RDF, BNode, Graph, Literal
from rdflib.namespace import OWL, RDFS, SH, XSD
from rdflib.term import Node

from kg.check.shaclstore.forms import WrittenForms, term_of
from kg.check.shaclstore.model import TARGETS, Result, Unsupported, messages_of, top_level_shapes

__all__ = ["PyshaclFallback", "results_of_report", "graph_of_store", "BOOLEAN_PARAMS", "MAX_FALLBACK_TRIPLES"]

BOOLEAN_PARAMS = (SH.uniqueLang, SH.closed, SH.deactivated, SH.qualifiedValueShapesDisjoint)
# Above this many triples a store is not copied into rdflib for pySHACL; the shape is refused instead.
MAX_FALLBACK_TRIPLES = 500_000


class PyshaclFallback:
    """Results of one shape by pySHACL on ``data`` (an rdflib graph with literals as written)."""

    def __init__(self, data: Graph, shapes: Graph, ontology: Graph | None = None):
        self.data = data
        self.shapes = shapes
        self.ontology = ontology

    def shapes_for(self, shape: Node) -> Graph:
        """A copy of the shapes graph in which only ``shape`` has targets."""
        graph = Graph()
        for prefix, namespace in self.shapes.namespaces():
            graph.bind(prefix, namespace, override=True)
        for triple in self.shapes:
            graph.add(triple)
        for other in top_level_shapes(self.shapes):
            if other == shape:
                continue
            for predicate in (*TARGETS, SH.target):
                graph.remove((other, predicate, None))
            for cls in (RDFS.Class, OWL.Class):
                graph.remove((other, RDF.type, cls))
        for predicate in BOOLEAN_PARAMS:
            for subject, value in list(graph.subject_objects(predicate)):
                if not (isinstance(value, Literal) and value.datatype == XSD.boolean and str(value) == "true"):
                    graph.remove((subject, predicate, value))
                    graph.add((subject, predicate, Literal("false", datatype=XSD.boolean)))
        return graph

    def __call__(self, shape: Node, reason: str = "") -> list[Result]:
        from pyshacl import validate

        try:
            _conforms, report, _text = validate(
                self.data, shacl_graph=self.shapes_for(shape), ont_graph=self.ontology, inference="none",
                advanced=True, allow_warnings=True, abort_on_first=False)
        except Exception as exc:  # pySHACL raises its own errors on shapes it rejects
            raise Unsupported(f"shape {shape}: {reason}; pySHACL could not judge it either: {exc}") from None
        return results_of_report(report, self.shapes)


def results_of_report(report: Graph, shapes: Graph) -> list[Result]:
    """The results of a pySHACL validation report as ``Result``s (the store engine's kind), messages
    taken from ``shapes`` as the engine takes them."""
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        source = report.value(r, SH.sourceShape)
        path = report.value(r, SH.resultPath)
        if isinstance(path, BNode):  # pySHACL names the shapes graph's own path node; be sure of it
            path = shapes.value(source, SH.path) or path
        constraint = report.value(r, SH.sourceConstraint)
        messages = messages_of(shapes, constraint if constraint is not None else source)
        if constraint is not None or not messages:
            messages = tuple(sorted(str(m) for m in report.objects(r, SH.resultMessage)))
        out.append(Result(report.value(r, SH.focusNode), path, report.value(r, SH.sourceConstraintComponent),
                          source, constraint, report.value(r, SH.resultSeverity) or SH.Violation,
                          report.value(r, SH.value), messages))  # type: ignore[arg-type]
    return out


def graph_of_store(store: ox.Store, written: WrittenForms | None = None) -> Graph:
    """The union of the store's graphs as an rdflib graph, literals restored to their written form.

    Raises Unsupported for a store too big to copy (``MAX_FALLBACK_TRIPLES``)."""
    if len(store) > MAX_FALLBACK_TRIPLES:
        raise Unsupported(f"the store holds {len(store):,} quads, more than the {MAX_FALLBACK_TRIPLES:,} "
                          "the pySHACL fallback copies")
    written = written or WrittenForms()
    graph = Graph()
    for quad in store:
        s, p, o = term_of(quad.subject), term_of(quad.predicate), term_of(quad.object)
        graph.add((s, p, written.original(s, p, o)))  # type: ignore[arg-type]
    return graph

