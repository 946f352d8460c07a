"""The seed review in the graph: Walsh et al. 2021, its headline claims (data/review_claims.csv) as
``smqi:Claim`` nodes, in the named graph ``…/graph/review``. Checking the claims is kg.derive.claims."""


from __future__ import annotations

from pathlib import Path

from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS

from kg.model import resources
from kg.model.errors import InputInvalid, Problem
from kg.model.identifiers import doi_iri, pmid_iri
from kg.io.sheets import display_path, read_sheet
from kg.model.namespaces import BASE, FABIO, GRAPH, PRISM, SCHEMA, SMQI
from kg.model.vocabularies import Vocabulary, default_vocabulary

__all__ = [
    "G_REVIEW", "REVIEW", "REVIEW_DOI", "REVIEW_PMID", "REVIEW_TITLE", "REVIEW_AUTHORS",
    "REVIEW_AUTHOR_NAMES", "REVIEW_JOURNAL", "REVIEW_YEAR", "CLAIM_COLUMNS", "KINDS", "claim_iri",
    "review_graph", "DIMENSIONS",
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
