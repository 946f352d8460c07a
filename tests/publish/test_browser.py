"""The report in a real browser: headless Chromium loads it from a loopback HTTP server.

How errors are observed (chosen for robustness over parsing Chromium's stderr log, whose format
changes between versions): Chromium starts with ``--remote-debugging-port=0`` and writes the port
it picked to ``DevToolsActivePort`` in its fresh profile folder; the test attaches to the page over
the DevTools protocol (websocket-client) and records
- console errors: ``Runtime.consoleAPICalled`` (error/assert), ``Runtime.exceptionThrown`` and
  ``Log.entryAdded`` with level error (Chromium's own "Failed to load resource" messages);
- failed requests: ``Network.loadingFailed`` and responses with HTTP status >= 400 (the server is a
  real http.server, so a missing asset is a 404 the browser sees).
A control page with a broken image and a console.error proves the recorder catches both.

Chromium flags as in the machine notes: no sandbox (root), no GPU, no background networking, no
first-run, component updates or sync, no QUIC, and a new --user-data-dir.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kg.publish import docs
from kg.derive import network
from kg.publish import report
from kg.io import queries as kq
from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib
from kg.io.store import store_from_dataset
from kg.derive.claims import check_claims
from kg.derive.typology import derive

# Under CI (.ci/run installs Chromium and the test extra) a missing tool fails instead of skipping.
if os.environ.get("CI"):
    import websocket
else:
    websocket = pytest.importorskip("websocket", reason="websocket-client is a test dependency (pip install -e '.[test]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Chromium is not installed (.ci/run installs the "
                                                         "Debian package chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--hide-scrollbars",
         "--window-size=1400,1000", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"]
TIMEOUT = 30.0
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


class Page:
    """One DevTools page session: send commands, record console errors and failed requests."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.events: list[str] = []
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")

    def _record(self, msg: dict) -> None:
        method, params = msg.get("method"), msg.get("params", {})
        self.events.append(method)
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.loadingFailed":
            self.failed.append(f"failed: {params.get('errorText')} ({params.get('requestId')})")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            self.failed.append(f"HTTP {params['response']['status']}: {params['response']['url']}")

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                assert "error" not in msg, (method, msg["error"])
                return msg.get("result", {})
            self._record(msg)
        raise TimeoutError(method)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while method not in self.events:
            assert time.monotonic() < deadline, f"timed out waiting for {method}"
            self._record(json.loads(self.ws.recv()))

    def settle(self, seconds: float = 0.5) -> None:
        """Read events for a short while after load (late console messages, failed images)."""
        self.ws.settimeout(0.1)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self._record(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                pass
        self.ws.settimeout(TIMEOUT)

    def load(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.settle()

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")  # undefined has no value


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("site")
    kg = assemble()
    derive(kg.dataset)
    report.write_report(store_from_dataset(kg.dataset), root / "report", claims=check_claims(kg.dataset),
                        network_report=network.analyse(kg.dataset))
    many = assemble(Path(__file__).parents[1] / "report" / "many")  # made up: 8 studies in one cell
    derive(many.dataset)
    report.write_report(store_from_dataset(many.dataset), root / "many", claims=None,
                        network_report=network.analyse(many.dataset), cell_studies=5, study_rows=3)
    docs.write_docs(root / "docs")
    (root / "control.html").write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<img src="missing.svg" alt="x"><script>console.error("made-up control error")</script></body></html>',
        encoding="utf-8")
    study_ids = [str(r[0]) for r in kq.run_query(kg.dataset, "study-table").rows]
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", study_ids
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert proc.poll() is None, "Chromium exited at start"
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        with NO_PROXY.open(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT) as response:
            targets = json.load(response)
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        session = Page(ws_url)
        yield session
        session.ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_recorder_catches_errors_and_failed_requests(site, page: Page) -> None:
    base, _ = site
    page.errors.clear()
    page.failed.clear()
    page.load(f"{base}/control.html")
    assert any("made-up control error" in e for e in page.errors), page.errors
    assert any("missing.svg" in f and "404" in f for f in page.failed), page.failed


def test_report_renders_without_errors(site, page: Page, tmp_path: Path) -> None:
    base, study_ids = site
    page.errors.clear()
    page.failed.clear()
    page.load(f"{base}/report/index.html")
    assert page.errors == []
    assert page.failed == []
    facts = page.evaluate("""(() => ({
        images: [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth,
                                                h: i.naturalHeight, shown: i.getBoundingClientRect().width})),
        studies: [...document.querySelectorAll('#study-table tr[data-study]')].map(r => r.dataset.study),
        visibleTitles: [...document.querySelectorAll('#study-table td.title')].filter(td => td.offsetHeight > 0).length,
        cells: document.querySelectorAll('#gap-map-table td[data-count]').length,
        filled: document.querySelectorAll('#gap-map-table td[data-count]:not([data-count="0"])').length,
        css: getComputedStyle(document.querySelector('.notice')).borderLeftStyle,
        notice: document.querySelector('#notice').innerText,
        height: document.documentElement.scrollHeight,
    }))()""")
    assert sorted(i["src"] for i in facts["images"]) == sorted(f"figures/{f}" for f in report.FIGURES)
    for image in facts["images"]:
        assert image["w"] > 100 and image["h"] > 100 and image["shown"] > 100, image  # drawn, not broken
    assert facts["studies"] == study_ids and len(study_ids) > 0
    assert facts["visibleTitles"] == len(study_ids)
    assert facts["cells"] > 100 and facts["filled"] > 10
    assert facts["css"] == "solid"  # report.css was loaded and applied
    assert "not the review's own list of 40 studies" in facts["notice"]
    shot = page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": 1400, "height": min(facts["height"], 9000), "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1400 and height > 2000
    (tmp_path / "report.png").write_bytes(png)
    if os.environ.get("SMQI_SCREENSHOT"):  # e.g. SMQI_SCREENSHOT=report.png to look at it
        Path(os.environ["SMQI_SCREENSHOT"]).write_bytes(png)


def test_docs_render_without_errors_and_link_back(site, page: Page) -> None:
    base, _ = site
    page.errors.clear()
    page.failed.clear()
    page.load(f"{base}/report/index.html")
    docs_href = page.evaluate("document.querySelector('a[href$=\"docs/index.html\"]').href")
    page.load(docs_href)
    assert page.errors == [] and page.failed == []
    counts = page.evaluate("[document.querySelectorAll('.term').length, "
                           "document.querySelectorAll('tr[data-concept]').length]")
    assert counts[0] > 40 and counts[1] > 300


def test_a_shortened_cell_opens_in_place(site, page: Page) -> None:
    base, _ = site
    page.errors.clear()
    page.failed.clear()
    page.load(f"{base}/many/index.html")
    assert page.errors == [] and page.failed == []
    cell = '#gap-map-table td[data-platform="facebook"][data-activity="consultation"] .ids'
    before = page.evaluate(f"document.querySelector('{cell}').textContent.trim()")
    assert before.split()[:5] == ["manyalpha2020", "manybravo2020", "manycharlie2020", "manydelta2020",
                                  "manyecho2020"] and before.endswith("+ 3 more")
    assert page.evaluate(f"(document.querySelector('{cell} a.more').click(), true)")
    after = page.evaluate(f"document.querySelector('{cell}').textContent")
    assert after.split() == [f"many{n}2020" for n in ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                                                      "golf", "hotel")]
    assert page.errors == []


