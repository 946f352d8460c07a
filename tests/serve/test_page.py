"""The query page at / of `smqi serve` (kg/serve/page.py): exact checks on the HTML, then a real run
in headless Chromium (the DevTools harness of tests/publish/test_browser.py): choose or type a
query, run it, read the table and the download links. The store is made up (three triples)."""

from __future__ import annotations

import html
import http.client
import json
import re
import time

import pyoxigraph as ox
import pytest

from kg.io.queries import list_queries, load_query
from kg.serve.describe import NOTICE
from kg.serve.front import start_front
from kg.serve.page import page_queries, query_page, query_parameters
from kg.serve.server import start_server

HTML = query_page().decode("utf-8")


def test_page_is_offline_and_self_contained() -> None:
    assert re.findall(r"<(?:link|img|iframe|object|embed)\b", HTML) == ["<link"]
    assert HTML.count('<link rel="icon" href="data:,">') == 1  # no favicon request either
    assert re.findall(r"<script\b[^>]*\bsrc=", HTML) == []
    assert re.findall(r"(?:url\(|@import)", HTML) == []
    assert re.findall(r"""(?:href|src|action)=["']?(?:https?:)?//""", HTML) == []
    assert re.findall(r"https?://", HTML.split('<script type="application/json" id="queries">')[0]) == []


def test_page_has_the_editor_menu_results_and_notice() -> None:
    for element in ('<textarea id="query" spellcheck="false">', '<select id="named">',
                    '<button id="run" type="button">Run</button>', '<div id="results"></div>',
                    '<div class="downloads" id="downloads"></div>', '<a href="/query"><code>/query</code></a>'):
        assert HTML.count(element) == 1, element
    assert HTML.count(f'<p class="notice" id="notice">{html.escape(NOTICE)}</p>') == 1
    assert "not the review's own 40 studies" in NOTICE
    assert "innerHTML" not in HTML  # values go in as text only


def test_page_menu_holds_every_named_query() -> None:
    embedded = HTML.split('<script type="application/json" id="queries">', 1)[1].split("</script>", 1)[0]
    menu = json.loads(embedded)
    assert menu == page_queries()
    assert [q["name"] for q in menu] == [q.qualified_name for q in list_queries()]
    assert all(q["summary"] and q["text"] for q in menu)


@pytest.mark.parametrize(("name", "params"), [
    ("claim-studies-per-key", ["property"]),
    ("agreement-single", ["property", "subset"]),
    ("agreement-disagreements", ["property", "subset"]),
    ("studies-per-platform", []),
])
def test_parameters_come_from_the_description(name: str, params: list[str]) -> None:
    assert query_parameters(load_query(name)) == params


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("page") / "store"
    db = ox.Store(str(folder))
    for i, label in enumerate(("alpha", "beta", "<b>gamma</b>")):
        db.add(ox.Quad(ox.NamedNode(f"urn:s:{i}"), ox.NamedNode("urn:p"), ox.Literal(label), ox.NamedNode("urn:g")))
    db.flush()
    del db
    with start_server(folder, "127.0.0.1", timeout=120) as backend:
        with start_front(backend.query_url, "127.0.0.1", 0, max_rows=100, timeout=120) as running:
            yield running


def test_front_serves_the_page(front) -> None:
    connection = http.client.HTTPConnection(front.host, front.port, timeout=60)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert (response.status, response.getheader("Content-Type"), response.read()) == (
        200, "text/html; charset=utf-8", query_page())
    connection.request("POST", "/", body=b"x", headers={"Content-Type": "text/plain"})
    response = connection.getresponse()
    assert (response.status, response.getheader("Allow")) == (405, "GET, HEAD")
    response.read()
    connection.close()


def test_page_runs_a_query_in_chromium(front, request: pytest.FixtureRequest) -> None:
    browser = pytest.importorskip("publish.test_browser", reason="the DevTools harness of tests/publish")
    if browser.CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    page = request.getfixturevalue("page")
    page.errors.clear()
    page.failed.clear()
    page.load(f"{front.base}/")
    page.evaluate('document.getElementById("query").value = '
                  '"SELECT ?s ?o WHERE { ?s <urn:p> ?o } ORDER BY ?s"; document.getElementById("run").click(); 1')
    deadline = time.monotonic() + 60
    while not page.evaluate('document.querySelectorAll("#download-csv").length'):
        assert time.monotonic() < deadline, page.evaluate('document.getElementById("status").textContent')
        time.sleep(0.1)
    cells = page.evaluate('Array.from(document.querySelectorAll("#results tr")).map('
                          'r => Array.from(r.cells).map(c => c.textContent))')
    assert cells == [["s", "o"], ["urn:s:0", "alpha"], ["urn:s:1", "beta"], ["urn:s:2", "<b>gamma</b>"]]
    assert page.evaluate('document.querySelectorAll("#results b").length') == 0
    assert page.evaluate('document.getElementById("status").textContent') == "3 rows."
    csv = page.evaluate('fetch(document.getElementById("download-csv").href).then(r => r.text())')
    assert csv == "s,o\r\nurn:s:0,alpha\r\nurn:s:1,beta\r\nurn:s:2,<b>gamma</b>\r\n"
    data = json.loads(page.evaluate('fetch(document.getElementById("download-json").href).then(r => r.text())'))
    assert [b["o"]["value"] for b in data["results"]["bindings"]] == ["alpha", "beta", "<b>gamma</b>"]
    assert page.errors == [] and page.failed == []


# the Chromium session of tests/publish/test_browser.py, used by the test above when it can be imported
try:
    from publish.test_browser import page  # noqa: F401,E402
except Exception:  # no websocket-client or no harness: the Chromium test skips
    pass
