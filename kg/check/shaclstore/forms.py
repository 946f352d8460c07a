"""Literals as written and as Oxigraph stores them.

Oxigraph keeps values, not lexical forms: ``"1.50"^^xsd:decimal`` is stored as ``"1.5"``,
``"300"^^xsd:byte`` as ``"300"^^xsd:integer``, ``"hi"@en-US`` as ``"hi"@en-us``. ``WrittenForms`` is
the side table that records, when rdflib graphs are loaded into a store, every triple whose object
literal the store holds in another form, so the engine can restore the written form or know that a
shape could observe the difference (and hand that shape to the fallback). Language-tag case is not
recorded: RDF 1.1 lets a store normalise it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from kg.io.store import to_ox
from kg.io.store import from_ox

__all__ = [
    "term_of", "WrittenForms", "stored_forms", "well_formed", "kind_of", "written_forms_of",
    "load_graph", "XSD", "INTEGER_TYPES", "STORED_AS"
]

XSD = "http://www.w3.org/2001/XMLSchema#"
INTEGER_TYPES = {XSD + t for t in (
    "integer int long short byte nonNegativeInteger positiveInteger nonPositiveInteger negativeInteger "
    "unsignedLong unsignedInt unsignedShort unsignedByte").split()}
# Oxigraph stores these datatypes as another one (and numbers, booleans, dates in canonical lexical form).
STORED_AS = {**{t: XSD + "integer" for t in INTEGER_TYPES - {XSD + "integer"}},
             XSD + "dateTimeStamp": XSD + "dateTime"}

RELABEL, LEXICAL = "relabel", "lexical"
# datatype -> the Python type(s) rdflib gives a well-formed literal's value
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    XSD + "string": (str, bytes), "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString": (str, bytes),
    XSD + "integer": int, XSD + "float": float, XSD + "decimal": Decimal, XSD + "boolean": bool,
    XSD + "date": date, XSD + "time": time, XSD + "dateTime": datetime,
}


def term_of(term) -> Node | None:
    """A pyoxigraph term as an rdflib term, literals in the exact form the store holds."""
    return from_ox(term, exact=True)


@dataclass
class WrittenForms:
    """What Oxigraph changed when it stored literals, so results show the data as written.

    ``exact`` maps (subject, predicate, stored literal) to the literal as written; ``defaults`` maps a
    predicate to (stored datatype, written datatype) when every value of it was written canonically in
    that datatype (what the fast loader declares for ``smqi:useNumber``), which costs nothing per
    triple. ``collapsed``: some subject has two written values of one predicate that the store holds
    as one term (counts of distinct values differ). ``kinds`` maps a predicate to ``"relabel"`` (only
    the datatype name changed between integer types, same lexical form and value) or ``"lexical"``.
    """

    exact: dict[tuple[Node, Node, Literal], Literal] = field(default_factory=dict)
    defaults: dict[Node, tuple[str, str]] = field(default_factory=dict)
    collapsed: bool = False
    kinds: dict[Node, str] = field(default_factory=dict)

    def original(self, subject: Node | None, predicate: Node | None, value: Node | None) -> Node | None:
        """The literal as written for a stored (subject, predicate, value), else ``value``."""
        if not isinstance(value, Literal) or value.datatype is None:
            return value
        hit = self.exact.get((subject, predicate, value))  # type: ignore[arg-type]
        if hit is not None:
            return hit
        default = self.defaults.get(predicate)  # type: ignore[arg-type]
        if default and str(value.datatype) == default[0]:
            return Literal(str(value), datatype=URIRef(default[1]))
        return value

    def kind(self, predicate: Node) -> str | None:
        """None (stored as written), ``"relabel"`` or ``"lexical"`` for the values of ``predicate``."""
        if predicate in self.defaults:
            return self.kinds.get(predicate, RELABEL)
        return self.kinds.get(predicate)

    def touches(self, predicate: Node) -> bool:
        """Whether some value of ``predicate`` is stored in another form than written."""
        return self.kind(predicate) is not None

    @property
    def lexical(self) -> bool:
        """Whether some literal's lexical form (not only its datatype name) changed."""
        return LEXICAL in self.kinds.values()


def stored_forms(literals: Iterable[Literal]) -> dict[Literal, Literal]:
    """Each literal with the form Oxigraph stores it in (only those that differ, language case aside)."""
    originals = sorted({lit for lit in literals if isinstance(lit, Literal)},
                       key=lambda lit: (str(lit.datatype), str(lit.language), str(lit)))
    if not originals:
        return {}
    scratch = ox.Store()
    scratch.extend(ox.Quad(ox.NamedNode(f"urn:x:{i}"), ox.NamedNode("urn:x:p"), to_ox(lit))
                   for i, lit in enumerate(originals))
    stored = {int(q.subject.value[6:]): term_of(q.object) for q in scratch}
    return {lit: stored[i] for i, lit in enumerate(originals)  # type: ignore[misc]
            if (str(stored[i]), stored[i].datatype) != (str(lit), lit.datatype)}  # type: ignore[union-attr]


def well_formed(value: Node | None, datatype: Node) -> bool:
    """Whether ``value`` is a literal of ``datatype`` whose lexical form is valid for it: rdflib must
    not find it ill-typed, and for the datatypes rdflib maps to a Python type the value must be of that
    type (the rule pySHACL applies; other datatypes pass)."""
    if not isinstance(value, Literal) or value.datatype != datatype:
        return False
    literal = Literal(str(value), datatype=datatype)
    if getattr(literal, "ill_typed", None) is True:
        return False
    expected = _PYTHON_TYPES.get(str(datatype))
    return expected is None or isinstance(literal.value, expected)


def kind_of(written: Literal, stored: Literal) -> str:
    """``"relabel"`` when only the integer datatype's name changed (same well-formed value), else ``"lexical"``."""
    if (str(written) == str(stored) and str(written.datatype) in INTEGER_TYPES
            and str(stored.datatype) in INTEGER_TYPES and well_formed(written, written.datatype)):
        return RELABEL
    return LEXICAL


def written_forms_of(graphs: list[Graph]) -> WrittenForms:
    """Which literals of ``graphs`` Oxigraph stores in another form, and as what."""
    forms = WrittenForms()
    changed = stored_forms(o for graph in graphs for o in graph.objects() if isinstance(o, Literal))
    if not changed:
        return forms
    for graph in graphs:
        for s, p, o in graph:
            stored = changed.get(o) if isinstance(o, Literal) else None
            if stored is None:
                continue
            key = (s, p, stored)
            if forms.exact.get(key, o) != o or (s, p, stored) in graph:
                forms.collapsed = True  # two written values, one stored term
            forms.exact[key] = o
            if forms.kinds.get(p) != LEXICAL:
                forms.kinds[p] = kind_of(o, stored)
    return forms


def load_graph(graphs: list[Graph], store: ox.Store | None = None) -> tuple[ox.Store, WrittenForms]:
    """Load rdflib graphs into a store (default graph) and record what Oxigraph rewrote."""
    store = store if store is not None else ox.Store()
    for graph in graphs:
        store.extend(ox.Quad(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph)
    return store, written_forms_of(graphs)
