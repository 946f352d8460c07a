"""A DCAT 3 + VoID description of the built dataset, computed from the graph and the written files.

``smqi build`` writes it to ``build/void.ttl``. Everything is counted, never typed in:

- ``void:triples``, ``void:distinctSubjects``, ``void:distinctObjects`` and ``void:properties`` over
  the union of the named graphs (the triples of ``smqi.nt``);
- ``void:classPartition`` per class used (``void:class``, ``void:entities`` = distinct subjects of
  that type) and ``void:propertyPartition`` per predicate (``void:property``, ``void:triples``);
- ``void:subset`` per named graph with its own ``void:triples``;
- ``void:vocabulary`` for every namespace of a predicate or class used;
- one ``dcat:Distribution`` per output file: ``dcat:accessURL`` and ``dcat:downloadURL`` (the file,
  written relative to ``void.ttl``, so they resolve to the file beside it wherever ``build/`` is
  put), ``dcat:mediaType`` (an IANA media type IRI, a ``dcterms:MediaType``), ``dcterms:format``
  (an IRI of the EU file-type vocabulary, a ``dcterms:MediaTypeOrExtent``), ``dcat:byteSize``
  (``xsd:nonNegativeInteger``) and an SPDX SHA-256, read from the file as written.

It conforms to DCAT-AP 3.0.1's SHACL shapes (mandatory and range shapes; tests/dcat-ap-3/), which
differ from 3.0.0's only where 3.0.0's shapes still ask for ``dcat:byteSize`` as ``xsd:decimal``,
against the 3.0.0 specification and DCAT 3 (``xsd:nonNegativeInteger``). Every class a DCAT-AP range
asks for is stated (``dcterms:LicenseDocument``, ``dcterms:MediaType``, ``dcterms:MediaTypeOrExtent``).

The data are licensed CC BY 4.0 (``dcterms:license``); the code is MIT and not described here.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from rdflib import RDF, XSD, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, VOID

from kg import __version__
from kg.model.namespaces import BASE, SMQI, study_iri
from kg.publish.manifest import STORE

__all__ = ["DATASET", "CC_BY", "describe", "write_void", "vocabulary_of", "MEDIA_TYPES", "FILE_TYPE", "IANA"]

DATASET = URIRef(f"{BASE}kg/dataset")
CC_BY = URIRef("https://creativecommons.org/licenses/by/4.0/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
IANA = "https://www.iana.org/assignments/media-types/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"  # EU Vocabularies, File types
# file suffix -> (IANA media type, EU file type)
MEDIA_TYPES: dict[str, tuple[str, str]] = {
    ".trig": ("application/trig", "RDF_TRIG"),
    ".ttl": ("text/turtle", "RDF_TURTLE"),
    ".nt": ("application/n-triples", "RDF_N_TRIPLES"),
    ".nq": ("application/n-quads", "RDF_N_QUADS"),
    ".jsonld": ("application/ld+json", "JSON_LD"),
    ".json": ("application/json", "JSON"),
    ".txt": ("text/plain", "TXT"),
    ".graphml": ("application/xml", "XML"),  # GraphML is XML; it has no media type or file type of its own
    ".csv": ("text/csv", "CSV"),
    ".html": ("text/html", "HTML"),
    ".css": ("text/css", "CSS"),
    ".svg": ("image/svg+xml", "SVG"),
}
OTHER_FILE = ("application/octet-stream", "OCTET")
VOID_FILE = "void.ttl"


def vocabulary_of(term: URIRef) -> str:
    """The namespace of a term: up to ``#`` when it has one, else up to the last ``/``."""
    text = str(term)
    if "#" in text:
        return text[: text.index("#") + 1]
    return text[: text.rindex("/") + 1] if "/" in text else text


