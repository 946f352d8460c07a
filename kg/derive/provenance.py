"""Provenance (PROV-O) of a build, written into the named graph ``…/graph/provenance``.

Three layers, from the page to the build:

- each study's source page(s): ``prov:wasDerivedFrom`` in the evidence graph (written by the loader
  from ``source_url``; not repeated here);
- the extraction sheet each node came from: the study (or use) has a ``prov:qualifiedDerivation``
  ``<node>#derivation``, a ``prov:Derivation`` whose ``prov:entity`` is the sheet
  (``…/kg/input/studies.csv``), with the sheet's row in ``rdfs:comment``. The qualified form is used
  rather than a second ``prov:wasDerivedFrom`` so that ``prov:wasDerivedFrom`` keeps meaning "the page
  the record was taken from" for anyone querying the union of the graphs;
- the build: a ``prov:Activity`` (start and end time, ``prov:wasAssociatedWith`` the smqi-kg software
  agent and its version, ``prov:used`` every input file with its SHA-256 as an ``spdx:Checksum``)
  that ``prov:generated`` the named graphs it wrote.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from rdflib import RDF, RDFS, XSD, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV

from kg import __version__
from kg.model.namespaces import BASE, G_PROVENANCE, SCHEMA

__all__ = ["SPDX", "add_provenance", "sha256", "input_iri", "agent_iri"]

SPDX = Namespace("http://spdx.org/rdf/terms#")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def input_iri(path: Path | str) -> URIRef:
    return URIRef(f"{BASE}kg/input/{Path(path).name}")


def agent_iri() -> URIRef:
    return URIRef(f"{BASE}kg/software/smqi-kg/{__version__}")


def add_provenance(kg, started: datetime, ended: datetime | None = None) -> URIRef:
    """Add the build activity, the input entities and the sheet derivations; return the activity.

    ``kg`` is a ``kg.dataset.KnowledgeGraph`` (its ``inputs`` and ``origins`` are used).
    """
    ended = ended or datetime.now(timezone.utc).replace(microsecond=0)
    graph = kg.graph(G_PROVENANCE)
    activity = URIRef(f"{BASE}kg/build/{started.strftime('%Y%m%dT%H%M%SZ')}")
    agent = agent_iri()
    graph.add((agent, RDF.type, PROV.SoftwareAgent))
    graph.add((agent, RDFS.label, Literal(f"smqi-kg {__version__}")))
    graph.add((agent, SCHEMA.softwareVersion, Literal(__version__)))
    graph.add((activity, RDF.type, PROV.Activity))
    graph.add((activity, DCTERMS.description, Literal(f"smqi build, smqi-kg {__version__}")))
    graph.add((activity, PROV.startedAtTime, Literal(started.isoformat(), datatype=XSD.dateTime)))
    graph.add((activity, PROV.endedAtTime, Literal(ended.isoformat(), datatype=XSD.dateTime)))
    graph.add((activity, PROV.wasAssociatedWith, agent))
    for path in kg.inputs:
        entity = input_iri(path)
        graph.add((activity, PROV.used, entity))
        graph.add((entity, RDF.type, PROV.Entity))
        graph.add((entity, DCTERMS.identifier, Literal(Path(path).name)))
        checksum = URIRef(f"{entity}#sha256")
        graph.add((entity, SPDX.checksum, checksum))
        graph.add((checksum, RDF.type, SPDX.Checksum))
        graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        graph.add((checksum, SPDX.checksumValue, Literal(sha256(path), datatype=XSD.hexBinary)))
    for name in sorted({c.identifier for c in kg.dataset.graphs()} - {G_PROVENANCE}, key=str):
        if isinstance(name, URIRef) and str(name).startswith(BASE) and len(kg.dataset.graph(name)):
            graph.add((activity, PROV.generated, name))
    for node, origin in kg.origins.items():
        sheet = input_iri(origin.file)
        derivation = URIRef(f"{node}#derivation")
        graph.add((node, PROV.qualifiedDerivation, derivation))
        graph.add((derivation, RDF.type, PROV.Derivation))
        graph.add((derivation, PROV.entity, sheet))
        graph.add((derivation, PROV.hadActivity, activity))
        graph.add((derivation, RDFS.comment, Literal(f"{Path(origin.file).name} row {origin.row} "
                                                     f"({origin.entry}; the header is row 1)")))
    return activity
