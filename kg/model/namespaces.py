"""Namespaces and IRIs of smqi-kg. ``SMQI`` is closed: a misspelt ontology term raises."""

from __future__ import annotations

from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DefinedNamespace

__all__ = [
    "SMQI", "scheme_iri", "concept_iri", "study_iri", "use_iri", "classification_iri", "BASE",
    "ONTOLOGY_IRI", "VOCAB", "KG", "GRAPH", "FABIO", "PRISM", "SCHEMA", "WD", "G_ONTOLOGY", "G_VOCAB",
    "G_EVIDENCE", "G_REFERENCE", "G_PROVENANCE", "G_DERIVED", "G_CODINGS", "PREFIXES", "bind_prefixes",
    "coding_iri", "coder_iri"
]

BASE = "https://w3id.org/smqi/"


class SMQI(DefinedNamespace):
    """The smqi-kg ontology (ontology/smqi.ttl). Keep in step with it: a test compares the two."""

    _NS = Namespace(BASE + "ontology#")
    _fail = True

    Review: URIRef
    Study: URIRef
    SocialMediaUse: URIRef
    CodedUnit: URIRef
    Coding: URIRef
    CodingConcept: URIRef
    Platform: URIRef
    CommunicationModel: URIRef
    Host: URIRef
    UserPopulation: URIRef
    QIActivity: URIRef
    QIStage: URIRef
    Country: URIRef
    IncomeGroup: URIRef
    IncomeClassification: URIRef
    StudyDesign: URIRef
    CodingConfidence: URIRef
    ModelOfUse: URIRef
    reportsUse: URIRef
    reportedIn: URIRef
    platform: URIRef
    communicationModel: URIRef
    host: URIRef
    userPopulation: URIRef
    qiActivity: URIRef
    qiStage: URIRef
    codingConfidence: URIRef
    studyDesign: URIRef
    country: URIRef
    classifiedCountry: URIRef
    incomeGroup: URIRef
    includesStudy: URIRef
    Claim: URIRef
    makesClaim: URIRef
    claimedConcept: URIRef
    claimKind: URIRef
    claimDimension: URIRef
    claimedValue: URIRef
    studyId: URIRef
    useNumber: URIRef
    firstAuthor: URIRef
    authorList: URIRef
    codingNote: URIRef
    fiscalYear: URIRef
    modelOfUse: URIRef
    adjudicatedInto: URIRef
    requiresCommunicationModel: URIRef
    requiresHost: URIRef
    requiresAnyActivity: URIRef
    rulePriority: URIRef
    socialMediaFunction: URIRef


ONTOLOGY_IRI = URIRef(BASE + "ontology")
VOCAB = Namespace(BASE + "vocab/")
KG = Namespace(BASE + "kg/")
GRAPH = Namespace(BASE + "graph/")

FABIO = Namespace("http://purl.org/spar/fabio/")
PRISM = Namespace("http://prismstandard.org/namespaces/basic/2.0/")
SCHEMA = Namespace("http://schema.org/")
WD = Namespace("http://www.wikidata.org/entity/")

# Named graphs of the dataset: sources are kept apart, derived triples never mix with evidence.
G_ONTOLOGY = GRAPH.ontology
G_VOCAB = GRAPH.vocab
G_EVIDENCE = GRAPH.evidence
G_REFERENCE = GRAPH.reference
G_PROVENANCE = GRAPH.provenance
G_DERIVED = GRAPH.derived
G_CODINGS = GRAPH.codings  # each coder's independent coding of each use (data/codings.csv)

# Codebook dimension -> (vocabulary scheme slug, ontology class)
SCHEMES: dict[str, tuple[str, URIRef]] = {
    "platform": ("platform", SMQI.Platform),
    "communication_model": ("communication-model", SMQI.CommunicationModel),
    "host": ("host", SMQI.Host),
    "user_population": ("user-population", SMQI.UserPopulation),
    "qi_activity": ("qi-activity", SMQI.QIActivity),
    "qi_stage": ("qi-stage", SMQI.QIStage),
    "country": ("country", SMQI.Country),
    "income_group": ("income-group", SMQI.IncomeGroup),
    "design": ("study-design", SMQI.StudyDesign),
    "confidence": ("confidence", SMQI.CodingConfidence),
    "model": ("typology", SMQI.ModelOfUse),
}


def scheme_iri(slug: str) -> URIRef:
    return URIRef(f"{BASE}vocab/{slug}")


def concept_iri(slug: str, key: str) -> URIRef:
    return URIRef(f"{BASE}vocab/{slug}/{key}")


def study_iri(study_id: str) -> URIRef:
    return URIRef(f"{BASE}kg/study/{study_id}")


def use_iri(study_id: str, use_no: int | str) -> URIRef:
    return URIRef(f"{BASE}kg/use/{study_id}-{use_no}")


def coding_iri(study_id: str, use_no: int | str, coder: str) -> URIRef:
    """One coder's independent coding of one use (a row of ``codings.csv``)."""
    return URIRef(f"{BASE}kg/coding/{study_id}-{use_no}-{coder}")


def coder_iri(coder: str) -> URIRef:
    """A coder (``prov:Agent``) by the key of the ``coder`` column of ``codings.csv``."""
    return URIRef(f"{BASE}kg/coder/{coder}")


def classification_iri(country: str, fiscal_year: str) -> URIRef:
    return URIRef(f"{BASE}kg/income-classification/{country}-{fiscal_year}")


from kg.model.prefixes import PREFIXES  # noqa: E402  (the one table; no rdflib in it)


def bind_prefixes(graph: Graph) -> Graph:
    """Bind :data:`PREFIXES` on ``graph`` (a Graph or Dataset) and return it."""
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True, replace=True)
    return graph
