"""SHACL validation with pyshacl, reported so that a reviewer can act on it.

Each result becomes a Problem: study id (or use id), field (the sheet column when the node came from
a sheet, else the property), the offending value, the shape's message, the allowed keys for coded
fields, and the CSV file and row when known. Exit codes: 0 conforms, 1 violations, 2 unreadable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

from pyshacl import validate as pyshacl_validate
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import SH, SKOS

from kg.model import resources
from kg.model.errors import Problem
from kg.io.sheets import COLUMN_OF, USE_CODED, Origin
from kg.model.namespaces import BASE, SMQI
from kg.io.rdf import parse_into
from kg.model.vocabularies import Vocabulary, default_vocabulary, load_ontology_graph

__all__ = ["Report", "shapes_graph", "entry_of", "field_of", "shacl_check", "SLUG_OF"]

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


@lru_cache(maxsize=1)
def _ontology() -> Graph:
    return load_ontology_graph()


def entry_of(node: object) -> str | None:
    """A short id for a node: the study id, study_id-use_no, or the IRI."""
    text = str(node)
    for kind in ("study/", "use/", "income-classification/"):
        if text.startswith(f"{BASE}kg/{kind}"):
            return text[len(f"{BASE}kg/{kind}"):]
    return text if isinstance(node, URIRef) else None


def _show(value: object, graph: Graph) -> str | None:
    if value is None:
        return None
    if isinstance(value, Literal):
        return str(value)
    notation = graph.value(value, SKOS.notation) if isinstance(value, URIRef) else None
    return str(notation) if notation is not None else str(value)


def field_of(path: object, graph: Graph) -> str | None:
    if path is None:
        return None
    if path in COLUMN_OF:
        return COLUMN_OF[path]  # type: ignore[index]
    try:
        return graph.namespace_manager.normalizeUri(path)  # type: ignore[arg-type]
    except Exception:
        return str(path)


def shacl_check(data: Graph, vocab: Vocabulary | None = None,
                origins: dict[URIRef, Origin] | None = None) -> Report:
    """Validate ``data`` (which must include the vocabularies) against the shipped shapes."""
    vocab = vocab or default_vocabulary()
    origins = origins or {}
    conforms, results, _text = pyshacl_validate(
        data, shacl_graph=shapes_graph(), ont_graph=_ontology(), inference="none",
        advanced=True, allow_warnings=True, abort_on_first=False,
    )
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        value = results.value(result, SH.value)
        severity = results.value(result, SH.resultSeverity)
        component = results.value(result, SH.sourceConstraintComponent)
        messages = sorted(str(m) for m in results.objects(result, SH.resultMessage))
        origin = origins.get(focus)  # type: ignore[arg-type]
        allowed = None
        if path in SLUG_OF and component in (SH.ClassConstraintComponent, SH.MinCountConstraintComponent,
                                             SH.MaxCountConstraintComponent):
            allowed = vocab.allowed(SLUG_OF[path])  # type: ignore[index]
        problem = Problem(
            message=messages[0] if messages else f"breaks {component}",
            file=origin.file if origin else None,
            row=origin.row if origin else None,
            entry=origin.entry if origin else entry_of(focus),
            field=field_of(path, data),
            value=_show(value, data),
            allowed=allowed,
            severity="error" if severity == SH.Violation else "warning",
        )
        (problems if severity == SH.Violation else warnings).append(problem)
    problems.sort(key=lambda p: (p.file or "", p.row or 0, p.entry or "", p.field or "", p.message))
    return Report(conforms=not problems, problems=problems, warnings=warnings)