# ---------------------------------------------------------------- the interactive evidence map (map.html)

STUDIES_WITH = """
PREFIX smqi: <https://w3id.org/smqi/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT DISTINCT ?row ?column ?study_id WHERE {
  ?study smqi:studyId ?study_id ; smqi:reportsUse ?use .
  ?use smqi:%s/skos:notation ?row ; smqi:%s/skos:notation ?column .
  %s
}"""


def cells_by_sparql(store, row: str, column: str, extra: str = "") -> dict[str, list[str]]:
    """ROW|COLUMN -> sorted study ids, by SPARQL on the store: the oracle of the map's cells (row and
    column are smqi properties; extra is more of the WHERE clause, all constants of this test)."""
    found: dict[str, set[str]] = {}
    for solution in store.query(STUDIES_WITH % (row, column, extra), use_default_graph_as_union=True):
        found.setdefault(f"{solution['row'].value}|{solution['column'].value}", set()).add(solution["study_id"].value)
    return {k: sorted(v) for k, v in found.items()}


@pytest.fixture(scope="module")
def evidence_map(tmp_path_factory: pytest.TempPathFactory):
    """The real data's report folder, opened from disk (file://, as a user double-clicks it)."""
    out = tmp_path_factory.mktemp("map") / "report"
    kg = assemble()
    derive(kg.dataset)
    store = store_from_dataset(kg.dataset)
    report.write_report(store, out, claims=check_claims(kg.dataset), network_report=network.analyse(kg.dataset))
    return out, store


