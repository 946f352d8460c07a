"""SHACL validation compiled to SPARQL and run on Oxigraph: the fast engine (``--engine fast``).

The shapes in ``shapes/*.ttl`` use a small part of SHACL core (targetClass; minCount, maxCount,
datatype, class, pattern, hasValue, languageIn, nodeKind, minLength; sh:or of shapes) and SHACL-SPARQL
constraints (``sh:sparql`` with ``sh:select``). Each constraint becomes one SPARQL query over the
union of the store's graphs, joined with its shape's focus nodes, so the work is done by Oxigraph and
not by Python loops over every node. Per node shape, one aggregate query first counts the focus nodes
and, per path, the value rows and the focus nodes with a value; minCount/maxCount checks those counts
prove clean (and the value checks of a path nobody uses) are skipped. Node shapes run in two threads
(Oxigraph evaluates without the GIL). Results are the same tuples pyshacl gives (focus node, path,
constraint component, source shape, source constraint, severity, value, messages); the test
``tests/test_fastshacl.py`` compares the two engines on every shape fixture and on the real data.

A shapes graph that uses anything outside that part raises ``Unsupported`` when compiled, so the
caller falls back to pyshacl instead of silently checking less. Like pyshacl with ``ont_graph``,
the ontology must be in the store (its ``rdfs:subClassOf`` axioms widen targetClass and sh:class).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import pyoxigraph as ox
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDFS, SH
from rdflib.term import Node

from kg.io.store import from_ox, to_ox

__all__ = ["Unsupported", "Result", "Fidelity", "load_graph", "fidelity_of", "validate_store", "compile_shapes"]

RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

# Parameters this engine understands; any other sh: predicate on a shape raises Unsupported.
NODE_PARAMS = {SH.targetClass, SH.property, SH.sparql, SH["or"], SH.message, SH.name, SH.description,
               SH.severity, SH.deactivated, SH.order, SH.group}
PROPERTY_PARAMS = {SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH.pattern, SH.flags,
                   SH.hasValue, SH.languageIn, SH.nodeKind, SH.minLength, SH.message, SH.name,
                   SH.description, SH.severity, SH.deactivated, SH.order, SH.group}


SPARQL_PARAMS = {SH.select, SH.message, SH.prefixes, SH.name, SH.description, SH.severity, SH.deactivated}


class Unsupported(Exception):
    """The shapes use a SHACL feature this engine does not compile."""


class Result(NamedTuple):
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


@dataclass
class _Shape:
    iri: Node
    severity: URIRef
    messages: tuple[str, ...]


def _n3(term: Node) -> str:
    return term.n3()


def _check_params(shapes: Graph, shape: Node, allowed: set[URIRef]) -> None:
    for pred in set(shapes.predicates(shape)):
        if str(pred).startswith(str(SH)) and pred not in allowed:
            raise Unsupported(f"{shape}: {pred} is not compiled by the fast engine")


def _info(shapes: Graph, shape: Node) -> _Shape:
    severity = shapes.value(shape, SH.severity) or SH.Violation
    messages = tuple(sorted(str(m) for m in shapes.objects(shape, SH.message)))
    return _Shape(shape, severity, messages)  # type: ignore[arg-type]


def _active(shapes: Graph, shape: Node) -> bool:
    deactivated = shapes.value(shape, SH.deactivated)
    return not (isinstance(deactivated, Literal) and deactivated.toPython() is True)


XSD = "http://www.w3.org/2001/XMLSchema#"
# Oxigraph stores these datatypes as another one (and numbers, booleans, dates in canonical lexical form).
STORED_AS = {**{XSD + t: XSD + "integer" for t in (
    "int long short byte nonNegativeInteger positiveInteger nonPositiveInteger negativeInteger "
    "unsignedLong unsignedInt unsignedShort unsignedByte").split()}, XSD + "dateTimeStamp": XSD + "dateTime"}


def _same_datatype(dt: Node) -> str:
    """A condition over ?v: its datatype is ``dt`` or the one Oxigraph stores ``dt`` as."""
    stored_as = {str(dt), STORED_AS.get(str(dt), str(dt))}
    return " || ".join(f"datatype(?v) = <{d}>" for d in sorted(stored_as))


@dataclass
class Fidelity:
    """What Oxigraph changed when it stored typed literals, so results show the data as written.

    Oxigraph keeps values, not lexical forms: ``"02"^^xsd:positiveInteger`` is stored as
    ``"2"^^xsd:integer``. ``exact`` maps (subject, predicate, stored literal) to the literal as
    written; ``defaults`` maps a predicate to (stored datatype, written datatype) when every value
    of it was written canonically in that datatype (what the fast loader declares for
    ``smqi:useNumber``), which costs nothing per triple.
    """

    exact: dict[tuple[Node, Node, Literal], Literal] = field(default_factory=dict)
    defaults: dict[Node, tuple[str, str]] = field(default_factory=dict)

    def original(self, subject: Node, predicate: Node | None, value: Node | None) -> Node | None:
        if not isinstance(value, Literal) or value.datatype is None:
            return value
        hit = self.exact.get((subject, predicate, value))
        if hit is not None:
            return hit
        default = self.defaults.get(predicate)
        if default and str(value.datatype) == default[0]:
            return Literal(str(value), datatype=URIRef(default[1]))
        return value

    def touches(self, predicate: Node) -> bool:
        return predicate in self.defaults or any(k[1] == predicate for k in self.exact)


def load_graph(graphs: list[Graph], store: ox.Store | None = None) -> tuple[ox.Store, Fidelity]:
    """Load rdflib graphs into a store (default graph) and record what Oxigraph rewrote."""
    store = store if store is not None else ox.Store()
    for graph in graphs:
        store.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph)
    return store, fidelity_of(graphs)


def fidelity_of(graphs: list[Graph]) -> Fidelity:
    """Which typed literals of ``graphs`` Oxigraph stores in another form, and as what."""
    fidelity = Fidelity()
    typed: set[Literal] = set()
    for graph in graphs:
        typed.update(o for o in graph.objects() if isinstance(o, Literal) and o.datatype is not None)
    if not typed:
        return fidelity
    scratch = ox.Store()
    originals = sorted(typed, key=lambda lit: (str(lit.datatype), str(lit)))
    scratch.extend(ox.Quad(ox.NamedNode(f"urn:x:{i}"), ox.NamedNode("urn:x:p"), to_ox(lit))
                   for i, lit in enumerate(originals))
    stored = {int(q.subject.value[6:]): from_ox(q.object) for q in scratch}
    changed = {lit: stored[i] for i, lit in enumerate(originals)
               if (str(stored[i]), stored[i].datatype) != (str(lit), lit.datatype)}
    if changed:
        for graph in graphs:
            for s, p, o in graph:
                if o in changed:
                    fidelity.exact[(s, p, changed[o])] = o
    return fidelity


class _Engine:
    def __init__(self, store: ox.Store, shapes: Graph, fidelity: Fidelity | None = None):
        self.store = store
        self.shapes = shapes
        self.fidelity = fidelity or Fidelity()
        self._subclasses: dict[Node, str] = {}
        # focus pattern -> (number of focus nodes, {path: (value rows, focus nodes with a value)})
        self._stats: dict[str, tuple[int, dict[Node, tuple[int, int]]]] = {}
        self._targets: dict[str, str] = {}  # focus pattern -> its classes (VALUES list)
        # focus pattern -> {(property shape, component, parameter): value rows breaking it, None = unknown}
        self._screen: dict[str, dict[tuple, int | None]] = {}
        # focus pattern -> {path: distinct literal values} for paths with a non-string sh:datatype
        self._literals: dict[str, dict[Node, list[Node]]] = {}
        self._sparql: dict[tuple, list[Result]] = {}  # (shape, constraint, focus) -> its results

    # -------------------------------------------------------- helpers

    def select(self, query: str) -> list[tuple]:
        solutions = self.store.query(query, use_default_graph_as_union=True)
        names = [v.value for v in solutions.variables]
        return [tuple(from_ox(s[n]) for n in names) for s in solutions]

    def classes(self, cls: Node) -> str:
        """A VALUES list of ``cls`` and its subclasses (rdfs:subClassOf*) in the data."""
        if cls not in self._subclasses:
            rows = self.select(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* {_n3(cls)} }}")
            found = {r[0] for r in rows} | {cls}
            self._subclasses[cls] = " ".join(sorted(_n3(c) for c in found))
        return self._subclasses[cls]

    def focus_pattern(self, shape: Node) -> str | None:
        targets = list(self.shapes.objects(shape, SH.targetClass))
        if (shape, RDF.type, RDFS.Class) in self.shapes or (shape, RDF.type, OWL.Class) in self.shapes:
            targets.append(shape)  # implicit class target
        if not targets:
            return None
        blocks = [f"{{ ?this a ?__t . VALUES ?__t {{ {self.classes(t)} }} }}" for t in targets]
        focus = "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(blocks) + " } }"
        self._targets[focus] = " ".join(sorted({c for t in targets for c in self.classes(t).split(" ")}))
        return focus

    def value_conditions(self, ps: Node) -> list[tuple[URIRef, Node, str]]:
        """(component, parameter, FILTER condition over ?v) of each value constraint of property shape
        ``ps``: a value row breaks the constraint when the condition holds. For sh:datatype this is the
        wrong-type part only; ill-formed literals of the right type are judged in Python
        (``datatype_violations``)."""
        shapes = self.shapes
        out: list[tuple[URIRef, Node, str]] = []
        for dt in shapes.objects(ps, SH.datatype):
            if dt in (RDFS.Literal, RDFS.Datatype):
                raise Unsupported(f"sh:datatype {dt} is not compiled by the fast engine")
            out.append((SH.DatatypeConstraintComponent, dt, f"!isLiteral(?v) || !({_same_datatype(dt)})"))
        for cls in shapes.objects(ps, SH["class"]):
            out.append((SH.ClassConstraintComponent, cls,
                        f"NOT EXISTS {{ ?v a ?__c . VALUES ?__c {{ {self.classes(cls)} }} }}"))
        for pattern in shapes.objects(ps, SH.pattern):
            flags = shapes.value(ps, SH.flags)
            regex = f"REGEX(STR(?v), {_n3(Literal(str(pattern)))}" + (
                f", {_n3(Literal(str(flags)))})" if flags else ")")
            out.append((SH.PatternConstraintComponent, pattern, f"isBlank(?v) || !{regex}"))
        for head in shapes.objects(ps, SH.languageIn):
            langs = [str(x) for x in Collection(shapes, head)]
            ok = " || ".join(f"langMatches(lang(?v), {_n3(Literal(tag))})" for tag in langs) or "false"
            out.append((SH.LanguageInConstraintComponent, head, f"!isLiteral(?v) || !({ok})"))
        for kind in shapes.objects(ps, SH.nodeKind):
            test = {SH.IRI: "isIRI(?v)", SH.BlankNode: "isBlank(?v)", SH.Literal: "isLiteral(?v)",
                    SH.BlankNodeOrIRI: "(isBlank(?v) || isIRI(?v))", SH.BlankNodeOrLiteral:
                    "(isBlank(?v) || isLiteral(?v))", SH.IRIOrLiteral: "(isIRI(?v) || isLiteral(?v))"}[kind]
            out.append((SH.NodeKindConstraintComponent, kind, f"!{test}"))
        for n in shapes.objects(ps, SH.minLength):
            out.append((SH.MinLengthConstraintComponent, n, f"isBlank(?v) || STRLEN(STR(?v)) < {int(n)}"))
        return out

    def gather_stats(self, shape: Node, focus: str, parts: tuple[str, ...] = ("stats", "screen")) -> None:
        """Aggregate queries that let checks be skipped without changing any result.

        ``stats``: one query counts the focus nodes and one scan of their triples gives, per path, the
        number of (focus, value) rows and of focus nodes with a value (most minCount/maxCount checks are
        proved clean by these). ``screen``: one query judges every value constraint on the distinct
        values (``screen``). The two parts are independent, so ``validate_store`` runs them in parallel."""
        members = [ps for ps in self.shapes.objects(shape, SH.property)]
        for head in self.shapes.objects(shape, SH["or"]):
            members += [m for m in Collection(self.shapes, head) if (m, SH.path, None) in self.shapes]
        members = [ps for ps in members if _active(self.shapes, ps)]
        paths = {p for ps in members for p in self.shapes.objects(ps, SH.path) if isinstance(p, URIRef)}
        if not paths or focus not in self._targets:
            return
        classes = self._targets[focus]
        if "stats" in parts and focus not in self._stats:
            (n,), = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ {focus} }}")
            # The focus nodes without the DISTINCT sub-select and the paths as a FILTER: the plan Oxigraph
            # runs fastest (one scan of each focus node's triples). A node typed twice counts its rows
            # twice, which can only make a check run, never skip one.
            paths_in = ", ".join(_n3(p) for p in sorted(paths))
            rows = self.select(f"SELECT ?p (COUNT(*) AS ?n) (COUNT(DISTINCT ?this) AS ?f) WHERE {{ ?this a ?__t . "
                               f"VALUES ?__t {{ {classes} }} ?this ?p ?v . FILTER (?p IN ({paths_in})) }} GROUP BY ?p")
            per_path = {p: (0, 0) for p in paths}
            per_path.update({p: (int(rn), int(rf)) for p, rn, rf in rows})
            self._stats[focus] = (int(n), per_path)
        if "screen" in parts and focus not in self._screen:
            checks: dict[Node, list[tuple[tuple, str]]] = {}  # path -> (key, condition) of its value constraints
            typed_paths: set[Node] = set()
            for ps in sorted(members, key=str):
                path = self.shapes.value(ps, SH.path)
                if not isinstance(path, URIRef):
                    continue
                for component, param, condition in self.value_conditions(ps):
                    checks.setdefault(path, []).append(((ps, component, param), condition))
                    if component == SH.DatatypeConstraintComponent and str(param) not in (XSD_STRING, RDF_LANGSTRING):
                        typed_paths.add(path)
            self._screen[focus], self._literals[focus] = self.screen(classes, checks, typed_paths)

    def screen(self, classes: str, checks: dict[Node, list[tuple[tuple, str]]],
               typed_paths: set[Node]) -> tuple[dict[tuple, int | None], dict[Node, list[Node]]]:
        """Per value constraint, how many distinct (path, value) pairs of the focus nodes break it (None:
        unknown), and the distinct literals of ``typed_paths`` (paths with a non-string sh:datatype,
        whose well-formedness is judged in Python).

        Value constraints depend on the value alone, so each distinct value is judged once: the class
        checks of concept-valued paths run once per concept, not once per use. One query: every pair gets
        a code listing the constraints it breaks (``3`` breaks check 3, ``3?`` raised an error there, so
        check 3 runs on its own); only pairs with a code, or a literal of a typed path, come back."""
        keys = [key for found in checks.values() for key, _cond in found]
        if not keys:
            return {}, {}
        number = {key: i for i, key in enumerate(keys)}
        branches = '""'  # a path without value constraints breaks none
        for path, found in sorted(checks.items(), key=lambda kv: str(kv[0]), reverse=True):
            parts = ", ".join(f'COALESCE(IF({cond}, "{number[key]} ", ""), "{number[key]}? ")' for key, cond in found)
            branches = f"IF(?p = {_n3(path)}, CONCAT({parts}), {branches})"
        paths_in = ", ".join(_n3(p) for p in sorted(checks, key=str))
        typed_in = ", ".join(_n3(p) for p in sorted(typed_paths, key=str))
        # ?__none is never bound: IF(…, ?v, ?__none) leaves ?__lv unbound for every other pair.
        literal = (f"BIND (IF(?p IN ({typed_in}) && isLiteral(?v), ?v, ?__none) AS ?__lv)" if typed_paths
                   else "")
        solutions = self.store.query(
            f"SELECT ?__code ?p ?__lv (COUNT(*) AS ?n) WHERE {{ {{ SELECT DISTINCT ?p ?v WHERE {{ ?this a ?__t . "
            f"VALUES ?__t {{ {classes} }} ?this ?p ?v . FILTER (?p IN ({paths_in})) }} }} "
            f"BIND (COALESCE({branches}, \"all?\") AS ?__code) {literal} "
            f"FILTER (?__code != \"\" || BOUND(?__lv)) }} GROUP BY ?__code ?p ?__lv",
            use_default_graph_as_union=True)
        flagged: dict[tuple, int | None] = {key: 0 for key in keys}
        literals: dict[Node, list[Node]] = {p: [] for p in typed_paths}
        for row in solutions:
            if row["__lv"] is not None:
                literals[from_ox(row["p"])].append(from_ox(row["__lv"]))
            n = int(row["n"].value)
            for token in row["__code"].value.split():
                if token.endswith("?"):
                    unknown = keys if token == "all?" else [keys[int(token[:-1])]]
                    flagged.update((key, None) for key in unknown)
                elif flagged[keys[int(token)]] is not None:
                    flagged[keys[int(token)]] += n  # type: ignore[operator]
        return flagged, literals

    def _flagged(self, focus: str, ps: Node, component: URIRef, param: Node) -> bool:
        """False when the screen proved no value row breaks this constraint."""
        count = self._screen.get(focus, {}).get((ps, component, param))
        return count is None or count > 0

    def size(self, focus: str) -> int:
        """How many nodes have the focus classes (cheap: an index count), to start big shapes first."""
        classes = self._targets.get(focus)
        if not classes:
            return 0
        (n,), = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?this a ?__t . VALUES ?__t {{ {classes} }} }}")
        return int(n)

    def _known(self, focus: str, path: Node) -> tuple[int, int, int] | None:
        stats = self._stats.get(focus)
        if stats is None or path not in stats[1]:
            return None
        return (stats[0], *stats[1][path])

    # -------------------------------------------------------- property shapes

    def property_results(self, ps: Node, focus: str) -> list[Result]:
        shapes = self.shapes
        _check_params(shapes, ps, PROPERTY_PARAMS)
        if not _active(shapes, ps):
            return []
        path = shapes.value(ps, SH.path)
        if not isinstance(path, URIRef):
            raise Unsupported(f"{ps}: only predicate paths are compiled")
        info = _info(shapes, ps)
        p = _n3(path)
        out: list[Result] = []

        def emit(rows: Iterable[tuple], component: URIRef, with_value: bool = True) -> None:
            for row in rows:
                value = self.fidelity.original(row[0], path, row[1]) if with_value else None
                out.append(Result(row[0], path, component, ps, None, info.severity, value, info.messages))

        def values_where(condition: str) -> list[tuple]:
            return self.select(f"SELECT ?this ?v WHERE {{ {focus} ?this {p} ?v . FILTER({condition}) }}")

        known = self._known(focus, path)  # (focus nodes, value rows, focus nodes with a value) or None
        for n in shapes.objects(ps, SH.minCount):
            n = int(n)
            if known is not None and (known[0] == 0 or n <= 1 and known[2] == known[0]):
                continue  # every focus node has a value (or there is no focus node)
            if n == 1:
                rows = self.select(f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {p} ?v }} }}")
            else:
                rows = self.select(f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {p} ?v }} }} "
                                   f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})")
            emit(rows, SH.MinCountConstraintComponent, with_value=False)
        for n in shapes.objects(ps, SH.maxCount):
            if known is not None and (known[1] == 0 or int(n) >= 1 and known[1] == known[2]):
                continue  # no value, or one value row per focus node that has any
            rows = self.select(f"SELECT ?this WHERE {{ {focus} ?this {p} ?v }} "
                               f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {int(n)})")
            emit(rows, SH.MaxCountConstraintComponent, with_value=False)
        for value in shapes.objects(ps, SH.hasValue):
            rows = self.select(f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {p} {_n3(value)} }} }}")
            emit(rows, SH.HasValueConstraintComponent, with_value=False)
        if known is not None and known[1] == 0:
            return out  # no focus node has a value: the value constraints below have nothing to check
        for component, param, condition in self.value_conditions(ps):
            if component == SH.DatatypeConstraintComponent:
                emit(self.datatype_violations(focus, p, param, self._flagged(focus, ps, component, param)),
                     component)
            elif self._flagged(focus, ps, component, param):
                emit(values_where(condition), component)
        return out

    def datatype_violations(self, focus: str, p: str, dt: Node, flagged: bool = True) -> list[tuple]:
        """Values that are not literals of ``dt`` or are ill-formed ones, exactly as pyshacl decides.

        ``flagged`` False: the screen proved every value a literal of the right datatype, so only
        well-formedness is left. Literals Oxigraph may have rewritten (stored datatype = ``dt`` or what
        ``dt`` is stored as) are judged on their written form (``Fidelity``), few distinct values at a
        time."""
        same = _same_datatype(dt)
        rows = self.select(f"SELECT ?this ?v WHERE {{ {focus} ?this {p} ?v . "
                           f"FILTER(!isLiteral(?v) || !({same})) }}") if flagged else []
        if str(dt) in (XSD_STRING, RDF_LANGSTRING):
            return rows  # every literal of these datatypes is well-formed for pyshacl
        predicate = URIRef(p[1:-1])
        if any(k[1] == predicate for k in self.fidelity.exact):
            candidates = self.select(f"SELECT ?this ?v WHERE {{ {focus} ?this {p} ?v . FILTER({same}) }}")
            return rows + [(f, v) for f, v in candidates
                           if not self.well_formed(self.fidelity.original(f, predicate, v), dt)]
        # Few distinct values: judge each once, then fetch the focus nodes of the bad ones.
        stored_as = {str(dt), STORED_AS.get(str(dt), str(dt))}
        listed = self._literals.get(focus, {}).get(predicate)
        if listed is not None:
            distinct = [(v,) for v in listed if isinstance(v, Literal) and str(v.datatype) in stored_as]
        else:
            distinct = self.select(f"SELECT DISTINCT ?v WHERE {{ {focus} ?this {p} ?v . FILTER({same}) }}")
        bad = [v for (v,) in distinct if not self.well_formed(self.fidelity.original(None, predicate, v), dt)]
        if bad:
            values = " ".join(_n3(v) for v in bad)
            rows += self.select(f"SELECT ?this ?v WHERE {{ VALUES ?v {{ {values} }} {focus} ?this {p} ?v }}")
        return rows

    @staticmethod
    def well_formed(value: Node | None, dt: Node) -> bool:
        from pyshacl.constraints.core.value_constraints import DatatypeConstraintComponent

        if not isinstance(value, Literal) or value.datatype != dt:
            return False
        literal = Literal(str(value), datatype=dt)
        if getattr(literal, "ill_typed", None) is True:
            return False
        return bool(DatatypeConstraintComponent._assert_actual_datatype(None, literal, dt))  # type: ignore[arg-type]

    # -------------------------------------------------------- node shapes

    def conforming_nowhere(self, member: Node, focus: str) -> set[Node]:
        """Focus nodes that do not conform to ``member`` (a shape inside sh:or)."""
        if (member, SH.path, None) in self.shapes:
            return {r.focus for r in self.property_results(member, focus)}
        return {r.focus for r in self.node_results(member, focus)}

    def node_results(self, shape: Node, focus: str) -> list[Result]:
        shapes = self.shapes
        _check_params(shapes, shape, NODE_PARAMS)
        if not _active(shapes, shape):
            return []
        info = _info(shapes, shape)
        out: list[Result] = []
        self.gather_stats(shape, focus)
        for ps in shapes.objects(shape, SH.property):
            out += self.property_results(ps, focus)
        for head in shapes.objects(shape, SH["or"]):
            members = list(Collection(shapes, head))
            failing: set[Node] | None = None
            for member in members:
                bad = self.conforming_nowhere(member, focus)
                failing = bad if failing is None else failing & bad
                if not failing:
                    break
            if failing is None:  # an empty sh:or: nothing conforms
                failing = {r[0] for r in self.select(f"SELECT ?this WHERE {{ {focus} }}")}
            out += [Result(f, None, SH.OrConstraintComponent, shape, None, info.severity, f, info.messages)
                    for f in failing]
        for constraint in shapes.objects(shape, SH.sparql):
            out += self.sparql_results(shape, constraint, focus, info)
        return out

    def prefixes(self, constraint: Node) -> str:
        lines = []
        for ontology in self.shapes.objects(constraint, SH.prefixes):
            for decl in self.shapes.objects(ontology, SH.declare):
                prefix, ns = self.shapes.value(decl, SH.prefix), self.shapes.value(decl, SH.namespace)
                lines.append(f"PREFIX {prefix}: <{ns}>")
        return "\n".join(lines)

    def sparql_results(self, shape: Node, constraint: Node, focus: str, info: _Shape) -> list[Result]:
        key = (shape, constraint, focus)
        if key not in self._sparql:
            self._sparql[key] = self._sparql_results(shape, constraint, focus, info)
        return self._sparql[key]

    def _sparql_results(self, shape: Node, constraint: Node, focus: str, info: _Shape) -> list[Result]:
        shapes = self.shapes
        _check_params(shapes, constraint, SPARQL_PARAMS)
        if not _active(shapes, constraint):
            return []
        select = str(shapes.value(constraint, SH.select))
        if re.search(r"\$(currentShape|shapesGraph|PATH)\b", select) or "SERVICE" in select.upper():
            raise Unsupported(f"{constraint}: pre-bound variables other than $this are not compiled")
        text = re.sub(r"\$this\b", "?this", select)
        where = re.search(r"\bWHERE\s*\{", text, re.IGNORECASE)
        if where is None:
            raise Unsupported(f"{constraint}: a SELECT without WHERE {{ … }}")
        text = text[: where.end()] + f" {focus} " + text[where.end():]
        query = self.prefixes(constraint) + "\n" + text
        solutions = self.store.query(query, use_default_graph_as_union=True)
        names = [v.value for v in solutions.variables]
        severity = shapes.value(constraint, SH.severity) or info.severity
        templates = [str(m) for m in shapes.objects(constraint, SH.message)] or list(info.messages)
        out = []
        for solution in solutions:
            row = {n: from_ox(solution[n]) for n in names}
            focus_node = row.get("this")
            value = self.fidelity.original(focus_node, row.get("path"), row.get("value"))
            row["value"] = value
            messages = tuple(sorted(self.fill(t, row) for t in templates))
            out.append(Result(focus_node, row.get("path"), SH.SPARQLConstraintComponent, shape, constraint,
                              severity, value if value is not None else focus_node, messages))
        return out

    @staticmethod
    def fill(template: str, row: dict) -> str:
        def sub(match: re.Match) -> str:
            value = row.get(match.group(1))
            return str(value) if value is not None else match.group(0)

        return re.sub(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}", sub, template)


def compile_shapes(shapes: Graph) -> list[Node]:
    """The node shapes to run, after checking every shape only uses compiled features."""
    node_shapes = sorted(set(shapes.subjects(SH.targetClass, None)) |
                         set(shapes.subjects(RDF.type, SH.NodeShape)), key=str)
    for s in node_shapes:
        _check_params(shapes, s, NODE_PARAMS)
    for key in (SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target, SH.rule,
                SH.node, SH["not"], SH["and"], SH.xone, SH.qualifiedValueShape, SH.closed):
        if (None, key, None) in shapes:
            raise Unsupported(f"{key} is not compiled by the fast engine")
    return node_shapes


def validate_store(store: ox.Store, shapes: Graph, fidelity: Fidelity | None = None) -> list[Result]:
    """Every validation result of ``shapes`` on the union of the graphs in ``store``.

    ``fidelity`` (from ``load_graph`` or the fast loader) restores typed literals as written."""
    from concurrent.futures import ThreadPoolExecutor

    engine = _Engine(store, shapes, fidelity)
    results: dict[tuple, Result] = {}

    def run(shape: Node) -> list[Result]:
        focus = focus_of[shape]
        if focus is None:
            return []  # a shape without targets reports only through sh:or/sh:node of others
        return engine.node_results(shape, focus)

    # Oxigraph releases the GIL while it evaluates, so queries run at once on two cores: first the
    # stats and screen queries of every shape (the big ones first), then the shapes themselves, whose
    # results are merged in shape order, as a sequential run would.
    node_shapes = compile_shapes(shapes)
    focus_of = {shape: engine.focus_pattern(shape) for shape in node_shapes}
    workers = max(1, min(len(node_shapes), os.cpu_count() or 1, 4))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pool_tasks = []
        for shape, focus in focus_of.items():
            if focus is None or not _active(shapes, shape):
                continue
            size = engine.size(focus)
            n_paths = len(set(shapes.objects(shape, SH.property)))
            # guessed cost: the screen judges every distinct value, the stats count every value row
            pool_tasks.append((2 * size * n_paths, lambda s=shape, f=focus: engine.gather_stats(s, f, ("screen",))))
            pool_tasks.append((size * n_paths, lambda s=shape, f=focus: engine.gather_stats(s, f, ("stats",))))
            for constraint in shapes.objects(shape, SH.sparql):
                _check_params(shapes, constraint, SPARQL_PARAMS)
                if _active(shapes, constraint):
                    pool_tasks.append((size, lambda s=shape, c=constraint, f=focus:
                                       engine.sparql_results(s, c, f, _info(shapes, s))))
        pool_tasks.sort(key=lambda task: -task[0])
        for _done in pool.map(lambda task: task[1](), pool_tasks):
            pass
        for found in pool.map(run, node_shapes):
            for result in found:
                results.setdefault(result.key, result)
    return sorted(results.values(), key=lambda r: tuple(str(x) for x in r.key))
