"""Load the extraction sheets (``studies.csv`` + ``uses.csv``) into the evidence graph.

Every row is checked against the codebook before any triple is made, and every problem is
collected (file, row, entry, field, value, allowed values, a "did you mean") so that one run reports
them all. The graph follows the n-ary pattern of ontology/README.md: one Study node per study and
one SocialMediaUse node per use, with stable IRIs.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from kg.model.errors import DataError, InputInvalid, Problem
from kg.model.namespaces import (
    FABIO,
    PRISM,
    SMQI,
    classification_iri,
    study_iri,
    use_iri,
)
from kg.model.vocabularies import Vocabulary

__all__ = [
    "Origin", "Existing", "Loaded", "normalise_doi", "read_sheet", "display_path", "load_sheets",
    "load_income_groups", "STUDY_COLUMNS", "USE_COLUMNS", "INCOME_COLUMNS", "STUDY_REQUIRED",
    "USE_REQUIRED", "USE_CODED", "STUDY_ID_RE", "DOI_RE", "PMID_RE", "YEAR_RE", "FIRST_YEAR",
    "NOT_STATED", "COLUMN_OF"
]

STUDY_COLUMNS = [
    "study_id", "first_author", "authors", "year", "title", "journal", "doi", "pmid",
    "countries", "design", "source_url", "summary",
]
USE_COLUMNS = [
    "study_id", "use_no", "platforms", "communication_model", "host", "user_populations",
    "qi_activities", "qi_stages", "note", "confidence",
]
INCOME_COLUMNS = ["country_code", "country_name", "wikidata", "fiscal_year", "income_group", "source"]

STUDY_REQUIRED = ["study_id", "first_author", "year", "title", "countries", "design"]
USE_REQUIRED = [
    "study_id", "use_no", "platforms", "communication_model", "host", "user_populations",
    "qi_activities", "qi_stages",
]

# use column -> (scheme slug, predicate, multi-valued)
USE_CODED = {
    "platforms": ("platform", SMQI.platform, True),
    "communication_model": ("communication-model", SMQI.communicationModel, False),
    "host": ("host", SMQI.host, False),
    "user_populations": ("user-population", SMQI.userPopulation, True),
    "qi_activities": ("qi-activity", SMQI.qiActivity, True),
    "qi_stages": ("qi-stage", SMQI.qiStage, True),
}

STUDY_ID_RE = re.compile(r"^[a-z]+[0-9]{4}[a-z]?$")
DOI_RE = re.compile(r"^10\.[0-9]{4,9}/[^\sA-Z]+$")
PMID_RE = re.compile(r"^[1-9][0-9]{0,8}$")
YEAR_RE = re.compile(r"^[0-9]{4}$")
FIRST_YEAR = 2004  # the review's eligibility: studies from 2004 onwards
NOT_STATED = "XX"

# predicate -> sheet column, for messages about graph nodes that came from a sheet
COLUMN_OF = {
    SMQI.studyId: "study_id", SMQI.firstAuthor: "first_author", SMQI.authorList: "authors",
    DCTERMS.creator: "authors", FABIO.hasPublicationYear: "year", DCTERMS.title: "title",
    PRISM.publicationName: "journal", PRISM.doi: "doi", FABIO.hasPubMedId: "pmid",
    SMQI.country: "countries", SMQI.studyDesign: "design", PROV.wasDerivedFrom: "source_url",
    DCTERMS.description: "summary", SMQI.reportsUse: "use_no", SMQI.reportedIn: "study_id",
    SMQI.useNumber: "use_no", SMQI.codingNote: "note", SMQI.codingConfidence: "confidence",
    **{pred: col for col, (_s, pred, _m) in USE_CODED.items()},
}


@dataclass(frozen=True)
class Origin:
    """Where a node came from: the sheet and its line number (header = line 1)."""

    file: str
    row: int
    entry: str


@dataclass
class Existing:
    """What the graph already holds, so that new entries can be checked against it.

    ``dois`` and ``pmids`` map the normalised identifier to the study that has it; ``use_ids`` are
    ``(study_id, use_no)`` pairs.
    """

    study_ids: set[str] = field(default_factory=set)
    dois: dict[str, str] = field(default_factory=dict)
    pmids: dict[str, str] = field(default_factory=dict)
    use_ids: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Loaded:
    graph: Graph
    origins: dict[URIRef, Origin] = field(default_factory=dict)
    study_ids: list[str] = field(default_factory=list)
    use_count: int = 0
    warnings: list[Problem] = field(default_factory=list)


def normalise_doi(value: str) -> str:
    """Bare lower-case DOI from the usual written forms (https://doi.org/…, doi:…, spaces)."""
    text = value.strip()
    text = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.IGNORECASE)
    return text.strip().lower()


