"""New entries (CSV rows, Turtle, JSON-LD) checked in the context of the graph they are for.

``check_entries`` reads the files, converts them to RDF, and reports every problem: the codebook
checks of kg.io.sheets for sheets, codebook keys for RDF, the SHACL shapes, and the cross-entry rules
against the existing graph (a study id, DOI after ``normalise_doi``, PMID or use that is already
there; a use whose study exists nowhere). RDF problems carry the line of the file where the entry
(or the offending value) is written. ``smqi validate`` and ``smqi add`` both use it.

The existing data is loaded by the one loader (``kg.io.datafolder.load_evidence``) into an in-memory
Oxigraph store and read with SPARQL; the shapes are run on a second small store (ontology,
vocabularies, the new entries and the existing studies their uses belong to) by the store engine
(``kg.check.storeshacl``), and reported through ``kg.check.shacl.problems_of`` as the build reports.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import DCTERMS

from kg.model.errors import DataError, InputInvalid, Problem, UsageError
from kg.io.sheets import (
    CODING_COLUMNS,
    COLUMN_OF,
    Existing,
    delimiter_hint,
    not_utf8,
    Origin,
    display_path,
    load_codings,
    load_sheets,
    normalise_doi,
    read_sheet,
    STUDY_COLUMNS,
    STUDY_ID_RE,
    USE_COLUMNS,
)
from kg.model.iri import iri_error
from kg.model.titles import TitleIndex, title_problem
from kg.model.namespaces import BASE, FABIO, G_EVIDENCE, PRISM, SMQI, VOCAB
from kg.io.rdf import FORMATS, parse_into
from kg.io.store import from_ox, to_ox
from kg.model.vocabularies import Vocabulary, default_vocabulary

STUDY_NS = f"{BASE}kg/study/"
USE_NS = f"{BASE}kg/use/"


def study_id_of(node: object) -> str | None:
    """The study id a study IRI names: ``…/kg/study/<study_id>`` with a valid id, else None. The only
    source of the file name ``entries/<study_id>.ttl`` that ``smqi add`` writes."""
    text = str(node)
    if not isinstance(node, URIRef) or not text.startswith(STUDY_NS):
        return None
    sid = text[len(STUDY_NS):]
    return sid if STUDY_ID_RE.match(sid) else None


@dataclass
class Entries:
    """What was read from the files, and where each node came from."""

    graph: Graph = field(default_factory=Graph)  # the new evidence triples only
    origins: dict[URIRef, Origin] = field(default_factory=dict)
    sheets: dict[str, Path] = field(default_factory=dict)  # "studies" / "uses" / "codings" -> path
    sheet_rows: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    rdf: dict[Path, Graph] = field(default_factory=dict)  # each RDF file's own triples
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)  # shown path -> lines of each RDF file

    def study_of(self, node: URIRef) -> str | None:
        """The study id an entry node belongs to (a study, or a use's study)."""
        text = str(node)
        if text.startswith(STUDY_NS):
            return text[len(STUDY_NS):]
        study = self.graph.value(node, SMQI.reportedIn)
        if study is not None and str(study).startswith(STUDY_NS):
            return str(study)[len(STUDY_NS):]
        if text.startswith(USE_NS):
            return text[len(USE_NS):].rsplit("-", 1)[0]
        return None


def existing_in(store: ox.Store, titles: bool = True) -> Existing:
    """Study ids, normalised DOIs, PMIDs, use ids and (unless ``titles`` is False) the title index of
    the evidence graph of ``store``."""
    existing = Existing(titles=TitleIndex() if titles else None)
    studies = store.query(f"""
        SELECT ?sid ?doi ?pmid ?title WHERE {{ GRAPH <{G_EVIDENCE}> {{
            ?study <{SMQI.studyId}> ?sid .
            OPTIONAL {{ ?study <{PRISM.doi}> ?doi }}
            OPTIONAL {{ ?study <{FABIO.hasPubMedId}> ?pmid }}
            OPTIONAL {{ ?study <{DCTERMS.title}> ?title }} }} }} ORDER BY ?sid""")
    for row in studies:
        sid = row["sid"].value
        existing.study_ids.add(sid)
        if existing.titles is not None and row["title"] is not None:
            existing.titles.add(row["title"].value, sid)
        if row["doi"] is not None:
            existing.dois[normalise_doi(row["doi"].value)] = sid
        if row["pmid"] is not None:
            existing.pmids[row["pmid"].value.lstrip("0")] = sid
    uses = store.query(f"""
        SELECT ?sid ?no WHERE {{ GRAPH <{G_EVIDENCE}> {{
            ?use a <{SMQI.SocialMediaUse}> ; <{SMQI.reportedIn}> ?study ; <{SMQI.useNumber}> ?no .
            ?study <{SMQI.studyId}> ?sid }} }}""")
    existing.use_ids.update((row["sid"].value, row["no"].value) for row in uses)
    return existing


def studies_with_uses(store: ox.Store, studies: set[URIRef]) -> Graph:
    """The evidence triples of ``studies`` and of the uses they report, from ``store``."""
    graph = Graph()
    if not studies:
        return graph
    values = " ".join(f"<{s}>" for s in sorted(studies))
    found = store.query(f"""
        CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{G_EVIDENCE}> {{ VALUES ?study {{ {values} }}
            {{ BIND(?study AS ?s) ?s ?p ?o }} UNION {{ ?study <{SMQI.reportsUse}> ?s . ?s ?p ?o }} }} }}""")
    for triple in found:
        graph.add((from_ox(triple.subject), from_ox(triple.predicate), from_ox(triple.object)))
    return graph


def sheet_kind(path: Path) -> str:
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except FileNotFoundError:
        raise DataError(f"{display_path(path)}: no such file") from None
    except UnicodeDecodeError as exc:
        raise not_utf8(display_path(path), path.read_bytes(), exc) from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{display_path(path)}: cannot be read as a CSV sheet ({exc})") from None
    if "coder" in header:
        return "codings"
    if "use_no" in header:
        return "uses"
    if "title" in header:
        return "studies"
    raise DataError(
        f"{display_path(path)}:1: not an extraction sheet: the header has neither the studies columns "
        f"({','.join(STUDY_COLUMNS)}) nor the uses columns ({','.join(USE_COLUMNS)}) nor the codings "
        f"columns ({','.join(CODING_COLUMNS)})." + delimiter_hint(header)
    )


# ---------------------------------------------------------------- RDF entries


def _local(node: object, slug: str) -> str:
    prefix = f"{VOCAB}{slug}/"
    text = str(node)
    return text[len(prefix):] if text.startswith(prefix) else text


def _find_line(lines: list[str], needles: list[str], start: int = 1) -> int | None:
    """The first line (1-based, from ``start``) holding any of ``needles`` as a whole token."""
    patterns = [re.compile(rf"(?<![\w-]){re.escape(n)}(?![\w-])") for n in needles if n]
    for number in range(max(start, 1), len(lines) + 1):
        if any(p.search(lines[number - 1]) for p in patterns):
            return number
    return None


def _rdf_origins(graph: Graph, path: Path, text: str) -> dict[URIRef, Origin]:
    lines = text.splitlines()
    origins = {}
    for node in set(graph.subjects(RDF.type, SMQI.Study)) | set(graph.subjects(RDF.type, SMQI.SocialMediaUse)) \
            | set(graph.subjects(SMQI.studyId, None)):
        if not isinstance(node, URIRef):
            continue
        entry = str(node).rsplit("/", 1)[-1]
        # the node's own block: the line naming it as a subject (Turtle) or its "@id" (JSON-LD)
        row = None
        for number, line in enumerate(lines, 1):
            if re.search(rf"^\s*(\S*[:/]){re.escape(entry)}>?\s", line) or \
                    re.search(rf'"@id"\s*:\s*"[^"]*[:/]{re.escape(entry)}"', line):
                row = number
                break
        origins[node] = Origin(display_path(path), row or _find_line(lines, [entry]) or 0, entry)
    return origins


def _check_rdf(entries: Entries, existing: Existing, vocab: Vocabulary,
               texts: dict[Path, list[str]]) -> list[Problem]:
    """Codebook keys and cross-entry rules for the RDF entries."""
    from kg.check.shacl import SLUG_OF

    problems: list[Problem] = []
    new_studies: dict[str, URIRef] = {}
    seen_doi: dict[str, str] = {}
    seen_pmid: dict[str, str] = {}
    new_titles = None if existing.titles is None else TitleIndex(existing.titles.threshold)
    for path, graph in entries.rdf.items():
        lines = texts[path]

        def add(node: URIRef, fieldname: str, value: str | None, message: str, **kw) -> None:
            origin = entries.origins.get(node)
            row = origin.row if origin else None
            if value and row:
                row = _find_line(lines, [value], row) or row
            problems.append(Problem(message=message, file=display_path(path), row=row,
                                    entry=origin.entry if origin else str(node), field=fieldname,
                                    value=value, **kw))

        for node in sorted(set(graph.subjects(RDF.type, SMQI.Study))):
            if not isinstance(node, URIRef):
                continue
            sid = str(graph.value(node, SMQI.studyId) or str(node).rsplit("/", 1)[-1])
            named = study_id_of(node)
            if named is None:
                what = ("this one ends in '/': the id is missing" if str(node).endswith("/")
                        else "this one is not")
                add(node, "study_id", str(node), f"a study's IRI must be {STUDY_NS}<study_id> ({what}).",
                    allowed=f"{STUDY_NS} + a study id, pattern ^[a-z]+[0-9]{{4}}[a-z]?$")
            elif any(str(v) != named for v in graph.objects(node, SMQI.studyId)):
                add(node, "study_id", sid, f"the study id differs from the one in the study's IRI ({named}).")
            if sid in existing.study_ids:
                add(node, "study_id", sid, "duplicate study_id: this study is already in the graph.")
            elif sid in new_studies:
                add(node, "study_id", sid, "duplicate study_id: the same study is given twice in the new entries.")
            new_studies[sid] = node
            for doi in graph.objects(node, PRISM.doi):
                norm = normalise_doi(str(doi))
                if norm in existing.dois:
                    add(node, "doi", str(doi), f"duplicate DOI: {norm} is already in the graph for study "
                        f"{existing.dois[norm]}.")
                elif norm in seen_doi and seen_doi[norm] != sid:
                    add(node, "doi", str(doi), f"duplicate DOI: {norm} is also given for {seen_doi[norm]}.")
                seen_doi.setdefault(norm, sid)
            for pmid in graph.objects(node, FABIO.hasPubMedId):
                key = str(pmid).lstrip("0")
                if key in existing.pmids:
                    add(node, "pmid", str(pmid), f"duplicate PMID: {key} is already in the graph for study "
                        f"{existing.pmids[key]}.")
                elif key in seen_pmid and seen_pmid[key] != sid:
                    add(node, "pmid", str(pmid), f"duplicate PMID: {key} is also given for {seen_pmid[key]}.")
                seen_pmid.setdefault(key, sid)
            for title in sorted(graph.objects(node, DCTERMS.title)):
                if new_titles is None or existing.titles is None:
                    break
                match = existing.titles.match(str(title))
                where = "in the graph"
                if match is None:
                    match, where = new_titles.match(str(title)), "in the new entries"
                if match is not None and match.study_id != sid:
                    add(node, "title", str(title), title_problem(match, where))
                new_titles.add(str(title), sid)
        for subject, predicate, obj in sorted(graph):
            slug = SLUG_OF.get(predicate)
            if slug is None or not isinstance(subject, URIRef):
                continue
            if not isinstance(obj, URIRef) or vocab.concept(slug, _local(obj, slug)) != obj:
                key = _local(obj, slug)
                add(subject, COLUMN_OF.get(predicate, str(predicate)), key, f"unknown {slug} key {key!r}.",
                    allowed=vocab.allowed(slug), suggestion=vocab.suggest(slug, key))
    all_new = set(new_studies)
    for path, graph in entries.rdf.items():
        for use in sorted(set(graph.subjects(RDF.type, SMQI.SocialMediaUse))):
            if not isinstance(use, URIRef):
                continue
            origin = entries.origins.get(use)
            study = graph.value(use, SMQI.reportedIn)
            sid = str(study)[len(STUDY_NS):] if study is not None and str(study).startswith(STUDY_NS) else None
            no = graph.value(use, SMQI.useNumber)
            for target in graph.objects(use, SMQI.reportedIn):
                if study_id_of(target) is None:
                    problems.append(Problem(
                        message=f"a use must be reported in a study whose IRI is {STUDY_NS}<study_id>.",
                        file=display_path(path), row=origin.row if origin else None,
                        entry=origin.entry if origin else str(use), field="study_id", value=str(target)))
            if sid and sid not in all_new and sid not in existing.study_ids:
                problems.append(Problem(
                    message="this use points to a study that exists nowhere (not in these entries, not in "
                            "the graph).", file=display_path(path), row=origin.row if origin else None,
                    entry=origin.entry if origin else str(use), field="study_id", value=sid))
            elif sid in existing.study_ids and no is not None and (sid, str(no)) in existing.use_ids:
                problems.append(Problem(
                    message=f"duplicate use: {sid}-{no} is already in the graph.", file=display_path(path),
                    row=origin.row if origin else None, entry=origin.entry if origin else str(use),
                    field="use_no", value=str(no)))
    return problems


# ---------------------------------------------------------------- the whole check


def read_entries(paths: list[Path], vocab: Vocabulary, existing: Existing) -> Entries:
    """Parse and convert the files; codebook and cross-entry problems go into ``problems``.

    Raises DataError / UsageError when a file cannot be read or the paths make no sense.
    """
    if not paths:
        raise UsageError("give at least one file to validate")
    entries = Entries()
    texts: dict[Path, list[str]] = {}
    for path in map(Path, paths):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            kind = sheet_kind(path)
            if kind in entries.sheets:
                raise UsageError(f"two {kind} sheets given ({entries.sheets[kind]} and {path}); give one of each")
            entries.sheets[kind] = path
        elif suffix in FORMATS:
            graph = parse_into(Graph(), path)
            entries.rdf[path] = graph
            text = path.read_text(encoding="utf-8")
            _check_literal_sizes(graph, path, text)
            _check_iris(graph, path, text)
            _check_terms(graph, path)
            texts[path] = text.splitlines()
            entries.texts[display_path(path)] = texts[path]
            entries.origins.update(_rdf_origins(graph, path, text))
            for triple in graph:
                entries.graph.add(triple)
        else:
            raise UsageError(f"{path}: unsupported file type; give .csv sheets or RDF "
                             f"({', '.join(sorted(FORMATS))})")
    if entries.sheets:
        if not {"studies", "uses"} <= set(entries.sheets):
            missing = ({"studies", "uses"} - set(entries.sheets)).pop()
            raise UsageError(f"the {missing} sheet is missing: CSV entries are validated as a pair "
                             "(studies.csv and uses.csv, with their codings.csv if any)")
        entries.sheet_rows = {"studies": read_sheet(entries.sheets["studies"], STUDY_COLUMNS),
                              "uses": read_sheet(entries.sheets["uses"], USE_COLUMNS)}
        rdf_study_ids = {str(o) for o in entries.graph.objects(None, SMQI.studyId)}
        try:
            loaded = load_sheets(entries.sheets["studies"], entries.sheets["uses"], vocab,
                                 known_study_ids=rdf_study_ids, existing=existing)
            entries.warnings = loaded.warnings
            entries.origins.update(loaded.origins)
            for triple in loaded.graph:
                entries.graph.add(triple)
        except InputInvalid as exc:
            entries.problems.extend(exc.problems)
        if "codings" in entries.sheets:
            entries.sheet_rows["codings"] = read_sheet(entries.sheets["codings"], CODING_COLUMNS)
            entries.problems.extend(_check_codings(entries, vocab))
    entries.problems.extend(_check_rdf(entries, existing, vocab, texts))
    return entries


def _check_codings(entries: Entries, vocab: Vocabulary) -> list[Problem]:
    """The new entries' codings sheet: its rows (kg.io.sheets.load_codings), each coding of one of the
    new uses, and every new use coded by every coder of the sheet. Its triples join the entries'."""
    path = entries.sheets["codings"]
    uses = {str(u) for u in entries.graph.subjects(RDF.type, SMQI.SocialMediaUse)}
    try:
        codings = load_codings(path, vocab, known_uses=uses)
    except InputInvalid as exc:
        from dataclasses import replace

        # a coding of another use: say what belongs together
        return [replace(p, message=p.message.replace(
                    "which is not a use of the uses sheet or of entries/: a coding belongs to a consensus use.",
                    "which is not one of the new uses: the codings sheet holds the codings of the uses "
                    "in the uses sheet given with it.")) for p in exc.problems]
    entries.origins.update(codings.origins)
    entries.graph.parse(data="".join(codings.lines), format="nt")
    coded: dict[str, set[str]] = {}
    for _row, entry in codings.rows:
        sid, no, coder = entry.split("-", 2)
        coded.setdefault(f"{sid}-{no}", set()).add(coder)
    problems = []
    shown = display_path(path)
    for row, rec in entries.sheet_rows["uses"]:
        entry = f"{rec['study_id']}-{rec['use_no']}"
        missing = sorted(set(codings.coders) - coded.get(entry, set()))
        if missing or len(coded.get(entry, ())) < 2:
            have = sorted(coded.get(entry, ()))
            problems.append(Problem(
                message=f"use {entry} has {len(have)} coding(s) in {shown}"
                        + (f" (by {', '.join(have)})" if have else "")
                        + (f", none by {', '.join(missing)}" if missing else "")
                        + ": when new uses come with their codings, each use has the independent codings of "
                        "at least two coders, and every coder of the sheet codes every use.",
                file=display_path(entries.sheets["uses"]), row=row, entry=entry, field="use_no",
                value=rec["use_no"]))
    return problems


def _describe(term) -> str:
    from rdflib import Literal

    if isinstance(term, Literal):
        return f'the literal "{term}"' + (f" of datatype <{term.datatype}>" if term.datatype is not None
                                           else f"@{term.language}" if term.language else "")
    return f"<{term}>" if isinstance(term, URIRef) else f"the blank node {term}"


def _check_terms(graph: Graph, path: Path) -> None:
    """Every triple of the file must be one the store can hold: IRIs (datatypes included) absolute,
    language tags well formed, no literal as subject or predicate. rdflib lets some through (a JSON-LD
    ``"@type": false`` gives a literal of datatype ``<>``; Turtle a literal in predicate position)."""
    for triple in graph:
        for term in triple:
            try:
                to_ox(term)
            except (ValueError, TypeError) as exc:
                raise DataError(f"{display_path(path)}: {_describe(term)} is not an RDF term the graph can hold "
                                f"({exc})") from None
        try:
            ox.Quad(*(to_ox(term) for term in triple))
        except TypeError:
            s, p, o = triple
            raise DataError(f"{display_path(path)}: {_describe(s)} {_describe(p)} {_describe(o)} is not an RDF "
                            "triple (the subject must be an IRI or a blank node, the predicate an IRI)") from None


def _check_iris(graph: Graph, path: Path, text: str) -> None:
    """Every IRI of the file (subject, predicate, object) must be one the graph can hold
    (kg.model.iri.iri_error: RFC 3987, and a host for http(s)); else InputInvalid, one problem per IRI,
    at the line it is written on."""
    lines = text.splitlines()
    origins = _rdf_origins(graph, path, text)
    problems: list[Problem] = []
    seen: set[URIRef] = set()
    for s, p, o in sorted(graph):
        for place, term in (("subject", s), ("predicate", p), ("object", o)):
            if not isinstance(term, URIRef) or term in seen:
                continue
            why = iri_error(str(term))
            if why is None:
                continue
            seen.add(term)
            origin = origins.get(s) if isinstance(s, URIRef) else None
            tail = str(term).rstrip("/").rsplit("/", 1)[-1]
            row = _find_line(lines, [str(term)]) or (_find_line(lines, [tail]) if tail else None)
            problems.append(Problem(
                message=f"the {place} is not a valid IRI (RFC 3987): {why}.", file=display_path(path),
                row=row or (origin.row if origin else None), entry=origin.entry if origin else None,
                field=COLUMN_OF.get(p, str(p)) if place == "object" else None, value=str(term)))
    if problems:
        raise InputInvalid(problems=problems)


def _check_literal_sizes(graph: Graph, path: Path, text: str) -> None:
    """A literal longer than SMQI_MAX_CELL_CHARS is refused like a CSV cell (kg/limits.py)."""
    from rdflib import Literal

    from kg.model.limits import max_cell_chars, preview

    cap = max_cell_chars()
    if len(text) <= cap:
        return
    for subject, predicate, obj in graph:
        if isinstance(obj, Literal) and len(obj) > cap:
            start = str(obj)[:60].split("\n")[0]
            row = next((n for n, line in enumerate(text.splitlines(), 1) if start in line), None)
            raise InputInvalid(problems=[Problem(
                message=f"the literal is longer than the limit of {cap:,} characters (raise it with the "
                        "environment variable SMQI_MAX_CELL_CHARS).",
                file=display_path(path), row=row, entry=str(subject).rsplit("/", 1)[-1],
                field=COLUMN_OF.get(predicate, str(predicate)), value=preview(str(obj)))])


def check_entries(paths: list[Path], data_dir: Path | None = None, context: bool = True,
                  similar_titles: bool = False):
    """Validate new entries against the graph of ``data_dir`` (default: the shipped data).

    Returns ``(report, entries)``. With ``context=False`` the files are checked on their own. A new
    study whose title is the same as or very close to another's (kg.model.titles) is a problem unless
    ``similar_titles`` allows it.
    """
    from kg.check.shacl import Report, entry_of, notations_in, problems_of, shapes_graph
    from kg.check.storeshacl import load_graph, validate_store
    from kg.io.datafolder import data_files, load_evidence
    from kg.model.vocabularies import default_ontology

    vocab = default_vocabulary()
    existing_store = ox.Store()
    if context:
        from kg.io.lock import data_lock
        from kg.model import resources

        try:
            with data_lock(Path(data_dir) if data_dir else resources.data_dir()):  # read while no add writes
                load_evidence(data_files(data_dir), vocab, existing_store)
        except InputInvalid as exc:
            raise DataError(f"the existing data ({data_dir or 'the shipped data'}) does not load, so new "
                            f"entries cannot be checked against it: {exc}") from None
    existing = existing_in(existing_store, titles=not similar_titles)
    entries = read_entries([Path(p) for p in paths], vocab, existing)

    # SHACL over the new entries, the ontology, the vocabularies, and the existing studies the new
    # uses point to (with their uses)
    pointed = {study for study in entries.graph.objects(None, SMQI.reportedIn)
               if isinstance(study, URIRef) and (study, RDF.type, SMQI.Study) not in entries.graph}
    context_graph = studies_with_uses(existing_store, pointed) if context else Graph()
    data = [default_ontology(), vocab.graph, entries.graph, context_graph]
    store, written = load_graph(data)
    results = validate_store(store, shapes_graph(), written, fallback=False)
    shacl_problems, shacl_warnings = problems_of(results, vocab, entries.origins, notations_in(store, results))
    new_subjects = {s for s in entries.graph.subjects() if isinstance(s, URIRef)}
    new_entries = {entry_of(s) for s in new_subjects}
    # an unknown key or a use's missing study is reported once, by the check that can name the key
    already = {(p.entry, p.field) for p in entries.problems
               if p.message.startswith("unknown ") or "exists nowhere" in p.message}
    shacl_problems = [_at_value_line(p, entries.texts) for p in shacl_problems
                      if p.entry in new_entries and (p.entry, p.field) not in already]
    problems = entries.problems + shacl_problems
    warnings = entries.warnings + [w for w in shacl_warnings if w.entry in new_entries]
    return Report(conforms=not problems, problems=problems, warnings=warnings), entries


def _at_value_line(problem: Problem, texts: dict[str, list[str]]) -> Problem:
    """For an RDF file: the line, from the entry's own line on, where the offending value is written."""
    lines = texts.get(problem.file or "")
    if not lines or not problem.value or not problem.row:
        return problem
    from dataclasses import replace

    return replace(problem, row=_find_line(lines, [problem.value], problem.row) or problem.row)


def problems_by_study(entries: Entries, problems: list[Problem]) -> dict[str, list[Problem]]:
    """Problems grouped by the study id of the entry they are about (``""`` when unknown)."""
    grouped: dict[str, list[Problem]] = defaultdict(list)
    for problem in problems:
        entry = problem.entry or ""
        sid = entry
        leading = re.match(r"^([a-z]+[0-9]{4}[a-z]?)-[0-9]+(-[a-z][a-z0-9-]*)?$", entry)  # a use or a coding
        if leading:
            sid = leading.group(1)
        elif re.match(r"^.+-[^-]+$", entry) and not re.match(r"^[a-z]+[0-9]{4}[a-z]?$", entry):
            sid = entry.rsplit("-", 1)[0]
        grouped[sid].append(problem)
    return dict(grouped)


__all__ = ["STUDY_NS", "USE_NS", "study_id_of", "Entries", "existing_in", "studies_with_uses", "read_entries", "check_entries", "problems_by_study",
           "sheet_kind", "validate_paths"]


def validate_paths(paths: list[Path], data_dir: Path | None = None, similar_titles: bool = False):
    """Validate new entries (the two CSV sheets and/or Turtle, N-Triples, TriG, JSON-LD files) in the
    context of the graph of ``data_dir`` (default: the shipped data): codebook, shapes, and duplicates
    of what is already there (titles too, unless ``similar_titles``). The data folder's own sheets are
    checked on their own. Returns the
    ``kg.check.shacl.Report``."""
    from kg.model import resources

    if not paths:
        raise UsageError("give at least one file to validate")
    folder = Path(data_dir) if data_dir else resources.data_dir()
    own = [folder / "studies.csv", folder / "uses.csv", folder / "codings.csv"]
    is_own = all(any(_same(Path(p), o) for o in own) for p in paths)
    report, _entries = check_entries([Path(p) for p in paths], data_dir, context=not is_own,
                                     similar_titles=similar_titles)
    return report


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False
