"""Load the extraction sheets (``studies.csv`` + ``uses.csv``): the one loader and row checker.

Every row is checked against the codebook before any triple is made, and every problem is
collected (file, row, entry, field, value, allowed values, a "did you mean") so that one run reports
them all. The sheets are read once and become N-Quads text (N-Triples without a graph name) with no
rdflib object per triple, handed in chunks to a ``sink`` (the build's bulk-loading thread) or kept
as lines; ``Loaded.graph`` parses them into rdflib where a caller needs it (small entry sheets). The
graph follows the n-ary pattern of ontology/README.md: one Study node per study and one
SocialMediaUse node per use, with stable IRIs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV

from kg.model.errors import DataError, InputInvalid, Problem
from kg.model.titles import TitleIndex, title_problem
from kg.model.identifiers import DOI_RE, PMID_RE, bare_doi, link_lines, resolver_iri
from kg.model.iri import iri_error, iri_suggestion
from kg.model.namespaces import (
    BASE,
    FABIO,
    PRISM,
    SMQI,
    classification_iri,
    study_iri,
)
from kg.model.vocabularies import Vocabulary

__all__ = [
    "Origin", "Existing", "Loaded", "normalise_doi", "read_sheet", "display_path", "load_sheets",
    "load_income_groups", "string_literal", "STUDY_COLUMNS", "USE_COLUMNS", "INCOME_COLUMNS",
    "STUDY_REQUIRED", "USE_REQUIRED", "USE_CODED", "STUDY_ID_RE", "DOI_RE", "PMID_RE", "YEAR_RE",
    "FIRST_YEAR", "NOT_STATED", "COLUMN_OF", "CODING_COLUMNS", "CODER_RE", "LoadedCodings",
    "load_codings", "not_utf8", "delimiter_hint",
]

STUDY_COLUMNS = [
    "study_id", "first_author", "authors", "year", "title", "journal", "doi", "pmid",
    "countries", "design", "source_url", "summary",
]
USE_COLUMNS = [
    "study_id", "use_no", "platforms", "communication_model", "host", "user_populations",
    "qi_activities", "qi_stages", "note", "confidence",
]
CODING_COLUMNS = [
    "coder", "study_id", "use_no", "platforms", "communication_model", "host", "user_populations",
    "qi_activities", "qi_stages",
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
YEAR_RE = re.compile(r"^[0-9]{4}$")
CODER_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")  # coder keys such as coder-1
USE_NO_RE = re.compile(r"[1-9][0-9]{0,8}")
FIRST_YEAR = 2004  # the review's eligibility: studies from 2004 onwards
NOT_STATED = "XX"
normalise_doi = bare_doi  # the one rule DOIs are compared with (kg.model.identifiers)

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

XSD = "http://www.w3.org/2001/XMLSchema#"
_ESC = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def string_literal(text: str) -> str:
    """A plain string literal in N-Triples / N-Quads syntax."""
    return f'"{text.translate(_ESC)}"'


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
    ``(study_id, use_no)`` pairs. ``titles`` indexes the studies' titles (kg.model.titles); when it is
    None, titles are not compared (the build; ``--allow-similar-title``).
    """

    study_ids: set[str] = field(default_factory=set)
    dois: dict[str, str] = field(default_factory=dict)
    pmids: dict[str, str] = field(default_factory=dict)
    use_ids: set[tuple[str, str]] = field(default_factory=set)
    titles: TitleIndex | None = None


@dataclass
class Loaded:
    """The sheets as N-Quads (or N-Triples) lines, and what the build and the checks report.

    ``lines`` is empty when the lines went to a ``sink``. ``links`` are the studies' ``schema:sameAs``
    DOI / PubMed lines (``kg.model.identifiers.link_lines``) when a links graph was asked for.
    ``study_rows`` / ``use_rows`` are (line, entry) of every node made, in sheet order."""

    files: tuple[str, str]
    graph_name: str | None = None
    lines: list[str] = field(default_factory=list)
    study_ids: list[str] = field(default_factory=list)
    use_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    study_rows: list[tuple[int, str]] = field(default_factory=list)
    use_rows: list[tuple[int, str]] = field(default_factory=list)

    @cached_property
    def origins(self) -> dict[URIRef, Origin]:
        """Node → Origin (file, row, entry) of every study and use made."""
        studies, uses = self.files
        found = {study_iri(e): Origin(studies, row, e) for row, e in self.study_rows}
        found.update((URIRef(f"{BASE}kg/use/{e}"), Origin(uses, row, e)) for row, e in self.use_rows)
        return found

    @cached_property
    def graph(self) -> Graph:
        """``lines`` parsed into an rdflib graph (for small sheets: entries, tests)."""
        graph = Graph()
        if self.graph_name is None:
            graph.parse(data="".join(self.lines), format="nt")
        else:
            from rdflib import Dataset

            dataset = Dataset()
            dataset.parse(data="".join(self.lines), format="nquads")
            for triple in dataset.graph(URIRef(self.graph_name)):
                graph.add(triple)
        return graph