def read_sheet(path: Path, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV sheet with their line numbers; the header must hold exactly ``columns``."""
    from kg.model import limits

    path = Path(path)
    shown = display_path(path)
    limits.check_file_size(path, shown)
    cell_cap, row_cap = limits.max_cell_chars(), limits.max_rows()
    # the csv module's own field limit (131,072) would stop a long cell with an unclear message;
    # the file is bounded by SMQI_MAX_FILE_BYTES, so cells are read whole and checked below
    csv.field_size_limit(max(limits.max_file_bytes(), cell_cap) + 1)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            extra = [c for c in header if c not in columns]
            dupes = sorted({c for c in header if header.count(c) > 1})
            if missing or extra or dupes:
                bits = []
                if missing:
                    bits.append(f"missing column(s) {', '.join(missing)}")
                if extra:
                    bits.append(f"unknown column(s) {', '.join(map(repr, extra))}")
                if dupes:
                    bits.append(f"duplicate column(s) {', '.join(dupes)}")
                raise DataError(
                    f"{shown}:1: header has {'; '.join(bits)}. Expected columns: {','.join(columns)}"
                )
            rows = []
            for record in reader:
                line = reader.line_num
                if None in record:
                    raise DataError(
                        f"{shown}:{line}: row has more cells than the header's {len(columns)} columns "
                        "(a comma inside an unquoted cell?)"
                    )
                if any(v is None for v in record.values()):
                    raise DataError(f"{shown}:{line}: row has fewer cells than the header's {len(columns)} columns")
                if not any(v.strip() for v in record.values()):
                    continue  # a blank line in a spreadsheet export
                for name, value in record.items():
                    if len(value) > cell_cap:
                        raise InputInvalid(problems=[Problem(
                            message=f"the cell is longer than the limit of {cell_cap:,} characters "
                                    "(raise it with the environment variable SMQI_MAX_CELL_CHARS).",
                            file=shown, row=line, field=name, value=limits.preview(value))])
                if len(rows) >= row_cap:
                    raise DataError(f"{shown}:{line}: the sheet has more than {row_cap:,} rows, the limit "
                                    "(raise it with the environment variable SMQI_MAX_ROWS)")
                rows.append((line, {k: v.strip() for k, v in record.items()}))
            return rows
    except FileNotFoundError:
        raise DataError(f"{shown}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{shown}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except IsADirectoryError:
        raise DataError(f"{shown}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise DataError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    except csv.Error as exc:
        raise DataError(f"{shown}: not a readable CSV file ({exc})") from None


def display_path(path: Path | str) -> str:
    """The path as a user would type it: relative to the working directory when below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


class _Checker:
    """Collects problems for one sheet."""

    def __init__(self, vocab: Vocabulary, file: str):
        self.vocab = vocab
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, row: int, entry: str, fieldname: str, value: str | None, message: str, **kw) -> None:
        self.problems.append(
            Problem(message=message, file=self.file, row=row, entry=entry or None,
                    field=fieldname, value=value, **kw)
        )

    def warn(self, row: int, entry: str, fieldname: str, value: str, message: str) -> None:
        self.warnings.append(Problem(message=message, file=self.file, row=row, entry=entry,
                                     field=fieldname, value=value, severity="warning"))

    def required(self, row: int, entry: str, record: dict[str, str], names: list[str]) -> None:
        for name in names:
            if not record[name]:
                self.add(row, entry, name, "", f"{name} is required and is empty.")

    def keys(self, row: int, entry: str, fieldname: str, value: str, slug: str, multi: bool) -> list[URIRef]:
        parts = _split(value) if multi else ([value] if value else [])
        if not multi and len(_split(value)) > 1:
            self.add(row, entry, fieldname, value, f"{fieldname} takes exactly one key, not a list.",
                     allowed=self.vocab.allowed(slug))
            return []
        concepts: list[URIRef] = []
        seen: set[str] = set()
        for part in parts:
            if part in seen:
                self.add(row, entry, fieldname, part, f"key {part!r} is listed more than once.")
                continue
            seen.add(part)
            concept = self.vocab.concept(slug, part)
            if concept is None:
                self.add(row, entry, fieldname, part, f"unknown {slug} key {part!r}.",
                         allowed=self.vocab.allowed(slug), suggestion=self.vocab.suggest(slug, part))
            else:
                concepts.append(concept)
        return concepts


