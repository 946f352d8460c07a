"""Identifiers that let other graphs find our nodes: DOIs, PMIDs, countries and platform mappings.

Normalisation. DOIs are compared as bare lower-case strings (:func:`bare_doi` is the one rule, the
sheets' ``normalise_doi``; :func:`normalise_doi` extends it to ``http://dx.doi.org/``, ``doi.org/…`` without a scheme,
``urn:doi:``, ``DOI `` labels and percent-encoded URLs). PMIDs are compared as their digits without
leading zeros (``PMID: 123``, ``pmid:123``, ``https://pubmed.ncbi.nlm.nih.gov/123/`` and the old
``www.ncbi.nlm.nih.gov/pubmed/123`` form).

Links written into the graph (:func:`link_lines`, named graph ``…/graph/links``). The literal
identifiers stay as loaded (``prism:doi``, ``fabio:hasPubMedId``); each study also gets
``schema:sameAs`` to ``https://doi.org/<doi>`` and ``https://pubmed.ncbi.nlm.nih.gov/<pmid>/``.
Why ``schema:sameAs`` and not ``owl:sameAs``: schema.org defines it as "the URL of a reference Web
page that unambiguously indicates the item's identity", which is exactly what a DOI resolver or a
PubMed record page is. ``owl:sameAs`` would claim that our study node *is* the DOI resolver's
resource, so a reasoner would merge every statement made about either (PubMed's record, the
publisher's landing page) into our study. ``owl:sameAs`` is kept for linksets between two
descriptions of the same work (``smqi link``), where that identity is what is meant.

Countries: :func:`country_identifiers` gives each country concept's ISO 3166-1 alpha-2 code (its
``skos:notation``) and its Wikidata item where the vocabulary has one (only the countries of the World
Bank table; nothing is guessed).

Platforms: :func:`read_sssom` reads ``data/platform_mappings.sssom.tsv`` as SSSOM (the ``#`` YAML
metadata header with its ``curie_map``, then the TSV), and :func:`mapping_set_graph` writes the
mapping set into the named graph ``…/graph/mappings`` in the SSSOM RDF shape (``sssom:MappingSet``
with ``sssom:mappings`` to one ``sssom:Mapping`` per row carrying ``owl:annotatedSource``,
``owl:annotatedProperty``, ``owl:annotatedTarget``, ``sssom:mapping_justification`` and
``sssom:confidence``). A separate mapping graph was chosen over reified OWL axioms on the vocabulary
so that the reasoner never sees the mapping metadata; the plain ``skos:exactMatch`` /
``skos:closeMatch`` triples stay in the vocabulary, predicate as given, and a test checks the two agree.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, SKOS

from kg.model import resources
from kg.model.errors import DataError
from kg.model.namespaces import GRAPH, PRISM, SCHEMA, SMQI, FABIO, WD, scheme_iri

__all__ = ["double_text",
    "G_LINKS", "G_MAPPINGS", "SSSOM", "DOI_RE", "PMID_RE", "bare_doi", "normalise_doi", "normalise_pmid",
    "is_doi", "is_pmid", "doi_iri", "resolver_iri", "pmid_iri", "link_lines", "graph_link_lines", "country_identifiers", "CountryIds", "MappingSet",
    "Mapping", "read_sssom", "mapping_set_graph",
]

G_LINKS = GRAPH.links
G_MAPPINGS = GRAPH.mappings
SSSOM = Namespace("https://w3id.org/sssom/")

DOI_RESOLVER = "https://doi.org/"
PUBMED = "https://pubmed.ncbi.nlm.nih.gov/"
DOI_RE = re.compile(r"^10\.[0-9]{4,9}/[^\sA-Z]+$")
PMID_RE = re.compile(r"^[1-9][0-9]{0,8}$")
SAME_AS = f"<{SCHEMA.sameAs}>"
# a DOI that bare_doi, normalise_doi and doi_iri's quoting all leave as it is
_PLAIN_DOI = re.compile(r"^10\.[0-9]{4,9}/[a-z0-9/:;()._~!$&'*+,=@-]+$")

_DOI_EXTRA = re.compile(
    r"^(?:urn:doi:|doi\s*:?\s+|(?:https?://)?(?:dx\.|www\.)?doi\.org/)", flags=re.IGNORECASE)
_PMID = re.compile(
    r"^(?:pmid\s*:?\s*|(?:https?://)?(?:pubmed\.ncbi\.nlm\.nih\.gov/|(?:www\.)?ncbi\.nlm\.nih\.gov/pubmed/))"
    r"0*([0-9]+)/?$",
    flags=re.IGNORECASE,
)


def bare_doi(value: str) -> str:
    """Bare lower-case DOI from the usual written forms (https://doi.org/…, doi:…, spaces): the rule
    the sheets' checks compare DOIs with (``kg.io.sheets.normalise_doi``)."""
    text = value.strip()
    text = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.IGNORECASE)
    return text.strip().lower()


