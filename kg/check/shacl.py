"""SHACL validation results reported so that a reviewer can act on it: the one mapping of results
(``kg.check.shaclstore.model.Result``, from the store engine, or from pySHACL's report in the tests)
to Problems, used by the build and by the checks of new entries.

Each result becomes a Problem: study id (or use id), field (the sheet column when the node came from
a sheet, else the property), the offending value, the shape's message, the allowed keys for coded
fields, and the CSV file and row when known. Exit codes: 0 conforms, 1 violations, 2 unreadable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from collections.abc import Iterable, Mapping

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from kg.model import resources
from kg.model.errors import Problem
from kg.io.sheets import COLUMN_OF, USE_CODED, Origin
from kg.model.namespaces import BASE, SMQI
from kg.io.rdf import parse_into
from kg.check.shaclstore.model import Result
from kg.model.vocabularies import Vocabulary

__all__ = ["Report", "shapes_graph", "entry_of", "field_of", "problems_of", "notations_in", "SLUG_OF"]

SLUG_OF = {pred: slug for _col, (slug, pred, _m) in USE_CODED.items()}
SLUG_OF.update({SMQI.country: "country", SMQI.studyDesign: "study-design",
                SMQI.codingConfidence: "confidence"})


@dataclass
class Report:
    conforms: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 0 if self.conforms else 1

    def as_text(self) -> str:
        lines = [p.as_text() for p in self.problems] + [f"warning: {w.as_text()}" for w in self.warnings]
        n = len(self.problems)
        head = "Conforms: yes" if self.conforms else f"Conforms: no ({n} problem{'s' if n != 1 else ''})"
        return "\n".join([head, *lines]) + "\n"

    def as_json(self) -> str:
        return json.dumps({"conforms": self.conforms,
                           "problems": [p.as_dict() for p in self.problems],
                           "warnings": [w.as_dict() for w in self.warnings]}, indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    graph = Graph()
    for path in resources.shape_files():
        parse_into(graph, path)
    return graph


def entry_of(node: object) -> str | None:
    """A short id for a node: the study id, study_id-use_no, or the IRI."""
    text = str(node)
    for kind in ("study/", "use/", "coding/", "income-classification/"):
        if text.startswith(f"{BASE}kg/{kind}"):
            return text[len(f"{BASE}kg/{kind}"):]
    return text if isinstance(node, URIRef) else None


def field_of(path: object, names) -> str | None:
    """The sheet column of a property path, else the path as a prefixed name (``names``: an rdflib
    NamespaceManager) or its IRI."""
    if path is None:
        return None
    if path in COLUMN_OF:
        return COLUMN_OF[path]  # type: ignore[index]
    try:
        return names.normalizeUri(path)  # type: ignore[arg-type]
    except Exception:
        return str(path)


def notations_in(store, results: Iterable[Result]) -> dict[Node, str]:
    """The ``skos:notation`` (codebook key) of every IRI value of ``results``, read from ``store``
    (a pyoxigraph Store, every graph)."""
    values = {r.value for r in results if isinstance(r.value, URIRef)}
    if not values:
        return {}
    rows = store.query("SELECT ?c ?n WHERE { VALUES ?c { %s } ?c <http://www.w3.org/2004/02/skos/core#notation> ?n }"
                       % " ".join(f"<{v}>" for v in sorted(values)), use_default_graph_as_union=True)
    return {URIRef(r["c"].value): r["n"].value for r in rows}


def problems_of(results: Iterable[Result], vocab: Vocabulary, origins: Mapping[Node, Origin] | None = None,
                notations: Mapping[Node, str] | None = None) -> tuple[list[Problem], list[Problem]]:
    """Validation results as (problems, warnings): the entry (study id or use id), the field (the sheet
    column, else the property), the value (a concept by its codebook key from ``notations``), the shape's
    message, the allowed keys of a coded field, and the file and row from ``origins``. Violations
    (the problems) are sorted by file, row, entry, field and message; warnings keep their order."""
    origins, notations = origins or {}, notations or {}
    names = Graph().namespace_manager
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for r in results:
        origin = origins.get(r.focus)
        allowed = None
        if r.path in SLUG_OF and r.component in (SH.ClassConstraintComponent, SH.MinCountConstraintComponent,
                                                 SH.MaxCountConstraintComponent):
            allowed = vocab.allowed(SLUG_OF[r.path])  # type: ignore[index]
        shown = None if r.value is None else (str(r.value) if isinstance(r.value, Literal)
                                               else notations.get(r.value, str(r.value)))
        problem = Problem(message=r.messages[0] if r.messages else f"breaks {r.component}",
                          file=origin.file if origin else None, row=origin.row if origin else None,
                          entry=origin.entry if origin else entry_of(r.focus), field=field_of(r.path, names),
                          value=shown, allowed=allowed,
                          severity="error" if r.severity == SH.Violation else "warning")
        (problems if r.severity == SH.Violation else warnings).append(problem)
    problems.sort(key=lambda p: (p.file or "", p.row or 0, p.entry or "", p.field or "", p.message))
    return problems, warnings
