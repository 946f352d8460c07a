"""`smqi export`: the knowledge graph as JSON-LD, a flat CSV, or an ORKG comparison CSV.

- ``jsonld``: every triple (the union of the named graphs, with the derived models of use),
  compacted with the project context (kg.io.jsonld); it parses back to an isomorphic graph.
- ``csv``: one row per use: the study's columns, the use's columns (codebook keys, ``;``-joined)
  and ``model_of_use``.
- ``orkg-csv``: one row per study for an ORKG comparison import: ``paper:title``,
  ``paper:authors``, ``paper:publication_year``, ``paper:doi``, then one column per coding dimension
  with the keys of all the study's uses, ``;``-joined.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import DCTERMS, PROV, SKOS

from kg.model.errors import UsageError
from kg.io.sheets import STUDY_COLUMNS, USE_CODED, USE_COLUMNS
from kg.model.namespaces import FABIO, PRISM, SMQI

FORMATS = ("jsonld", "csv", "orkg-csv")
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
ORKG_COLUMNS = ["paper:title", "paper:authors", "paper:publication_year", "paper:doi", *ORKG_DIMENSIONS]


def _graph(data_dir: Path | None) -> Graph:
    from kg.io.store import dataset_of
    from kg.publish.pipeline import run_pipeline

    return dataset_of(run_pipeline(data_dir, check=False).store)  # typology derived on the store


def _cell(graph: Graph, node: object, pred: URIRef, notations: dict) -> str:
    values = []
    for obj in graph.objects(node, pred):
        values.append(notations.get(obj, str(obj)) if isinstance(obj, URIRef) and obj in notations else str(obj))
    return ";".join(sorted(set(values)))


def _studies(graph: Graph) -> list[tuple[str, URIRef]]:
    return sorted((str(sid), s) for s, sid in graph.subject_objects(SMQI.studyId) if isinstance(s, URIRef))


def _uses(graph: Graph, study: URIRef) -> list[URIRef]:
    uses = set(graph.subjects(SMQI.reportedIn, study)) | set(graph.objects(study, SMQI.reportsUse))
    return sorted(uses, key=lambda u: int(graph.value(u, SMQI.useNumber) or 0))


def _notations(graph: Graph) -> dict:
    return {s: str(o) for s, o in graph.subject_objects(SKOS.notation)}


def to_csv(graph: Graph) -> str:
    """One row per use: study columns, use columns, model_of_use."""
    notations = _notations(graph)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    use_cols = [c for c in USE_COLUMNS if c != "study_id"]
    writer.writerow([*STUDY_COLUMNS, *use_cols, "model_of_use"])
    for sid, study in _studies(graph):
        srow = [_cell(graph, study, STUDY_FIELDS[c], notations) for c in STUDY_COLUMNS]
        if not srow[STUDY_COLUMNS.index("countries")]:
            srow[STUDY_COLUMNS.index("countries")] = "XX"  # not stated, as in the sheet
        for use in _uses(graph, study):
            urow = [_cell(graph, use, USE_FIELDS[c], notations) for c in use_cols]
            model = _cell(graph, use, SMQI.modelOfUse, notations) or "unclassified"
            writer.writerow([*srow, *urow, model])
    return buffer.getvalue()


def to_orkg_csv(graph: Graph) -> str:
    """One row per study, one column per coding dimension (keys of all its uses, ';'-joined)."""
    notations = _notations(graph)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ORKG_COLUMNS)
    for _sid, study in _studies(graph):
        uses = _uses(graph, study)
        row = [
            _cell(graph, study, DCTERMS.title, notations),
            ";".join(str(c) for c in graph.objects(study, SMQI.authorList)) or
            ";".join(sorted(str(c) for c in graph.objects(study, DCTERMS.creator))),
            _cell(graph, study, FABIO.hasPublicationYear, notations),
            _cell(graph, study, PRISM.doi, notations),
        ]
        for column, pred in ORKG_DIMENSIONS.items():
            subjects = [study] if column in ("country", "study_design") else uses
            keys = set()
            for node in subjects:
                keys.update(k for k in _cell(graph, node, pred, notations).split(";") if k)
            row.append(";".join(sorted(keys)))
        writer.writerow(row)
    return buffer.getvalue()


def export(fmt: str, data_dir: Path | None = None, dataset: Dataset | None = None) -> str:
    """``dataset`` (default: the graph of ``data_dir``, default the shipped data) in ``fmt``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    dataset = dataset if dataset is not None else _graph(data_dir)
    if fmt == "jsonld":
        from kg.io.jsonld import to_jsonld

        union = Graph()
        for triple in dataset.triples((None, None, None)):
            union.add(triple)
        return to_jsonld(union)
    if fmt == "csv":
        return to_csv(dataset)
    return to_orkg_csv(dataset)


__all__ = ["FORMATS", "ORKG_COLUMNS", "export", "to_csv", "to_orkg_csv"]