_SAVE_UTF8 = ("save it as UTF-8: in Excel, File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'; "
              "in LibreOffice, Save As > Text CSV with character set 'Unicode (UTF-8)'")


def not_utf8(shown: str, raw: bytes, exc: UnicodeDecodeError) -> DataError:
    """The error for a sheet that is not UTF-8: the file, line and byte, the encoding it looks like
    (UTF-16 from its byte-order mark or zero bytes, else Windows-1252/Latin-1) and how to re-save it."""
    start = exc.start
    line = raw.count(b"\n", 0, start) + 1
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:200]:
        looks = "UTF-16 (Excel's 'Unicode Text')"
    else:
        looks = "Windows-1252/Latin-1 (Excel's plain 'CSV (Comma delimited)')"
        try:
            char = raw[start:start + 1].decode("cp1252")
            looks += f"; byte 0x{raw[start]:02x} is {char!r} there"
        except UnicodeDecodeError:
            pass
    return DataError(f"{shown}:{line}: not UTF-8 text: byte 0x{raw[start]:02x} at offset {start} "
                     f"({exc.reason}); the file looks like {looks}. Nothing was read: {_SAVE_UTF8}.")


def delimiter_hint(header: list[str]) -> str:
    """A sentence for a header that is one cell holding ``;`` (a sheet saved by Excel in a locale whose
    list separator is ``;``), else ``""``."""
    if len(header) == 1 and header[0].count(";") >= 1:
        return (" The header looks ';'-separated (Excel uses ';' where the decimal separator is a comma): "
                "re-save it as 'CSV UTF-8 (Comma delimited)', or in LibreOffice choose ',' as the field "
                "delimiter.")
    return ""


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
                    + delimiter_hint(header)
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
        raise not_utf8(shown, path.read_bytes(), exc) from None
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


# USE_CODED with each predicate written once as N-Triples, for the row loops
_CODED = [(col, slug, f"<{pred}>", multi) for col, (slug, pred, multi) in USE_CODED.items()]


def _code_lines(checker: "_Checker", row: int, entry: str, rec: dict[str, str], node: str, g: str,
                add: Callable[[str], None]) -> None:
    """The six coded dimensions of a use or coding row (keys checked by ``checker``) as lines of ``node``."""
    for col, slug, pred, multi in _CODED:
        for concept in checker.keys(row, entry, col, rec[col], slug, multi):
            add(f"{node} {pred} <{concept}>{g}")


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
        if ";" not in value:  # one key or none (cells are stripped): the common case, checked at once
            concept = self.vocab.concept(slug, value) if value else None
            if concept is not None or not value:
                return [concept] if concept is not None else []
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
            if concept is None and multi and "," in part:  # a list typed the usual way
                self.add(row, entry, fieldname, part,
                         f"unknown {slug} key {part!r}: separate the keys of a list with ';', not ',' "
                         f"(write {';'.join(p.strip() for p in part.split(',') if p.strip())!r}).",
                         allowed=self.vocab.allowed(slug))
            elif concept is None:
                self.add(row, entry, fieldname, part, f"unknown {slug} key {part!r}.",
                         allowed=self.vocab.allowed(slug), suggestion=self.vocab.suggest(slug, part))
            else:
                concepts.append(concept)
        return concepts


def _check_title(sc: _Checker, row: int, sid: str, title: str, graph: TitleIndex, rows: TitleIndex,
                 row_of: dict[str, int]) -> None:
    """A new study's title against the graph's titles, then against the earlier rows' (``row_of``)."""
    match = graph.match(title)
    if match is not None and match.study_id != sid:  # the same id is reported as a duplicate study_id
        sc.add(row, sid, "title", title, title_problem(match, "in the graph"))
    elif match is None:
        match = rows.match(title)
        if match is not None:
            sc.add(row, sid, "title", title, title_problem(match, f"on row {row_of[match.study_id]}"))
    rows.add(title, sid)


