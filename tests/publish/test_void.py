"""build/void.ttl (DCAT 3 + VoID) and the build's PROV-O provenance, against counts from the graph (#5)."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from rdflib import RDF, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV, VOID

from kg.model import resources
from kg.cli import main
from kg.model.namespaces import G_PROVENANCE, SMQI, study_iri
from kg.publish.void import CC_BY, DATASET

SPDX = "http://spdx.org/rdf/terms#"
SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT_AP = Path(__file__).parents[1] / "dcat-ap-3"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("void") / "build"
    assert main(["build", "--out", str(out), "--quiet", "--no-owl"]) == 0
    return out


@pytest.fixture(scope="module")
def void(built: Path) -> Graph:
    return Graph().parse(built / "void.ttl")


@pytest.fixture(scope="module")
def union(built: Path) -> Graph:
    return Graph().parse(built / "smqi.nt", format="nt")


def sheet_rows(name: str) -> list[dict[str, str]]:
    """Rows of a shipped sheet (the oracle of the counts)."""
    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def number(g: Graph, s, p) -> int:
    value = g.value(s, p)
    assert value is not None, f"{s} has no {p}"
    return int(value.toPython())


def test_dataset_counts_equal_the_graph(void: Graph, union: Graph) -> None:
    assert (DATASET, RDF.type, VOID.Dataset) in void and (DATASET, RDF.type, DCAT.Dataset) in void
    assert number(void, DATASET, VOID.triples) == len(union)
    assert number(void, DATASET, VOID.distinctSubjects) == len(set(union.subjects()))
    assert number(void, DATASET, VOID.distinctObjects) == len(set(union.objects()))
    assert number(void, DATASET, VOID.properties) == len(set(union.predicates()))
    assert void.value(DATASET, DCTERMS.license) == CC_BY


def test_class_and_property_partitions(void: Graph, union: Graph) -> None:
    classes = {void.value(p, VOID["class"]): number(void, p, VOID.entities)
               for p in void.objects(DATASET, VOID.classPartition)}
    expected = Counter(o for _s, o in set(union.subject_objects(RDF.type)))
    assert classes == dict(expected)
    assert classes[SMQI.Study] == len(sheet_rows("studies.csv")) and classes[SMQI.SocialMediaUse] == len(sheet_rows("uses.csv")) and classes[SMQI.Review] == 1
    props = {void.value(p, VOID.property): number(void, p, VOID.triples)
             for p in void.objects(DATASET, VOID.propertyPartition)}
    assert props == dict(Counter(p for _s, p, _o in union))
    vocabularies = set(map(str, void.objects(DATASET, VOID.vocabulary)))
    assert {"https://w3id.org/smqi/ontology#", "http://purl.org/dc/terms/", "http://www.w3.org/ns/prov#",
            "http://schema.org/", "http://www.w3.org/2004/02/skos/core#"} <= vocabularies


def test_named_graph_subsets(void: Graph, built: Path) -> None:
    ds = Dataset().parse(built / "smqi.trig", format="trig")
    subsets = {s: number(void, s, VOID.triples) for s in void.objects(DATASET, VOID.subset)}
    expected = {g.identifier: len(g) for g in ds.graphs() if str(g.identifier).startswith("https://w3id.org/smqi/") and len(g)}
    assert subsets == expected
    assert URIRef("https://w3id.org/smqi/graph/review") in subsets


def test_distributions_describe_the_written_files(void: Graph, built: Path) -> None:
    dists = {str(void.value(d, DCTERMS.title)): d for d in void.objects(DATASET, DCAT.distribution)}
    files = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file() and p.name != "void.ttl")
    # every file written before void.ttl is described (a file written after it, such as a manifest
    # that hashes void.ttl itself, cannot be)
    assert set(dists) <= set(files)
    assert {"smqi.trig", "smqi.ttl", "smqi.nt", "smqi.jsonld", "summary.json", "validation.txt",
            "network/network.json", "network/bipartite.graphml"} <= set(dists)
    for name, dist in dists.items():
        data = (built / name).read_bytes()
        assert void.value(dist, DCAT.byteSize) == Literal(len(data), datatype=URIRef("http://www.w3.org/2001/XMLSchema#nonNegativeInteger"))
        checksum = void.value(dist, URIRef(SPDX + "checksum"))
        assert str(void.value(checksum, URIRef(SPDX + "checksumValue"))) == hashlib.sha256(data).hexdigest()
        assert void.value(dist, DCTERMS.license) == CC_BY
    media = {n: str(void.value(d, DCAT.mediaType)).rsplit("media-types/", 1)[-1] for n, d in dists.items()
             if void.value(d, DCAT.mediaType) is not None}
    assert media["smqi.ttl"] == "text/turtle" and media["smqi.trig"] == "application/trig"
    assert media["smqi.nt"] == "application/n-triples" and media["smqi.jsonld"] == "application/ld+json"
    assert media["summary.json"] == "application/json" and media["validation.txt"] == "text/plain"
    assert media["smqi.nq"] == "application/n-quads" and media["report/figures/years.svg"] == "image/svg+xml"
    assert set(media) == set(dists)  # every distribution has one
    formats = {n: str(void.value(d, DCTERMS.format)).rsplit("/", 1)[-1] for n, d in dists.items()}
    assert {formats[n] for n in ("smqi.trig", "smqi.ttl", "smqi.nt", "smqi.nq", "smqi.jsonld", "summary.json",
                                 "network/bipartite.graphml", "report/report.css")} == {
        "RDF_TRIG", "RDF_TURTLE", "RDF_N_TRIPLES", "RDF_N_QUADS", "JSON_LD", "JSON", "XML", "CSS"}
    for name, dist in dists.items():  # relative to void.ttl: they resolve to the file beside it
        for prop in (DCAT.accessURL, DCAT.downloadURL):
            url = urlsplit(str(void.value(dist, prop)))
            assert url.scheme == "file" and Path(url2pathname(url.path)) == (built / name).resolve(), (name, prop)
    text = (built / "void.ttl").read_text(encoding="utf-8")
    assert str(built.resolve()) not in text and "@base" not in text and "dcat:accessURL <smqi.trig>" in text


def dcat_ap_results(data: Graph, version: str) -> tuple[bool, list[tuple[str, str, str]]]:
    """pySHACL (the reference) with the DCAT-AP mandatory and range shapes of ``version``."""
    from pyshacl import validate

    shapes = Graph()
    for name in ("shapes.ttl", "range.ttl"):
        shapes.parse(DCAT_AP / version / name, format="turtle")
    conforms, report, _text = validate(data, shacl_graph=shapes, inference="none")
    results = sorted((str(report.value(r, SH.focusNode)), str(report.value(r, SH.resultPath)),
                      str(report.value(r, SH.sourceConstraintComponent)).rsplit("#", 1)[-1])
                     for r in report.subjects(RDF.type, SH.ValidationResult))
    return conforms, results


def test_void_conforms_to_dcat_ap_3(void: Graph) -> None:
    assert dcat_ap_results(void, "3.0.1") == (True, [])
    # 3.0.0's shapes still ask for dcat:byteSize as xsd:decimal (tests/dcat-ap-3/NOTICE.md): that, and only that
    dists = sorted(map(str, void.objects(DATASET, DCAT.distribution)))
    assert len(dists) > 20
    assert dcat_ap_results(void, "3.0.0") == (
        False, [(d, str(DCAT.byteSize), "DatatypeConstraintComponent") for d in dists])


def test_dcat_ap_shapes_find_what_void_used_to_lack(void: Graph) -> None:
    """The same shapes on void.ttl with one distribution as it used to be: no access URL, the format a literal."""
    broken = Graph()
    for triple in void:
        broken.add(triple)
    dist = URIRef(f"{DATASET}/distribution/smqi.trig")
    broken.remove((dist, DCAT.accessURL, None))
    broken.set((dist, DCTERMS.format, Literal("TriG")))
    assert dcat_ap_results(broken, "3.0.1") == (False, [
        (str(dist), str(DCTERMS.format), "ClassConstraintComponent"),
        (str(dist), str(DCTERMS.format), "NodeKindConstraintComponent"),
        (str(dist), str(DCAT.accessURL), "MinCountConstraintComponent"),
    ])


def test_build_provenance(built: Path) -> None:
    ds = Dataset().parse(built / "smqi.trig", format="trig")
    prov = ds.graph(G_PROVENANCE)
    (activity,) = prov.subjects(RDF.type, PROV.Activity)
    assert prov.value(activity, PROV.startedAtTime) is not None and prov.value(activity, PROV.endedAtTime) is not None
    agent = prov.value(activity, PROV.wasAssociatedWith)
    assert (agent, RDF.type, PROV.SoftwareAgent) in prov
    used = {str(prov.value(e, DCTERMS.identifier)): e for e in prov.objects(activity, PROV.used)}
    assert set(used) == {"studies.csv", "uses.csv", "world_bank_income_groups.csv", "review_claims.csv",
                         "platform_mappings.sssom.tsv", "codings.csv"}
    for name, entity in used.items():
        checksum = prov.value(entity, URIRef(SPDX + "checksum"))
        digest = hashlib.sha256((resources.data_dir() / name).read_bytes()).hexdigest()
        assert str(prov.value(checksum, URIRef(SPDX + "checksumValue"))) == digest
    assert URIRef("https://w3id.org/smqi/graph/evidence") in set(prov.objects(activity, PROV.generated))
    # every study and use: derived from its sheet row; the source page stays prov:wasDerivedFrom
    with (resources.data_dir() / "studies.csv").open(newline="", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    node = study_iri(first["study_id"])
    derivation = prov.value(node, PROV.qualifiedDerivation)
    assert prov.value(derivation, PROV.entity) == used["studies.csv"]
    assert str(prov.value(derivation, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"))).startswith("studies.csv row 2 ")
    assert len(set(prov.subjects(PROV.qualifiedDerivation, None))) == len(sheet_rows("studies.csv")) + len(sheet_rows("uses.csv"))
    assert list(prov.triples((None, PROV.wasDerivedFrom, None))) == []
