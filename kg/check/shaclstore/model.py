"""What every part of the SHACL engine shares: the result type, the refusal, and reading a shapes graph.

Shapes are read from an rdflib graph parsed with literals as written, so ``"1"^^xsd:boolean`` is not
``true`` (SHACL only activates sh:uniqueLang, sh:closed, sh:deactivated… with ``true``).
"""

from __future__ import annotations

from typing import NamedTuple

from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDFS, SH, XSD
from rdflib.term import Node

from kg.model.errors import SmqiError

__all__ = [
    "Unsupported", "Result", "rdf_list", "is_true", "active", "is_property_shape", "severity_of",
    "messages_of", "implicit_class", "top_level_shapes", "nested_shapes", "closure", "sparql_path",
    "path_predicates", "n3", "TARGETS", "CONSTRAINTS", "ANNOTATIONS", "SPARQL_PARAMS", "SHAPE_TYPES"
]

TARGETS = (SH.targetNode, SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf)
# Parameters the store engine judges; any other sh: predicate on a shape sends it to the fallback.
CONSTRAINTS = {
    SH["class"], SH.datatype, SH.nodeKind, SH.minCount, SH.maxCount, SH.minExclusive, SH.minInclusive,
    SH.maxExclusive, SH.maxInclusive, SH.minLength, SH.maxLength, SH.pattern, SH.flags, SH.languageIn,
    SH.uniqueLang, SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals, SH["not"], SH["and"], SH["or"],
    SH.xone, SH.node, SH.property, SH.qualifiedValueShape, SH.qualifiedMinCount, SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint, SH.closed, SH.ignoredProperties, SH.hasValue, SH["in"], SH.sparql,
}
ANNOTATIONS = {SH.path, SH.message, SH.name, SH.description, SH.severity, SH.deactivated, SH.order,
               SH.group, SH.defaultValue, *TARGETS}
SPARQL_PARAMS = {SH.select, SH.message, SH.prefixes, SH.name, SH.description, SH.severity, SH.deactivated}
SHAPE_TYPES = (SH.NodeShape, SH.PropertyShape)


class Unsupported(SmqiError):
    """A shape uses a SHACL feature the store engine cannot judge exactly, and no fallback is available."""

    exit_code = 2


class Result(NamedTuple):
    """One validation result. ``path`` is the shapes graph's path node (an IRI or the blank node of a
    SHACL path structure); ``messages`` are the shape's (or SPARQL constraint's) sh:message texts."""

    focus: Node
    path: Node | None
    component: URIRef
    shape: Node
    constraint: Node | None
    severity: URIRef
    value: Node | None
    messages: tuple[str, ...]

    @property
    def key(self) -> tuple:
        """What two engines must agree on (messages aside)."""
        return (self.focus, self.path, self.component, self.shape, self.constraint, self.severity, self.value)


def rdf_list(shapes: Graph, head: Node, what: str = "list") -> list[Node]:
    """The members of an RDF list; a broken list is refused."""
    if head == RDF.nil:
        return []
    if not isinstance(head, BNode) and not (head, RDF.first, None) in shapes:
        raise Unsupported(f"{what} {head} is not an RDF list")
    try:
        return list(Collection(shapes, head))
    except Exception as exc:  # rdflib raises on a cycle or a missing rdf:first
        raise Unsupported(f"{what} {head} is not a well-formed RDF list ({exc})") from None


def is_true(shapes: Graph, node: Node, predicate: URIRef) -> bool:
    """Whether ``node`` has ``predicate true`` — written exactly ``"true"^^xsd:boolean``."""
    return any(isinstance(v, Literal) and v.datatype == XSD.boolean and str(v) == "true"
               for v in shapes.objects(node, predicate))


def active(shapes: Graph, node: Node) -> bool:
    """False for a deactivated shape or SPARQL constraint."""
    return not is_true(shapes, node, SH.deactivated)


def is_property_shape(shapes: Graph, shape: Node) -> bool:
    return (shape, SH.path, None) in shapes


def severity_of(shapes: Graph, node: Node) -> URIRef:
    value = shapes.value(node, SH.severity)
    return value if isinstance(value, URIRef) else SH.Violation


def messages_of(shapes: Graph, node: Node) -> tuple[str, ...]:
    return tuple(sorted(str(m) for m in shapes.objects(node, SH.message)))


