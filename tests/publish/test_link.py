"""`smqi link` against two made-up graphs, a loopback SPARQL endpoint, and `smqi query --with` (#5).

The fixtures in tests/link/ are made up (README.md there); some carry real DOIs/PMIDs of studies in
data/studies.csv, in the forms other graphs write them.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, VOID, XSD

from kg.cli import main
from kg.model import resources
from pipelinedata import pipeline_data
from kg.model.titles import normalise_title
from kg.publish.link import Properties, link, read_source

LINK = Path(__file__).parents[1] / "link"
A = "https://example.org/made-up-graph-a/"
W = "https://example.org/made-up-wikibase/entity/"
E = "https://example.org/made-up-endpoint/"
STUDY = "https://w3id.org/smqi/kg/study/"


@pytest.fixture(scope="module")
def ours():
    return pipeline_data().dataset


def run_link(ours, source: str, by=("doi", "pmid")):
    props = Properties()
    theirs, dataset = read_source(source, props)
    return link(ours, theirs, by=by, props=props, source=source, source_dataset=str(dataset))


def pairs(report) -> list[tuple[str, str]]:
    return [(o["study_id"], o["work"]) for o in report.overlaps]


def conflicts(report) -> list[tuple[str, str, str, str]]:
    return [(c["study_id"], c["field"], c["ours"], c["theirs"]) for c in report.conflicts]


def shipped(name: str) -> list[dict[str, str]]:
    """Rows of a shipped sheet (the oracle of the counts)."""
    import csv

    with (resources.data_dir() / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_schema_bibo_graph(ours) -> None:
    report = run_link(ours, str(LINK / "schema-bibo.ttl"))
    assert pairs(report) == [("baines2018", A + "work/4"), ("campbell2018", A + "work/3"),
                             ("davis2017", A + "work/1"), ("greaves2012", A + "work/2")]
    assert [o["via"] for o in report.overlaps] == [
        ["doi 10.1111/hex.12682"], ["pmid 28600452"], ["doi 10.2196/jmir.6946"], ["doi 10.1136/bmjqs-2012-000906"]]
    assert conflicts(report) == [
        ("baines2018", "title", "Responding effectively to adult mental health patient feedback in an online "
         "environment: A coproduced framework", "A made-up title that is not the study's title"),
        ("campbell2018", "year", "2018", "2019"),
    ]
    assert report.only_theirs == [A + "work/5"]
    studies = shipped("studies.csv")
    assert report.their_works == 5 and report.our_studies == len(studies)
    assert report.our_studies_with_identifier == sum(1 for r in studies if r["doi"] or r["pmid"])
    assert len(report.only_ours) == len(studies) - 4 and "davis2017" not in report.only_ours
    assert report.source_dataset == A + "dataset"


def test_wikidata_style_graph(ours) -> None:
    report = run_link(ours, str(LINK / "wikidata-style.jsonld"))
    assert pairs(report) == [("anikamadu2024", W + "W1"), ("bababekov2020", W + "W2"), ("bardach2016", W + "W3")]
    assert report.overlaps[0]["via"] == ["doi 10.2196/46945", "pmid 38687582"]
    assert conflicts(report) == [("bababekov2020", "pmid", "33033914", "33033915")]
    assert report.only_theirs == [W + "W4"]
    by_doi = run_link(ours, str(LINK / "wikidata-style.jsonld"), by=("doi",))
    assert pairs(by_doi) == [("anikamadu2024", W + "W1"), ("bababekov2020", W + "W2")]
    assert by_doi.their_works == 3  # W3 has only a PMID


OC = "https://example.org/made-up-oc/"
SG = "https://example.org/made-up-scigraph/"
F = "https://example.org/made-up-forms/"


def test_opencitations_style_identifier_nodes(ours) -> None:
    report = run_link(ours, str(LINK / "opencitations-style.ttl"))
    assert pairs(report) == [("anikamadu2024", OC + "br/1"), ("bardach2013", OC + "br/2")]
    assert [o["via"] for o in report.overlaps] == [["doi 10.2196/46945", "pmid 38687582"],
                                                   ["doi 10.1136/bmjqs-2012-001360"]]
    assert conflicts(report) == [("bardach2013", "year", "2013", "2014")]
    assert report.only_theirs == [OC + "br/3"]  # not the identifier nodes, not the author
    assert report.their_works == 3


def test_identifier_nodes_are_never_works(ours, capsys: pytest.CaptureFixture) -> None:
    # even when told that the identifier node's own value property holds DOIs
    assert main(["link", str(LINK / "opencitations-style.ttl"), "--format", "json",
                 "--property", "doi=literal:hasLiteralValue"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(o["study_id"], o["work"]) for o in doc["overlaps"]] == [
        ("anikamadu2024", OC + "br/1"), ("bardach2013", OC + "br/2")]
    assert doc["only_theirs"] == [OC + "br/3"] and doc["their_works"] == 3


def test_scigraph_style_graph(ours) -> None:
    report = run_link(ours, str(LINK / "scigraph-style.ttl"))
    assert pairs(report) == [("bababekov2020", SG + "art/2"), ("glover2015", SG + "art/3"),
                             ("hendrikx2018", SG + "art/1"), ("hu2019", SG + "art/5")]
    assert [o["via"] for o in report.overlaps] == [
        ["doi 10.1007/s00464-020-08028-y"], ["doi 10.1007/s11606-015-3236-3"],
        ["doi 10.1186/s12913-018-3566-z"], ["pmid 30974729"]]
    assert conflicts(report) == [("bababekov2020", "year", "2020", "2021")]  # hendrikx2018: same title up to case
    assert report.only_theirs == [SG + "art/4"] and report.their_works == 5


def test_identifiers_as_literals_in_every_usual_form(ours) -> None:
    report = run_link(ours, str(LINK / "literal-forms.ttl"))
    assert [(o["study_id"], o["work"], o["via"]) for o in report.overlaps] == [
        ("king2013", F + "f11", ["doi 10.1016/j.healthpol.2013.02.005"]),
        ("kleefstra2016", F + "f1", ["doi 10.2196/jmir.5552"]),
        ("okike2016", F + "f2", ["doi 10.2196/jmir.6612"]),
        ("pahwa2018", F + "f3", ["doi 10.2196/medinform.8154"]),
        ("powell2019", F + "f4", ["doi 10.3310/hsdr07380"]),
        ("rahim2021", F + "f5", ["pmid 34299905"]),
        ("sewalk2018", F + "f8", ["doi 10.2196/10043"]),
        ("sharma2020", F + "f9", ["doi 10.2196/17595"]),
        ("timian2013", F + "f10", ["pmid 23378059"]),
        ("wong2015", F + "f6", ["pmid 25707038"]),
        ("wu2019", F + "f7", ["pmid 31596245"]),
    ]
    assert report.their_works == 11 and report.only_theirs == [] and report.conflicts == []  # f12, f13: no identifier


def test_a_sparql_results_file_is_refused(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    source = LINK / "endpoint-results.json"
    assert main(["link", str(source)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"smqi link: error: {source}: this is a SPARQL query results document (JSON with "
                            "head and results), not RDF: give an RDF file (Turtle, N-Triples, TriG, JSON-LD) "
                            "or the SPARQL endpoint's URL\n")
    ask = tmp_path / "ask.json"
    ask.write_text('{"head": {}, "boolean": true}', encoding="utf-8")
    assert main(["link", str(ask)]) == 2
    assert "SPARQL query results document (JSON with head and boolean)" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonld"  # JSON-LD that says nothing
    empty.write_text('{"@context": {"x": "https://example.org/x"}, "y": 1}', encoding="utf-8")
    assert main(["link", str(empty)]) == 2
    assert capsys.readouterr().err == (f"smqi link: error: {empty}: holds no RDF triples, so no works to "
                                       "link (is it the file you meant?)\n")


def test_titles_compared_up_to_typography() -> None:
    assert normalise_title("Associations between X: an  Observational Study.") == \
        normalise_title("ASSOCIATIONS BETWEEN X - AN OBSERVATIONAL STUDY")
    assert normalise_title("Café, “quoted”") == "cafe quoted"


def test_cli_writes_a_void_linkset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "linkset.ttl"
    assert main(["link", str(LINK / "schema-bibo.ttl"), "--out", str(out), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"] == {"overlaps": 4, "only_ours": len(shipped("studies.csv")) - 4, "only_theirs": 1,
                             "conflicts": 2}
    g = Graph().parse(out)
    links = set(g.subject_objects(OWL.sameAs))
    assert links == {(URIRef(STUDY + s), URIRef(w)) for s, w in
                     [("baines2018", A + "work/4"), ("campbell2018", A + "work/3"),
                      ("davis2017", A + "work/1"), ("greaves2012", A + "work/2")]}
    (linkset,) = g.subjects(RDF.type, VOID.Linkset)
    assert g.value(linkset, VOID.linkPredicate) == OWL.sameAs
    assert g.value(linkset, VOID.subjectsTarget) == URIRef("https://w3id.org/smqi/kg/dataset")
    assert g.value(linkset, VOID.objectsTarget) == URIRef(A + "dataset")
    assert g.value(linkset, VOID.triples) == Literal(4, datatype=XSD.integer)


def test_query_with_other_graph_and_linkset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    linkset = tmp_path / "linkset.nt"
    assert main(["link", str(LINK / "schema-bibo.ttl"), "--out", str(linkset)]) == 0
    capsys.readouterr()
    rq = tmp_path / "shared.rq"
    rq.write_text("#+ summary: Our studies with the name the other graph gives them\n"
                  "PREFIX smqi: <https://w3id.org/smqi/ontology#>\nPREFIX owl: <http://www.w3.org/2002/07/owl#>\n"
                  "PREFIX schema: <http://schema.org/>\n"
                  "SELECT ?id ?name WHERE { ?s smqi:studyId ?id ; owl:sameAs ?w . ?w schema:name ?name } ORDER BY ?id\n",
                  encoding="utf-8")
    assert main(["query", str(rq), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["id,name"]  # our graph alone has no links
    assert main(["query", str(rq), "--format", "csv", "--with", str(LINK / "schema-bibo.ttl"),
                 "--with", str(linkset)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "id,name", "baines2018,A made-up title that is not the study's title",
        "davis2017,Public Response to Obamacare on Twitter"]
    # a named query still sees our evidence in the union
    assert main(["query", "studies-per-platform", "--format", "csv", "--with", str(linkset)]) == 0
    rating = len({u["study_id"] for u in shipped("uses.csv") if "rating-site" in u["platforms"].split(";")})
    assert f"rating-site,Rating and review site,{rating}" in capsys.readouterr().out.replace("\r", "")


def test_property_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "custom.ttl"
    other.write_text("# made up\n<https://example.org/made-up/x> <https://example.org/made-up#digitalObject> "
                     "\"DOI:10.2196/JMIR.6946\" .\n", encoding="utf-8")
    assert main(["link", str(other), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["overlaps"] == 0
    assert main(["link", str(other), "--format", "json",
                 "--property", "doi=<https://example.org/made-up#digitalObject>"]) == 0
    assert json.loads(capsys.readouterr().out)["overlaps"][0]["study_id"] == "davis2017"
    assert main(["link", str(other), "--property", "isbn=bibo:isbn"]) == 2
    assert "KIND one of doi, pmid" in capsys.readouterr().err
    assert main(["link", str(other), "--by", "isbn"]) == 2
    assert main(["link", str(tmp_path / "missing.ttl")]) == 2
    err = capsys.readouterr().err
    assert "missing.ttl: no such file" in err and "Traceback" not in err


# ---------------------------------------------------------------- a loopback SPARQL endpoint


class _Endpoint(BaseHTTPRequestHandler):
    answer: bytes = (LINK / "endpoint-results.json").read_bytes()
    status = 200
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
        type(self).seen.append({"accept": self.headers.get("Accept"), "form": parse_qs(body)})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture()
def endpoint():
    handler = type("Handler", (_Endpoint,), {"seen": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sparql", handler
    server.shutdown()
    server.server_close()


def test_link_against_a_loopback_endpoint(endpoint, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url, handler = endpoint
    out = tmp_path / "ls.ttl"
    assert main(["link", url, "--format", "json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(o["study_id"], o["work"]) for o in doc["overlaps"]] == [("davis2017", E + "e1"), ("greaves2013", E + "e2")]
    assert doc["only_theirs"] == [E + "e3"] and doc["conflicts"] == []
    (request,) = handler.seen
    assert request["accept"] == "application/sparql-results+json"
    assert "SELECT ?s ?p ?o" in request["form"]["query"][0]
    g = Graph().parse(out)
    (linkset,) = g.subjects(RDF.type, VOID.Linkset)
    assert g.value(URIRef(url), VOID.sparqlEndpoint) == URIRef(url)
    assert g.value(linkset, VOID.objectsTarget) == URIRef(url)


def test_endpoint_errors_exit_2_naming_the_url(endpoint, capsys: pytest.CaptureFixture) -> None:
    url, handler = endpoint
    handler.status = 500
    handler.answer = b"boom"
    assert main(["link", url]) == 2
    err = capsys.readouterr().err
    assert f"{url}: the SPARQL endpoint answered HTTP 500" in err and "Traceback" not in err
    handler.status = 200
    handler.answer = b"<html>not json</html>"
    assert main(["link", url]) == 2
    assert f"{url}: the answer is not SPARQL 1.1 JSON results" in capsys.readouterr().err


def test_refused_connection_exits_2_naming_the_url(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sparql"
    assert main(["link", url, "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"smqi link: error: {url}: connection refused: no SPARQL endpoint is listening there"


def test_link_reports_its_steps_with_progress(capsys: pytest.CaptureFixture) -> None:
    import re

    source = str(LINK / "schema-bibo.ttl")
    assert main(["link", source, "--format", "json", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert re.sub(r"… \(\d+\.\d s\)$", "…", err, flags=re.M).splitlines() == [
        f"smqi: reading {source}…", "smqi: reading our graph…", "smqi: matching on doi, pmid…"]
    assert json.loads(out)["counts"]["overlaps"] == 4