def load_sheets(
    studies_path: Path,
    uses_path: Path,
    vocab: Vocabulary,
    *,
    graph: str | None = None,
    known_study_ids: set[str] | None = None,
    require_uses: bool = True,
    existing: Existing | None = None,
    links_graph: str | None = None,
    sink: Callable[[bytes], None] | None = None,
    chunk: int = 200_000,
) -> Loaded:
    """Check and convert the two sheets; raise InputInvalid listing every problem.

    The triples are N-Quads lines in ``graph`` (N-Triples lines when ``graph`` is None), kept in
    ``Loaded.lines`` or, with ``sink``, handed to it as UTF-8 chunks of about ``chunk`` lines while
    the sheets are read. Only lines of rows without problems reach the sink: once a problem is
    found nothing more is sent, and InputInvalid is raised at the end with every problem.
    ``known_study_ids`` are studies that already exist elsewhere (uses may point at them).
    ``existing`` is the graph the rows are new entries for: a study id, DOI (after
    ``normalise_doi``), PMID or use already in it is a duplicate; its studies may have new uses.
    When ``existing.titles`` is an index, a title the same as or very close to one in it or on an
    earlier row (kg.model.titles) is a problem too, naming that study.
    With ``links_graph``, ``Loaded.links`` holds the studies' ``schema:sameAs`` DOI / PubMed lines.
    """
    from kg.model.limits import max_uses_per_study

    existing = existing or Existing()
    titles = None if existing.titles is None else TitleIndex(existing.titles.threshold)
    # the uses sheet is read only once the studies are converted (one sheet's rows in memory at a time);
    # an unreadable sheet raises DataError at once, row problems are raised together at the end
    study_rows = read_sheet(studies_path, STUDY_COLUMNS)
    sc = _Checker(vocab, display_path(studies_path))
    uc = _Checker(vocab, display_path(uses_path))
    loaded = Loaded(files=(sc.file, uc.file), graph_name=graph)
    this_year = date.today().year
    g = f" <{graph}> .\n" if graph else " .\n"
    out: list[str] = []
    add = out.append

    def flush(final: bool = False) -> None:
        if sink is None or sc.problems or uc.problems or not (final or len(out) >= chunk):
            return
        sink("".join(out).encode("utf-8"))
        out.clear()

    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    s_type, s_id, s_first, s_list = f"<{SMQI.Study}>", f"<{SMQI.studyId}>", f"<{SMQI.firstAuthor}>", \
        f"<{SMQI.authorList}>"
    creator, year_p, derived = f"<{DCTERMS.creator}>", f"<{FABIO.hasPublicationYear}>", f"<{PROV.wasDerivedFrom}>"
    simple = (("title", f"<{DCTERMS.title}>"), ("journal", f"<{PRISM.publicationName}>"),
              ("doi", f"<{PRISM.doi}>"), ("pmid", f"<{FABIO.hasPubMedId}>"),
              ("summary", f"<{DCTERMS.description}>"))
    country_p, design_p = f"<{SMQI.country}>", f"<{SMQI.studyDesign}>"
    study_ns, use_ns = f"<{BASE}kg/study/", f"<{BASE}kg/use/"

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
        if titles is not None and rec["title"]:
            _check_title(sc, row, sid, rec["title"], existing.titles, titles, seen_studies)
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
            other = existing.dois.get(normalise_doi(doi)) if existing.dois else None
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
            if existing.pmids and pmid.lstrip("0") in existing.pmids:
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
        bad_urls = set()
        for url in urls:
            why = iri_error(url, http_only=True, host_required=False)
            if why:
                bad_urls.add(url)
                sc.add(row, sid, "source_url", url, f"each source_url must be an http(s) address that is a valid "
                       f"IRI: {why}.", allowed="http:// or https://, then a host; no spaces, control characters "
                       "or any of < > \" { } | \\ ^ `", suggestion=iri_suggestion(url))
            elif iri_error(url):
                sc.warn(row, sid, "source_url", url, "address has an empty host (three slashes).")
        resolver = resolver_iri(doi) if doi and DOI_RE.match(doi) else None
        why = iri_error(resolver) if resolver else None
        if why:
            sc.add(row, sid, "doi", doi, f"the DOI does not make a valid resolver address ({resolver}): {why}.")
        if not (doi or pmid or urls):
            sc.add(row, sid, "source_url", "", "a study needs at least one of doi, pmid or source_url.")
        if not sid:
            continue
        node = f"{study_ns}{sid}>"
        loaded.study_rows.append((row, sid))
        loaded.study_ids.append(sid)
        add(f"{node} {rdf_type} {s_type}{g}")
        add(f"{node} {s_id} {string_literal(sid)}{g}")
        if rec["first_author"]:
            add(f"{node} {s_first} {string_literal(rec['first_author'])}{g}")
        if rec["authors"]:
            add(f"{node} {s_list} {string_literal(rec['authors'])}{g}")
            for author in _split(rec["authors"]):
                add(f"{node} {creator} {string_literal(author)}{g}")
        if year:
            add(f'{node} {year_p} {string_literal(year)}^^<{XSD}gYear>{g}')
        for col, pred in simple:
            if rec[col]:
                add(f"{node} {pred} {string_literal(rec[col])}{g}")
        for concept in country_nodes:
            add(f"{node} {country_p} <{concept}>{g}")
        for concept in design:
            add(f"{node} {design_p} <{concept}>{g}")
        for url in urls:
            if url not in bad_urls:
                add(f"{node} {derived} <{url}>{g}")
        if links_graph:
            loaded.links += link_lines(f"{BASE}kg/study/{sid}", [doi] if doi else [], [pmid] if pmid else [],
                                       links_graph)
        flush()

    use_type, reported, reports, number = (f"<{SMQI.SocialMediaUse}>", f"<{SMQI.reportedIn}>",
                                           f"<{SMQI.reportsUse}>", f"<{SMQI.useNumber}>")
    note_p, conf_p = f"<{SMQI.codingNote}>", f"<{SMQI.codingConfidence}>"
    known = set(seen_studies) | (known_study_ids or set()) | existing.study_ids
    seen_uses: dict[tuple[str, str], int] = {}
    studies_with_uses: set[str] = set()
    uses_cap = max_uses_per_study()
    uses_of: dict[str, int] = {}
    del study_rows
    for row, rec in read_sheet(uses_path, USE_COLUMNS):
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
        if no and not USE_NO_RE.fullmatch(no):
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
        node, study = f"{use_ns}{entry}>", f"{study_ns}{sid}>"
        loaded.use_rows.append((row, entry))
        loaded.use_count += 1
        add(f"{node} {rdf_type} {use_type}{g}")
        add(f"{node} {reported} {study}{g}")
        add(f"{study} {reports} {node}{g}")
        add(f'{node} {number} "{no}"^^<{XSD}integer>{g}')
        _code_lines(uc, row, entry, rec, node, g, add)
        if rec["note"]:
            add(f"{node} {note_p} {string_literal(rec['note'])}{g}")
        if rec["confidence"]:
            for concept in uc.keys(row, entry, "confidence", rec["confidence"], "confidence", False):
                add(f"{node} {conf_p} <{concept}>{g}")
        flush()

    if require_uses:
        for sid, row in seen_studies.items():
            if sid and sid not in studies_with_uses:
                sc.add(row, sid, "study_id", sid, f"study has no use in {uc.file}: every study reports at "
                       "least one use of social media.")
    problems = sc.problems + uc.problems
    loaded.warnings = sc.warnings + uc.warnings
    if problems:
        raise InputInvalid(problems=problems)
    flush(final=True)
    loaded.lines = out
    return loaded