def load_sheets(
    studies_path: Path,
    uses_path: Path,
    vocab: Vocabulary,
    *,
    known_study_ids: set[str] | None = None,
    require_uses: bool = True,
    existing: Existing | None = None,
) -> Loaded:
    """Check and convert the two sheets; raise InputInvalid listing every problem.

    ``known_study_ids`` are studies that already exist elsewhere (uses may point at them).
    ``existing`` is the graph the rows are new entries for: a study id, DOI (after
    ``normalise_doi``), PMID or use already in it is a duplicate; its studies may have new uses.
    """
    existing = existing or Existing()
    study_rows = read_sheet(studies_path, STUDY_COLUMNS)
    use_rows = read_sheet(uses_path, USE_COLUMNS)
    graph = Graph()
    loaded = Loaded(graph=graph)
    sc = _Checker(vocab, display_path(studies_path))
    uc = _Checker(vocab, display_path(uses_path))
    this_year = date.today().year

    seen_studies: dict[str, int] = {}
    seen_dois: dict[str, tuple[int, str]] = {}
    seen_pmids: dict[str, tuple[int, str]] = {}
    for row, rec in study_rows:
        sid = rec["study_id"]
        sc.required(row, sid, rec, STUDY_REQUIRED)
        if sid and not STUDY_ID_RE.match(sid):
            sc.add(row, sid, "study_id", sid, "study_id must be the first author's surname and the year "
                   "in lower case, with a letter when two collide.", allowed="pattern ^[a-z]+[0-9]{4}[a-z]?$")
        if sid in seen_studies:
            sc.add(row, sid, "study_id", sid, f"duplicate study_id: already used on row {seen_studies[sid]}.")
            continue
        if sid and sid in existing.study_ids:
            sc.add(row, sid, "study_id", sid, "duplicate study_id: this study is already in the graph.")
        seen_studies[sid] = row
        node = study_iri(sid) if sid else None
        year = rec["year"]
        if year and (not YEAR_RE.match(year) or not FIRST_YEAR <= int(year) <= this_year + 1):
            sc.add(row, sid, "year", year, "year must be the four-digit year of publication.",
                   allowed=f"{FIRST_YEAR} to {this_year + 1}")
        doi = rec["doi"]
        if doi:
            if not DOI_RE.match(doi):
                fixed = normalise_doi(doi)
                sc.add(row, sid, "doi", doi, "doi must be a bare, lower-case DOI.",
                       allowed="pattern ^10\\.[0-9]{4,9}/… in lower case, without https://doi.org/",
                       suggestion=fixed if DOI_RE.match(fixed) else None)
            elif doi in seen_dois:
                sc.add(row, sid, "doi", doi, f"the same DOI is already given for {seen_dois[doi][1]} "
                       f"on row {seen_dois[doi][0]}.")
            else:
                seen_dois[doi] = (row, sid)
            other = existing.dois.get(normalise_doi(doi))
            if other is not None:
                sc.add(row, sid, "doi", doi, f"duplicate DOI: {normalise_doi(doi)} is already in the graph "
                       f"for study {other}.")
        pmid = rec["pmid"]
        if pmid:
            if not PMID_RE.match(pmid):
                sc.add(row, sid, "pmid", pmid, "pmid must be the PubMed identifier: digits only.",
                       allowed="1 to 9 digits, no leading zero")
            elif pmid in seen_pmids:
                sc.add(row, sid, "pmid", pmid, f"the same PMID is already given for {seen_pmids[pmid][1]} "
                       f"on row {seen_pmids[pmid][0]}.")
            else:
                seen_pmids[pmid] = (row, sid)
            if pmid.lstrip("0") in existing.pmids:
                sc.add(row, sid, "pmid", pmid, f"duplicate PMID: {pmid.lstrip('0')} is already in the graph "
                       f"for study {existing.pmids[pmid.lstrip('0')]}.")
        countries = _split(rec["countries"])
        if NOT_STATED in countries and len(countries) > 1:
            sc.add(row, sid, "countries", rec["countries"], f"{NOT_STATED} (not stated) cannot be combined "
                   "with country codes.")
        stated = ";".join(c for c in countries if c != NOT_STATED)
        country_nodes = sc.keys(row, sid, "countries", stated, "country", True) if stated else []
        design = sc.keys(row, sid, "design", rec["design"], "study-design", False)
        urls = _split(rec["source_url"])
        for url in urls:
            if not re.match(r"^https?://\S+$", url):
                sc.add(row, sid, "source_url", url, "each source_url must be an http(s) address without spaces.")
            elif re.match(r"^https?:///", url):
                sc.warn(row, sid, "source_url", url, "address has an empty host (three slashes).")
        if not (doi or pmid or urls):
            sc.add(row, sid, "source_url", "", "a study needs at least one of doi, pmid or source_url.")
        if node is None:
            continue
        loaded.origins[node] = Origin(sc.file, row, sid)
        loaded.study_ids.append(sid)
        graph.add((node, RDF.type, SMQI.Study))
        graph.add((node, SMQI.studyId, Literal(sid)))
        if rec["first_author"]:
            graph.add((node, SMQI.firstAuthor, Literal(rec["first_author"])))
        if rec["authors"]:
            graph.add((node, SMQI.authorList, Literal(rec["authors"])))
            for author in _split(rec["authors"]):
                graph.add((node, DCTERMS.creator, Literal(author)))
        if year:
            graph.add((node, FABIO.hasPublicationYear, Literal(year, datatype=XSD.gYear)))
        for col, pred in (("title", DCTERMS.title), ("journal", PRISM.publicationName),
                          ("doi", PRISM.doi), ("pmid", FABIO.hasPubMedId), ("summary", DCTERMS.description)):
            if rec[col]:
                graph.add((node, pred, Literal(rec[col])))
        for concept in country_nodes:
            graph.add((node, SMQI.country, concept))
        for concept in design:
            graph.add((node, SMQI.studyDesign, concept))
        for url in urls:
            if re.match(r"^https?://\S+$", url):
                graph.add((node, PROV.wasDerivedFrom, URIRef(url)))

    known = set(seen_studies) | (known_study_ids or set()) | existing.study_ids
    seen_uses: dict[tuple[str, str], int] = {}
    studies_with_uses: set[str] = set()
    from kg.model.limits import max_uses_per_study

    uses_cap = max_uses_per_study()
    uses_of: dict[str, int] = {}
    for row, rec in use_rows:
        sid, no = rec["study_id"], rec["use_no"]
        entry = f"{sid}-{no}"
        uses_of[sid] = uses_of.get(sid, 0) + 1
        if uses_of[sid] > uses_cap:
            if uses_of[sid] == uses_cap + 1:  # once per study
                uc.add(row, entry, "use_no", no, f"study {sid} has more than {uses_cap:,} uses, the limit "
                       "(raise it with the environment variable SMQI_MAX_USES_PER_STUDY).")
            continue
        uc.required(row, entry, rec, USE_REQUIRED)
        studies_with_uses.add(sid)  # even a broken use row means the study is not without uses
        if no and (not re.fullmatch(r"[1-9][0-9]{0,8}", no)):
            uc.add(row, entry, "use_no", no, "use_no must be a whole number from 1 (1, 2, … within the study).")
            continue
        if sid and sid not in known:
            uc.add(row, entry, "study_id", sid, "this use points to a study that is not in the studies sheet.",
                   suggestion=_closest(sid, known))
            continue
        if (sid, no) in seen_uses:
            uc.add(row, entry, "use_no", no, f"duplicate use: {entry} is already on row {seen_uses[(sid, no)]}.")
            continue
        if (sid, no) in existing.use_ids:
            uc.add(row, entry, "use_no", no, f"duplicate use: {entry} is already in the graph.")
            continue
        seen_uses[(sid, no)] = row
        if not (sid and no):
            continue
        node, study = use_iri(sid, no), study_iri(sid)
        loaded.origins[node] = Origin(uc.file, row, entry)
        loaded.use_count += 1
        graph.add((node, RDF.type, SMQI.SocialMediaUse))
        graph.add((node, SMQI.reportedIn, study))
        graph.add((study, SMQI.reportsUse, node))
        graph.add((node, SMQI.useNumber, Literal(int(no), datatype=XSD.integer)))
        for col, (slug, pred, multi) in USE_CODED.items():
            for concept in uc.keys(row, entry, col, rec[col], slug, multi):
                graph.add((node, pred, concept))
        if rec["note"]:
            graph.add((node, SMQI.codingNote, Literal(rec["note"])))
        if rec["confidence"]:
            for concept in uc.keys(row, entry, "confidence", rec["confidence"], "confidence", False):
                graph.add((node, SMQI.codingConfidence, concept))

    if require_uses:
        for sid, row in seen_studies.items():
            if sid and sid not in studies_with_uses:
                sc.add(row, sid, "study_id", sid, f"study has no use in {uc.file}: every study reports at "
                       "least one use of social media.")
    problems = sc.problems + uc.problems
    loaded.warnings = sc.warnings + uc.warnings
    if problems:
        raise InputInvalid(problems=problems)
    return loaded


