"""`smqi link`: find the works another evidence graph shares with ours, write a VoID linkset.

The other graph is an RDF file (Turtle, N-Triples, TriG, JSON-LD; read with ``kg.io.rdf``) or a SPARQL
endpoint (``http(s)://…``, asked with one plain HTTP POST, ``Accept: application/sparql-results+json``).
Works are matched on normalised DOIs and PMIDs (``kg.model.identifiers``) whatever property the other
graph uses: :data:`ID_PROPERTIES` lists the usual ones (PRISM, BIBO, FaBiO, schema.org, Dublin Core,
SciGraph ``sg:doi`` / ``sg:doiLink``, Wikidata P356/P698) and ``--property KIND=IRI`` adds more.
Identifiers may also be nodes of their own: a ``datacite:Identifier`` (OpenCitations:
``datacite:usesIdentifierScheme datacite:doi ; literal:hasLiteralValue "10.…"``) or a
``schema:PropertyValue`` (``schema:propertyID`` or ``schema:name`` saying the scheme, ``schema:value``).
Such a node is never a work: its identifiers belong to the work that points to it, whatever the
property. A shared work becomes ``<our study> owl:sameAs <their work>`` in a linkset
described with VoID (``void:Linkset``, subjects/objects targets, ``void:linkPredicate owl:sameAs``,
``void:triples``). The report gives the overlaps, the studies and works only on one side, and the
conflicts: the same identifier with a different year or title (titles compared after folding case,
accents, punctuation and spaces) or, for a DOI match, a different PMID.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from rdflib import RDF, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, OWL, RDFS, VOID
from rdflib.term import Node

from kg import __version__
from kg.model.errors import DataError, UsageError
from kg.model.identifiers import is_doi, normalise_doi, normalise_pmid
from kg.model.namespaces import BASE, FABIO, PRISM, SCHEMA, SMQI
from kg.model.titles import normalise_title
from kg.io.rdf import parse_file
from kg.publish.void import DATASET

__all__ = ["ID_PROPERTIES", "TITLE_PROPERTIES", "YEAR_PROPERTIES", "ID_NODE_LINKS", "Properties", "Work", "LinkReport",
           "link", "works_of", "is_identifier_node",
           "read_source", "fetch_endpoint", "parse_property", "linkset_graph",
           "union_with", "report_text", "report_json"]

BIBO = Namespace("http://purl.org/ontology/bibo/")
WDT = Namespace("http://www.wikidata.org/prop/direct/")
DATACITE = Namespace("http://purl.org/spar/datacite/")
LITERAL = Namespace("http://www.essepuntato.it/2010/06/literalreification/")
DC = Namespace("http://purl.org/dc/elements/1.1/")
SG = Namespace("http://scigraph.springernature.com/ontologies/core/")  # SciGraph (Springer Nature)
SG_OLD = Namespace("http://www.springernature.com/scigraph/ontologies/core/")  # its earlier namespace
CURIES = {"prism": PRISM, "bibo": BIBO, "fabio": FABIO, "schema": SCHEMA, "dcterms": DCTERMS, "dc": DC,
          "wdt": WDT, "datacite": DATACITE, "literal": LITERAL, "sg": SG, "owl": OWL, "rdfs": RDFS}
KINDS = ("doi", "pmid", "any", "title", "year")

# property -> what its values are: "doi", "pmid", or "any" (told apart by their form)
ID_PROPERTIES: dict[URIRef, str] = {
    PRISM.doi: "doi", BIBO.doi: "doi", WDT.P356: "doi", SG.doi: "doi", SG_OLD.doi: "doi",
    FABIO.hasPubMedId: "pmid", BIBO.pmid: "pmid", WDT.P698: "pmid",
    SCHEMA.identifier: "any", DCTERMS.identifier: "any", DC.identifier: "any", SCHEMA.productId: "any",
    SCHEMA.sameAs: "any", OWL.sameAs: "any", DATACITE.hasIdentifier: "any",
    SG.doiLink: "any", SG_OLD.doiLink: "any",
}
TITLE_PROPERTIES = [DCTERMS.title, DC.title, SCHEMA.name, SCHEMA.headline, WDT.P1476, SG.title, SG_OLD.title,
                    RDFS.label]
YEAR_PROPERTIES = [FABIO.hasPublicationYear, SCHEMA.datePublished, DCTERMS.issued, DCTERMS.date,
                   PRISM.publicationDate, WDT.P577, SG.publicationYear, SG.publicationDate,
                   SG_OLD.publicationYear, SG_OLD.publicationDate]
# an identifier node (datacite:Identifier, schema:PropertyValue): its scheme and its value
ID_NODE_SCHEMES = [DATACITE.usesIdentifierScheme, SCHEMA.propertyID, SCHEMA.name]
ID_NODE_VALUES = [LITERAL.hasLiteralValue, SCHEMA.value]
ID_NODE_CLASSES = [DATACITE.Identifier, SCHEMA.PropertyValue]
ID_NODE_PROPERTIES = [DATACITE.usesIdentifierScheme, SCHEMA.propertyID, SCHEMA.name, *ID_NODE_VALUES]
# properties that lead from a work to its identifier nodes (asked for by the endpoint query)
ID_NODE_LINKS = [DATACITE.hasIdentifier, SCHEMA.identifier, SCHEMA.productId, DCTERMS.identifier]


@dataclass
class Work:
    iri: str
    dois: set[str] = field(default_factory=set)
    pmids: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    years: set[str] = field(default_factory=set)
    study_id: str = ""


@dataclass
class Properties:
    ids: dict[URIRef, str] = field(default_factory=lambda: dict(ID_PROPERTIES))
    titles: list[URIRef] = field(default_factory=lambda: list(TITLE_PROPERTIES))
    years: list[URIRef] = field(default_factory=lambda: list(YEAR_PROPERTIES))


def parse_property(spec: str, props: Properties) -> None:
    """``KIND=IRI`` or ``KIND=prefix:local`` (KIND: doi, pmid, any, title, year), added to ``props``."""
    kind, sep, term = spec.partition("=")
    kind, term = kind.strip().lower(), term.strip().strip("<>")
    if not sep or kind not in KINDS or not term:
        raise UsageError(f"--property {spec!r}: write KIND=IRI or KIND=prefix:name, KIND one of "
                         f"{', '.join(KINDS)} (e.g. doi=http://purl.org/ontology/bibo/doi or pmid=wdt:P698)")
    prefix, colon, local = term.partition(":")
    if colon and prefix in CURIES:
        iri = URIRef(CURIES[prefix] + local)
    elif re.match(r"^https?://\S+$", term):
        iri = URIRef(term)
    else:
        raise UsageError(f"--property {spec!r}: {term!r} is neither an http(s) IRI nor a CURIE with a "
                         f"known prefix ({', '.join(sorted(CURIES))})")
    if kind == "title":
        props.titles.append(iri)
    elif kind == "year":
        props.years.append(iri)
    else:
        props.ids[iri] = kind


# ---------------------------------------------------------------- reading the two sides


def _year(value: Node) -> str:
    match = re.search(r"(?<![0-9])(1[5-9][0-9]{2}|20[0-9]{2})(?![0-9])", str(value))
    return match.group(1) if match else ""


def _classify(text: str, kind: str) -> tuple[str, str] | None:
    """(``doi`` or ``pmid``, normalised value) for an identifier written in any usual form."""
    if kind in ("doi", "any"):
        doi = normalise_doi(text)
        if is_doi(doi):
            return "doi", doi
    if kind == "pmid":
        pmid = normalise_pmid(text)
        return ("pmid", pmid) if pmid else None
    if kind == "any" and not text.strip().isdigit():  # a bare number could be anything
        pmid = normalise_pmid(text)
        if pmid:
            return "pmid", pmid
    return None


def is_identifier_node(graph: Graph, node: Node) -> bool:
    """True for a node that describes an identifier (a ``datacite:Identifier`` or a
    ``schema:PropertyValue``, by type or by a scheme/value property), not a work."""
    if isinstance(node, Literal):
        return False
    if any((node, RDF.type, cls) in graph for cls in ID_NODE_CLASSES):
        return True
    return any(next(graph.objects(node, p), None) is not None
               for p in (DATACITE.usesIdentifierScheme, LITERAL.hasLiteralValue, SCHEMA.propertyID))


def _id_node_values(graph: Graph, node: Node) -> list[tuple[str, str]]:
    """DOIs and PMIDs of an identifier node, its scheme (DOI, PMID/PubMed, other) read from
    ``datacite:usesIdentifierScheme``, ``schema:propertyID`` or ``schema:name``."""
    scheme = " ".join(str(o) for p in ID_NODE_SCHEMES for o in graph.objects(node, p)).lower()
    kind = "doi" if re.search(r"\bdoi\b", scheme) else "pmid" if re.search(r"pmid|pubmed", scheme) else "any"
    return [found for p in ID_NODE_VALUES for value in graph.objects(node, p)
            if (found := _classify(str(value), kind))]


def works_of(graph: Graph, props: Properties, by: Iterable[str]) -> dict[str, Work]:
    """Every work of ``graph`` with a DOI or PMID (of the kinds in ``by``), by IRI.

    A work is an IRI that holds an identifier (a value of one of ``props.ids``) or points, by any
    property, to an identifier node; identifier nodes themselves are never works (an identifier
    found on one goes to the works that point to it)."""
    by = set(by)
    found: dict[Node, set[tuple[str, str]]] = {}
    for prop, kind in props.ids.items():
        for subject, value in graph.subject_objects(prop):
            if is_identifier_node(graph, value):
                ids = _id_node_values(graph, value)
            elif isinstance(value, BNode):
                continue
            else:
                ids = [one] if (one := _classify(str(value), kind)) else []
            found.setdefault(subject, set()).update(ids)
    nodes = {n for p in ID_NODE_VALUES for n in graph.subjects(p, None) if is_identifier_node(graph, n)}
    for node in nodes:  # identifier nodes pointed to by a property not in props.ids
        found.setdefault(node, set()).update(_id_node_values(graph, node))
    works: dict[str, Work] = {}

    def add(owner: Node, ids: set[tuple[str, str]]) -> None:
        if not isinstance(owner, URIRef) or not ids:
            return
        work = works.setdefault(str(owner), Work(str(owner)))
        for id_kind, ident in ids:
            if id_kind in by:
                (work.dois if id_kind == "doi" else work.pmids).add(ident)

    for subject, ids in found.items():
        if is_identifier_node(graph, subject):
            for owner in set(graph.subjects(None, subject)):
                if not is_identifier_node(graph, owner):
                    add(owner, ids)
        else:
            add(subject, ids)
    works = {iri: w for iri, w in works.items() if w.dois or w.pmids}
    for work in works.values():
        node = URIRef(work.iri)
        work.titles = {str(t) for p in props.titles for t in graph.objects(node, p) if isinstance(t, Literal)}
        work.years = {y for p in props.years for v in graph.objects(node, p) if (y := _year(v))}
    return works


def our_studies(graph: Graph) -> dict[str, Work]:
    """Our studies with their identifiers, title and year."""
    studies: dict[str, Work] = {}
    for node in set(graph.subjects(RDF.type, SMQI.Study)):
        work = Work(str(node), study_id=str(graph.value(node, SMQI.studyId) or str(node).rsplit("/", 1)[-1]))
        work.dois = {d for v in graph.objects(node, PRISM.doi) if is_doi(d := normalise_doi(str(v)))}
        work.pmids = {p for v in graph.objects(node, FABIO.hasPubMedId) if (p := normalise_pmid(str(v)))}
        work.titles = {str(t) for t in graph.objects(node, DCTERMS.title)}
        work.years = {y for v in graph.objects(node, FABIO.hasPublicationYear) if (y := _year(v))}
        studies[work.iri] = work
    return studies


def is_endpoint(source: str) -> bool:
    return bool(re.match(r"^https?://", source, flags=re.IGNORECASE))


def _endpoint_query(props: Properties) -> str:
    def values(terms: Iterable[URIRef]) -> str:
        return " ".join(f"<{t}>" for t in dict.fromkeys(terms))

    wanted = values([*props.ids, *props.titles, *props.years])
    nested = values(ID_NODE_LINKS)
    return ("SELECT ?s ?p ?o WHERE {\n"
            f"  {{ VALUES ?p {{ {wanted} }} ?s ?p ?o }}\n"
            f"  UNION {{ VALUES ?q {{ {nested} }} VALUES ?p {{ {values(ID_NODE_PROPERTIES)} }}\n"
            "    ?w ?q ?s . ?s ?p ?o . FILTER (!isLiteral(?s)) }\n}")


def _term(binding: dict, where: str) -> Node:
    kind, value = binding.get("type"), binding.get("value", "")
    if kind == "uri":
        return URIRef(value)
    if kind == "bnode":
        return BNode(f"ep{value}")
    if kind in ("literal", "typed-literal"):
        lang, dtype = binding.get("xml:lang"), binding.get("datatype")
        return Literal(value, lang=lang) if lang else Literal(value, datatype=URIRef(dtype) if dtype else None)
    raise DataError(f"{where}: unexpected SPARQL JSON term type {kind!r}")


def fetch_endpoint(url: str, props: Properties | None = None, timeout: float = 30.0,
                   max_bytes: int | None = None) -> Graph:
    """Ask a SPARQL 1.1 endpoint for the identifier, title and year triples; return them as a Graph.

    ``timeout`` bounds the whole answer (not each read) and ``max_bytes`` its length (default
    ``SMQI_MAX_REMOTE_BYTES``); past either, DataError says so (kg.io.remote)."""
    props = props or Properties()
    body = urllib.parse.urlencode({"query": _endpoint_query(props)}).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Accept": "application/sparql-results+json",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "User-Agent": f"smqi-kg/{__version__} (smqi link)",
    })
    from kg.io.remote import fetch

    try:
        answer = fetch(request, timeout=timeout, max_bytes=max_bytes, what=f"{url} (the SPARQL endpoint)")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise DataError(f"{url}: connection refused: no SPARQL endpoint is listening there") from None
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise DataError(f"{url}: no answer within {timeout:g} s") from None
        raise DataError(f"{url}: cannot reach the SPARQL endpoint: {reason}") from None
    except (socket.timeout, TimeoutError):
        raise DataError(f"{url}: no answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{url}: cannot reach the SPARQL endpoint: {exc}") from None
    if answer.status >= 400:
        text = answer.body[:200].decode("utf-8", "replace").strip()
        raise DataError(f"{url}: the SPARQL endpoint answered HTTP {answer.status} {answer.reason}"
                        + (f": {text}" if text else ""))
    raw = answer.body
    try:
        doc = json.loads(raw.decode("utf-8"))
        bindings = doc["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        raise DataError(f"{url}: the answer is not SPARQL 1.1 JSON results "
                        f"(starts {raw[:60].decode('utf-8', 'replace')!r})") from None
    graph = Graph()
    for n, row in enumerate(bindings, start=1):
        try:
            triple = tuple(_term(row[v], f"{url}: result {n}") for v in ("s", "p", "o"))
        except KeyError as exc:
            raise DataError(f"{url}: result {n} lacks ?{exc.args[0]}") from None
        graph.add(triple)  # type: ignore[arg-type]
    return graph


def read_source(source: str, props: Properties, timeout: float = 30.0) -> tuple[Graph, URIRef]:
    """The other graph and the IRI to name it by (its own single void/dcat Dataset, else the source)."""
    if is_endpoint(source):
        return fetch_endpoint(source, props, timeout), URIRef(source)
    path = Path(source)
    graph = parse_file(path)
    if len(graph) == 0:
        raise DataError(f"{path}: holds no RDF triples, so no works to link (is it the file you meant?)")
    declared = {s for cls in (VOID.Dataset, DCAT.Dataset) for s in graph.subjects(RDF.type, cls)
                if isinstance(s, URIRef)}
    return graph, (declared.pop() if len(declared) == 1 else URIRef(path.resolve().as_uri()))


# ---------------------------------------------------------------- comparing


@dataclass
class LinkReport:
    source: str
    source_dataset: str
    by: list[str]
    our_studies: int
    our_studies_with_identifier: int
    their_works: int
    overlaps: list[dict] = field(default_factory=list)
    only_ours: list[str] = field(default_factory=list)
    only_theirs: list[str] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        doc = asdict(self)
        doc["counts"] = {"overlaps": len(self.overlaps), "only_ours": len(self.only_ours),
                         "only_theirs": len(self.only_theirs), "conflicts": len(self.conflicts)}
        return doc


def link(ours: Graph, theirs: Graph, *, by: Iterable[str] = ("doi", "pmid"), props: Properties | None = None,
         source: str = "", source_dataset: str = "") -> LinkReport:
    """Match our studies with their works on the identifiers ``by``; report overlaps and conflicts."""
    by = [b for b in by]
    props = props or Properties()
    studies = our_studies(ours)
    works = works_of(theirs, props, by)
    index: dict[tuple[str, str], list[Work]] = {}
    for study in studies.values():
        for kind, values in (("doi", study.dois), ("pmid", study.pmids)):
            if kind in by:
                for value in values:
                    index.setdefault((kind, value), []).append(study)
    report = LinkReport(source, source_dataset, by, len(studies),
                        sum(1 for s in studies.values() if ("doi" in by and s.dois) or ("pmid" in by and s.pmids)),
                        len(works))
    matched_studies: set[str] = set()
    for work in sorted(works.values(), key=lambda w: w.iri):
        pairs: dict[str, list[str]] = {}
        for kind, values in (("doi", work.dois), ("pmid", work.pmids)):
            for value in sorted(values):
                for study in index.get((kind, value), []):
                    pairs.setdefault(study.iri, []).append(f"{kind} {value}")
        if not pairs:
            report.only_theirs.append(work.iri)
        for iri, via in sorted(pairs.items()):
            study = studies[iri]
            matched_studies.add(iri)
            report.overlaps.append({"study_id": study.study_id, "study": iri, "work": work.iri, "via": via})
            report.conflicts.extend(_conflicts(study, work))
    report.only_ours = sorted(s.study_id for s in studies.values() if s.iri not in matched_studies)
    report.overlaps.sort(key=lambda o: (o["study_id"], o["work"]))
    report.conflicts.sort(key=lambda c: (c["study_id"], c["work"], c["field"]))
    return report


def _conflicts(study: Work, work: Work) -> list[dict]:
    found = []

    def add(fieldname: str, ours: Iterable[str], theirs: Iterable[str]) -> None:
        found.append({"study_id": study.study_id, "study": study.iri, "work": work.iri, "field": fieldname,
                      "ours": "; ".join(sorted(ours)), "theirs": "; ".join(sorted(theirs))})

    if study.years and work.years and not (study.years & work.years):
        add("year", study.years, work.years)
    ours_t = {normalise_title(t) for t in study.titles}
    theirs_t = {normalise_title(t) for t in work.titles}
    if ours_t and theirs_t and not (ours_t & theirs_t):
        add("title", study.titles, work.titles)
    if study.dois & work.dois and study.pmids and work.pmids and not (study.pmids & work.pmids):
        add("pmid", study.pmids, work.pmids)
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "source"


def linkset_graph(report: LinkReport) -> Graph:
    """``owl:sameAs`` from our studies to their works, with a VoID Linkset description."""
    g = Graph()
    for prefix, ns in (("void", VOID), ("owl", OWL), ("dcterms", DCTERMS)):
        g.bind(prefix, ns)
    name = report.source if is_endpoint(report.source) else Path(report.source).stem
    linkset = URIRef(f"{BASE}kg/linkset/{_slug(name)}")
    target = URIRef(report.source_dataset)
    pairs = {(o["study"], o["work"]) for o in report.overlaps}
    for study, work in sorted(pairs):
        g.add((URIRef(study), OWL.sameAs, URIRef(work)))
    g.add((linkset, RDF.type, VOID.Linkset))
    g.add((linkset, VOID.subjectsTarget, DATASET))
    g.add((linkset, VOID.objectsTarget, target))
    g.add((linkset, VOID.linkPredicate, OWL.sameAs))
    g.add((linkset, VOID.triples, Literal(len(pairs))))
    g.add((linkset, DCTERMS.description, Literal(
        f"Studies of smqi-kg and works of {report.source} that share a {' or '.join(report.by)} "
        "(normalised), written by smqi link.", lang="en")))
    g.add((DATASET, RDF.type, VOID.Dataset))
    g.add((target, RDF.type, VOID.Dataset))
    if is_endpoint(report.source):
        g.add((target, VOID.sparqlEndpoint, URIRef(report.source)))
    return g


def report_text(report: LinkReport) -> str:
    lines = [f"Linked smqi-kg with {report.source} by {', '.join(report.by)}",
             f"  our studies: {report.our_studies} ({report.our_studies_with_identifier} with a "
             f"{' or '.join(report.by)}); their works with a {' or '.join(report.by)}: {report.their_works}",
             f"overlaps: {len(report.overlaps)}"]
    lines += [f"  {o['study_id']}  {o['work']}  ({', '.join(o['via'])})" for o in report.overlaps]
    lines.append(f"only ours: {len(report.only_ours)}" + (f": {', '.join(report.only_ours)}" if report.only_ours else ""))
    lines.append(f"only theirs: {len(report.only_theirs)}")
    lines += [f"  {w}" for w in report.only_theirs]
    lines.append(f"conflicts: {len(report.conflicts)}")
    lines += [f"  {c['study_id']}  {c['work']}: {c['field']}: ours {c['ours']!r}, theirs {c['theirs']!r}"
              for c in report.conflicts]
    return "\n".join(lines) + "\n"


def report_json(report: LinkReport) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def union_with(base: Graph, paths: Iterable[Path]) -> Dataset:
    """A union Dataset of ``base`` and each file (kept in its own named graph: the file's URI)."""
    ds = Dataset(default_union=True)
    for prefix, ns in base.namespaces():
        ds.bind(prefix, ns, override=False)

    def copy(graph: Graph, default_name: URIRef) -> None:
        contexts = list(graph.graphs()) if isinstance(graph, Dataset) else [graph]
        for context in contexts:
            name = context.identifier
            if not isinstance(graph, Dataset) or not isinstance(name, URIRef) or "rdflib:default" in str(name):
                name = default_name
            target = ds.graph(name)
            for triple in context:
                target.add(triple)

    copy(base, URIRef(f"{BASE}graph/queried"))
    for path in paths:
        copy(parse_file(Path(path)), URIRef(Path(path).resolve().as_uri()))
    return ds
