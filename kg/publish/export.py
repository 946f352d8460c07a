"""`smqi export`: the knowledge graph as JSON-LD, a flat CSV, or an ORKG comparison CSV.

Everything is read from an Oxigraph store by SPARQL (``queries/export/``); ``export`` assembles one
from a data folder when no store is given.

- ``jsonld``: every quad, named graphs kept (the derived models of use, the provenance when the store
  has it), compacted with the project context (kg.publish.outputs.write_store_jsonld); expanding it gives back
  the store's quads, datatypes included.
- ``csv``: one row per use: the study's columns, the use's columns (codebook keys, ``;``-joined)
  and ``model_of_use``.
- ``orkg-csv``: one row per use for an ORKG CSV import, where a row is one contribution and the rows
  that repeat a paper's ``paper:title``/``paper:doi`` are that paper's contributions: ``paper:title``,
  ``paper:authors``, ``paper:publication_year``, ``paper:doi``, ``study_id``, ``use_no``, then one
  column per coding dimension (the use's keys, ``;``-joined) and the study's country and design. A
  study with no use has one row with empty use columns.

Both CSVs are safe to open in a spreadsheet by default: a cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading ``'`` (:func:`spreadsheet_safe`, OWASP's advice
against CSV injection), so a spreadsheet shows it as text and never runs it as a formula.
``raw=True`` (``smqi export --raw``) writes the values exactly. SPARQL results in CSV (``smqi query``,
``smqi serve``) are a protocol format and stay exact.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import DCTERMS, PROV

from kg.model.errors import UsageError
from kg.io.sheets import STUDY_COLUMNS, USE_CODED, USE_COLUMNS
from kg.model.namespaces import FABIO, PRISM, SMQI
from kg.io.queries import load_query

FORMATS = ("jsonld", "csv", "orkg-csv")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: with a leading ``'`` when it begins with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return (what a spreadsheet may run as a formula; OWASP,
    "CSV Injection"), else unchanged. The one place the CSV exports (and the report's CSV downloads)
    neutralise a cell."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _writer(buffer: io.StringIO, raw: bool):
    """A csv writer whose rows are made spreadsheet-safe unless ``raw``."""
    writer = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)  # the csv module leaves a
    # carriage return inside a cell unquoted when the rows end in "\n": such a row is quoted whole

    def writerow(row: list[str]) -> None:
        cells = row if raw else [spreadsheet_safe(cell) for cell in row]
        (quoted if any("\r" in cell for cell in cells) else writer).writerow(cells)

    return writerow
STUDY_FIELDS = {
    "study_id": SMQI.studyId, "first_author": SMQI.firstAuthor, "authors": SMQI.authorList,
    "year": FABIO.hasPublicationYear, "title": DCTERMS.title, "journal": PRISM.publicationName,
    "doi": PRISM.doi, "pmid": FABIO.hasPubMedId, "countries": SMQI.country, "design": SMQI.studyDesign,
    "source_url": PROV.wasDerivedFrom, "summary": DCTERMS.description,
}
USE_FIELDS = {
    "use_no": SMQI.useNumber, **{col: pred for col, (_s, pred, _m) in USE_CODED.items()},
    "note": SMQI.codingNote, "confidence": SMQI.codingConfidence,
}
# ORKG column -> predicate over the study's uses (or the study itself)
ORKG_DIMENSIONS = {
    "platform": SMQI.platform, "communication_model": SMQI.communicationModel, "host": SMQI.host,
    "user_population": SMQI.userPopulation, "qi_activity": SMQI.qiActivity, "qi_stage": SMQI.qiStage,
    "model_of_use": SMQI.modelOfUse, "country": SMQI.country, "study_design": SMQI.studyDesign,
}
ORKG_COLUMNS = ["paper:title", "paper:authors", "paper:publication_year", "paper:doi", "study_id", "use_no",
                *ORKG_DIMENSIONS]


def _built_store(data_dir: Path | None) -> ox.Store:
    """The pipeline run in memory on ``data_dir`` (what a build of it would hold, provenance aside)."""
    from kg.publish.pipeline import run_pipeline

    return run_pipeline(data_dir).store


@dataclass
class _Node:
    """The values of one study or use, by predicate IRI: shown as codebook keys where coded."""

    iri: str
    values: dict[str, set[str]] = field(default_factory=dict)
    uses: set[str] = field(default_factory=set)

    def cell(self, predicate: URIRef) -> str:
        return ";".join(sorted(self.values.get(str(predicate), ())))

    def add(self, row) -> None:
        value, notation = row["value"], row["notation"]
        # keys and codebook keys repeat over every row: interned, a store of 100k studies holds each once
        shown = sys.intern(notation.value) if notation is not None and isinstance(value, ox.NamedNode) else value.value
        self.values.setdefault(sys.intern(row["field"].value), set()).add(shown)


def _rows(store: ox.Store, name: str):
    return store.query(load_query(name).text, use_default_graph_as_union=True)


def _read(store: ox.Store) -> tuple[list[tuple[str, _Node]], dict[str, _Node]]:
    """(study id, study) pairs by id and node, and every use by IRI, from the export queries."""
    studies: dict[tuple[str, str], _Node] = {}
    by_iri: dict[str, list[_Node]] = {}
    for row in _rows(store, "export-study-values"):
        key = (row["study_id"].value, row["study"].value)
        node = studies.get(key)
        if node is None:
            node = studies[key] = _Node(key[1])
            by_iri.setdefault(key[1], []).append(node)
        node.add(row)
    uses: dict[str, _Node] = {}
    for row in _rows(store, "export-study-uses"):
        iri = row["use"].value
        if iri not in uses:
            uses[iri] = _Node(iri)
        for study in by_iri.get(row["study"].value, ()):
            study.uses.add(iri)
    for row in _rows(store, "export-use-values"):
        uses[row["use"].value].add(row)
    return [(sid, studies[(sid, iri)]) for sid, iri in sorted(studies)], uses


def _use_order(use: _Node) -> tuple[int, str]:
    numbers = use.values.get(str(SMQI.useNumber))
    return (int(min(numbers, key=lambda n: (len(n), n))) if numbers else 0, use.iri)


def to_csv(store: ox.Store, *, raw: bool = False) -> str:
    """One row per use: study columns, use columns, model_of_use; cells made :func:`spreadsheet_safe`
    unless ``raw``."""
    studies, uses = _read(store)
    buffer = io.StringIO()
    writerow = _writer(buffer, raw)
    use_cols = [c for c in USE_COLUMNS if c != "study_id"]
    writerow([*STUDY_COLUMNS, *use_cols, "model_of_use"])
    for _sid, study in studies:
        srow = [study.cell(STUDY_FIELDS[c]) for c in STUDY_COLUMNS]
        if not srow[STUDY_COLUMNS.index("countries")]:
            srow[STUDY_COLUMNS.index("countries")] = "XX"  # not stated, as in the sheet
        for use in sorted((uses[u] for u in study.uses), key=_use_order):
            urow = [use.cell(USE_FIELDS[c]) for c in use_cols]
            model = use.cell(SMQI.modelOfUse) or "unclassified"
            writerow([*srow, *urow, model])
    return buffer.getvalue()


def to_orkg_csv(store: ox.Store, *, raw: bool = False) -> str:
    """One row per use (an ORKG contribution; a study's rows repeat its paper columns), with the study id,
    the use number and one column per coding dimension; cells made :func:`spreadsheet_safe` unless ``raw``."""
    studies, uses = _read(store)
    buffer = io.StringIO()
    writerow = _writer(buffer, raw)
    writerow(ORKG_COLUMNS)
    for sid, study in studies:
        paper = [
            study.cell(DCTERMS.title),
            ";".join(sorted(study.values.get(str(SMQI.authorList), ()))) or study.cell(DCTERMS.creator),
            study.cell(FABIO.hasPublicationYear),
            study.cell(PRISM.doi),
            sid,
        ]
        for use in sorted((uses[u] for u in study.uses), key=_use_order) or [None]:
            row = [*paper, use.cell(SMQI.useNumber) if use is not None else ""]
            for column, pred in ORKG_DIMENSIONS.items():
                node = study if column in ("country", "study_design") else use
                row.append(node.cell(pred) if node is not None else "")
            writerow(row)
    return buffer.getvalue()


def export(fmt: str, data_dir: Path | None = None, *, store: ox.Store | None = None, raw: bool = False) -> str:
    """The knowledge graph in ``fmt``: read from ``store`` (the build's) when given, else from the
    pipeline run in memory on ``data_dir`` (default: the shipped data). The CSV formats are
    spreadsheet-safe (:func:`spreadsheet_safe`) unless ``raw``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if store is None:
        store = _built_store(data_dir)
    if fmt == "jsonld":
        from kg.publish.outputs import store_to_jsonld

        return store_to_jsonld(store)
    if fmt == "csv":
        return to_csv(store, raw=raw)
    return to_orkg_csv(store, raw=raw)


__all__ = ["FORMATS", "FORMULA_STARTS", "ORKG_COLUMNS", "spreadsheet_safe", "export", "to_csv", "to_orkg_csv"]
