"""`smqi serve` speaks the SPARQL 1.1 Protocol: the W3C protocol tests, case by case, and real clients.

The W3C cases (tests/w3c-sparql-protocol/, see its NOTICE.md) run over their own data, loaded as the
named graphs the manifest gives, behind the read-only front on 127.0.0.1. Every query case must
pass; the update cases must be refused. Then SPARQLWrapper and rdflib's SPARQLStore (with a graph
identifier) query the same endpoint, the service description, CORS, HEAD and OPTIONS are checked.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS

from kg.serve.front import start_front
from kg.serve.server import start_server

SUITE = Path(__file__).resolve().parent.parent / "w3c-sparql-protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
KASEI = "http://kasei.us/2009/09/sparql/data/"
FOAF_DOC = "http://xmlns.com/foaf/0.1/Document"
MANIFEST = Graph().parse(SUITE / "manifest.ttl", format="turtle")
ENTRIES = list(Collection(MANIFEST, MANIFEST.value(URIRef(SUITE.joinpath("manifest.ttl").as_uri()), MF.entries)))
QUERY_CASES = [e for e in ENTRIES if "update" not in e.split("#")[-1]]
UPDATE_CASES = [e for e in ENTRIES if "update" in e.split("#")[-1]]
RESULT_TYPES = {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"}
RDF_TYPES = {"text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("protocol") / "store"
    db = ox.Store(str(folder))
    for data in sorted(MANIFEST.objects(None, UT.graphData)):
        name = ox.NamedNode(str(MANIFEST.value(data, RDFS.label)))
        path = SUITE / Path(str(MANIFEST.value(data, UT.graph))).name
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES):
            db.add(ox.Quad(triple.subject, triple.predicate, triple.object, name))
    db.add_graph(ox.NamedNode(KASEI + "data0.rdf"))  # named as a default-graph-uri, without data
    db.flush()
    del db
    return folder


@pytest.fixture(scope="module")
def front(store: Path):
    with start_server(store, "127.0.0.1", timeout=120) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=100, timeout=120) as running:
            yield running


def send(front, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One raw request (http.client adds no Content-Type of its own)."""
    connection = http.client.HTTPConnection(front.host, front.port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def requests_of(case) -> list:
    action = MANIFEST.value(case, MF.action)
    return list(Collection(MANIFEST, MANIFEST.value(action, HT.requests)))


def run_request(front, request) -> tuple[int, dict[str, str], bytes]:
    path = str(MANIFEST.value(request, HT.absolutePath))
    assert path.startswith("/sparql/")
    headers = {}
    listed = MANIFEST.value(request, HT.headers)
    for header in (Collection(MANIFEST, listed) if listed is not None else []):
        headers[str(MANIFEST.value(header, HT.fieldName))] = str(MANIFEST.value(header, HT.fieldValue))
    content = MANIFEST.value(request, HT.body)
    body = None
    if content is not None:
        encoding = str(MANIFEST.value(content, CNT.characterEncoding) or "UTF-8")
        body = str(MANIFEST.value(content, CNT.chars)).encode(encoding)
    return send(front, str(MANIFEST.value(request, HT.methodName)), "/query" + path[len("/sparql"):], headers, body)


def check_response(request, status: int, headers: dict[str, str], body: bytes) -> None:
    expected = MANIFEST.value(request, HT.resp)
    classes = {str(s).rsplit("StatusCode", 1)[-1] for s in MANIFEST.objects(expected, MF.expectedStatus)}
    assert f"{str(status)[0]}xx" in classes, (status, body[:300], classes)
    kind = headers.get("content-type", "").split(";")[0].strip()
    expected_format = MANIFEST.value(expected, MF.expectedFormat)
    if expected_format == Literal("boolean"):
        assert kind in ("application/sparql-results+json", "application/sparql-results+xml"), kind
        answer = ox.parse_query_results(body, format=ox.QueryResultsFormat.from_media_type(kind))
        assert isinstance(answer, ox.QueryBoolean)
        wanted = MANIFEST.value(expected, MF.expectedBoolean)
        if wanted is not None:
            assert bool(answer) is wanted.toPython(), (bool(answer), body)
    elif expected_format == Literal("tabular"):
        assert kind in RESULT_TYPES, kind
        assert isinstance(ox.parse_query_results(body, format=ox.QueryResultsFormat.from_media_type(kind)),
                          ox.QuerySolutions)
    elif expected_format == Literal("RDF"):
        assert kind in RDF_TYPES, kind
        list(ox.parse(body, format=ox.RdfFormat.from_media_type(kind)))  # parses whole


def test_the_suite_has_its_twenty_query_cases() -> None:
    assert len(ENTRIES) == 34
    assert [e.split("#")[-1] for e in QUERY_CASES] == [
        "query_post_form", "query_dataset_default_graphs_get", "query_dataset_default_graphs_post",
        "query_dataset_named_graphs_post", "query_dataset_named_graphs_get", "query_dataset_full",
        "query_multiple_dataset", "query_get", "query_content_type_select", "query_content_type_ask",
        "query_content_type_describe", "query_content_type_construct", "query_post_direct", "bad_query_method",
        "bad_multiple_queries", "bad_query_wrong_media_type", "bad_query_missing_form_type",
        "bad_query_missing_direct_type", "bad_query_non_utf8", "bad_query_syntax"]


@pytest.mark.parametrize("case", QUERY_CASES, ids=lambda c: c.split("#")[-1])
def test_w3c_query_case(front, case) -> None:
    for request in requests_of(case):
        check_response(request, *run_request(front, request))


def count(front) -> int:
    status, _headers, body = send(front, "POST", "/query", {"Content-Type": "application/sparql-query"},
                                  b"SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert status == 200
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.split("#")[-1])
def test_w3c_update_case_is_refused(front, case) -> None:
    """The endpoint is read-only: the update request of each case is refused and changes nothing."""
    before = count(front)
    request = requests_of(case)[0]
    status, _headers, body = run_request(front, request)
    assert 400 <= status < 500, (status, body)
    assert count(front) == before == 3


def test_dataset_parameters_choose_the_graphs(front) -> None:
    one = "default-graph-uri=" + (KASEI + "data1.rdf").replace(":", "%3A").replace("/", "%2F")
    query = b"SELECT ?s WHERE { ?s a <http://xmlns.com/foaf/0.1/Document> }"
    status, _h, body = send(front, "POST", f"/query?{one}", {"Content-Type": "application/sparql-query"}, query)
    assert status == 200 and [b["s"]["value"] for b in json.loads(body)["results"]["bindings"]] == [KASEI + "data1.rdf"]
    status, _h, body = send(front, "POST", "/query", {"Content-Type": "application/sparql-query"},
                            b"SELECT (COUNT(*) AS ?n) FROM <" + (KASEI + "data2.rdf").encode() + b"> FROM NAMED <"
                            + (KASEI + "data3.rdf").encode() + b"> WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] == "2"


@pytest.mark.parametrize("where", ["FROM", "FROM NAMED", "default-graph-uri", "named-graph-uri"])
def test_an_iri_outside_the_dataset_is_refused(front, where: str) -> None:
    other = "http://127.0.0.1:9/elsewhere.ttl"
    if where.startswith("FROM"):
        status, _h, body = send(front, "POST", "/query", {"Content-Type": "application/sparql-query"},
                                f"ASK {where} <{other}> {{ }}".encode())
        source = "the query: " + where
    else:
        status, _h, body = send(front, "GET", f"/query?query=ASK%7B%7D&{where}=http%3A%2F%2F127.0.0.1%3A9%2Felsewhere.ttl")
        source = "the query: " + where
    assert status == 400
    assert body.decode() == (f"{source} <{other}> names no graph of this dataset, and smqi never fetches a graph "
                             f"from its IRI; its 4 graphs are: <{KASEI}data0.rdf>, <{KASEI}data1.rdf>, "
                             f"<{KASEI}data2.rdf>, <{KASEI}data3.rdf>\n")


@pytest.mark.parametrize(("query", "accept", "kind"), [
    ("CONSTRUCT WHERE { ?s ?p ?o }", None, "text/turtle"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "*/*", "text/turtle"),
    (f"DESCRIBE <{KASEI}data1.rdf>", None, "text/turtle"),
    (f"DESCRIBE <{KASEI}data1.rdf>", "*/*;q=0.8", "text/turtle"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "application/n-triples", "application/n-triples"),
    ("SELECT * WHERE { ?s ?p ?o }", None, "application/sparql-results+json"),
    ("SELECT * WHERE { ?s ?p ?o }", "*/*", "application/sparql-results+json"),
    ("ASK { ?s ?p ?o }", None, "application/sparql-results+json"),
    ("SELECT * WHERE { ?s ?p ?o }", "text/*", "text/csv"),
])
def test_default_formats(front, query: str, accept: str | None, kind: str) -> None:
    headers = {"Content-Type": "application/sparql-query", **({"Accept": accept} if accept else {})}
    status, got, _body = send(front, "POST", "/query", headers, query.encode())
    assert (status, got["content-type"].split(";")[0]) == (200, kind)


def test_post_without_a_content_type_is_415(front) -> None:
    assert send(front, "POST", "/query", {}, b"ASK {}")[::2] == (415, (
        b"a POST needs a Content-Type: application/sparql-query (the query as the body) or "
        b"application/x-www-form-urlencoded (query=\xe2\x80\xa6)\n"))
    assert send(front, "POST", "/query", {"Content-Type": "text/plain"}, b"ASK {}")[0] == 415


def test_two_queries_are_400(front) -> None:
    assert send(front, "GET", "/query?query=ASK%7B%7D&query=ASK%7B%7D")[::2] == (
        400, b"2 query= parameters: give exactly one query\n")
    assert send(front, "POST", "/query?query=ASK%7B%7D", {"Content-Type": "application/sparql-query"},
                b"ASK {}")[::2] == (400, b"two queries: the body and query= in the URL; give one\n")


def test_service_description(front) -> None:
    status, headers, body = send(front, "GET", "/query")
    assert status == 200 and headers["content-type"] == "text/turtle; charset=utf-8"
    graph = Graph().parse(data=body, format="turtle")
    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    service = graph.value(None, RDF.type, sd.Service)
    assert graph.value(service, sd.endpoint) == URIRef(f"http://127.0.0.1:{front.port}/query")
    assert graph.value(service, sd.supportedLanguage) == sd.SPARQL11Query
    assert set(graph.objects(service, sd.feature)) == {sd.UnionDefaultGraph}
    assert len(set(graph.objects(service, sd.resultFormat))) == 8
    names = {str(graph.value(n, sd.name)): graph.value(graph.value(n, sd.graph), URIRef("http://rdfs.org/ns/void#triples")).toPython()
             for n in graph.objects(graph.value(service, sd.defaultDataset), sd.namedGraph)}
    assert names == {KASEI + "data0.rdf": 0, KASEI + "data1.rdf": 1, KASEI + "data2.rdf": 1, KASEI + "data3.rdf": 1}
    status, headers, body = send(front, "GET", "/query", {"Accept": "application/ld+json"})
    assert (status, headers["content-type"]) == (200, "application/ld+json")
    assert len(Graph().parse(data=body, format="json-ld")) == len(graph)


def test_cors_head_and_options(front) -> None:
    status, headers, body = send(front, "GET", "/query?query=ASK%7B%7D", {"Origin": "http://example.org"})
    assert (status, headers["access-control-allow-origin"]) == (200, "*")
    status, head_headers, head_body = send(front, "HEAD", "/query?query=ASK%7B%7D")
    assert (status, head_body, head_headers["content-length"]) == (200, b"", str(len(body)))
    status, headers, body = send(front, "OPTIONS", "/query", {"Origin": "http://example.org",
                                                               "Access-Control-Request-Method": "POST"})
    assert (status, body) == (204, b"")
    assert headers["allow"] == headers["access-control-allow-methods"] == "GET, HEAD, POST, OPTIONS"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-headers"] == "Accept, Content-Type"
    status, headers, _body = send(front, "PUT", "/query", {"Content-Type": "text/turtle"}, b"")
    assert status == 403 and "access-control-allow-origin" not in headers


def test_sparqlwrapper_with_a_default_graph(front) -> None:
    from SPARQLWrapper import JSON, POST, SPARQLWrapper, TURTLE

    client = SPARQLWrapper(front.query_url)
    client.setReturnFormat(JSON)
    client.setQuery("SELECT ?s WHERE { ?s a <http://xmlns.com/foaf/0.1/Document> } ORDER BY ?s")
    rows = client.queryAndConvert()["results"]["bindings"]
    assert [r["s"]["value"] for r in rows] == [KASEI + f"data{i}.rdf" for i in (1, 2, 3)]
    client.addDefaultGraph(KASEI + "data2.rdf")
    for method in ("GET", POST):
        client.setMethod(method)
        rows = client.queryAndConvert()["results"]["bindings"]
        assert [r["s"]["value"] for r in rows] == [KASEI + "data2.rdf"]
    client = SPARQLWrapper(front.query_url)
    client.setQuery(f"CONSTRUCT WHERE {{ <{KASEI}data3.rdf> ?p ?o }}")
    client.setReturnFormat(TURTLE)
    graph = client.queryAndConvert()
    assert set(Graph().parse(data=graph, format="turtle")) == {
        (URIRef(KASEI + "data3.rdf"), RDF.type, URIRef(FOAF_DOC))}


def test_rdflib_sparqlstore_with_a_graph_identifier(front) -> None:
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(front.query_url, returnFormat="json")
    one = Graph(store, identifier=URIRef(KASEI + "data1.rdf"))
    assert list(one.triples((None, None, None))) == [(URIRef(KASEI + "data1.rdf"), RDF.type, URIRef(FOAF_DOC))]
    assert len(one) == 1
    union = Graph(SPARQLStore(front.query_url, returnFormat="json"))
    assert sorted(union.subjects(RDF.type, URIRef(FOAF_DOC))) == [URIRef(KASEI + f"data{i}.rdf") for i in (1, 2, 3)]


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory):
    """A made-up study under the dataset's IRIs, for the Linked Data GETs."""
    folder = tmp_path_factory.mktemp("ld") / "store"
    db = ox.Store(str(folder))
    study, use = ox.NamedNode("https://w3id.org/smqi/kg/study/test2020"), ox.NamedNode("https://w3id.org/smqi/kg/use/test2020-1")
    title = ox.NamedNode("http://purl.org/dc/terms/title")
    label = ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
    graph = ox.NamedNode("https://w3id.org/smqi/graph/evidence")
    db.add(ox.Quad(study, title, ox.Literal("A made-up study"), graph))
    db.add(ox.Quad(study, ox.NamedNode("https://w3id.org/smqi/ontology#reportsUse"), use, graph))
    db.add(ox.Quad(use, label, ox.Literal("use 1"), graph))
    db.flush()
    del db
    with start_server(folder, "127.0.0.1", timeout=120) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=100, timeout=120) as running:
            yield running


