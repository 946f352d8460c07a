"""kg.publish.outputs and kg.publish.outputs.write_store_jsonld: every dataset file written from an Oxigraph store.

Two stores: the shipped data as the build holds it (assembled, provenance added, typology derived,
loaded with kg.io.store.store_from_dataset), and a small made-up store (IRIs under example.org and the
project's namespaces, no real study) with what is hard to write: a triple in two graphs, the default
graph, blank nodes shared by two graphs, literals whose datatype a context term does not take, a
double that is a whole number, a date, a coded field holding a literal or a key that is a context term.
The JSON-LD is read back with rdflib's own JSON-LD parser (kg.io.rdf substitutes the shipped context;
PyLD is not installed in this environment).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import XSD, BNode, Dataset, Graph, Literal
from rdflib.compare import isomorphic

from kg.io.jsonld import Compactor, local_context
from kg.publish.outputs import store_to_jsonld
from kg.model.namespaces import G_ONTOLOGY, G_PROVENANCE
from kg.publish.outputs import DATASET_FILES, write_dataset_files
from kg.io.rdf import parse_into
from kg.io.store import from_ox

SMQI = "https://w3id.org/smqi/ontology#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"


def quads_of(store: ox.Store) -> set:
    """The store's quads as rdflib terms; None names the default graph."""
    return {(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object),
             None if isinstance(q.graph_name, ox.DefaultGraph) else from_ox(q.graph_name)) for q in store}


def read_jsonld(path: Path) -> set:
    back = parse_into(Dataset(), path)
    return {(s, p, o, None if g == back.default_graph.identifier or str(g).startswith("urn:x-rdflib:") else g)
            for s, p, o, g in back.quads()}


def without_bnodes(quads: set) -> set:
    return {q for q in quads if not any(isinstance(t, BNode) for t in q)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ox.Store, Path, list[Path]]:
    from kg.publish.build import add_store_provenance
    from kg.publish.pipeline import run_pipeline

    pipe = run_pipeline()  # the store as the build holds it: typology derived, provenance added below
    add_store_provenance(pipe, datetime(2024, 1, 1, tzinfo=timezone.utc))
    store = pipe.store
    folder = tmp_path_factory.mktemp("build")
    return store, folder, write_dataset_files(store, folder)


def test_every_file_is_written(built) -> None:
    _store, folder, paths = built
    assert [p.name for p in paths] == list(DATASET_FILES)
    assert sorted(p.name for p in folder.iterdir()) == sorted(DATASET_FILES)


@pytest.mark.parametrize("name,fmt", [("smqi.nq", ox.RdfFormat.N_QUADS), ("smqi.trig", ox.RdfFormat.TRIG)])
def test_quad_files_hold_the_store(built, name: str, fmt) -> None:
    store, folder, _ = built
    assert set(ox.parse(path=str(folder / name), format=fmt)) == set(store)


@pytest.mark.parametrize("name,fmt", [("smqi.nt", ox.RdfFormat.N_TRIPLES), ("smqi.ttl", ox.RdfFormat.TURTLE)])
def test_union_files_hold_each_distinct_triple_once(built, name: str, fmt) -> None:
    store, folder, _ = built
    triples = [q.triple for q in ox.parse(path=str(folder / name), format=fmt)]
    assert set(triples) == {q.triple for q in store}
    assert len(triples) == len(set(triples))
    if name == "smqi.nt":
        assert len((folder / name).read_text(encoding="utf-8").splitlines()) == len(set(triples))


def test_turtle_uses_the_project_prefixes(built) -> None:
    _store, folder, _ = built
    text = (folder / "smqi.ttl").read_text(encoding="utf-8")
    assert "@prefix study: <https://w3id.org/smqi/kg/study/> ." in text
    assert "study:ahne2020 " in text and "<https://w3id.org/smqi/kg/study/ahne2020>" not in text


def test_jsonld_holds_every_quad_provenance_and_datatypes_included(built) -> None:
    store, folder, _ = built
    got, want = read_jsonld(folder / "smqi.jsonld"), quads_of(store)
    assert len(got) == len(want) == len(store)
    assert without_bnodes(got) == without_bnodes(want)
    ontology = [Graph(), Graph()]
    for graph, quads in zip(ontology, (got, want)):
        for s, p, o, g in quads:
            if g == G_ONTOLOGY:
                graph.add((s, p, o))
    assert len(ontology[0]) > 200 and isomorphic(*ontology)
    assert sum(1 for q in got if q[3] == G_PROVENANCE) == sum(1 for q in want if q[3] == G_PROVENANCE) > 0
    doubles = sorted(str(q[2]) for q in got if isinstance(q[2], Literal) and q[2].datatype == XSD.double)
    assert len(doubles) == 12 and "1.0" in doubles  # 1.0 stays a double, not the integer 1
    assert any(isinstance(q[2], Literal) and q[2].datatype == XSD.dateTime for q in got)


