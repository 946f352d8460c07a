"""The query page of `smqi serve` (``GET /``): one self-contained HTML document, written here.

It works offline: the CSS and the JavaScript are inline, nothing is loaded from another host (no
CDN, no font, no image). It has a SPARQL editor (a textarea), a menu of the named queries
(:func:`kg.io.queries.list_queries`: qualified name, ``#+ summary``, the parameters its description
names), fields for those parameters (bound by a ``VALUES`` block appended to the query, as
``smqi query --endpoint`` binds them), and the results as a table with CSV and JSON downloads
(CONSTRUCT and DESCRIBE answers as Turtle). It states that the evidence is an independent
extraction, not the review's own 40 studies. Every value is put into the page as text
(``textContent``), never as HTML.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache

from kg.io.queries import NamedQuery, list_queries
from kg.serve.describe import NOTICE

__all__ = ["query_page", "query_parameters", "page_queries"]

_PARAMETER_SENTENCE = re.compile(r"[^.]*(?:parameter|--param|[Bb]ind \?)[^.]*(?:\.|$)")
_VARIABLE = re.compile(r"\?([A-Za-z_][A-Za-z0-9_]*)")


def query_parameters(query: NamedQuery) -> list[str]:
    """The parameters a named query's ``#+ description`` names: the ``?variables`` of its sentences
    about parameters ("Optional parameters: ?property …", "Bind ?property with --param …"), in order."""
    found: list[str] = []
    for sentence in _PARAMETER_SENTENCE.findall(query.description):
        for name in _VARIABLE.findall(sentence):
            if name not in found and re.search(rf"[?$]{name}\b", query.text.split("\n", 2)[-1]):
                found.append(name)
    return found


def page_queries() -> list[dict[str, object]]:
    """The named queries as the page's menu holds them: name, summary, description, parameters, text."""
    return [{"name": q.qualified_name, "summary": q.summary, "description": q.description,
             "params": query_parameters(q), "text": q.text} for q in list_queries()]