def _closest(value: str, candidates: set[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(value, sorted(candidates), n=1, cutoff=0.7)
    return close[0] if close else None


@dataclass
class LoadedCodings:
    """``codings.csv`` as N-Quads lines: one ``smqi:Coding`` per row (one coder's independent coding of
    one use) and one ``prov:Agent`` per coder; ``rows`` are (line, entry) of every coding, in sheet order,
    the entry being ``study_id-use_no-coder``."""

    file: str
    lines: list[str] = field(default_factory=list)
    rows: list[tuple[int, str]] = field(default_factory=list)
    coders: list[str] = field(default_factory=list)

    @cached_property
    def origins(self) -> dict[URIRef, Origin]:
        """Coding node → Origin (file, row, entry)."""
        return {URIRef(f"{BASE}kg/coding/{e}"): Origin(self.file, row, e) for row, e in self.rows}


def load_codings(path: Path, vocab: Vocabulary, *, graph: str | None = None,
                 known_uses: set[str] | None = None) -> LoadedCodings:
    """Check and convert ``codings.csv`` (both coders' independent codings of every use, before
    adjudication); raise InputInvalid listing every problem.

    Each row becomes a ``smqi:Coding`` node ``…/kg/coding/<study_id>-<use_no>-<coder>``, attributed to
    its coder (``prov:wasAttributedTo`` ``…/kg/coder/<coder>``, a ``prov:Agent``) and linked to the
    consensus use it was adjudicated into (``smqi:adjudicatedInto``), with the coder's keys on the six
    dimensions of a use. ``known_uses`` are the IRIs of the consensus uses: a coding of any other use is
    a problem of its row. Lines are N-Quads in ``graph`` (N-Triples when None)."""
    shown = display_path(path)
    checker = _Checker(vocab, shown)
    loaded = LoadedCodings(file=shown)
    g = f" <{graph}> .\n" if graph else " .\n"
    add = loaded.lines.append
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    coding_type, into, by = f"<{SMQI.Coding}>", f"<{SMQI.adjudicatedInto}>", f"<{PROV.wasAttributedTo}>"
    agent, label = f"<{PROV.Agent}>", "<http://www.w3.org/2000/01/rdf-schema#label>"
    seen: dict[tuple[str, str, str], int] = {}
    coders_of: dict[tuple[str, str], list[str]] = {}
    for row, rec in read_sheet(path, CODING_COLUMNS):
        coder, sid, no = rec["coder"], rec["study_id"], rec["use_no"]
        entry = f"{sid}-{no}-{coder}"
        checker.required(row, entry, rec, CODING_COLUMNS)
        if coder and not CODER_RE.match(coder):
            checker.add(row, entry, "coder", coder, "coder must be a short key in lower case (letters, digits "
                        "and '-'), such as coder-1.", allowed="pattern ^[a-z][a-z0-9-]{0,39}$")
            continue
        if no and not USE_NO_RE.fullmatch(no):
            checker.add(row, entry, "use_no", no, "use_no must be a whole number from 1 (1, 2, … within the study).")
            continue
        if sid and not STUDY_ID_RE.match(sid):
            checker.add(row, entry, "study_id", sid, "study_id must be a study_id of the studies sheet.",
                        allowed="pattern ^[a-z]+[0-9]{4}[a-z]?$")
            continue
        if not (coder and sid and no):
            continue
        use = f"{BASE}kg/use/{sid}-{no}"
        if known_uses is not None and use not in known_uses:
            checker.add(row, entry, "use_no", no, f"this coding is of use {sid}-{no}, which is not a use of the "
                        "uses sheet or of entries/: a coding belongs to a consensus use.")
            continue
        if (coder, sid, no) in seen:
            checker.add(row, entry, "coder", coder, f"duplicate coding: {coder} already coded use {sid}-{no} on "
                        f"row {seen[(coder, sid, no)]}.")
            continue
        if len(coders_of.get((sid, no), [])) >= 2:
            checker.add(row, entry, "coder", coder, f"use {sid}-{no} already has the codings of two coders "
                        f"({', '.join(coders_of[(sid, no)])}): agreement compares the two independent codings "
                        "of each use, so a use has two codings at most.")
            continue
        seen[(coder, sid, no)] = row
        coders_of.setdefault((sid, no), []).append(coder)
        node = f"<{BASE}kg/coding/{entry}>"
        if coder not in loaded.coders:
            loaded.coders.append(coder)
            add(f"<{BASE}kg/coder/{coder}> {rdf_type} {agent}{g}")
            add(f"<{BASE}kg/coder/{coder}> {label} {string_literal(coder)}{g}")
        loaded.rows.append((row, entry))
        add(f"{node} {rdf_type} {coding_type}{g}")
        add(f"{node} {into} <{use}>{g}")
        add(f"{node} {by} <{BASE}kg/coder/{coder}>{g}")
        _code_lines(checker, row, entry, rec, node, g, add)
    if checker.problems:
        raise InputInvalid(problems=checker.problems)
    return loaded


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