@pytest.mark.parametrize("path", ["/kg/study/test2020", "/describe?uri=https%3A%2F%2Fw3id.org%2Fsmqi%2Fkg%2Fstudy%2Ftest2020"])
def test_linked_data_get(described, path: str) -> None:
    status, headers, body = send(described, "GET", path)
    assert (status, headers["content-type"], headers["access-control-allow-origin"]) == (
        200, "text/turtle; charset=utf-8", "*")
    study = URIRef("https://w3id.org/smqi/kg/study/test2020")
    use = URIRef("https://w3id.org/smqi/kg/use/test2020-1")
    expected = {(study, URIRef("http://purl.org/dc/terms/title"), Literal("A made-up study")),
                (study, URIRef("https://w3id.org/smqi/ontology#reportsUse"), use),
                (use, URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"), Literal("use 1"))}
    assert set(Graph().parse(data=body, format="turtle")) == expected
    status, headers, body = send(described, "GET", path, {"Accept": "application/ld+json"})
    assert (status, headers["content-type"]) == (200, "application/ld+json")
    assert set(Graph().parse(data=body, format="json-ld")) == expected


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/kg/study/nobody1999", 404, "<https://w3id.org/smqi/kg/study/nobody1999>: the dataset has no triple about it\n"),
    ("/describe?uri=http%3A%2F%2Fexample.org%2Fx", 404,
     "<http://example.org/x> is not an IRI of this dataset (they start with https://w3id.org/smqi/)\n"),
    ("/describe?uri=not%20an%20iri", 400,
     "uri='not an iri' is not an IRI; give e.g. /describe?uri=https://w3id.org/smqi/kg/study/ahne2020\n"),
])
def test_linked_data_unknown(described, path: str, status: int, message: str) -> None:
    assert send(described, "GET", path)[::2] == (status, message.encode())