# ---------------------------------------------------------------- a made-up store with the hard cases

EX = "http://example.org/madeup/"
G1, G2 = ox.NamedNode(EX + "g1"), ox.NamedNode(EX + "g2")


def _made_up_quads() -> list[ox.Quad]:
    n, lit, b = ox.NamedNode, ox.Literal, ox.BlankNode
    use = n("https://w3id.org/smqi/kg/use/madeup2020-1")
    study = n("https://w3id.org/smqi/kg/study/madeup2020")
    typed = lambda v, t: lit(v, datatype=n(XSD_NS + t))  # noqa: E731
    return [
        ox.Quad(use, n(SMQI + "useNumber"), typed("3", "positiveInteger"), G1),  # the store keeps xsd:integer
        ox.Quad(use, n(SMQI + "useNumber"), typed("4", "decimal"), G1),  # not the type of the term use_no
        ox.Quad(use, n(SMQI + "platform"), n("https://w3id.org/smqi/vocab/platform/twitter"), G1),
        ox.Quad(use, n(SMQI + "platform"), n("https://w3id.org/smqi/vocab/platform/host"), G1),  # a term name
        ox.Quad(use, n(SMQI + "platform"), n(EX + "elsewhere/x"), G1),  # outside the scheme
        ox.Quad(use, n(SMQI + "platform"), lit("a literal"), G1),  # a literal in a coded field
        ox.Quad(use, n(SMQI + "reportedIn"), study, G1),
        ox.Quad(use, n(SMQI + "reportedIn"), lit("not an IRI"), G1),
        ox.Quad(study, n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), n(SMQI + "Study"), G1),
        ox.Quad(study, n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), n(EX + "Other"), G1),
        ox.Quad(study, n("http://purl.org/spar/fabio/hasPublicationYear"), typed("2020", "gYear"), G1),
        ox.Quad(study, n("http://purl.org/spar/fabio/hasPublicationYear"), lit("2020"), G1),  # a plain string
        ox.Quad(study, n("http://purl.org/dc/terms/title"), lit("Made up \"quotes\" </script> & ünïcode"), G1),
        ox.Quad(study, n("http://purl.org/dc/terms/title"), lit("Titre inventé", language="fr"), G1),
        ox.Quad(study, n(EX + "score"), typed("1", "double"), G1),
        ox.Quad(study, n(EX + "score"), typed("0.5", "double"), G1),
        ox.Quad(study, n(EX + "when"), typed("2020-02-29", "date"), G1),
        ox.Quad(study, n(EX + "flag"), typed("true", "boolean"), G1),
        ox.Quad(study, n(EX + "big"), typed("123456789012345678901234567890", "integer"), G1),
        ox.Quad(study, n(EX + "rate"), typed("1.50", "decimal"), G1),
        ox.Quad(study, n(EX + "link"), b("shared"), G1),
        ox.Quad(b("shared"), n(EX + "label"), lit("in two graphs"), G1),
        ox.Quad(b("shared"), n(EX + "label"), lit("in two graphs"), G2),  # the same triple, two graphs
        ox.Quad(study, n("http://purl.org/dc/terms/title"), lit("Made up \"quotes\" </script> & ünïcode"), G2),
        ox.Quad(n(EX + "default"), n(EX + "p"), lit("in the default graph")),
    ]


def made_up(order: int = 1) -> ox.Store:
    store = ox.Store()
    for quad in _made_up_quads()[::order]:
        store.add(quad)
    return store


def test_made_up_jsonld_expands_to_exactly_the_quads(tmp_path: Path) -> None:
    store = made_up()
    path = tmp_path / "x.jsonld"
    path.write_text(store_to_jsonld(store), encoding="utf-8")
    got = read_jsonld(path)
    assert got == quads_of(store)  # blank node labels are kept by both sides
    typed = {(str(q[1]), str(q[2]), str(q[2].datatype)) for q in got if isinstance(q[2], Literal) and q[2].datatype}
    assert (EX + "score", "1.0", XSD_NS + "double") in typed  # rdflib shows the double 1 as 1.0
    assert (EX + "when", "2020-02-29", XSD_NS + "date") in typed
    assert (SMQI + "useNumber", "3", XSD_NS + "integer") in typed  # as Oxigraph holds it
    assert (SMQI + "useNumber", "4", XSD_NS + "decimal") in typed


