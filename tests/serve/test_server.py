"""`smqi serve`: the real Oxigraph server on loopback, read-only, over the built graph.

Each test talks to a server this module starts on a free 127.0.0.1 port and stops afterwards.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kg.cli import main
from pipelinedata import pipeline_data
from kg.io.queries import list_queries, run_query
from kg.serve.server import find_oxigraph, start_server
from kg.io.store import query_endpoint, write_store
from kg.derive.typology import derive

CQ = [q for q in list_queries() if q.kind == "cq"]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def call(url: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


@pytest.fixture(scope="module")
def dataset():
    kg = pipeline_data()
    derive(kg.dataset)
    return kg.dataset


@pytest.fixture(scope="module")
def store_folder(dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve") / "store"
    write_store(dataset, folder)
    return folder


@pytest.fixture(scope="module")
def server(store_folder: Path):
    with start_server(store_folder, "127.0.0.1", timeout=120) as running:  # every query here finishes, under any load
        yield running
    assert running.process.poll() is not None


@pytest.fixture(scope="module")
def hasty_server(store_folder: Path):
    """The same store behind a 2 s timeout, for a query that cannot finish in any time (no race)."""
    with start_server(store_folder, "127.0.0.1", timeout=2) as running:
        yield running


def test_binary_is_the_real_oxigraph_server() -> None:
    assert Path(find_oxigraph()).name == "oxigraph"


def test_bound_to_loopback(server) -> None:
    assert server.host == "127.0.0.1" and server.query_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("accept", "kind", "start"), [
    ("application/sparql-results+json", "application/sparql-results+json", '{"head":{"vars":["n"]}'),
    ("text/csv", "text/csv", "n\r\n"),
    ("application/sparql-results+xml", "application/sparql-results+xml", "<?xml"),
])
def test_get_and_post_by_accept_header(server, accept: str, kind: str, start: str) -> None:
    answers = [
        call(f"{server.query_url}?query={urllib.parse.quote(COUNT)}", headers={"Accept": accept}),
        call(server.query_url, COUNT.encode(), {"Accept": accept, "Content-Type": "application/sparql-query"}),
        call(server.query_url, urllib.parse.urlencode({"query": COUNT}).encode(),
             {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for status, content_type, body in answers:
        assert status == 200 and content_type.startswith(kind) and body.startswith(start), body[:100]
    assert len({body for _s, _c, body in answers}) == 1


def test_updates_are_refused(server) -> None:
    insert = b"INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }"
    for url, body, ctype, method in [
        (server.update_url, insert, "application/sparql-update", "POST"),
        (server.query_url, insert, "application/sparql-query", "POST"),
        (f"{server.store_url}?default", b"<urn:x:a> <urn:x:b> <urn:x:c> .", "application/n-triples", "PUT"),
        (f"{server.store_url}?default", None, None, "DELETE"),
    ]:
        status, _ctype, _body = call(url, body, {"Content-Type": ctype} if ctype else {}, method)
        assert 400 <= status < 500, (url, method, status)
    status, _c, body = call(server.query_url, b"ASK { <urn:x:a> ?p ?o }",
                            {"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
    assert json.loads(body)["boolean"] is False


def test_timeout_stops_a_runaway_query(hasty_server) -> None:
    slow = b"SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # ~10^11 rows: cannot finish
    status, _ctype, body = call(hasty_server.query_url, slow, {"Content-Type": "application/sparql-query",
                                                                "Accept": "text/csv"})
    # Oxigraph has already sent 200 and the header when the timeout fires: the body ends in its notice
    assert status >= 400 or "cancelled" in body, (status, body[:200])
    assert "\r\n0\r\n" not in body and not body.rstrip().split("\r\n")[-1].isdigit()


@pytest.mark.parametrize("query", CQ, ids=lambda q: q.name)
def test_named_queries_same_rows_via_endpoint(server, dataset, query) -> None:
    local = run_query(dataset, query)
    remote = query_endpoint(server.query_url, query)
    assert remote.variables == local.variables

    def norm(rows):
        return sorted((tuple(None if v is None else tuple(sorted(str(v).split(" "))) for v in r) for r in rows),
                      key=str)

    assert norm(remote.rows) == norm(local.rows)
    if "study-table" not in query.name:  # GROUP_CONCAT order is unspecified; elsewhere terms are equal
        assert sorted(remote.rows, key=str) == sorted(local.rows, key=str)


def test_query_command_with_endpoint_and_param(server, capsys: pytest.CaptureFixture) -> None:
    assert main(["query", "studies-per-platform", "--endpoint", server.query_url, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["head"]["vars"][0] == "key" and document["results"]["bindings"]
    closed = server.query_url.replace(f":{server.port}/", ":1/")
    assert main(["query", "studies-per-platform", "--endpoint", closed]) == 2
    err = capsys.readouterr().err
    assert closed in err and "Traceback" not in err


def made_up_store(folder: Path, triples: int) -> Path:
    """A store folder of ``triples`` made-up triples (urn:smqi-test:…), as a build leaves it."""
    import pyoxigraph as ox

    store = ox.Store(str(folder))
    for i in range(triples):
        store.add(ox.Quad(ox.NamedNode(f"urn:smqi-test:s{i}"), ox.NamedNode("urn:smqi-test:p"), ox.Literal(str(i)),
                          ox.NamedNode("urn:smqi-test:g")))
    store.flush()
    del store
    return folder


def test_a_new_build_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    """The build folder is swapped as `smqi build` swaps it; the front then answers from the new store,
    and the previous server runs on until its queries in flight have had their timeout."""
    from kg.serve.front import start_front
    from kg.serve.server import StoreFollower

    build = tmp_path / "build"
    build.mkdir()
    made_up_store(build / "store", 1)
    said: list[str] = []
    server = start_server(build / "store", "127.0.0.1", timeout=30)
    front = start_front(server.query_url, timeout=30)
    follower = StoreFollower(build / "store", front, server, timeout=30, say=said.append)
    try:
        def count() -> int:
            status, _type, body = call(f"{front.query_url}?query={urllib.parse.quote(COUNT)}",
                                       headers={"Accept": "application/sparql-results+json"})
            assert status == 200, body
            return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])

        assert count() == 1 and follower.check(now=0) is False
        (tmp_path / "next").mkdir()
        made_up_store(tmp_path / "next" / "store", 3)
        build.rename(tmp_path / "previous")
        (tmp_path / "next").rename(build)
        assert follower.check(now=0) is True and follower.swaps == 1
        assert count() == 3
        assert server.process.poll() is None  # still there for the queries that started on it
        follower.check(now=follower.retire_after - 1)
        assert server.process.poll() is None
        follower.check(now=follower.retire_after + 1)
        assert server.process.poll() is not None and follower.retiring == []
        assert said == [f"smqi serve: picked up a new build of {build / 'store'} (queries in flight finish on "
                        "the previous one)"]
        # a new build folder whose store does not open: the current one stays, with a message
        build.rename(tmp_path / "second")
        build.mkdir()
        (build / "store").mkdir()
        (build / "store" / "CURRENT").write_text("not a store\n", encoding="utf-8")
        assert follower.check(now=100) is False and count() == 3
        assert said[-1].startswith(f"smqi serve: a new build in {build / 'store'} does not open yet (")
    finally:
        front.stop()
        follower.stop()
