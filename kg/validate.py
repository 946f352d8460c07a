"""SHACL validation with pyshacl, reported so that a reviewer can act on it.

Each result becomes a Problem: study id (or use id), field (the sheet column when the node came from
a sheet, else the property), the offending value, the shape's message, the allowed keys for coded
fields, and the CSV file and row when known. Exit codes: 0 conforms, 1 violations, 2 unreadable.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyshacl import validate as pyshacl_validate
from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import SH, SKOS

from kg import resources
from kg.errors import DataError, InputInvalid, Problem, UsageError
from kg.load import COLUMN_OF, STUDY_COLUMNS, USE_CODED, USE_COLUMNS, Origin, display_path, load_sheets
from kg.namespace import BASE, SMQI
from kg.rdfio import FORMATS, parse_into
from kg.vocab import Vocabulary, default_vocabulary, load_ontology_graph

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


def _field(path: object, graph: Graph) -> str | None:
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
            field=_field(path, data),
            value=_show(value, data),
            allowed=allowed,
            severity="error" if severity == SH.Violation else "warning",
        )
        (problems if severity == SH.Violation else warnings).append(problem)
    problems.sort(key=lambda p: (p.file or "", p.row or 0, p.entry or "", p.field or "", p.message))
    return Report(conforms=not problems, problems=problems, warnings=warnings)


def _sheet_kind(path: Path) -> str:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except FileNotFoundError:
        raise DataError(f"{display_path(path)}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{display_path(path)}: cannot be read as a CSV sheet ({exc})") from None
    if "use_no" in header:
        return "uses"
    if "title" in header:
        return "studies"
    raise DataError(
        f"{display_path(path)}:1: not an extraction sheet: the header has neither the studies columns "
        f"({','.join(STUDY_COLUMNS)}) nor the uses columns ({','.join(USE_COLUMNS)})"
    )


def validate_paths(paths: list[Path]) -> Report:
    """Validate the two CSV sheets and/or RDF files (Turtle, N-Triples, TriG, JSON-LD)."""
    if not paths:
        raise UsageError("give at least one file to validate")
    vocab = default_vocabulary()
    data = Graph()
    for triple in vocab.graph:
        data.add(triple)
    origins: dict[URIRef, Origin] = {}
    sheets: dict[str, Path] = {}
    warnings: list[Problem] = []
    for path in map(Path, paths):
        if path.suffix.lower() == ".csv":
            kind = _sheet_kind(path)
            if kind in sheets:
                raise UsageError(f"two {kind} sheets given ({sheets[kind]} and {path}); give one of each")
            sheets[kind] = path
        elif path.suffix.lower() in FORMATS:
            parse_into(data, path)
        else:
            raise UsageError(f"{path}: unsupported file type; give .csv sheets or RDF "
                             f"({', '.join(sorted(FORMATS))})")
    if sheets:
        if set(sheets) != {"studies", "uses"}:
            missing = ({"studies", "uses"} - set(sheets)).pop()
            raise UsageError(f"the {missing} sheet is missing: CSV entries are validated as a pair "
                             "(studies.csv and uses.csv)")
        try:
            loaded = load_sheets(sheets["studies"], sheets["uses"], vocab)
        except InputInvalid as exc:
            return Report(conforms=False, problems=exc.problems)
        for triple in loaded.graph:
            data.add(triple)
        origins = loaded.origins
        warnings = loaded.warnings
    report = shacl_check(data, vocab, origins)
    report.warnings = warnings + report.warnings
    return report