def normalise_doi(value: str) -> str:
    """Bare lower-case DOI from any usual written form; the result may still not be a DOI.

    Builds on :func:`bare_doi` (``https://doi.org/``, ``http://dx.doi.org/``, ``doi:``,
    case, spaces) and also takes ``doi.org/…`` without a scheme, ``urn:doi:``, ``DOI 10.…`` and
    percent-encoded resolver URLs.
    """
    text = " ".join(str(value).split())
    was_url = "doi.org/" in text.lower()
    text = bare_doi(text)
    previous = None
    while previous != text:  # "doi: https://doi.org/10…" has two prefixes
        previous = text
        text = _DOI_EXTRA.sub("", text).strip()
        text = bare_doi(text)
    if was_url and "%" in text:
        text = unquote(text).lower()
    return text


def is_doi(value: str) -> bool:
    return bool(DOI_RE.match(value))


def normalise_pmid(value: str) -> str:
    """PubMed id as digits without leading zeros, or ``""`` when the value is not a PMID."""
    text = "".join(str(value).split())
    if text.isdigit():
        return text.lstrip("0")
    match = _PMID.match(text)
    return match.group(1).lstrip("0") if match else ""


def is_pmid(value: str) -> bool:
    return bool(PMID_RE.match(value))


def doi_iri(doi: str) -> URIRef:
    """``https://doi.org/<doi>``, percent-encoding only what an IRI cannot hold (DOI Handbook 3.8;
    ``[`` and ``]`` too: RFC 3987 allows them in a host only)."""
    return URIRef(DOI_RESOLVER + quote(normalise_doi(doi), safe="/:;()._-~!$&'*+,=@"))


def resolver_iri(doi: str) -> str | None:
    """The DOI resolver IRI :func:`link_lines` writes for ``doi`` (None when it normalises to no DOI)."""
    if _PLAIN_DOI.match(doi) and "doi.org/" not in doi:
        return DOI_RESOLVER + doi
    return str(doi_iri(doi)) if is_doi(normalise_doi(doi)) else None


def pmid_iri(pmid: str) -> URIRef:
    return URIRef(f"{PUBMED}{normalise_pmid(pmid)}/")


def link_lines(study: str, dois: Iterable[str], pmids: Iterable[str], graph: str) -> list[str]:
    """N-Quads lines in ``graph``: ``study schema:sameAs`` its DOI resolver IRI and PubMed record page,
    for each DOI and PMID that normalises to one (``study`` is the study node's IRI)."""
    lines = []
    for doi in dois:
        iri = resolver_iri(doi)
        if iri is not None:
            lines.append(f"<{study}> {SAME_AS} <{iri}> <{graph}> .\n")
    for pmid in pmids:
        if normalise_pmid(pmid):
            lines.append(f"<{study}> {SAME_AS} <{pmid_iri(pmid)}> <{graph}> .\n")
    return lines


def graph_link_lines(source: Graph, graph: str) -> list[str]:
    """:func:`link_lines` for every study (``rdf:type smqi:Study``) of an rdflib graph."""
    lines = []
    for study in sorted(set(source.subjects(RDF.type, SMQI.Study))):
        if isinstance(study, URIRef):
            lines += link_lines(str(study), [str(d) for d in source.objects(study, PRISM.doi)],
                                [str(p) for p in source.objects(study, FABIO.hasPubMedId)], graph)
    return lines


# ---------------------------------------------------------------- countries


@dataclass(frozen=True)
class CountryIds:
    concept: URIRef
    iso3166_alpha2: str
    wikidata: URIRef | None


def country_identifiers(vocab: Graph) -> dict[str, CountryIds]:
    """ISO 3166-1 alpha-2 code → the country concept, its code and its Wikidata item (or None)."""
    found: dict[str, CountryIds] = {}
    for concept in vocab.subjects(SKOS.inScheme, scheme_iri("country")):
        code = vocab.value(concept, SKOS.notation)
        if code is None or not isinstance(concept, URIRef):
            continue
        items = [o for o in vocab.objects(concept, SKOS.exactMatch) if str(o).startswith(str(WD))]
        found[str(code)] = CountryIds(concept, str(code), URIRef(items[0]) if items else None)
    return found


# ---------------------------------------------------------------- SSSOM


@dataclass(frozen=True)
class Mapping:
    subject_id: URIRef
    subject_label: str
    predicate_id: URIRef
    object_id: URIRef
    object_label: str
    mapping_justification: URIRef
    confidence: float | None


@dataclass
class MappingSet:
    """An SSSOM mapping set: its metadata (``curie_map`` included) and its mappings, CURIEs expanded."""

    metadata: dict[str, object]
    curie_map: dict[str, str]
    mappings: list[Mapping] = field(default_factory=list)

    @property
    def mapping_set_id(self) -> str:
        return str(self.metadata.get("mapping_set_id", ""))

    def expand(self, curie: str) -> URIRef:
        return _expand(curie, self.curie_map, "")


def _expand(curie: str, curie_map: dict[str, str], where: str) -> URIRef:
    if re.match(r"^https?://", curie):
        return URIRef(curie)
    prefix, sep, local = curie.partition(":")
    if not sep or prefix not in curie_map:
        raise DataError(f"{where}CURIE {curie!r} has no prefix in the curie_map "
                        f"(known: {', '.join(sorted(curie_map))})")
    return URIRef(curie_map[prefix] + local)


