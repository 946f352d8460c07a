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

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS

from kg.model.errors import DataError
from kg.model.namespaces import SMQI

from kg.io.review import DIMENSIONS, G_REVIEW, REVIEW, REVIEW_DOI, review_graph

__all__ = [
    "G_REVIEW", "REVIEW", "ClaimVerdict", "review_graph", "check_claims",
    "verdicts_text", "verdicts_json", "SUPPORTED", "NOT_SUPPORTED", "NOT_CHECKABLE",
]
SUPPORTED, NOT_SUPPORTED, NOT_CHECKABLE = "supported", "not supported", "not checkable"


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


def _run(source, query, bindings: dict | None = None):
    """A named query (or its text) on the build's store or on an rdflib graph: rows of rdflib terms."""
    import pyoxigraph as ox

    if isinstance(source, ox.Store):
        from kg.io.store import query_store

        return query_store(source, query, bindings)
    from kg.io.queries import run_query

    return run_query(source, query, bindings)


def _inline(text: str):
    from kg.io.queries import NamedQuery

    return NamedQuery(name="claim-total", kind="claims", path=Path("kg/derive/claims.py"), summary="",
                      description="", text=text)


def _claims(source) -> list[_Claim]:
    from kg.io.store import select_text

    fields = (DCTERMS.identifier, DCTERMS.description, SMQI.claimKind, SMQI.claimDimension, SMQI.claimedValue)
    names = ("id", "statement", "kind", "dimension", "value")
    optional = " ".join(f"OPTIONAL {{ ?c <{p}> ?{n} }}" for p, n in zip(fields, names))
    rows = select_text(source, f"SELECT ?c {' '.join('?' + n for n in names)} WHERE {{ ?c a <{SMQI.Claim}> {optional} }}")
    found = [_Claim(*(value or "" for value in row[1:])) for row in rows]
    return sorted(found, key=lambda c: c.claim_id)


def _table(graph: Graph, query: str, bindings: dict | None = None) -> dict[str, int]:
    result = _run(graph, query, bindings)
    return {str(row[0]): int(row[1].toPython()) for row in result.rows if row[0] is not None}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _check(graph: Graph, claim: _Claim) -> ClaimVerdict:
    verdict = ClaimVerdict(claim.claim_id, claim.statement, NOT_CHECKABLE)
    numbers = verdict.numbers
    slug, prop = DIMENSIONS.get(claim.dimension, (None, None))
    keys = [k.strip() for k in claim.value.split(";") if k.strip()]
    if claim.kind == "count":
        row = _run(graph, "claim-counts").rows[0]
        ours = {"study": ("studies", row[0]), "typology": ("models", row[2])}.get(claim.dimension)
        numbers["claimed"] = int(claim.value) if claim.value.isdigit() else claim.value
        if ours:
            numbers[f"our_{ours[0]}"] = int(ours[1].toPython())
        verdict.explanation = (
            "A count of the review's own included studies cannot be checked against an independent "
            "extraction (not the review's list of 40 studies); our count is shown for comparison.")
        if claim.dimension == "typology":
            used = int(row[3].toPython())
            numbers["models_with_a_use"] = used
            verdict.explanation = (
                "Our typology's models come from the codebook, which follows the review's typology, "
                "so an equal count is not independent evidence; our count is shown for comparison "
                f"({used} of our {int(row[2].toPython())} models have at least one use in this evidence).")
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
        rows = _run(graph, "claim-studies-by-income-group").rows
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
    query = ("PREFIX smqi: <https://w3id.org/smqi/ontology#> SELECT (COUNT(DISTINCT ?s) AS ?n) ?property "
             "WHERE { ?s a smqi:Study ; smqi:reportsUse ?u . ?u ?property ?c } GROUP BY ?property")
    rows = _run(graph, _inline(query), {"property": prop}).rows
    return int(rows[0][0].toPython()) if rows else 0


def _total_uses(graph: Graph, prop: URIRef) -> int:
    query = ("PREFIX smqi: <https://w3id.org/smqi/ontology#> SELECT (COUNT(DISTINCT ?u) AS ?n) ?property "
             "WHERE { ?s a smqi:Study ; smqi:reportsUse ?u . ?u ?property ?c } GROUP BY ?property")
    rows = _run(graph, _inline(query), {"property": prop}).rows
    return int(rows[0][0].toPython()) if rows else 0


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


