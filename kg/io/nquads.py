"""The extraction sheets straight to N-Quads for Oxigraph: the loader of the fast engine.

It makes exactly the triples ``kg.io.sheets.load_sheets`` makes (tests/test_store.py checks the graphs
are isomorphic) but as N-Quads text, with no rdflib objects per triple. It runs every check of
``load_sheets`` in a cheap form; the moment any row looks wrong (or would give a warning) it hands
the sheets to ``load_sheets``, which reports every problem with file, row, field and value exactly as
the default engine does. So the fast path is only taken on sheets that load cleanly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kg.io.sheets import (
    DOI_RE, FIRST_YEAR, NOT_STATED, PMID_RE, STUDY_COLUMNS, STUDY_ID_RE, STUDY_REQUIRED, USE_CODED,
    USE_COLUMNS, USE_REQUIRED, YEAR_RE, Loaded, Origin, display_path, load_sheets, read_sheet,
)
from kg.model.namespaces import BASE, FABIO, PRISM, SMQI
from kg.model.vocabularies import Vocabulary
from rdflib import Graph

__all__ = ["FastLoaded", "load_nquads"]

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
PROV_DERIVED = "<http://www.w3.org/ns/prov#wasDerivedFrom>"
_ESC = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_IRI_BAD = re.compile(r'[<>"{}|^`\\\x00-\x20]')


def string_literal(text: str) -> str:
    return f'"{text.translate(_ESC)}"'


def _p(term: object) -> str:
    return f"<{term}>"


@dataclass
class FastLoaded:
    """N-Quads lines of the evidence graph, plus what the build reports."""

    lines: list[str]
    study_ids: list[str]
    use_count: int
    origins_of: tuple[Path, Path] = field(default=None)  # type: ignore[assignment]
    warnings: list = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # schema:sameAs DOI / PubMed IRIs (kg.model.identifiers)

    def origins(self) -> dict:
        """Node → Origin, computed only when a report needs them (a problem to place)."""
        studies, uses = self.origins_of
        from kg.model.namespaces import study_iri, use_iri

        found = {}
        for row, rec in read_sheet(studies, STUDY_COLUMNS):
            found[study_iri(rec["study_id"])] = Origin(display_path(studies), row, rec["study_id"])
        for row, rec in read_sheet(uses, USE_COLUMNS):
            entry = f"{rec['study_id']}-{rec['use_no']}"
            found[use_iri(rec["study_id"], rec["use_no"])] = Origin(display_path(uses), row, entry)
        return found


class _Fallback(Exception):
    """A row the fast path does not vouch for: let load_sheets report it."""


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _keys(keys: dict, value: str, multi: bool) -> list[str]:
    parts = _split(value)
    if not multi and len(parts) > 1 or len(set(parts)) != len(parts):
        raise _Fallback
    try:
        return [f"<{keys[p]}>" for p in parts]
    except KeyError:
        raise _Fallback from None


def graph_nquads(graph: Graph, name: str) -> list[str]:
    """An rdflib graph as N-Quads lines in the named graph ``name``."""
    nt = graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    # each N-Triples line ends with " ."; put the graph name before the dot
    return [f"{line.rstrip()[:-1]}<{name}> .\n" for line in nt.splitlines() if line.strip()]


def link_nquads(source: Graph, links_graph: str) -> list[str]:
    """``kg.model.identifiers.link_identifiers``' DOI / PubMed links of the studies of ``source``, as N-Quads."""
    from rdflib import Dataset

    from kg.model.identifiers import G_LINKS, link_identifiers

    scratch = Dataset()
    link_identifiers(scratch, source)  # also reads the (small) SSSOM mapping set into scratch: unused here
    return graph_nquads(scratch.graph(G_LINKS), links_graph)