def test_made_up_jsonld_shape() -> None:
    doc = json.loads(store_to_jsonld(made_up()))
    default, g1, g2 = doc["@graph"]
    assert default == {"@id": EX + "default", EX + "p": "in the default graph"}
    assert g1["@id"] == EX + "g1" and g2["@id"] == EX + "g2"
    nodes = {n["@id"]: n for n in g1["@graph"]}
    use = nodes["kg:use/madeup2020-1"]
    assert use["use_no"] == "3" and use["smqi:useNumber"] == {"@value": "4", "@type": "xsd:decimal"}
    assert use["platforms"] == [EX + "elsewhere/x", "twitter", "vocab:platform/host"]  # host: a term
    assert use["smqi:platform"] == "a literal" and use["reported_in"] == "kg:study/madeup2020"
    assert use["smqi:reportedIn"] == "not an IRI"
    study = nodes["kg:study/madeup2020"]
    assert study["@type"] == ["Study", EX + "Other"]
    assert study["year"] == "2020" and study["fabio:hasPublicationYear"] == "2020"
    assert study[EX + "score"] == [{"@type": "xsd:double", "@value": "0.5"}, {"@type": "xsd:double", "@value": "1"}]
    assert study[EX + "flag"] is True
    assert study[EX + "big"] == {"@type": "xsd:integer", "@value": "123456789012345678901234567890"}
    assert study[EX + "link"] == {"@id": "_:shared"}
    assert {"@id": "_:shared", EX + "label": "in two graphs"} in g2["@graph"]


def test_made_up_union_files_and_stable_bytes(tmp_path: Path) -> None:
    a = write_dataset_files(made_up(1), tmp_path / "a")
    b = write_dataset_files(made_up(-1), tmp_path / "b")  # the same quads added in the other order
    for first, second in zip(a, b):
        assert first.read_bytes() == second.read_bytes(), first.name
    lines = (tmp_path / "a" / "smqi.nt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(_made_up_quads()) - 2  # two triples are in both graphs: written once each
    assert sum(1 for line in lines if "in two graphs" in line) == 1


def test_compactor_never_takes_a_term_that_would_change_the_value() -> None:
    compactor = Compactor(local_context())
    n, lit = ox.NamedNode, ox.Literal
    assert compactor.property_value(SMQI + "useNumber", lit("1", datatype=n(XSD_NS + "integer"))) == (
        "use_no", "1", False)
    assert compactor.property_value(SMQI + "useNumber", lit("1", datatype=n(XSD_NS + "positiveInteger"))) == (
        "smqi:useNumber", {"@value": "1", "@type": "xsd:positiveInteger"}, False)
    assert compactor.property_value(SMQI + "host", lit("x")) == ("smqi:host", "x", False)
    assert compactor.property_value(SMQI + "host", n("https://w3id.org/smqi/vocab/host/research-team")) == (
        "host", "research-team", False)
    assert compactor.iri("https://w3id.org/smqi/ontology#Study", vocab=True) == "Study"
    assert compactor.iri("https://w3id.org/smqi/ontology#Study") == "smqi:Study"
    assert compactor.iri("http://example.org/x") == "http://example.org/x"


def test_graphs_larger_than_the_sort_limit_stream_and_still_give_every_quad(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Past kg.io.store.SORT_LIMIT a graph streams in the store's order (a subject may come in several
    runs in an in-memory store): the files still hold every quad, and each union triple once."""
    import kg.io.store

    monkeypatch.setattr(kg.io.store, "SORT_LIMIT", 2)
    store = made_up()
    runs = list(kg.io.store.quads_by_subject(store, G1))
    assert sorted(map(str, (q for _s, qs in runs for q in qs))) == sorted(
        str(q) for q in store.quads_for_pattern(None, None, None, G1))
    assert all(q.subject == s for s, qs in runs for q in qs)
    folder = tmp_path / "out"
    write_dataset_files(store, folder)
    assert read_jsonld(folder / "smqi.jsonld") == quads_of(store)
    assert set(ox.parse(path=str(folder / "smqi.nq"), format=ox.RdfFormat.N_QUADS)) == set(store)
    lines = (folder / "smqi.nt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(set(lines)) == len({q.triple for q in store})


def test_a_plain_graph_reads_the_union_of_the_jsonld_graphs(built) -> None:
    """kg.io.rdf.parse_into(Graph(), smqi.jsonld): every triple of every named graph, once."""
    store, folder, _ = built
    graph = parse_into(Graph(), folder / "smqi.jsonld")
    assert len(graph) == len({q.triple for q in store}) > 6000
