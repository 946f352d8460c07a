"""SHACL Core compiled to SPARQL and run on an Oxigraph store.

The focus nodes of a shape are a SPARQL pattern binding ``?this`` (its targets; for a shape reached
through sh:property, sh:node, sh:or… the value nodes of the shape above it, as a nested sub-select),
so every constraint is one query over the store joined with its focus nodes, never a Python loop per
triple. Shape-based constraints (sh:node, sh:not, sh:and, sh:or, sh:xone, qualified shapes) ask
which value nodes do not conform to the inner shape — one evaluation of that shape on all of them —
and compare sets in Python.

For shapes whose focus nodes are instances of classes, aggregate queries first prove most checks
clean (``gather_stats``: counts per path; ``screen``: every value constraint judged once per distinct
value), and the stats, screens and SPARQL constraints of all shapes run in a thread pool (Oxigraph
evaluates without the GIL): the project's shapes on 100k studies cost a few seconds.

Literals are judged as written (``WrittenForms``): where Oxigraph stores a literal in another form
and a shape's constraints could observe it (``observes``), the shape is handed to the fallback.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple

import pyoxigraph as ox
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.namespace import RDFS, SH
from rdflib.term import Node

from kg.check.shaclstore.forms import LEXICAL, RELABEL, STORED_AS, WrittenForms, stored_forms, term_of, well_formed
from kg.check.shaclstore.model import (ANNOTATIONS, CONSTRAINTS, SPARQL_PARAMS, Result, Unsupported, active,
                                 closure, implicit_class, is_true, messages_of, n3,
                                 nested_shapes, path_predicates, rdf_list, severity_of, sparql_path,
                                 top_level_shapes)

__all__ = [
    "Focus", "StoreEngine", "RDF_LANGSTRING", "XSD", "XSD_STRING", "NODE_KINDS", "RANGES",
    "CONSTANT_PARAMS", "RANK"
]

RDF_LANGSTRING = str(RDF.langString)
XSD = "http://www.w3.org/2001/XMLSchema#"
XSD_STRING = XSD + "string"
NODE_KINDS = {SH.IRI: "isIRI(?v)", SH.BlankNode: "isBlank(?v)", SH.Literal: "isLiteral(?v)",
              SH.BlankNodeOrIRI: "(isBlank(?v) || isIRI(?v))", SH.BlankNodeOrLiteral: "(isBlank(?v) || isLiteral(?v))",
              SH.IRIOrLiteral: "(isIRI(?v) || isLiteral(?v))"}
RANGES = {SH.minInclusive: (">=", SH.MinInclusiveConstraintComponent),
          SH.minExclusive: (">", SH.MinExclusiveConstraintComponent),
          SH.maxInclusive: ("<=", SH.MaxInclusiveConstraintComponent),
          SH.maxExclusive: ("<", SH.MaxExclusiveConstraintComponent)}
CONSTANT_PARAMS = (SH.hasValue, SH.targetNode)
RANK = {None: 0, RELABEL: 1, LEXICAL: 2}

Fallback = Callable[[Node, str], list[Result]]


class Focus(NamedTuple):
    """A SPARQL pattern binding ``?this`` to the focus nodes; ``classes`` (a VALUES list) when they are
    exactly the instances of some classes (then the aggregate screens apply); ``depth`` of nesting."""

    pattern: str
    classes: str | None = None
    depth: int = 0


def _same_datatype(dt: Node) -> str:
    """A condition over ?v: its datatype is ``dt`` or the one Oxigraph stores ``dt`` as."""
    stored_as = {str(dt), STORED_AS.get(str(dt), str(dt))}
    return " || ".join(f"datatype(?v) = <{d}>" for d in sorted(stored_as))


class StoreEngine:
    """Validate a shapes graph on the union of the graphs of an Oxigraph store."""

    def __init__(self, store: ox.Store, shapes: Graph, written: WrittenForms | None = None):
        self.store = store
        self.shapes = shapes
        self.written = written or WrittenForms()
        self._subclasses: dict[Node, str | None] = {}
        # focus pattern -> (number of focus nodes, {path: (value rows, focus nodes with a value)})
        self._stats: dict[str, tuple[int, dict[Node, tuple[int, int]]]] = {}
        # focus pattern -> {(property shape, component, parameter): value rows breaking it, None = unknown}
        self._screen: dict[str, dict[tuple, int | None]] = {}
        # focus pattern -> {path: distinct literal values} for paths with a non-string sh:datatype
        self._literals: dict[str, dict[Node, list[Node]]] = {}
        self._sparql: dict[tuple, list[Result]] = {}  # (shape, constraint, focus) -> its results
        self._evaluated: dict[tuple[Node, str], tuple[list[Result], set[Node]]] = {}
        self._local = threading.local()

    # -------------------------------------------------------- helpers

    def select(self, query: str) -> list[tuple]:
        solutions = self.store.query(query, use_default_graph_as_union=True)
        names = [v.value for v in solutions.variables]
        return [tuple(term_of(s[n]) for n in names) for s in solutions]

    def classes(self, cls: Node) -> str | None:
        """A VALUES list of ``cls`` and its subclasses (rdfs:subClassOf*) in the data (None: a blank node
        among them, so the caller uses the property path instead)."""
        if cls not in self._subclasses:
            if isinstance(cls, BNode):
                self._subclasses[cls] = None
            else:
                rows = self.select(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* {n3(cls)} }}")
                found = {r[0] for r in rows} | {cls}
                self._subclasses[cls] = (None if any(isinstance(c, BNode) for c in found)
                                         else " ".join(sorted(n3(c) for c in found)))
        return self._subclasses[cls]

    def instance_of(self, var: str, cls: Node) -> str:
        """A pattern: ``var`` is a SHACL instance of ``cls``."""
        listed = self.classes(cls)
        if listed is None:
            return f"{var} <{RDF.type}>/<{RDFS.subClassOf}>* {n3(cls)} ."
        return f"{var} a ?__c . VALUES ?__c {{ {listed} }}"

    def focus_of(self, shape: Node) -> Focus:
        """The focus nodes of a shape with targets."""
        shapes = self.shapes
        if (shape, SH.target, None) in shapes:
            raise Unsupported("sh:target (SHACL-AF custom targets)")
        targets = list(shapes.objects(shape, SH.targetClass)) + ([shape] if implicit_class(shapes, shape) else [])
        blocks: list[str] = []
        listed: list[str] = []
        for target in targets:
            classes = self.classes(target)
            if classes is None:
                blocks.append(f"{{ ?this <{RDF.type}>/<{RDFS.subClassOf}>* {n3(target)} }}")
                listed.append("?")
            else:
                blocks.append(f"{{ ?this a ?__t . VALUES ?__t {{ {classes} }} }}")
                listed += classes.split(" ")
        by_class = bool(blocks) and "?" not in listed
        nodes = sorted(shapes.objects(shape, SH.targetNode), key=lambda t: (type(t).__name__, str(t)))
        if nodes:
            blocks.append(f"{{ VALUES ?this {{ {' '.join(n3(n) for n in nodes)} }} }}")
        blocks += [f"{{ ?this {n3(p)} ?__o }}" for p in sorted(shapes.objects(shape, SH.targetSubjectsOf))]
        blocks += [f"{{ ?__s {n3(p)} ?this }}" for p in sorted(shapes.objects(shape, SH.targetObjectsOf))]
        pattern = "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(blocks or ["{ FILTER (false) }"]) + " } }"
        classes = " ".join(sorted(set(listed))) if by_class and len(blocks) == len(targets) else None
        return Focus(pattern, classes)

    @staticmethod
    def values_focus(focus: Focus, path: str) -> Focus:
        """The value nodes of ``path`` from the focus nodes, as focus nodes of a shape below."""
        var = f"?__f{focus.depth}"
        inner = re.sub(r"\?this\b", var, focus.pattern)
        return Focus(f"{{ SELECT DISTINCT ?this WHERE {{ {inner} {var} {path} ?this }} }}", None, focus.depth + 1)

    def size(self, focus: Focus) -> int:
        """How many nodes have the focus classes (cheap: an index count), to start big shapes first."""
        if not focus.classes:
            return 0
        (n,), = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?this a ?__t . VALUES ?__t {{ {focus.classes} }} }}")
        return int(n)  # type: ignore[arg-type]

    # -------------------------------------------------------- literal forms

    def observes(self, top: Node) -> str | None:
        """Why the store cannot judge ``top`` exactly (literals stored in another form than written that
        its constraints could observe), or None."""
        shapes = self.shapes
        constants: list[Node] = []
        for shape in closure(shapes, top):
            for param in CONSTANT_PARAMS:
                constants += shapes.objects(shape, param)
            for head in shapes.objects(shape, SH["in"]):
                constants += rdf_list(shapes, head, "sh:in")
        for shape in closure(shapes, top):  # a bound is compared by value: only an ill-formed one can differ
            constants += [b for param in RANGES for b in shapes.objects(shape, param)
                          if isinstance(b, Literal) and getattr(b, "ill_typed", False)]
        changed = stored_forms(c for c in constants if isinstance(c, Literal))
        for written, stored in sorted(changed.items(), key=lambda kv: str(kv[0])):
            return f"the literal {written.n3()} of the shapes is stored as {stored.n3()}"
        if not self.written.exact and not self.written.defaults:
            return None
        incoming = None
        for p in shapes.objects(top, SH.targetObjectsOf):
            incoming = max(incoming, self.written.kind(p), key=RANK.__getitem__)
        return self._observes(top, incoming, set())

    def _observes(self, shape: Node, incoming: str | None, seen: set[Node]) -> str | None:
        if shape in seen:
            return None
        seen.add(shape)
        shapes, forms = self.shapes, self.written
        params = set(shapes.predicates(shape))
        if SH.sparql in params and forms.lexical:
            return "a SPARQL constraint on data with literals stored in another form than written"
        path = shapes.value(shape, SH.path)
        kind, simple = incoming, False
        if path is not None:
            preds, zero = path_predicates(shapes, path)
            kind = max([forms.kind(p) for p in preds] + [incoming if zero else None], key=RANK.__getitem__)
            simple = isinstance(path, URIRef)
        for p2 in (SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals):
            for other in shapes.objects(shape, p2):
                if forms.kind(other) is not None and (p2 in (SH.equals, SH.disjoint) or forms.kind(other) == LEXICAL):
                    return f"{p2.n3()} compares values stored in another form than written"
        if kind is not None:
            sensitive = {SH["in"], SH.hasValue, SH.equals, SH.disjoint}
            if kind == LEXICAL:
                sensitive |= {SH.pattern, SH.minLength, SH.maxLength, SH.lessThan, SH.lessThanOrEquals, *RANGES}
                if forms.collapsed:
                    sensitive |= {SH.minCount, SH.maxCount, SH.qualifiedValueShape}
            if not simple:  # values reached otherwise cannot be mapped back to their written form
                sensitive |= CONSTRAINTS - {SH.minCount, SH.maxCount, SH.uniqueLang, SH.property}
            hit = sorted(params & sensitive)
            if hit:
                where = f"path {path}" if path is not None else "value nodes"
                return f"{hit[0].n3()} on {where}, whose values are stored in another form than written"
        for _param, inner in nested_shapes(shapes, shape):
            reason = self._observes(inner, kind, seen)
            if reason:
                return reason
        return None

    # -------------------------------------------------------- aggregate screens (instances of classes)

    def members(self, shape: Node) -> list[Node]:
        members = list(self.shapes.objects(shape, SH.property))
        for head in self.shapes.objects(shape, SH["or"]):
            members += [m for m in rdf_list(self.shapes, head) if (m, SH.path, None) in self.shapes]
        return [ps for ps in members if active(self.shapes, ps)]

    def gather_stats(self, shape: Node, focus: Focus, parts: tuple[str, ...] = ("stats", "screen")) -> None:
        """Aggregate queries that let checks be skipped without changing any result.

        ``stats``: one query counts the focus nodes and one scan of their triples gives, per path, the
        number of (focus, value) rows and of focus nodes with a value (most minCount/maxCount checks are
        proved clean by these). ``screen``: one query judges every value constraint on the distinct
        values (``screen``). The two parts are independent, so they run in parallel."""
        members = self.members(shape)
        paths = {p for ps in members for p in self.shapes.objects(ps, SH.path) if isinstance(p, URIRef)}
        if not paths or not focus.classes:
            return
        classes, key = focus.classes, focus.pattern
        if "stats" in parts and key not in self._stats:
            (n,), = self.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ {key} }}")
            # The focus nodes without the DISTINCT sub-select and the paths as a FILTER: the plan Oxigraph
            # runs fastest (one scan of each focus node's triples). A node typed twice counts its rows
            # twice, which can only make a check run, never skip one.
            paths_in = ", ".join(n3(p) for p in sorted(paths))
            rows = self.select(f"SELECT ?p (COUNT(*) AS ?n) (COUNT(DISTINCT ?this) AS ?f) WHERE {{ ?this a ?__t . "
                               f"VALUES ?__t {{ {classes} }} ?this ?p ?v . FILTER (?p IN ({paths_in})) }} GROUP BY ?p")
            per_path = {p: (0, 0) for p in paths}
            per_path.update({p: (int(rn), int(rf)) for p, rn, rf in rows})  # type: ignore[arg-type]
            self._stats[key] = (int(n), per_path)  # type: ignore[arg-type]
        if "screen" in parts and key not in self._screen:
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
            self._screen[key], self._literals[key] = self.screen(classes, checks, typed_paths)

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
            branches = f"IF(?p = {n3(path)}, CONCAT({parts}), {branches})"
        paths_in = ", ".join(n3(p) for p in sorted(checks, key=str))
        typed_in = ", ".join(n3(p) for p in sorted(typed_paths, key=str))
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
                literals[term_of(row["p"])].append(term_of(row["__lv"]))  # type: ignore[index]
            n = int(row["n"].value)
            for token in row["__code"].value.split():
                if token.endswith("?"):
                    unknown = keys if token == "all?" else [keys[int(token[:-1])]]
                    flagged.update((key, None) for key in unknown)
                elif flagged[keys[int(token)]] is not None:
                    flagged[keys[int(token)]] += n  # type: ignore[operator]
        return flagged, literals

    def _flagged(self, focus: Focus, ps: Node, component: URIRef, param: Node) -> bool:
        """False when the screen proved no value row breaks this constraint."""
        count = self._screen.get(focus.pattern, {}).get((ps, component, param))
        return count is None or count > 0

    def _known(self, focus: Focus, path: Node) -> tuple[int, int, int] | None:
        stats = self._stats.get(focus.pattern)
        if stats is None or path not in stats[1]:
            return None
        return (stats[0], *stats[1][path])

    # -------------------------------------------------------- value constraints

    def value_conditions(self, shape: Node) -> list[tuple[URIRef, Node, str]]:
        """(component, parameter, FILTER condition over ?v) of each constraint of ``shape`` that depends
        on the value node alone: a value breaks the constraint when the condition holds (an error
        counts as breaking it). For sh:datatype this is the wrong-type part only; ill-formed literals
        of the right type are judged in Python (``datatype_violations``)."""
        shapes = self.shapes
        out: list[tuple[URIRef, Node, str]] = []
        for dt in shapes.objects(shape, SH.datatype):
            if not isinstance(dt, URIRef) or dt in (RDFS.Literal, RDFS.Datatype):
                raise Unsupported(f"sh:datatype {dt}")
            out.append((SH.DatatypeConstraintComponent, dt, f"!isLiteral(?v) || !({_same_datatype(dt)})"))
        for cls in shapes.objects(shape, SH["class"]):
            out.append((SH.ClassConstraintComponent, cls, f"NOT EXISTS {{ {self.instance_of('?v', cls)} }}"))
        for kind in shapes.objects(shape, SH.nodeKind):
            if kind not in NODE_KINDS:
                raise Unsupported(f"sh:nodeKind {kind}")
            out.append((SH.NodeKindConstraintComponent, kind, f"!{NODE_KINDS[kind]}"))
        for param, (op, component) in RANGES.items():
            for bound in shapes.objects(shape, param):
                if not isinstance(bound, Literal):
                    raise Unsupported(f"{param.n3()} {bound} is not a literal")
                out.append((component, bound, f"!COALESCE(?v {op} {n3(bound)}, false)"))
        for n in shapes.objects(shape, SH.minLength):
            out.append((SH.MinLengthConstraintComponent, n, f"isBlank(?v) || STRLEN(STR(?v)) < {self.integer(n)}"))
        for n in shapes.objects(shape, SH.maxLength):
            out.append((SH.MaxLengthConstraintComponent, n, f"isBlank(?v) || STRLEN(STR(?v)) > {self.integer(n)}"))
        flags = shapes.value(shape, SH.flags)
        for pattern in shapes.objects(shape, SH.pattern):
            regex = f"REGEX(STR(?v), {n3(Literal(str(pattern)))}" + (
                f", {n3(Literal(str(flags)))})" if flags else ")")
            out.append((SH.PatternConstraintComponent, pattern, f"isBlank(?v) || !COALESCE({regex}, false)"))
        for head in shapes.objects(shape, SH.languageIn):
            langs = [str(x) for x in rdf_list(shapes, head, "sh:languageIn")]
            ok = " || ".join(f"langMatches(lang(?v), {n3(Literal(tag))})" for tag in langs) or "false"
            out.append((SH.LanguageInConstraintComponent, head, f"!isLiteral(?v) || !({ok})"))
        for head in shapes.objects(shape, SH["in"]):
            members = rdf_list(shapes, head, "sh:in")
            ok = " || ".join(f"sameTerm(?v, {n3(m)})" for m in members) or "false"
            out.append((SH.InConstraintComponent, head, f"!({ok})"))
        return out

    @staticmethod
    def integer(n: Node) -> int:
        try:
            return int(str(n))
        except ValueError:
            raise Unsupported(f"{n!r} is not an integer") from None

    def datatype_violations(self, focus: Focus, values: str, predicate: URIRef | None, dt: Node,
                            flagged: bool = True) -> list[tuple]:
        """Values that are not literals of ``dt`` or are ill-formed ones, exactly as pyshacl decides.

        ``values`` binds ?v for each ?this; ``predicate`` is the path when it is one IRI (then literals
        Oxigraph rewrote are judged on their written form). ``flagged`` False: the screen proved every
        value a literal of the right datatype, so only well-formedness is left. Few distinct values
        are judged at a time."""
        same = _same_datatype(dt)
        rows = self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {focus.pattern} {values} "
                           f"FILTER(!isLiteral(?v) || !({same})) }}") if flagged else []
        if str(dt) in (XSD_STRING, RDF_LANGSTRING):
            return rows  # every literal of these datatypes is well-formed for pyshacl
        if predicate is not None and self.written.touches(predicate) and predicate not in self.written.defaults:
            candidates = self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {focus.pattern} {values} FILTER({same}) }}")
            return rows + [(f, v) for f, v in candidates
                           if not well_formed(self.written.original(f, predicate, v), dt)]
        listed = self._literals.get(focus.pattern, {}).get(predicate) if predicate is not None else None
        stored_as = {str(dt), STORED_AS.get(str(dt), str(dt))}
        if listed is not None:
            distinct = [(v,) for v in listed if isinstance(v, Literal) and str(v.datatype) in stored_as]
        else:
            distinct = self.select(f"SELECT DISTINCT ?v WHERE {{ {focus.pattern} {values} FILTER({same}) }}")
        bad = [v for (v,) in distinct if not well_formed(self.written.original(None, predicate, v), dt)]
        if bad:
            listed_bad = " ".join(n3(v) for v in bad)
            pattern = (f"{focus.pattern} {values} VALUES ?v {{ {listed_bad} }}" if values.startswith("BIND")
                       else f"VALUES ?v {{ {listed_bad} }} {focus.pattern} {values}")  # BIND must come first
            rows += self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {pattern} }}")
        return rows

    # -------------------------------------------------------- shapes

    def shape_results(self, shape: Node, focus: Focus) -> list[Result]:
        """Every result of ``shape`` on the focus nodes (nested sh:property results included)."""
        return self.evaluate(shape, focus)[0]

    def nonconforming(self, shape: Node, focus: Focus) -> set[Node]:
        """The focus nodes that do not conform to ``shape``."""
        return self.evaluate(shape, focus)[1]

    def evaluate(self, shape: Node, focus: Focus) -> tuple[list[Result], set[Node]]:
        key = (shape, focus.pattern)
        if key not in self._evaluated:
            stack = getattr(self._local, "stack", None)
            if stack is None:
                stack = self._local.stack = set()
            if shape in stack:
                raise Unsupported(f"shape {shape} refers to itself (recursive shapes are not defined in SHACL Core)")
            stack.add(shape)
            try:
                self._evaluated[key] = self._evaluate(shape, focus)
            finally:
                stack.discard(shape)
        return self._evaluated[key]

    def _evaluate(self, shape: Node, focus: Focus) -> tuple[list[Result], set[Node]]:
        shapes = self.shapes
        if not active(shapes, shape):
            return [], set()
        for pred in set(shapes.predicates(shape)):
            if str(pred).startswith(str(SH)) and pred not in CONSTRAINTS | ANNOTATIONS:
                raise Unsupported(f"{pred.n3()} is not judged on the store")
        severity, messages = severity_of(shapes, shape), messages_of(shapes, shape)
        path = shapes.value(shape, SH.path)
        out: list[Result] = []
        failing: set[Node] = set()
        if path is not None:
            p = sparql_path(shapes, path)
            bind = test = f"?this {p} ?v ."
            predicate = path if isinstance(path, URIRef) else None
        else:
            p, predicate = "", None
            bind, test = "BIND (?this AS ?v)", "FILTER (sameTerm(?this, ?v))"
            for param in (SH.minCount, SH.maxCount, SH.uniqueLang, SH.lessThan, SH.lessThanOrEquals,
                          SH.qualifiedValueShape):
                if (shape, param, None) in shapes:
                    raise Unsupported(f"{param.n3()} on a node shape")
        distinct = "DISTINCT " if predicate is None else ""

        def emit(rows: Iterable[tuple], component: URIRef, with_value: bool = True, result_path: Node | None = path,
                 ) -> None:
            for row in rows:
                value = self.written.original(row[0], predicate, row[1]) if with_value else None
                out.append(Result(row[0], result_path, component, shape, None, severity, value, messages))

        def where(condition: str) -> list[tuple]:
            return self.select(f"SELECT {distinct}?this ?v WHERE {{ {focus.pattern} {bind} FILTER({condition}) }}")

        pairs_cache: list[list[tuple]] = []

        def pairs() -> list[tuple]:
            if not pairs_cache:
                pairs_cache.append(self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {focus.pattern} {bind} }}"))
            return pairs_cache[0]

        if focus.classes and path is None:
            self.gather_stats(shape, focus)
        known = self._known(focus, path) if predicate is not None else None  # (focus, rows, focus with a value)
        for n in shapes.objects(shape, SH.minCount):
            n = self.integer(n)
            if n == 0 or known is not None and (known[0] == 0 or n <= 1 and known[2] == known[0]):
                continue  # every focus node has a value (or there is no focus node)
            if n == 1:
                rows = self.select(f"SELECT ?this WHERE {{ {focus.pattern} FILTER NOT EXISTS {{ ?this {p} ?v }} }}")
            else:
                rows = self.select(f"SELECT ?this WHERE {{ {focus.pattern} OPTIONAL {{ ?this {p} ?v }} }} "
                                   f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})")
            emit(rows, SH.MinCountConstraintComponent, with_value=False)
        for n in shapes.objects(shape, SH.maxCount):
            n = self.integer(n)
            if known is not None and (known[1] == 0 or n >= 1 and known[1] == known[2]):
                continue  # no value, or one value row per focus node that has any
            rows = self.select(f"SELECT ?this WHERE {{ {focus.pattern} ?this {p} ?v }} "
                               f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {n})")
            emit(rows, SH.MaxCountConstraintComponent, with_value=False)
        for value in shapes.objects(shape, SH.hasValue):
            rows = self.select(f"SELECT ?this WHERE {{ {focus.pattern} FILTER NOT EXISTS {{ {bind} "
                               f"FILTER (sameTerm(?v, {n3(value)})) }} }}")
            emit(rows, SH.HasValueConstraintComponent, with_value=False)
        if is_true(shapes, shape, SH.uniqueLang):
            rows = self.select(f"SELECT ?this ?__l WHERE {{ {focus.pattern} {bind} FILTER (lang(?v) != \"\") "
                               f"BIND (LCASE(lang(?v)) AS ?__l) }} GROUP BY ?this ?__l HAVING (COUNT(DISTINCT ?v) > 1)")
            emit(rows, SH.UniqueLangConstraintComponent, with_value=False)
        self.pair_constraints(shape, focus, bind, test, emit)
        if not (known is not None and known[1] == 0):  # else no focus node has a value: nothing to check
            for component, param, condition in self.value_conditions(shape):
                if component == SH.DatatypeConstraintComponent:
                    emit(self.datatype_violations(focus, bind, predicate, param,
                                                  self._flagged(focus, shape, component, param)), component)
                elif self._flagged(focus, shape, component, param):
                    emit(where(condition), component)
        if is_true(shapes, shape, SH.closed):
            allowed = {q for ps in shapes.objects(shape, SH.property) for q in shapes.objects(ps, SH.path)
                       if isinstance(q, URIRef)}
            for head in shapes.objects(shape, SH.ignoredProperties):
                allowed.update(rdf_list(shapes, head, "sh:ignoredProperties"))
            keep = f"FILTER (?__p NOT IN ({', '.join(n3(q) for q in sorted(allowed))}))" if allowed else ""
            rows = self.select(f"SELECT DISTINCT ?this ?__p ?__o WHERE {{ {focus.pattern} {bind} ?v ?__p ?__o {keep} }}")
            for this, pred, obj in rows:
                out.append(Result(this, pred, SH.ClosedConstraintComponent, shape, None, severity,
                                  self.written.original(None, pred, obj), messages))
        values = self.values_focus(focus, p) if path is not None else focus
        self.shape_constraints(shape, focus, values, pairs, emit)
        for inner in shapes.objects(shape, SH.property):
            found, bad = self.evaluate(inner, values)
            out += found
            if path is None:
                failing |= bad
            elif bad:
                failing |= {this for this, v in pairs() if v in bad}
        for constraint in shapes.objects(shape, SH.sparql):
            out += self.sparql_results(shape, constraint, focus)
        failing |= {r.focus for r in out if r.shape == shape}
        return out, failing

    def pair_constraints(self, shape: Node, focus: Focus, bind: str, test: str, emit) -> None:
        """sh:equals, sh:disjoint, sh:lessThan, sh:lessThanOrEquals."""
        shapes = self.shapes
        for other in shapes.objects(shape, SH.equals):
            o = n3(other)
            emit(self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {{ {focus.pattern} {bind} FILTER NOT EXISTS "
                             f"{{ ?this {o} ?v }} }} UNION {{ {focus.pattern} ?this {o} ?v FILTER NOT EXISTS {{ {test} }} }} }}"),
                 SH.EqualsConstraintComponent)
        for other in shapes.objects(shape, SH.disjoint):
            emit(self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {focus.pattern} {bind} ?this {n3(other)} ?v }}"),
                 SH.DisjointConstraintComponent)
        for param, op, component in ((SH.lessThan, "<", SH.LessThanConstraintComponent),
                                     (SH.lessThanOrEquals, "<=", SH.LessThanOrEqualsConstraintComponent)):
            for other in shapes.objects(shape, param):
                emit(self.select(f"SELECT DISTINCT ?this ?v WHERE {{ {focus.pattern} {bind} ?this {n3(other)} ?__w "
                                 f"FILTER (!COALESCE(?v {op} ?__w, false)) }}"), component)

    def shape_constraints(self, shape: Node, focus: Focus, values: Focus, pairs: Callable[[], list[tuple]],
                          emit) -> None:
        """sh:node, sh:not, sh:and, sh:or, sh:xone and qualified value shapes: ``values`` are the value
        nodes as a focus, ``pairs`` the (focus node, value node) rows."""
        shapes = self.shapes
        for inner in shapes.objects(shape, SH.node):
            bad = self.nonconforming(inner, values)
            if bad:
                emit([(t, v) for t, v in pairs() if v in bad], SH.NodeConstraintComponent)
        for inner in shapes.objects(shape, SH["not"]):
            bad = self.nonconforming(inner, values)
            emit([(t, v) for t, v in pairs() if v not in bad], SH.NotConstraintComponent)
        for head in shapes.objects(shape, SH["and"]):
            bad: set[Node] = set()
            for member in rdf_list(shapes, head, "sh:and"):
                bad |= self.nonconforming(member, values)
            if bad:
                emit([(t, v) for t, v in pairs() if v in bad], SH.AndConstraintComponent)
        for head in shapes.objects(shape, SH["or"]):
            failing: set[Node] | None = None
            for member in rdf_list(shapes, head, "sh:or"):
                bad = self.nonconforming(member, values)
                failing = bad if failing is None else failing & bad
                if not failing:
                    break
            if failing is None or failing:
                emit([(t, v) for t, v in pairs() if failing is None or v in failing], SH.OrConstraintComponent)
        for head in shapes.objects(shape, SH.xone):
            members = rdf_list(shapes, head, "sh:xone")
            bads = [self.nonconforming(member, values) for member in members]
            emit([(t, v) for t, v in pairs() if sum(v not in bad for bad in bads) != 1], SH.XoneConstraintComponent)
        for inner in shapes.objects(shape, SH.qualifiedValueShape):
            self.qualified(shape, inner, focus, values, pairs, emit)

    def qualified(self, shape: Node, inner: Node, focus: Focus, values: Focus, pairs, emit) -> None:
        shapes = self.shapes
        low = [self.integer(n) for n in shapes.objects(shape, SH.qualifiedMinCount)]
        high = [self.integer(n) for n in shapes.objects(shape, SH.qualifiedMaxCount)]
        if not low and not high:
            return
        bad = self.nonconforming(inner, values)
        siblings: set[Node] = set()
        if is_true(shapes, shape, SH.qualifiedValueShapesDisjoint):
            for parent in shapes.subjects(SH.property, shape):
                for sibling in shapes.objects(parent, SH.property):
                    if sibling != shape:
                        siblings.update(shapes.objects(sibling, SH.qualifiedValueShape))
        sibling_bad = [self.nonconforming(s, values) for s in sorted(siblings, key=str)]
        counts: dict[Node, int] = {}
        for this, v in pairs():
            if v not in bad and all(v in sb for sb in sibling_bad):
                counts[this] = counts.get(this, 0) + 1
        focus_nodes = [t for (t,) in self.select(f"SELECT ?this WHERE {{ {focus.pattern} }}")]
        for n in low:
            emit([(t, None) for t in focus_nodes if counts.get(t, 0) < n], SH.QualifiedMinCountConstraintComponent, False)
        for n in high:
            emit([(t, None) for t in focus_nodes if counts.get(t, 0) > n], SH.QualifiedMaxCountConstraintComponent, False)

    # -------------------------------------------------------- SPARQL-based constraints

    def prefixes(self, constraint: Node) -> str:
        lines = []
        for ontology in self.shapes.objects(constraint, SH.prefixes):
            for decl in self.shapes.objects(ontology, SH.declare):
                prefix, ns = self.shapes.value(decl, SH.prefix), self.shapes.value(decl, SH.namespace)
                lines.append(f"PREFIX {prefix}: <{ns}>")
        return "\n".join(lines)

    def sparql_results(self, shape: Node, constraint: Node, focus: Focus) -> list[Result]:
        key = (shape, constraint, focus.pattern)
        if key not in self._sparql:
            self._sparql[key] = self._sparql_results(shape, constraint, focus)
        return self._sparql[key]

    def _sparql_results(self, shape: Node, constraint: Node, focus: Focus) -> list[Result]:
        shapes = self.shapes
        for pred in set(shapes.predicates(constraint)):
            if str(pred).startswith(str(SH)) and pred not in SPARQL_PARAMS:
                raise Unsupported(f"{pred.n3()} on the SPARQL constraint {constraint}")
        if not active(shapes, constraint):
            return []
        select = str(shapes.value(constraint, SH.select))
        if re.search(r"\$(currentShape|shapesGraph)\b", select) or "SERVICE" in select.upper():
            raise Unsupported(f"{constraint}: pre-bound variables other than $this and $PATH")
        path = shapes.value(shape, SH.path)
        if path is not None:
            select = re.sub(r"\$PATH\b", sparql_path(shapes, path), select)
        elif re.search(r"\$PATH\b", select):
            raise Unsupported(f"{constraint}: $PATH in a node shape")
        text = re.sub(r"\$this\b", "?this", select)
        where = re.search(r"\bWHERE\s*\{", text, re.IGNORECASE)
        if where is None:
            raise Unsupported(f"{constraint}: a SELECT without WHERE {{ … }}")
        text = text[: where.end()] + f" {focus.pattern} " + text[where.end():]
        query = self.prefixes(constraint) + "\n" + text
        try:
            solutions = self.store.query(query, use_default_graph_as_union=True)
        except SyntaxError as exc:
            raise Unsupported(f"the SPARQL constraint {constraint} does not parse: {exc}") from None
        names = [v.value for v in solutions.variables]
        severity = shapes.value(constraint, SH.severity) or severity_of(shapes, shape)
        templates = [str(m) for m in shapes.objects(constraint, SH.message)] or list(messages_of(shapes, shape))
        out = []
        for solution in solutions:
            row = {n: term_of(solution[n]) for n in names}
            focus_node = row.get("this")
            value = self.written.original(focus_node, row.get("path"), row.get("value"))
            row["value"] = value
            filled = tuple(sorted(self.fill(t, row) for t in templates))
            out.append(Result(focus_node, row.get("path") or path, SH.SPARQLConstraintComponent, shape, constraint,
                              severity, value if value is not None else focus_node, filled))  # type: ignore[arg-type]
        return out

    @staticmethod
    def fill(template: str, row: dict) -> str:
        def sub(match: re.Match) -> str:
            value = row.get(match.group(1))
            return str(value) if value is not None else match.group(0)

        return re.sub(r"\{[?$]([A-Za-z_][A-Za-z0-9_]*)\}", sub, template)

    # -------------------------------------------------------- a whole shapes graph

    def run(self, fallback: Fallback | None = None) -> list[Result]:
        """Every result of the shapes graph. A shape the store cannot judge exactly goes to ``fallback``
        (shape, reason) -> results; without one, ``Unsupported`` names the shape and the feature."""
        from concurrent.futures import ThreadPoolExecutor

        shapes = self.shapes
        plan: dict[Node, Focus | str] = {}
        for shape in top_level_shapes(shapes):
            if not active(shapes, shape):
                continue
            try:
                plan[shape] = self.observes(shape) or self.focus_of(shape)
            except Unsupported as exc:
                plan[shape] = str(exc)

        def run_one(shape: Node) -> list[Result] | str:
            focus = plan[shape]
            if isinstance(focus, str):
                return focus
            try:
                return self.shape_results(shape, focus)
            except Unsupported as exc:
                return str(exc)

        def quietly(task: Callable[[], object]) -> None:
            try:
                task()
            except Unsupported:
                pass  # an optimisation only: the shape itself will say what is unsupported

        # Oxigraph releases the GIL while it evaluates, so queries run at once on two cores: first the
        # stats and screen queries of every shape on instances of classes (the big ones first), then the
        # shapes themselves, whose results are merged in shape order, as a sequential run would.
        ordered = list(plan)
        workers = max(1, min(len(ordered), os.cpu_count() or 1, 4))
        results: dict[tuple, Result] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tasks = []
            for shape, focus in plan.items():
                if isinstance(focus, str) or not focus.classes:
                    continue
                size = self.size(focus)
                n_paths = len(set(shapes.objects(shape, SH.property)))
                tasks.append((2 * size * n_paths, lambda s=shape, f=focus: self.gather_stats(s, f, ("screen",))))
                tasks.append((size * n_paths, lambda s=shape, f=focus: self.gather_stats(s, f, ("stats",))))
                for constraint in shapes.objects(shape, SH.sparql):
                    tasks.append((size, lambda s=shape, c=constraint, f=focus: self.sparql_results(s, c, f)))
            tasks.sort(key=lambda task: -task[0])
            for _done in pool.map(lambda task: quietly(task[1]), tasks):
                pass
            for shape, found in zip(ordered, pool.map(run_one, ordered)):
                if isinstance(found, str):
                    if fallback is None:
                        raise Unsupported(f"shape {shape} cannot be judged exactly on the store ({found}), "
                                          "and no fallback data was given")
                    found = fallback(shape, found)
                for result in found:
                    results.setdefault(result.key, result)
        return sorted(results.values(), key=lambda r: tuple(str(x) for x in r.key))