def load_nquads(studies_path: Path, uses_path: Path, vocab: Vocabulary, graph: str,
                known_study_ids: set[str] | None = None, links_graph: str | None = None,
                sink: Callable[[bytes], None] | None = None) -> FastLoaded:
    """Check and convert the sheets into N-Quads lines in ``graph``; raise InputInvalid like load_sheets.

    ``known_study_ids``: studies defined elsewhere (``entries/*.ttl``) that uses may point at. With
    ``links_graph``, ``links`` holds the ``schema:sameAs`` DOI / PubMed links of every study in that graph,
    exactly as ``kg.model.identifiers.link_identifiers`` makes them.

    With ``sink``, the evidence lines are handed to it as UTF-8 N-Quads chunks while the sheets are read
    (``lines`` stays empty), so a loader can work meanwhile; if the fast path gives up half way, the
    chunks already sent are the start of the same graph and everything is sent again after
    ``sink(None)``, which tells the receiver to drop what it got."""
    try:
        return _fast(Path(studies_path), Path(uses_path), vocab, graph, known_study_ids or set(), links_graph,
                     sink)
    except _Fallback:
        if sink is not None:
            sink(None)  # type: ignore[arg-type]
    loaded: Loaded = load_sheets(studies_path, uses_path, vocab,  # raises InputInvalid with every problem
                                 known_study_ids=known_study_ids)
    result = FastLoaded(graph_nquads(loaded.graph, graph), loaded.study_ids, loaded.use_count,
                        (Path(studies_path), Path(uses_path)))
    result.warnings = loaded.warnings
    if links_graph:
        result.links = link_nquads(loaded.graph, links_graph)
    if sink is not None:
        sink("".join(result.lines).encode("utf-8"))
        result.lines = []
    return result


_PLAIN_DOI = re.compile(r"^10\.[0-9]{4,9}/[a-z0-9/:;()\[\]._~!$&'*+,=@-]+$")  # normalise_doi and quote: no-ops


def _doi_iri(doi: str) -> str | None:
    if _PLAIN_DOI.match(doi) and "doi.org/" not in doi:
        return "https://doi.org/" + doi
    from kg.model.identifiers import doi_iri, is_doi, normalise_doi

    return str(doi_iri(doi)) if is_doi(normalise_doi(doi)) else None


