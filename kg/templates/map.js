/* smqi-kg interactive evidence map (written for smqi-kg; no library, no network).
   It reads the rows embedded in map.html (<script id="map-data">, the named queries' results),
   filters and groups them: any two dimensions as rows and columns, a segment dimension, filters on
   every dimension and free text, a cell opens the cards of its studies, the view lives in the URL
   fragment, and the view's table downloads as CSV. Without this script the page still shows the
   platform x QI activity table and every study's card. */
(function () {
  "use strict";
  var node = document.getElementById("map-data");
  if (!node) { return; }
  var data = JSON.parse(node.textContent);
  var NONE = "_none";
  var PALETTE = ["#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b",
                 "#b83280", "#4a5568", "#c05621", "#276749", "#553c9a"];
  var dims = {};
  data.dimensions.forEach(function (d) {
    d.labels = {};
    d["values"].forEach(function (v) { d.labels[v.key] = v.label; });
    dims[d.key] = d;
  });
  var studies = {};
  data.studies.forEach(function (s) { studies[s.id] = s; });
  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  var haystack = {};
  data.studies.forEach(function (s) {
    haystack[s.id] = fold([s.id, s.title, s.first_author, s.journal, s.year, s.summary].join(" \n "));
  });
  function keysOf(use, dim) {
    var list = dims[dim].level === "use" ? use[dim] : studies[use.study][dim];
    return list.length ? list : [NONE];
  }
  var $ = function (id) { return document.getElementById(id); };
  var state = {};

  /* ---- the view in the URL fragment: #x=…&y=…&seg=…&q=…&hide=1&f.DIM=k1,k2&cell=ROW|COLUMN ---- */
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    var pick = function (name, fallback) { var v = p.get(name); return v && dims[v] ? v : fallback; };
    state = {x: pick("x", data["default"].x), y: pick("y", data["default"].y), seg: pick("seg", ""),
             q: p.get("q") || "", hide: p.get("hide") === "1", filters: {}, cell: p.get("cell") || ""};
    data.dimensions.forEach(function (d) {
      var keys = (p.get("f." + d.key) || "").split(",").filter(function (k) { return k in d.labels; });
      if (keys.length) { state.filters[d.key] = keys; }
    });
  }
  function writeHash() {
    var p = new URLSearchParams();
    p.set("x", state.x);
    p.set("y", state.y);
    if (state.seg) { p.set("seg", state.seg); }
    if (state.q) { p.set("q", state.q); }
    if (state.hide) { p.set("hide", "1"); }
    Object.keys(state.filters).sort().forEach(function (k) { p.set("f." + k, state.filters[k].join(",")); });
    if (state.cell) { p.set("cell", state.cell); }
    history.replaceState(null, "", "#" + p.toString());
  }

  /* ---- filtering and grouping ---- */
  function passes(use) {
    var words = fold(state.q).split(/\s+/).filter(Boolean);
    if (words.some(function (w) { return haystack[use.study].indexOf(w) < 0; })) { return false; }
    return Object.keys(state.filters).every(function (dim) {
      var wanted = state.filters[dim];
      return keysOf(use, dim).some(function (k) { return wanted.indexOf(k) >= 0; });
    });
  }
  function group() {
    var cells = {}, all = {}, uses = 0, matched = [];
    data.uses.forEach(function (use) {
      if (!passes(use)) { return; }
      uses += 1;
      matched.push(use);
      all[use.study] = true;
      keysOf(use, state.y).forEach(function (r) {
        keysOf(use, state.x).forEach(function (c) {
          var cell = cells[r + "|" + c] || (cells[r + "|" + c] = {studies: {}, segments: {}});
          cell.studies[use.study] = true;
          if (state.seg) {
            keysOf(use, state.seg).forEach(function (s) {
              (cell.segments[s] || (cell.segments[s] = {}))[use.study] = true;
            });
          }
        });
      });
    });
    return {cells: cells, studies: Object.keys(all).sort(), uses: uses, matched: matched};
  }
  function count(set) { return set ? Object.keys(set).length : 0; }
  function shown(view, dim, isRow) {
    return dims[dim]["values"].filter(function (v) {
      if (!state.hide) { return true; }
      return Object.keys(view.cells).some(function (k) {
        var parts = k.split("|");
        return (isRow ? parts[0] : parts[1]) === v.key;
      });
    });
  }

  /* ---- drawing ---- */
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function segmentColour(key) {
    var i = dims[state.seg]["values"].map(function (v) { return v.key; }).indexOf(key);
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }
  function drawTable(view) {
    var x = dims[state.x], y = dims[state.y], cols = shown(view, state.x, false), rows = shown(view, state.y, true);
    var peak = 1;
    Object.keys(view.cells).forEach(function (k) { peak = Math.max(peak, count(view.cells[k].studies)); });
    var table = $("map-table");
    table.textContent = "";
    var head = el("tr");
    head.appendChild(el("th", {scope: "col", "class": "corner"}, y.label + " \\ " + x.label));
    cols.forEach(function (c) { head.appendChild(el("th", {scope: "col", "data-key": c.key}, c.label)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    rows.forEach(function (r) {
      var tr = body.appendChild(el("tr"));
      tr.appendChild(el("th", {scope: "row", "data-key": r.key}, r.label));
      cols.forEach(function (c) {
        var key = r.key + "|" + c.key, cell = view.cells[key], n = cell ? count(cell.studies) : 0;
        var td = tr.appendChild(el("td", {"data-row": r.key, "data-column": c.key, "data-count": String(n)}));
        if (!n) {
          td.className = "gap";
          td.appendChild(el("span", {"class": "gap-mark", title: r.label + " × " + c.label + ": gap, no study"}, "gap"));
          return;
        }
        td.className = "cell l" + Math.max(1, Math.ceil(5 * n / peak)) + (state.cell === key ? " chosen" : "");
        var parts = [r.label + " × " + c.label + ": " + n + (n === 1 ? " study" : " studies")];
        var button = td.appendChild(el("button", {type: "button", "data-cell": key}));
        button.appendChild(el("span", {"class": "n"}, String(n)));
        if (state.seg) {
          var bar = button.appendChild(el("span", {"class": "segments"}));
          var total = 0;
          Object.keys(cell.segments).forEach(function (s) { total += count(cell.segments[s]); });
          dims[state.seg]["values"].forEach(function (v) {
            var m = count(cell.segments[v.key]);
            if (!m) { return; }
            parts.push(v.label + " " + m);
            var seg = bar.appendChild(el("span", {"data-segment": v.key, "data-count": String(m)}));
            seg.style.width = (100 * m / total) + "%";
            seg.style.background = segmentColour(v.key);
          });
        }
        button.setAttribute("aria-label", parts.join("; "));
        button.title = parts.join("\n");
      });
    });
  }
  function drawLegend() {
    var box = $("map-legend");
    box.textContent = "";
    if (!state.seg) { return; }
    box.appendChild(el("span", {}, "Segments (" + dims[state.seg].label + "): "));
    dims[state.seg]["values"].forEach(function (v) {
      var item = box.appendChild(el("span", {"class": "key"}));
      var swatch = item.appendChild(el("span", {"class": "swatch"}));
      swatch.style.background = segmentColour(v.key);
      item.appendChild(document.createTextNode(v.label));
    });
  }
  function usesOf(view, id) {
    return view.matched.filter(function (u) { return u.study === id; });
  }
  function drawCards(view) {
    var chosen = {}, title, matchUse;
    if (state.cell === "*") {
      view.studies.forEach(function (id) { chosen[id] = true; });
      title = view.studies.length + " studies in this view";
      matchUse = function () { return true; };
    } else if (state.cell && view.cells[state.cell]) {
      var rc = state.cell.split("|");
      chosen = view.cells[state.cell].studies;
      title = count(chosen) + (count(chosen) === 1 ? " study: " : " studies: ") + dims[state.y].label + " " +
        (dims[state.y].labels[rc[0]] || rc[0]) + " × " + dims[state.x].label + " " + (dims[state.x].labels[rc[1]] || rc[1]);
      matchUse = function (u) { return keysOf(u, state.y).indexOf(rc[0]) >= 0 && keysOf(u, state.x).indexOf(rc[1]) >= 0; };
    }
    var open = !!title;
    $("map-cards").hidden = !open;
    $("map-cards-close").hidden = !open;
    if (!open) { return; }
    $("map-cards-title").textContent = title;
    $("map-cards-note").textContent = "Uses marked “in this cell” are the ones that put the study here.";
    document.querySelectorAll("#card-list .card").forEach(function (card) {
      var id = card.getAttribute("data-study");
      card.hidden = !chosen[id];
      if (card.hidden) { return; }
      var hits = usesOf(view, id).filter(matchUse).map(function (u) { return String(u.use_no); });
      card.querySelectorAll("li[data-use]").forEach(function (li) {
        li.classList.toggle("match", hits.indexOf(li.getAttribute("data-use")) >= 0);
      });
    });
  }
  var current = null;
  function draw() {
    var view = group();
    current = view;
    $("map-title").textContent = dims[state.y].label + " by " + dims[state.x].label;
    $("map-status").textContent = view.studies.length + " studies and " + view.uses + " uses in this view" +
      (Object.keys(state.filters).length || state.q ? " (filtered)." : ".");
    drawLegend();
    drawTable(view);
    drawCards(view);
    data.dimensions.forEach(function (d) {
      var n = (state.filters[d.key] || []).length;
      document.querySelector('details[data-dimension="' + d.key + '"] .chosen').textContent = n ? "(" + n + ")" : "";
    });
    writeHash();
  }
  function syncControls() {
    $("map-x").value = state.x;
    $("map-y").value = state.y;
    $("map-segment").value = state.seg;
    $("map-q").value = state.q;
    $("map-hide").checked = state.hide;
    document.querySelectorAll('#map-controls input[type="checkbox"][name^="f."]').forEach(function (box) {
      box.checked = (state.filters[box.name.slice(2)] || []).indexOf(box.value) >= 0;
    });
  }
  function fromControls() {
    var axes = state.x !== $("map-x").value || state.y !== $("map-y").value;
    state.x = $("map-x").value;
    state.y = $("map-y").value;
    state.seg = $("map-segment").value;
    state.q = $("map-q").value.trim();
    state.hide = $("map-hide").checked;
    state.filters = {};
    document.querySelectorAll('#map-controls input[type="checkbox"][name^="f."]:checked').forEach(function (box) {
      (state.filters[box.name.slice(2)] || (state.filters[box.name.slice(2)] = [])).push(box.value);
    });
    if (axes && state.cell !== "*") { state.cell = ""; }
    draw();
  }

  /* ---- the view's table as CSV ---- */
  function spreadsheet_safe(value) {
    /* A text cell that a spreadsheet would read as a formula gets a leading apostrophe. */
    var text = String(value);
    return /^[=+\-@\t\r]/.test(text) ? "'" + text : text;
  }
  function csvField(value) {
    var text = typeof value === "number" ? String(value) : spreadsheet_safe(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function viewCsv() {
    var view = current || group(), x = dims[state.x], y = dims[state.y], seg = state.seg ? dims[state.seg] : null;
    var header = [y.key, y.label, x.key, x.label, "studies"];
    if (seg) { seg["values"].forEach(function (v) { header.push(seg.label + ": " + v.label); }); }
    header.push("study_ids");
    var lines = [header];
    shown(view, state.y, true).forEach(function (r) {
      shown(view, state.x, false).forEach(function (c) {
        var cell = view.cells[r.key + "|" + c.key], row = [r.key, r.label, c.key, c.label, cell ? count(cell.studies) : 0];
        if (seg) { seg["values"].forEach(function (v) { row.push(cell ? count(cell.segments[v.key]) : 0); }); }
        row.push(cell ? Object.keys(cell.studies).sort().join(" ") : "");
        lines.push(row);
      });
    });
    return lines.map(function (row) { return row.map(csvField).join(","); }).join("\r\n") + "\r\n";
  }
  function download(name, text, type) {
    var url = URL.createObjectURL(new Blob(["\ufeff" + text], {type: type}));
    var a = el("a", {href: url, download: name});
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }

  /* ---- wiring ---- */
  $("map-controls").hidden = false;
  $("download-csv").hidden = false;
  $("map-all").hidden = false;
  $("map-controls").addEventListener("change", fromControls);
  $("map-controls").addEventListener("submit", function (e) { e.preventDefault(); fromControls(); });
  $("map-q").addEventListener("input", fromControls);
  $("map-clear").addEventListener("click", function () {
    state.filters = {};
    state.q = "";
    syncControls();
    fromControls();
  });
  $("map-table").addEventListener("click", function (e) {
    var button = e.target.closest("button[data-cell]");
    if (!button) { return; }
    state.cell = button.getAttribute("data-cell");
    draw();
    $("map-cards").scrollIntoView();
  });
  $("map-all").addEventListener("click", function () { state.cell = "*"; draw(); $("map-cards").scrollIntoView(); });
  $("map-cards-close").addEventListener("click", function () { state.cell = ""; draw(); });
  $("download-csv").addEventListener("click", function () {
    download("smqi-map-" + state.y + "-by-" + state.x + ".csv", viewCsv(), "text/csv;charset=utf-8");
  });
  window.addEventListener("hashchange", function () { readHash(); syncControls(); draw(); });
  readHash();
  syncControls();
  draw();
  window.smqiMap = {viewCsv: viewCsv, spreadsheet_safe: spreadsheet_safe, state: function () { return state; }};
})();