def _stats(store) -> dict:
    """Counts of the union of the store's named graphs (each distinct triple once), by SPARQL."""
    def rows(text: str) -> list:
        return list(store.query(text))

    distinct = "SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
    (total,), = [(int(r[0].value),) for r in rows(f"SELECT (COUNT(*) AS ?n) WHERE {{ {distinct} }}")]
    (subjects, objects), = [(int(r[0].value), int(r[1].value)) for r in rows(
        "SELECT (COUNT(DISTINCT ?s) AS ?a) (COUNT(DISTINCT ?o) AS ?b) WHERE { GRAPH ?g { ?s ?p ?o } }")]
    per_property = {URIRef(r[0].value): int(r[1].value) for r in rows(
        f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ {distinct} }} GROUP BY ?p")}
    per_class = {URIRef(r[0].value): int(r[1].value) for r in rows(
        f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s <{RDF.type}> ?c }} FILTER (isIRI(?c)) }} "
        "GROUP BY ?c")}
    per_graph = {URIRef(r[0].value): int(r[1].value) for r in rows(
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    example = bool(store.query(f"ASK {{ GRAPH ?g {{ <{study_iri('ahne2020')}> a <{SMQI.Study}> }} }}"))
    return {"triples": total, "subjects": subjects, "objects": objects, "per_property": per_property,
            "per_class": per_class, "per_graph": per_graph, "example": example}


def describe(store, folder: Path | None = None, *, modified: datetime | None = None) -> Graph:
    """The DCAT/VoID graph of the build's store (an rdflib Dataset is loaded into one first);
    distributions for the files under ``folder`` if given (the store's own folder aside)."""
    import pyoxigraph as ox

    if not isinstance(store, ox.Store):
        from kg.io.store import store_from_dataset

        store = store_from_dataset(store)
    stats = _stats(store)
    g = Graph()
    for prefix, ns in (("void", VOID), ("dcat", DCAT), ("dcterms", DCTERMS), ("spdx", SPDX),
                       ("smqi", SMQI._NS)):
        g.bind(prefix, ns)
    d = DATASET
    g.add((d, RDF.type, VOID.Dataset))
    g.add((d, RDF.type, DCAT.Dataset))
    g.add((d, DCTERMS.title, Literal("smqi-kg: social media in health service design and quality "
                                     "improvement, an evidence knowledge graph", lang="en")))
    g.add((d, DCTERMS.description, Literal(
        "Studies that used social media to engage stakeholders in health service design and quality "
        "improvement, their uses of social media and the coding of those uses. An independent, "
        "dual-coded extraction of real studies meeting the inclusion criteria of Walsh et al. 2021 "
        "(doi 10.1177/2055207621996870), not that review's own list of 40 studies.", lang="en")))
    g.add((d, DCTERMS.license, CC_BY))
    g.add((CC_BY, RDF.type, DCTERMS.LicenseDocument))
    g.add((d, URIRef(f"{DCAT}version"), Literal(__version__)))  # DCAT 3; rdflib knows DCAT 2
    # the review whose inclusion criteria the studies meet: related, not a source dataset (DCAT-AP's
    # dcterms:source is a dcat:Dataset)
    g.add((d, DCTERMS.relation, URIRef("https://doi.org/10.1177/2055207621996870")))
    if modified is not None:
        g.add((d, DCTERMS.modified, Literal(modified.isoformat(), datatype=XSD.dateTime)))
    g.add((d, VOID.uriSpace, Literal(f"{BASE}kg/")))
    g.add((d, VOID.feature, URIRef("http://www.w3.org/ns/formats/Turtle")))
    if stats["example"]:
        g.add((d, VOID.exampleResource, study_iri("ahne2020")))
    per_property, per_class = stats["per_property"], stats["per_class"]
    g.add((d, VOID.triples, _int(stats["triples"])))
    g.add((d, VOID.distinctSubjects, _int(stats["subjects"])))
    g.add((d, VOID.distinctObjects, _int(stats["objects"])))
    g.add((d, VOID.properties, _int(len(per_property))))
    g.add((d, VOID.classes, _int(len(per_class))))
    for cls, members in sorted(per_class.items()):
        part = URIRef(f"{d}/class/{_slug(cls)}")
        g.add((d, VOID.classPartition, part))
        g.add((part, VOID["class"], cls))
        g.add((part, VOID.entities, _int(members)))
    for prop, count in sorted(per_property.items()):
        part = URIRef(f"{d}/property/{_slug(prop)}")
        g.add((d, VOID.propertyPartition, part))
        g.add((part, VOID.property, prop))
        g.add((part, VOID.triples, _int(count)))
    for ns in sorted({vocabulary_of(t) for t in list(per_property) + list(per_class)}):
        g.add((d, VOID.vocabulary, URIRef(ns)))
    for name, count in sorted(stats["per_graph"].items()):
        if str(name).startswith(BASE) and count:
            g.add((d, VOID.subset, name))
            g.add((name, RDF.type, VOID.Dataset))
            g.add((name, VOID.triples, _int(count)))
    if folder is not None:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and path.name != VOID_FILE and path.relative_to(folder).parts[0] != STORE:
                _distribution(g, d, path, path.relative_to(folder).as_posix(), Path(folder))
    return g


def _distribution(g: Graph, dataset: URIRef, path: Path, rel: str, folder: Path) -> None:
    media, file_type = MEDIA_TYPES.get(path.suffix.lower(), OTHER_FILE)
    dist = URIRef(f"{dataset}/distribution/{rel}")
    data = path.read_bytes()
    g.add((dataset, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    g.add((dist, DCTERMS.title, Literal(rel)))
    where = URIRef(_folder_uri(folder) + quote(rel))
    g.add((dist, DCAT.accessURL, where))
    g.add((dist, DCAT.downloadURL, where))
    g.add((dist, DCTERMS.format, URIRef(FILE_TYPE + file_type)))
    g.add((URIRef(FILE_TYPE + file_type), RDF.type, DCTERMS.MediaTypeOrExtent))
    g.add((dist, DCAT.mediaType, URIRef(IANA + media)))
    g.add((URIRef(IANA + media), RDF.type, DCTERMS.MediaType))
    g.add((dist, DCAT.byteSize, Literal(len(data), datatype=XSD.nonNegativeInteger)))
    g.add((dist, DCTERMS.license, CC_BY))
    checksum = URIRef(f"{dist}#sha256")
    g.add((dist, SPDX.checksum, checksum))
    g.add((checksum, RDF.type, SPDX.Checksum))
    g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    g.add((checksum, SPDX.checksumValue, Literal(hashlib.sha256(data).hexdigest(), datatype=XSD.hexBinary)))


def _folder_uri(folder: Path) -> str:
    return Path(folder).resolve().as_uri().rstrip("/") + "/"


def _int(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


def _slug(term: URIRef) -> str:
    """A readable, unique path segment for a partition: ``<namespace-prefix-ish>-<local name>``."""
    ns = vocabulary_of(term)
    local = str(term)[len(ns):] or "term"
    host = ns.split("//", 1)[-1].strip("/#").replace("/", "-").replace(".", "-").replace("#", "")
    return f"{host}-{local}".replace(" ", "_")


def write_void(store, folder: Path, *, modified: datetime | None = None) -> Path:
    """Describe the store and the files already in ``folder``; write ``folder/void.ttl``.

    The files' access and download URLs are written relative to ``void.ttl`` (no ``@base``): a
    reader resolves them against where it read ``void.ttl`` from, so no path of this machine is
    written and the description stays true wherever the folder is copied or published."""
    path = Path(folder) / VOID_FILE
    text = describe(store, folder, modified=modified).serialize(format="turtle")
    path.write_text(text.replace(f"<{_folder_uri(folder)}", "<"), encoding="utf-8")
    return path