def shown_cells(page: Page) -> dict[str, int]:
    return page.evaluate("""Object.fromEntries([...document.querySelectorAll('#map-table td[data-row]')]
        .map(td => [td.dataset.row + '|' + td.dataset.column, +td.dataset.count]))""")


def screenshot(page: Page, path: Path, width: int) -> bytes:
    height = page.evaluate("document.documentElement.scrollHeight")
    shot = page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                     clip={"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] == width
    path.write_bytes(png)
    return png


def test_the_evidence_map_from_disk(evidence_map, page: Page, tmp_path: Path) -> None:
    """One session: default view, new axes and segment, a filter and free text, a cell's cards, the URL
    fragment round trip, the CSV download, and the page (and the report) at 400 px."""
    import csv
    import io

    folder, store = evidence_map
    url = (folder / "map.html").as_uri()
    page.send("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    page.errors.clear()
    page.failed.clear()
    page.load(url)
    assert page.errors == [] and page.failed == []
    assert "not the review's own list of 40 studies" in page.evaluate("document.getElementById('notice').innerText")
    assert page.evaluate("document.getElementById('map-controls').hidden") is False
    assert page.evaluate("document.getElementById('map-cards').hidden") is True  # no cell chosen yet
    default = cells_by_sparql(store, "platform", "qiActivity")
    assert {k: v for k, v in shown_cells(page).items() if v} == {k: len(v) for k, v in default.items()}
    gaps = page.evaluate("[...document.querySelectorAll('#map-table td.gap')].map(td => td.innerText)")
    assert gaps and set(gaps) == {"gap"}

    # new axes and a segment
    page.evaluate("""(() => { const set = (id, v) => { const s = document.getElementById(id); s.value = v;
        s.dispatchEvent(new Event('change', {bubbles: true})); };
        set('map-y', 'host'); set('map-x', 'model-of-use'); set('map-segment', 'communication-model'); })()""")
    expected = cells_by_sparql(store, "host", "modelOfUse")
    assert {k: v for k, v in shown_cells(page).items() if v} == {k: len(v) for k, v in expected.items()}
    assert page.evaluate("document.getElementById('map-title').textContent") == "host by model of use"
    segments = page.evaluate("document.querySelectorAll('#map-table .segments span[data-segment]').length")
    assert segments >= len(expected)

    # a filter (platform twitter) and free text
    page.evaluate("""(() => { const box = document.querySelector('input[name="f.platform"][value="twitter"]');
        box.click(); })()""")
    twitter = cells_by_sparql(store, "host", "modelOfUse",
                              "?use smqi:platform/skos:notation 'twitter' .")
    assert {k: v for k, v in shown_cells(page).items() if v} == {k: len(v) for k, v in twitter.items()}
    words = "hospital"
    page.evaluate(f"""(() => {{ const q = document.getElementById('map-q'); q.value = '{words}';
        q.dispatchEvent(new Event('input', {{bubbles: true}})); }})()""")
    rows = {r["study_id"]: r for r in csv.DictReader((Path(__file__).parents[2] / "data" / "studies.csv")
                                                     .open(newline="", encoding="utf-8"))}
    text = {s: " ".join((r["study_id"], r["title"], r["first_author"], r["journal"], r["year"], r["summary"])).lower()
            for s, r in rows.items()}
    both = {k: [s for s in v if words in text[s]] for k, v in twitter.items()}
    both = {k: v for k, v in both.items() if v}
    assert both and {k: v for k, v in shown_cells(page).items() if v} == {k: len(v) for k, v in both.items()}

    # a cell opens its studies as cards
    cell = max(both, key=lambda k: (len(both[k]), k))
    page.evaluate(f"document.querySelector('#map-table button[data-cell=\"{cell}\"]').click()")
    cards = page.evaluate("""[...document.querySelectorAll('#card-list .card')].filter(c => !c.hidden)
        .map(c => ({id: c.dataset.study, title: c.querySelector('h3').innerText,
                    matched: [...c.querySelectorAll('li.match')].map(li => li.dataset.use),
                    links: [...c.querySelectorAll('.links a')].map(a => a.href)}))""")
    assert [c["id"] for c in cards] == both[cell]
    for card in cards:
        assert card["title"] == rows[card["id"]]["title"] and card["matched"], card
        assert card["links"], card
    fragment = page.evaluate("location.hash")
    state = dict(p.split("=", 1) for p in fragment.lstrip("#").split("&"))
    assert (state["y"], state["x"], state["seg"], state["f.platform"], state["q"], state["cell"]) == (
        "host", "model-of-use", "communication-model", "twitter", words, cell.replace("|", "%7C"))
    table = shown_cells(page)

    # the view's table as CSV: the numbers on screen, formula-like text neutralised
    text_csv = page.evaluate("window.smqiMap.viewCsv()")
    parsed = list(csv.reader(io.StringIO(text_csv)))
    assert parsed[0][:5] == ["host", "host", "model-of-use", "model of use", "studies"]
    assert {f"{r[0]}|{r[2]}": int(r[4]) for r in parsed[1:]} == table
    assert {f"{r[0]}|{r[2]}": r[-1].split() for r in parsed[1:] if r[-1]} == both
    assert page.evaluate("['=1+1', '+a', '-a', '@a', '\\tx', '\\rx', 'a=b', ''].map(window.smqiMap.spreadsheet_safe)") == [
        "'=1+1", "'+a", "'-a", "'@a", "'\tx", "'\rx", "a=b", ""]
    page.send("Page.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path))
    page.evaluate("document.getElementById('download-csv').click()")
    saved = tmp_path / "smqi-map-host-by-model-of-use.csv"
    deadline = time.monotonic() + TIMEOUT
    while not saved.is_file():
        assert time.monotonic() < deadline, "the CSV download did not arrive"
        page.settle(0.1)
    assert saved.read_text(encoding="utf-8-sig").replace("\r\n", "\n") == text_csv.replace("\r\n", "\n")
    screenshot(page, tmp_path / "map-1400.png", 1400)

    # the fragment restores the view in a fresh page
    page.load("about:blank")
    page.load(url + fragment)
    assert page.errors == [] and page.failed == []
    assert page.evaluate("['map-y', 'map-x', 'map-segment', 'map-q'].map(id => document.getElementById(id).value)") == [
        "host", "model-of-use", "communication-model", words]
    assert page.evaluate("document.querySelector('input[name=\"f.platform\"][value=\"twitter\"]').checked") is True
    assert shown_cells(page) == table
    assert page.evaluate("[...document.querySelectorAll('#card-list .card')].filter(c => !c.hidden)"
                         ".map(c => c.dataset.study)") == both[cell]
    assert page.evaluate("location.hash") == fragment

    # the network figure as Chromium draws it: every node has a text, no two texts overlap
    page.load((folder / "figures" / "network.svg").as_uri())
    boxes = page.evaluate("""[...document.querySelectorAll('text[data-node]')].map(t => {
        const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; })""")
    svg = (folder / "figures" / "network.svg").read_text(encoding="utf-8")
    assert len(boxes) == len(re.findall(r'<text[^>]*data-node="\d+"', svg)) > 30  # each node's text is drawn
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]

    # 400 px: nothing runs off the page (the wide table scrolls in its own box); so does the report
    page.send("Emulation.setDeviceMetricsOverride", width=400, height=900, deviceScaleFactor=1, mobile=True)
    page.load("about:blank")  # the same URL again would be a same-document navigation with no load event
    page.load(url + fragment)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths == [400, 400], widths
    screenshot(page, tmp_path / "map-400.png", 400)
    page.load((folder / "index.html").as_uri())
    assert page.errors == [] and page.failed == []
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths == [400, 400], widths
    screenshot(page, tmp_path / "report-400.png", 400)
    page.send("Emulation.clearDeviceMetricsOverride")
    if os.environ.get("SMQI_SCREENSHOT_DIR"):  # a folder of your choice, to look at them
        for png in tmp_path.glob("*.png"):
            shutil.copy(png, Path(os.environ["SMQI_SCREENSHOT_DIR"]) / png.name)