def test_linked_data_as_html_for_a_browser(described) -> None:
    """A browser's Accept gets an HTML page of the same triples (values escaped, the dataset's IRIs
    linked to their own pages, the data notice); an RDF Accept listed first still gets RDF."""
    from htmltree import parse

    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    status, headers, body = send(described, "GET", "/kg/study/test2020", {"Accept": browser})
    assert (status, headers["content-type"], headers["vary"]) == (200, "text/html; charset=utf-8", "Accept")
    page = parse(body.decode("utf-8"))
    rows = [[td.text for td in tr.find_all("td")] for tr in page.find("tbody").find_all("tr")]
    assert rows == [
        ["https://w3id.org/smqi/kg/study/test2020", "http://purl.org/dc/terms/title", "A made-up study"],
        ["https://w3id.org/smqi/kg/study/test2020", "https://w3id.org/smqi/ontology#reportsUse",
         "https://w3id.org/smqi/kg/use/test2020-1"],
        ["https://w3id.org/smqi/kg/use/test2020-1", "http://www.w3.org/2004/02/skos/core#prefLabel", "use 1"]]
    links = [a.attrs["href"] for a in page.find("tbody").find_all("a")]
    assert links == ["/kg/study/test2020", "/kg/study/test2020",
                     "/describe?uri=https%3A%2F%2Fw3id.org%2Fsmqi%2Fontology%23reportsUse", "/kg/use/test2020-1",
                     "/kg/use/test2020-1"]
    (notice,) = [p.text for p in page.find_all("p") if p.attrs.get("class") == "notice"]
    assert "not the review's own 40 studies" in notice
    status, headers, _body = send(described, "GET", "/kg/study/test2020", {"Accept": "text/turtle, text/html"})
    assert headers["content-type"] == "text/turtle; charset=utf-8"