def _parse_header(lines: list[str], where: str) -> dict[str, object]:
    """The small YAML subset SSSOM headers use: ``key: value`` and one level of ``  key: value``."""
    meta: dict[str, object] = {}
    current: dict[str, str] | None = None
    for n, line in enumerate(lines, start=1):
        body = line[1:].rstrip("\r\n")
        body = body[1:] if body.startswith(" ") else body  # "# key: value"
        if not body.strip():
            continue
        key, sep, value = body.strip().partition(":")
        if not sep or not key.strip():
            raise DataError(f"{where}:{n}: metadata line is not 'key: value': {body.strip()!r}")
        key, value = key.strip(), value.strip().strip("'\"")
        if body[:1].isspace():
            if current is None:
                raise DataError(f"{where}:{n}: indented metadata line {key!r} belongs to no key")
            current[key] = value
        elif value:
            meta[key], current = value, None
        else:
            current = {}
            meta[key] = current
    return meta


def read_sssom(path: Path | None = None) -> MappingSet:
    """Read an SSSOM/TSV file (default: ``data/platform_mappings.sssom.tsv``)."""
    path = Path(path) if path else resources.data_dir() / "platform_mappings.sssom.tsv"
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the SSSOM file: {exc.strerror or exc}") from None
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#") and line.strip()]
    meta = _parse_header(header, str(path))
    curie_map = meta.get("curie_map")
    if not isinstance(curie_map, dict) or not curie_map:
        raise DataError(f"{path}: the SSSOM metadata header has no curie_map")
    mset = MappingSet(metadata=meta, curie_map={str(k): str(v) for k, v in curie_map.items()})
    reader = csv.DictReader(body, delimiter="\t")
    needed = {"subject_id", "predicate_id", "object_id", "mapping_justification"}
    missing = needed - set(reader.fieldnames or [])
    if missing:
        raise DataError(f"{path}: SSSOM table lacks column(s) {', '.join(sorted(missing))}")
    line_no = len(header) + 1
    for rec in reader:
        line_no += 1
        where = f"{path}:{line_no}: "
        confidence = rec.get("confidence") or ""
        try:
            conf = float(confidence) if confidence else None
        except ValueError:
            raise DataError(f"{where}confidence {confidence!r} is not a number between 0 and 1") from None
        if conf is not None and not 0 <= conf <= 1:
            raise DataError(f"{where}confidence {confidence!r} is not between 0 and 1")
        mset.mappings.append(Mapping(
            subject_id=_expand(rec["subject_id"], mset.curie_map, where),
            subject_label=rec.get("subject_label") or "",
            predicate_id=_expand(rec["predicate_id"], mset.curie_map, where),
            object_id=_expand(rec["object_id"], mset.curie_map, where),
            object_label=rec.get("object_label") or "",
            mapping_justification=_expand(rec["mapping_justification"], mset.curie_map, where),
            confidence=conf,
        ))
    return mset


def mapping_set_graph(mset: MappingSet) -> Graph:
    """The mapping set as RDF: one ``sssom:Mapping`` node per row, with confidence and justification."""
    graph = Graph()
    graph.bind("sssom", SSSOM)
    set_iri = URIRef(mset.mapping_set_id)
    graph.add((set_iri, RDF.type, SSSOM.MappingSet))
    for key in ("mapping_set_description", "license"):
        value = mset.metadata.get(key)
        if isinstance(value, str) and value:
            obj = URIRef(value) if key == "license" else Literal(value)
            graph.add((set_iri, DCTERMS.license if key == "license" else DCTERMS.description, obj))
    used: set[str] = set()
    for m in mset.mappings:
        local = str(m.subject_id).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        name, n = local, 1
        while name in used:
            n += 1
            name = f"{local}-{n}"
        used.add(name)
        node = URIRef(f"{set_iri}#{name}")
        graph.add((set_iri, SSSOM.mappings, node))
        graph.add((node, RDF.type, SSSOM.Mapping))
        graph.add((node, OWL.annotatedSource, m.subject_id))
        graph.add((node, OWL.annotatedProperty, m.predicate_id))
        graph.add((node, OWL.annotatedTarget, m.object_id))
        graph.add((node, SSSOM.mapping_justification, m.mapping_justification))
        if m.subject_label:
            graph.add((node, SSSOM.subject_label, Literal(m.subject_label)))
        if m.object_label:
            graph.add((node, SSSOM.object_label, Literal(m.object_label)))
        if m.confidence is not None:
            graph.add((node, SSSOM.confidence, Literal(double_text(m.confidence), datatype=XSD.double)))
    return graph


def double_text(value: float) -> str:
    """The lexical form of an ``xsd:double`` as the store keeps it (``1.0`` → ``"1"``, ``0.95`` →
    ``"0.95"``), so the files and the store hold the same literal (DESIGN.md: literal forms are
    decided in the model)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