def implicit_class(shapes: Graph, shape: Node) -> bool:
    """A shape that is also a class targets its instances."""
    return (shape, RDF.type, RDFS.Class) in shapes or (shape, RDF.type, OWL.Class) in shapes


def top_level_shapes(shapes: Graph) -> list[Node]:
    """Shapes with targets (explicit, or implicit class targets), in a stable order."""
    found: set[Node] = set()
    for predicate in TARGETS:
        found.update(shapes.subjects(predicate, None))
    for cls in (RDFS.Class, OWL.Class):
        for node in shapes.subjects(RDF.type, cls):
            if any((node, RDF.type, t) in shapes for t in SHAPE_TYPES) or (node, SH.property, None) in shapes:
                found.add(node)
    if (None, SH.target, None) in shapes:
        found.update(shapes.subjects(SH.target, None))
    return sorted(found, key=lambda n: (isinstance(n, BNode), str(n)))


def nested_shapes(shapes: Graph, shape: Node) -> list[tuple[URIRef, Node]]:
    """(parameter, shape) for every shape ``shape`` refers to directly."""
    out: list[tuple[URIRef, Node]] = []
    for predicate in (SH.node, SH["not"], SH.property, SH.qualifiedValueShape):
        out += [(predicate, s) for s in shapes.objects(shape, predicate)]
    for predicate in (SH["and"], SH["or"], SH.xone):
        for head in shapes.objects(shape, predicate):
            out += [(predicate, s) for s in rdf_list(shapes, head, str(predicate))]
    return out


def closure(shapes: Graph, shape: Node) -> list[Node]:
    """``shape`` and every shape reachable from it."""
    seen: list[Node] = []
    todo = [shape]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.append(node)
        todo += [s for _p, s in nested_shapes(shapes, node)]
    return seen


# ---------------------------------------------------------------- paths


def sparql_path(shapes: Graph, path: Node, depth: int = 0) -> str:
    """A SHACL property path as a SPARQL 1.1 property path."""
    if depth > 50:
        raise Unsupported(f"path {path} is nested too deeply")
    if isinstance(path, URIRef):
        return f"<{path}>"
    if not isinstance(path, BNode):
        raise Unsupported(f"path {path!r} is not an IRI or a path structure")
    if (path, RDF.first, None) in shapes:
        members = rdf_list(shapes, path, "sequence path")
        if len(members) < 2:
            raise Unsupported(f"sequence path {path} needs at least two members")
        return "(" + " / ".join(sparql_path(shapes, m, depth + 1) for m in members) + ")"
    unary = {SH.inversePath: "^({})", SH.zeroOrMorePath: "({})*", SH.oneOrMorePath: "({})+",
             SH.zeroOrOnePath: "({})?"}
    for predicate, template in unary.items():
        inner = shapes.value(path, predicate)
        if inner is not None:
            return template.format(sparql_path(shapes, inner, depth + 1))
    alternatives = shapes.value(path, SH.alternativePath)
    if alternatives is not None:
        members = rdf_list(shapes, alternatives, "alternative path")
        if len(members) < 2:
            raise Unsupported(f"alternative path {path} needs at least two members")
        return "(" + " | ".join(sparql_path(shapes, m, depth + 1) for m in members) + ")"
    raise Unsupported(f"path {path} is not a SHACL path")


def path_predicates(shapes: Graph, path: Node) -> tuple[set[Node], bool]:
    """The IRIs a path uses, and whether it can have length zero (then the focus is a value too)."""
    if isinstance(path, URIRef):
        return {path}, False
    preds: set[Node] = set()
    zero = False
    todo = [path]
    seen: set[Node] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, URIRef):
            preds.add(node)
            continue
        for p, o in shapes.predicate_objects(node):
            if p in (SH.zeroOrMorePath, SH.zeroOrOnePath):
                zero = True
            if p in (RDF.first, RDF.rest, SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath,
                     SH.zeroOrOnePath, SH.alternativePath) and o != RDF.nil:
                todo.append(o)
    return preds, zero


def n3(term: Node) -> str:
    """A term in SPARQL syntax (blank nodes cannot be constants in a query)."""
    if isinstance(term, BNode):
        raise Unsupported(f"the blank node {term} cannot be used as a constant on the store")
    if isinstance(term, Literal) and term.datatype is None and term.language is None:
        return Literal(str(term)).n3()
    return term.n3()