def _closest(value: str, candidates: set[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(value, sorted(candidates), n=1, cutoff=0.7)
    return close[0] if close else None


def load_income_groups(path: Path, vocab: Vocabulary) -> Graph:
    """World Bank income classifications as time-indexed nodes (country, group, fiscal year)."""
    graph = Graph()
    checker = _Checker(vocab, display_path(path))
    seen: dict[tuple[str, str], int] = {}
    for row, rec in read_sheet(path, INCOME_COLUMNS):
        cc, fy = rec["country_code"], rec["fiscal_year"]
        entry = f"{cc}-{fy}"
        checker.required(row, entry, rec, ["country_code", "fiscal_year", "income_group"])
        if fy and not re.match(r"^FY[0-9]{4}$", fy):
            checker.add(row, entry, "fiscal_year", fy, "fiscal_year must be FY and four digits.", allowed="FY2026")
            continue
        if (cc, fy) in seen:
            checker.add(row, entry, "fiscal_year", fy, f"duplicate classification: already on row {seen[(cc, fy)]}.")
            continue
        seen[(cc, fy)] = row
        country = checker.keys(row, entry, "country_code", cc, "country", False)
        group = checker.keys(row, entry, "income_group", rec["income_group"], "income-group", False)
        if not (country and group):
            continue
        node = classification_iri(cc, fy)
        graph.add((node, RDF.type, SMQI.IncomeClassification))
        graph.add((node, SMQI.classifiedCountry, country[0]))
        graph.add((node, SMQI.incomeGroup, group[0]))
        graph.add((node, SMQI.fiscalYear, Literal(fy)))
        if rec["source"]:
            graph.add((node, DCTERMS.source, Literal(rec["source"])))
    if checker.problems:
        raise InputInvalid(problems=checker.problems)
    return graph
