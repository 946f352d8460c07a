"""The seed review in the graph, its headline claims, and `smqi claims`: are they borne out here?

The review is Walsh L, Hyett N, Juniper N, Li C, Rodier S, Hill S. "The use of social media as a
tool for stakeholder engagement in health service design and quality improvement: A scoping review".
Digital Health 2021; doi 10.1177/2055207621996870; PMID 33717499. It is one ``smqi:Review`` node,
``https://w3id.org/smqi/kg/review/walsh2021``, in the named graph ``…/graph/review``, with its
claims (``data/review_claims.csv``) as ``smqi:Claim`` nodes linked by ``smqi:makesClaim``.

**No ``smqi:includesStudy`` is asserted for this review.** The review's own list of 40 included
studies was not available; the studies here are an independent extraction of real studies meeting
its criteria (data/METHODS.md), so claiming that any of them is included in the review would be
invented data.

Claim model: ``dcterms:identifier`` (claim_id), ``dcterms:description`` (statement, @en),
``smqi:claimKind`` (count, most-common, majority, includes), ``smqi:claimDimension`` (the CSV's
dimension), ``smqi:claimedValue`` (verbatim; ``xsd:integer`` for counts) and ``smqi:claimedConcept``
(the coding concepts the value names).

:func:`check_claims` checks each claim against the evidence in the graph with the SPARQL queries
in ``queries/claims/`` and gives a :class:`ClaimVerdict`: "supported", "not supported" or "not
checkable", with the numbers behind it. Count claims are never checkable: the review counted its
own 40 studies, we count an independent extraction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS

from kg.model import resources
from kg.model.errors import DataError, InputInvalid, Problem
from kg.model.identifiers import doi_iri, pmid_iri
from kg.io.sheets import display_path, read_sheet
from kg.model.namespaces import BASE, FABIO, GRAPH, PRISM, SCHEMA, SMQI
from kg.io.queries import run_query
from kg.model.vocabularies import Vocabulary, default_vocabulary

__all__ = [
    "G_REVIEW", "REVIEW", "ClaimVerdict", "review_graph", "check_claims",
    "verdicts_text", "verdicts_json", "SUPPORTED", "NOT_SUPPORTED", "NOT_CHECKABLE",
]

G_REVIEW = GRAPH.review
REVIEW = URIRef(f"{BASE}kg/review/walsh2021")
REVIEW_DOI = "10.1177/2055207621996870"
REVIEW_PMID = "33717499"
REVIEW_TITLE = ("The use of social media as a tool for stakeholder engagement in health service design "
                "and quality improvement: A scoping review")
REVIEW_AUTHORS = ["Walsh L", "Hyett N", "Juniper N", "Li C", "Rodier S", "Hill S"]
REVIEW_AUTHOR_NAMES = ["Louisa Walsh", "Nerida Hyett", "Nicole Juniper", "Chi Li", "Sophie Rodier",
                       "Sophie Hill"]
REVIEW_JOURNAL = "Digital Health"
REVIEW_YEAR = "2021"

CLAIM_COLUMNS = ["review_doi", "claim_id", "dimension", "claim_kind", "value", "statement"]
KINDS = ("count", "most-common", "majority", "includes")
SUPPORTED, NOT_SUPPORTED, NOT_CHECKABLE = "supported", "not supported", "not checkable"

# claim dimension -> (vocabulary scheme slug, property of a use or None)
DIMENSIONS: dict[str, tuple[str | None, URIRef | None]] = {
    "study": (None, None),
    "typology": ("typology", None),
    "platform": ("platform", SMQI.platform),
    "communication_model": ("communication-model", SMQI.communicationModel),
    "host": ("host", SMQI.host),
    "user_population": ("user-population", SMQI.userPopulation),
    "qi_activity": ("qi-activity", SMQI.qiActivity),
    "qi_stage": ("qi-stage", SMQI.qiStage),
    "income_group": ("income-group", None),
}


def claim_iri(claim_id: str) -> URIRef:
    return URIRef(f"{REVIEW}/claim/{claim_id}")


def review_graph(claims_path: Path | None = None, vocab: Vocabulary | None = None) -> Graph:
    """The review node and its claims; raises InputInvalid naming the row of a bad claim."""
    path = Path(claims_path) if claims_path else resources.data_dir() / "review_claims.csv"
    vocab = vocab or default_vocabulary()
    shown = display_path(path)
    graph = Graph()
    graph.add((REVIEW, RDF.type, SMQI.Review))
    graph.add((REVIEW, DCTERMS.title, Literal(REVIEW_TITLE)))
    graph.add((REVIEW, FABIO.hasPublicationYear, Literal(REVIEW_YEAR, datatype=XSD.gYear)))
    graph.add((REVIEW, PRISM.doi, Literal(REVIEW_DOI)))
    graph.add((REVIEW, FABIO.hasPubMedId, Literal(REVIEW_PMID)))
    graph.add((REVIEW, PRISM.publicationName, Literal(REVIEW_JOURNAL)))
    for author in REVIEW_AUTHORS:
        graph.add((REVIEW, DCTERMS.creator, Literal(author)))
    for name in REVIEW_AUTHOR_NAMES:
        graph.add((REVIEW, SCHEMA.author, Literal(name)))
    graph.add((REVIEW, DCTERMS.bibliographicCitation, Literal(
        f"{', '.join(REVIEW_AUTHORS)}. {REVIEW_TITLE}. {REVIEW_JOURNAL}. {REVIEW_YEAR}. "
        f"doi:{REVIEW_DOI}. PMID: {REVIEW_PMID}.")))
    graph.add((REVIEW, SCHEMA.sameAs, doi_iri(REVIEW_DOI)))
    graph.add((REVIEW, SCHEMA.sameAs, pmid_iri(REVIEW_PMID)))
    graph.add((REVIEW, RDFS.comment, Literal(
        "The review's own list of 40 included studies was not available, so smqi:includesStudy is "
        "not asserted for it: the studies of this graph are an independent extraction of real "
        "studies meeting its inclusion criteria, not its list.", lang="en")))
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for row, rec in read_sheet(path, CLAIM_COLUMNS):
        cid, dim, kind, value = rec["claim_id"], rec["dimension"], rec["claim_kind"], rec["value"]

        def bad(fieldname: str, val: str, message: str, allowed: str | None = None) -> None:
            problems.append(Problem(message=message, file=shown, row=row, entry=cid or None,
                                    field=fieldname, value=val, allowed=allowed))

        for name in ("claim_id", "dimension", "claim_kind", "value", "statement"):
            if not rec[name]:
                bad(name, "", f"{name} is required and is empty.")
        if rec["review_doi"] != REVIEW_DOI:
            bad("review_doi", rec["review_doi"], "claims can only be recorded for the seed review.",
                allowed=REVIEW_DOI)
        if cid in seen:
            bad("claim_id", cid, f"duplicate claim_id: already used on row {seen[cid]}.")
            continue
        seen[cid] = row
        if kind and kind not in KINDS:
            bad("claim_kind", kind, "unknown claim kind.", allowed=", ".join(KINDS))
        if dim and dim not in DIMENSIONS:
            bad("dimension", dim, "unknown claim dimension.", allowed=", ".join(DIMENSIONS))
            continue
        concepts: list[URIRef] = []
        if kind == "count":
            if not value.isdigit():
                bad("value", value, "a count claim's value must be a whole number.")
        elif dim and value:
            slug = DIMENSIONS[dim][0]
            for key in [k.strip() for k in value.split(";") if k.strip()]:
                concept = vocab.concept(slug, key) if slug else None
                if concept is None:
                    bad("value", key, f"unknown {dim} key {key!r}.",
                        allowed=vocab.allowed(slug) if slug else "a count (this dimension has no keys)")
                else:
                    concepts.append(concept)
        if not cid:
            continue
        node = claim_iri(cid)
        graph.add((REVIEW, SMQI.makesClaim, node))
        graph.add((node, RDF.type, SMQI.Claim))
        graph.add((node, DCTERMS.identifier, Literal(cid)))
        graph.add((node, DCTERMS.description, Literal(rec["statement"], lang="en")))
        graph.add((node, SMQI.claimKind, Literal(kind)))
        graph.add((node, SMQI.claimDimension, Literal(dim)))
        graph.add((node, SMQI.claimedValue,
                   Literal(int(value), datatype=XSD.integer) if kind == "count" and value.isdigit()
                   else Literal(value)))
        for concept in concepts:
            graph.add((node, SMQI.claimedConcept, concept))
    if problems:
        raise InputInvalid(problems=problems)
    return graph


# ---------------------------------------------------------------- checking the claims


@dataclass
class ClaimVerdict:
    """One claim checked against the evidence of the graph."""

    claim_id: str
    statement: str
    verdict: str  # SUPPORTED | NOT_SUPPORTED | NOT_CHECKABLE
    numbers: dict[str, int | float | str] = field(default_factory=dict)
    explanation: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Claim:
    claim_id: str
    statement: str
    kind: str
    dimension: str
    value: str


def _claims(graph: Graph) -> list[_Claim]:
    found = []
    for node in graph.subjects(RDF.type, SMQI.Claim):
        def text(pred: URIRef) -> str:
            value = graph.value(node, pred)
            return "" if value is None else str(value)
        found.append(_Claim(text(DCTERMS.identifier), text(DCTERMS.description), text(SMQI.claimKind),
                            text(SMQI.claimDimension), text(SMQI.claimedValue)))
    return sorted(found, key=lambda c: c.claim_id)


def _table(graph: Graph, query: str, bindings: dict | None = None) -> dict[str, int]:
    result = run_query(graph, query, bindings)
    return {str(row[0]): int(row[1].toPython()) for row in result.rows if row[0] is not None}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _check(graph: Graph, claim: _Claim) -> ClaimVerdict:
    verdict = ClaimVerdict(claim.claim_id, claim.statement, NOT_CHECKABLE)
    numbers = verdict.numbers
    slug, prop = DIMENSIONS.get(claim.dimension, (None, None))
    keys = [k.strip() for k in claim.value.split(";") if k.strip()]
    if claim.kind == "count":
        row = run_query(graph, "claim-counts").rows[0]
        ours = {"study": ("studies", row[0]), "typology": ("models", row[2])}.get(claim.dimension)
        numbers["claimed"] = int(claim.value) if claim.value.isdigit() else claim.value
        if ours:
            numbers[f"our_{ours[0]}"] = int(ours[1].toPython())
        verdict.explanation = (
            "A count of the review's own included studies cannot be checked against an independent "
            "extraction (not the review's list of 40 studies); our count is shown for comparison.")
        if claim.dimension == "typology":
            verdict.explanation = (
                "Our typology's models come from the codebook, which follows the review's typology, "
                "so an equal count is not independent evidence; our count is shown for comparison.")
        return verdict
    if claim.kind == "most-common" and prop is not None and len(keys) == 1:
        counts = _table(graph, "claim-studies-per-key", {"property": prop})
        if not counts:
            verdict.explanation = f"No study in the graph has a {claim.dimension}."
            return verdict
        top = max(counts.values())
        leaders = sorted(k for k, v in counts.items() if v == top)
        numbers.update({"claimed": keys[0], "claimed_studies": counts.get(keys[0], 0),
                        "most_common": ";".join(leaders), "most_common_studies": top,
                        "studies_with_any": _total_studies(graph, prop)})
        verdict.verdict = SUPPORTED if keys[0] in leaders else NOT_SUPPORTED
        verdict.explanation = (
            f"Counting distinct studies per {claim.dimension}: {keys[0]} has {counts.get(keys[0], 0)}; "
            f"the most common is {' and '.join(leaders)} with {top}.")
        return verdict
    if claim.kind == "majority" and prop is not None and len(keys) == 1:
        counts = _table(graph, "claim-uses-per-key", {"property": prop})
        total = _total_uses(graph, prop)
        part = counts.get(keys[0], 0)
        if not total:
            verdict.explanation = f"No use in the graph has a {claim.dimension}."
            return verdict
        numbers.update({"claimed": keys[0], "uses_with_claimed": part, "uses": total,
                        "share": _share(part, total)})
        verdict.verdict = SUPPORTED if part * 2 > total else NOT_SUPPORTED
        verdict.explanation = (f"{part} of {total} uses ({_share(part, total):.0%}) have "
                               f"{claim.dimension} {keys[0]}; a majority needs more than half.")
        return verdict
    if claim.kind == "majority" and claim.dimension == "income_group" and len(keys) == 1:
        rows = run_query(graph, "claim-studies-by-income-group").rows
        studies = {str(r[0]) for r in rows}
        with_group = {str(r[0]) for r in rows if str(r[1]) == keys[0]}
        if not studies:
            verdict.explanation = "No study in the graph has a country with an income classification."
            return verdict
        numbers.update({"claimed": keys[0], "studies_with_claimed": len(with_group),
                        "studies_with_stated_country": len(studies),
                        "share": _share(len(with_group), len(studies))})
        verdict.verdict = SUPPORTED if len(with_group) * 2 > len(studies) else NOT_SUPPORTED
        verdict.explanation = (
            f"{len(with_group)} of {len(studies)} studies with a stated country "
            f"({_share(len(with_group), len(studies)):.0%}) have a country whose latest World Bank "
            f"income group is {keys[0]}; studies with no stated country are left out.")
        return verdict
    if claim.kind == "includes" and prop is not None and keys:
        counts = _table(graph, "claim-studies-per-key", {"property": prop})
        missing = [k for k in keys if not counts.get(k)]
        for key in keys:
            numbers[key] = counts.get(key, 0)
        numbers["found"] = len(keys) - len(missing)
        numbers["listed"] = len(keys)
        if missing:
            numbers["missing"] = ";".join(missing)
        verdict.verdict = NOT_SUPPORTED if missing else SUPPORTED
        verdict.explanation = (
            f"{len(keys) - len(missing)} of the {len(keys)} listed {claim.dimension} values occur in our "
            "studies (studies per value shown)" + (f"; not found: {', '.join(missing)}." if missing else "."))
        return verdict
    verdict.explanation = (f"No check is defined for a {claim.kind!r} claim about {claim.dimension!r}.")
    return verdict


def _total_studies(graph: Graph, prop: URIRef) -> int:
    query = ("PREFIX smqi: <https://w3id.org/smqi/ontology#> SELECT (COUNT(DISTINCT ?s) AS ?n) "
             "WHERE { ?s a smqi:Study ; smqi:reportsUse ?u . ?u ?property ?c }")
    return int(next(iter(graph.query(query, initBindings={"property": prop})))[0].toPython())


def _total_uses(graph: Graph, prop: URIRef) -> int:
    query = ("PREFIX smqi: <https://w3id.org/smqi/ontology#> SELECT (COUNT(DISTINCT ?u) AS ?n) "
             "WHERE { ?s a smqi:Study ; smqi:reportsUse ?u . ?u ?property ?c }")
    return int(next(iter(graph.query(query, initBindings={"property": prop})))[0].toPython())


def check_claims(dataset: Graph) -> list[ClaimVerdict]:
    """Check every claim in ``dataset`` (a union Dataset or Graph) against its evidence.

    When the graph holds no claims (a file built before claims existed), the shipped
    ``data/review_claims.csv`` is read.
    """
    claims = _claims(dataset)
    if not claims:
        claims = _claims(review_graph())
    if not claims:
        raise DataError("no review claims found in the graph or in data/review_claims.csv")
    return [_check(dataset, claim) for claim in claims]


def verdicts_text(verdicts: list[ClaimVerdict]) -> str:
    lines = [f"Claims of Walsh et al. 2021 (doi {REVIEW_DOI}) checked against this graph's evidence",
             "(an independent extraction, not the review's own list of 40 studies):", ""]
    for v in verdicts:
        numbers = ", ".join(f"{k}={val}" for k, val in v.numbers.items())
        lines.append(f"{v.claim_id}: {v.verdict.upper()}")
        lines.append(f"  claim: {v.statement}")
        lines.append(f"  numbers: {numbers}" if numbers else "  numbers: -")
        lines.append(f"  why: {v.explanation}")
    tally = {k: sum(1 for v in verdicts if v.verdict == k) for k in (SUPPORTED, NOT_SUPPORTED, NOT_CHECKABLE)}
    lines.append("")
    lines.append(", ".join(f"{n} {k}" for k, n in tally.items()))
    return "\n".join(lines) + "\n"


def verdicts_json(verdicts: list[ClaimVerdict]) -> str:
    doc = {"review": {"iri": str(REVIEW), "doi": REVIEW_DOI},
           "claims": [v.as_dict() for v in verdicts]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


