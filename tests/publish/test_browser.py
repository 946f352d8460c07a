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
        return result["result"]["value"]


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