def _fast(studies_path: Path, uses_path: Path, vocab: Vocabulary, graph: str, known: set[str],
          links_graph: str | None, sink: Callable[[bytes], None] | None = None,
          chunk: int = 200_000) -> FastLoaded:
    from kg.model.limits import max_uses_per_study

    g = f" <{graph}> .\n"
    lg = f" <{links_graph}> .\n"
    links: list[str] = []
    same_as = "<http://schema.org/sameAs>"
    out: list[str] = []
    add = out.append
    this_year = date.today().year
    countries, designs = vocab.keys("country"), vocab.keys("study-design")
    coded = {col: (vocab.keys(slug), f"<{pred}>", multi) for col, (slug, pred, multi) in USE_CODED.items()}
    confidence = vocab.keys("confidence")
    seen: set[str] = set()
    dois: set[str] = set()
    pmids: set[str] = set()
    study_ids: list[str] = []
    s_type, s_id, s_first, s_list = _p(SMQI.Study), _p(SMQI.studyId), _p(SMQI.firstAuthor), _p(SMQI.authorList)
    creator, year_p = f"<{DCT}creator>", _p(FABIO.hasPublicationYear)
    simple = (("title", f"<{DCT}title>"), ("journal", _p(PRISM.publicationName)), ("doi", _p(PRISM.doi)),
              ("pmid", _p(FABIO.hasPubMedId)), ("summary", f"<{DCT}description>"))
    country_p, design_p = _p(SMQI.country), _p(SMQI.studyDesign)
    for _row, rec in read_sheet(studies_path, STUDY_COLUMNS):
        sid = rec["study_id"]
        if not all(rec[c] for c in STUDY_REQUIRED) or not STUDY_ID_RE.match(sid) or sid in seen:
            raise _Fallback
        seen.add(sid)
        year, doi, pmid = rec["year"], rec["doi"], rec["pmid"]
        if not YEAR_RE.match(year) or not FIRST_YEAR <= int(year) <= this_year + 1:
            raise _Fallback
        if doi and (not DOI_RE.match(doi) or doi in dois) or pmid and (not PMID_RE.match(pmid) or pmid in pmids):
            raise _Fallback
        dois.add(doi)
        pmids.add(pmid)
        cc = _split(rec["countries"])
        if NOT_STATED in cc and len(cc) > 1:
            raise _Fallback
        stated = ";".join(c for c in cc if c != NOT_STATED)
        country_nodes = _keys(countries, stated, True) if stated else []
        design = _keys(designs, rec["design"], False)
        urls = _split(rec["source_url"])
        for url in urls:
            if not re.match(r"^https?://\S+$", url) or re.match(r"^https?:///", url) or _IRI_BAD.search(url):
                raise _Fallback
        if not (doi or pmid or urls):
            raise _Fallback
        node = f"<{BASE}kg/study/{sid}>"
        study_ids.append(sid)
        add(f"{node} {RDF_TYPE} {s_type}{g}")
        add(f"{node} {s_id} {string_literal(sid)}{g}")
        add(f"{node} {s_first} {string_literal(rec['first_author'])}{g}")
        if rec["authors"]:
            add(f"{node} {s_list} {string_literal(rec['authors'])}{g}")
            for author in _split(rec["authors"]):
                add(f"{node} {creator} {string_literal(author)}{g}")
        add(f'{node} {year_p} "{year}"^^<{XSD}gYear>{g}')
        for col, pred in simple:
            if rec[col]:
                add(f"{node} {pred} {string_literal(rec[col])}{g}")
        for concept in country_nodes:
            add(f"{node} {country_p} {concept}{g}")
        for concept in design:
            add(f"{node} {design_p} {concept}{g}")
        for url in urls:
            add(f"{node} {PROV_DERIVED} <{url}>{g}")
        if links_graph:
            if doi:
                iri = _doi_iri(doi)
                if iri is not None:
                    links.append(f"{node} {same_as} <{iri}>{lg}")
            if pmid:  # PMID_RE: digits, no leading zero, so normalise_pmid is a no-op
                links.append(f"{node} {same_as} <https://pubmed.ncbi.nlm.nih.gov/{pmid}/>{lg}")
        if sink is not None and len(out) >= chunk:
            sink("".join(out).encode("utf-8"))
            out.clear()

    use_type, reported, reports, number = (_p(SMQI.SocialMediaUse), _p(SMQI.reportedIn), _p(SMQI.reportsUse),
                                           _p(SMQI.useNumber))
    note_p, conf_p = _p(SMQI.codingNote), _p(SMQI.codingConfidence)
    seen_uses: set[tuple[str, str]] = set()
    with_uses: set[str] = set()
    use_count = 0
    uses_cap = max_uses_per_study()
    uses_of: dict[str, int] = {}
    use_no = re.compile(r"[1-9][0-9]{0,8}")
    known = seen | known
    for _row, rec in read_sheet(uses_path, USE_COLUMNS):
        sid, no = rec["study_id"], rec["use_no"]
        if not all(rec[c] for c in USE_REQUIRED) or not use_no.fullmatch(no):
            raise _Fallback
        if sid not in known or (sid, no) in seen_uses:
            raise _Fallback
        uses_of[sid] = uses_of.get(sid, 0) + 1
        if uses_of[sid] > uses_cap:
            raise _Fallback
        seen_uses.add((sid, no))
        with_uses.add(sid)
        node, study = f"<{BASE}kg/use/{sid}-{no}>", f"<{BASE}kg/study/{sid}>"
        use_count += 1
        add(f"{node} {RDF_TYPE} {use_type}{g}")
        add(f"{node} {reported} {study}{g}")
        add(f"{study} {reports} {node}{g}")
        add(f'{node} {number} "{no}"^^<{XSD}integer>{g}')
        for col, (keys, pred, multi) in coded.items():
            for concept in _keys(keys, rec[col], multi):
                add(f"{node} {pred} {concept}{g}")
        if rec["note"]:
            add(f"{node} {note_p} {string_literal(rec['note'])}{g}")
        if rec["confidence"]:
            for concept in _keys(confidence, rec["confidence"], False):
                add(f"{node} {conf_p} {concept}{g}")
        if sink is not None and len(out) >= chunk:
            sink("".join(out).encode("utf-8"))
            out.clear()
    if seen - with_uses:
        raise _Fallback
    if sink is not None:
        sink("".join(out).encode("utf-8"))
        out.clear()
    return FastLoaded(out, study_ids, use_count, (studies_path, uses_path), links=links)