_STYLE = """
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.notice { background: #fff7e0; border-left: 4px solid #d9a400; padding: .5em .8em; }
textarea { width: 100%; min-height: 16em; font: 13px/1.35 ui-monospace, monospace; box-sizing: border-box; }
select { max-width: 100%; }
#params label { display: inline-block; margin: .3em 1em .3em 0; }
#status { margin: .6em 0; white-space: pre-wrap; }
#status.error { color: #a00; }
table { border-collapse: collapse; margin-top: .5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
pre { background: #f6f6f6; padding: .6em; overflow: auto; }
.downloads a { margin-right: 1em; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var ENDPOINT = "/query";
  var queries = JSON.parse(document.getElementById("queries").textContent);
  var menu = document.getElementById("named");
  var editor = document.getElementById("query");
  var about = document.getElementById("about");
  var params = document.getElementById("params");
  var statusLine = document.getElementById("status");
  var results = document.getElementById("results");
  var downloads = document.getElementById("downloads");
  var urls = [];

  queries.forEach(function (q, i) {
    var option = document.createElement("option");
    option.value = String(i);
    option.textContent = q.name + " \u2014 " + q.summary + (q.params.length ? " (parameters: " + q.params.join(", ") + ")" : "");
    menu.appendChild(option);
  });

  function say(text, error) {
    statusLine.textContent = text;
    statusLine.className = error ? "error" : "";
  }

  menu.addEventListener("change", function () {
    var q = queries[Number(menu.value)];
    params.textContent = "";
    if (!q) { about.textContent = ""; return; }
    editor.value = q.text;
    about.textContent = q.description;
    q.params.forEach(function (name) {
      var label = document.createElement("label");
      label.textContent = "?" + name + " ";
      var input = document.createElement("input");
      input.name = name;
      input.placeholder = "<IRI>, a number or text (empty: unbound)";
      input.size = 40;
      label.appendChild(input);
      params.appendChild(label);
    });
  });

  function term(value) {
    if (/^<[^<>"{}|^`\\\s]*>$/.test(value)) { return value; }
    if (/^[+-]?\d+(\.\d+)?$/.test(value)) { return value; }
    return JSON.stringify(value);
  }

  function queryText() {
    var filled = Array.prototype.filter.call(params.querySelectorAll("input"), function (i) { return i.value.trim() !== ""; });
    if (!filled.length) { return editor.value; }
    return editor.value + "\nVALUES (" + filled.map(function (i) { return "?" + i.name; }).join(" ") + ") { (" +
      filled.map(function (i) { return term(i.value.trim()); }).join(" ") + ") }\n";
  }

  function ask(text, accept) {
    return fetch(ENDPOINT, {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept},
      body: new URLSearchParams({query: text}).toString()
    });
  }

  function clear() {
    results.textContent = "";
    downloads.textContent = "";
    urls.forEach(function (u) { URL.revokeObjectURL(u); });
    urls = [];
  }

  function offer(label, id, text, type, file) {
    var url = URL.createObjectURL(new Blob([text], {type: type}));
    urls.push(url);
    var a = document.createElement("a");
    a.id = id;
    a.href = url;
    a.download = file;
    a.textContent = label;
    downloads.appendChild(a);
  }

  function table(vars, rows) {
    var t = document.createElement("table");
    var head = t.createTHead().insertRow();
    vars.forEach(function (v) { var th = document.createElement("th"); th.textContent = v; head.appendChild(th); });
    var body = t.createTBody();
    rows.forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (value) { tr.insertCell().textContent = value; });
    });
    results.appendChild(t);
  }

  async function run() {
    clear();
    var text = queryText();
    say("Running\u2026");
    var answer;
    try {
      answer = await ask(text, "application/sparql-results+json, text/turtle;q=0.9");
    } catch (e) {
      say("The endpoint did not answer: " + e, true);
      return;
    }
    var body = await answer.text();
    if (!answer.ok) { say("HTTP " + answer.status + ": " + body, true); return; }
    var kind = (answer.headers.get("Content-Type") || "").split(";")[0];
    if (kind === "text/turtle") {
      var pre = document.createElement("pre");
      pre.textContent = body;
      results.appendChild(pre);
      offer("Turtle", "download-turtle", body, "text/turtle", "results.ttl");
      say("Answer: an RDF graph (Turtle).");
      return;
    }
    var doc = JSON.parse(body);
    if (typeof doc.boolean === "boolean") {
      table(["boolean"], [[String(doc.boolean)]]);
      say("Answer: " + doc.boolean + ".");
    } else {
      var vars = doc.head.vars;
      table(vars, doc.results.bindings.map(function (b) {
        return vars.map(function (v) { return b[v] ? b[v].value : ""; });
      }));
      say(doc.results.bindings.length + " row" + (doc.results.bindings.length === 1 ? "" : "s") + ".");
    }
    offer("JSON", "download-json", body, "application/sparql-results+json", "results.srj");
    var csv = await ask(text, "text/csv");
    if (csv.ok) { offer("CSV", "download-csv", await csv.text(), "text/csv", "results.csv"); }
  }

  document.getElementById("run").addEventListener("click", function () {
    run().catch(function (e) { say("Error: " + e, true); });
  });
})();
"""


@lru_cache(maxsize=1)
def query_page() -> bytes:
    """The whole page, UTF-8 encoded (made once: the named queries ship with the package)."""
    menu = json.dumps(page_queries(), ensure_ascii=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smqi-kg SPARQL query page</title>
<link rel="icon" href="data:,">
<style>{_STYLE}</style>
</head>
<body>
<h1>smqi-kg: query the knowledge graph</h1>
<p class="notice" id="notice">{html.escape(NOTICE)}</p>
<p>SPARQL 1.1 endpoint: <a href="/query"><code>/query</code></a> (GET or POST; without a query it
answers its service description). Pick a named query or write your own; the default graph is the
union of the named graphs.</p>
<p><label for="named">Named query:</label>
<select id="named"><option value="">(write your own)</option></select></p>
<p id="about"></p>
<div id="params"></div>
<textarea id="query" spellcheck="false">SELECT ?g (COUNT(*) AS ?triples) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g ORDER BY ?g</textarea>
<p><button id="run" type="button">Run</button></p>
<div id="status"></div>
<div class="downloads" id="downloads"></div>
<div id="results"></div>
<script type="application/json" id="queries">{menu}</script>
<script>{_SCRIPT}</script>
</body>
</html>
""".encode("utf-8")
