"""The interactive evidence map of the report (``map.html``): data from SPARQL, a page that reads
without script, and a small script that filters and groups.

The data are the rows of three named queries over the built store (``queries/report/map-studies``,
``map-study-values``, ``map-use-values``) and the concepts of each coding dimension's vocabulary
(``report-concepts``; typology models in rule order, ``report-rule-priorities``). They are arranged,
never counted, into one JSON document (:func:`collect_map`): the dimensions with their values in
display order, the studies (what a card shows and the study-level codings) and the uses (the
use-level codings). It is embedded in the page as ``<script type="application/json">`` (a page opened
from disk cannot fetch() its files) and written beside it as ``data/map.json``.

The page (:func:`render_map`) is complete without script: the platform × QI activity table with the
studies of each cell as links, and a card for every study. ``map.js`` then turns it into the
interactive map: any two dimensions as rows and columns, a segment dimension, filters on every
dimension and free text, cells that open their studies' cards, the view in the URL fragment and CSV /
JSON downloads. A study is in a cell when one of its uses that passes the filters has both keys
(study-level codings hold for every use of the study), as in the report's gap map.

Above ``MAP_STUDIES`` studies the page carries no data and says so (the page and its data would be
too large for a browser); the report's ``data/`` files still hold every list.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox

from kg.io.store import query_store
from kg.model.namespaces import scheme_iri
from kg.publish.pages import environment, script_json, template_text

__all__ = ["Dimension", "DIMENSIONS", "MAP_STUDIES", "MAP_FILES", "NONE_KEY", "DEFAULT_VIEW",
           "collect_map", "render_map", "write_map"]

MAP_STUDIES = 2000  # studies at most for which map.html embeds its data
MAP_FILES = ("map.html", "map.js", "data/map.json")
NONE_KEY = "_none"  # the value of a use or study with no key in a dimension (e.g. country not stated)


@dataclass(frozen=True)
class Dimension:
    """One coding dimension of the map.

    ``level``: ``use`` (coded per use) or ``study`` (holds for every use of the study). ``scheme``: the
    vocabulary whose concepts are the values (``None``: the values found in the data, e.g. year
    bands). ``every``: show every concept of the vocabulary, so that empty rows and columns (gaps)
    show; otherwise only the values some study has. ``missing``: the label of ``NONE_KEY``."""

    key: str
    label: str
    level: str
    scheme: str | None
    every: bool
    missing: str


DIMENSIONS = (
    Dimension("platform", "platform", "use", "platform", True, "no platform"),
    Dimension("communication-model", "communication model", "use", "communication-model", True, "not coded"),
    Dimension("host", "host", "use", "host", True, "not coded"),
    Dimension("user-population", "user population", "use", "user-population", True, "not coded"),
    Dimension("qi-activity", "QI activity", "use", "qi-activity", True, "not coded"),
    Dimension("qi-stage", "QI stage", "use", "qi-stage", True, "not coded"),
    Dimension("model-of-use", "model of use", "use", "typology", True, "unclassified"),
    Dimension("country", "country", "study", "country", False, "not stated"),
    Dimension("income-group", "income group", "study", "income-group", True, "no classified country"),
    Dimension("year-band", "year band", "study", None, False, "no year"),
    Dimension("study-design", "study design", "study", "study-design", True, "not coded"),
)
DEFAULT_VIEW = {"x": "qi-activity", "y": "platform", "segment": ""}
# World Bank income groups from high to low (their keys sort otherwise).
_INCOME_ORDER = {"HIC": 0, "UMC": 1, "LMC": 2, "LIC": 3}


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _rows(store: ox.Store, name: str, bindings: dict | None = None) -> list[dict[str, str]]:
    result = query_store(store, name, bindings)
    return [{k: _text(v) for k, v in zip(result.variables, row)} for row in result.rows]


def _concepts(store: ox.Store, slug: str) -> dict[str, str]:
    """key -> English label of every concept of the scheme (the key when it has no label)."""
    found: dict[str, str] = {}
    for row in _rows(store, "report-concepts", {"scheme": scheme_iri(slug)}):
        if row["label"] or row["notation"] not in found:
            found[row["notation"]] = row["label"] or row["notation"]
    return found


def _year_bands(present: set[str]) -> list[str]:
    """Every five-year band from the first to the last one present (empty ones are gaps)."""
    starts = sorted(int(band.split("-", 1)[0]) for band in present)
    if not starts:
        return []
    return [f"{y}-{y + 4}" for y in range(starts[0], starts[-1] + 1, 5)]


def _values(store: ox.Store, dim: Dimension, present: set[str], has_none: bool) -> list[dict[str, str]]:
    if dim.scheme is None:
        keys = _year_bands(present)
        labels = {k: k.replace("-", "–") for k in keys}
    else:
        labels = _concepts(store, dim.scheme)
        keys = [k for k in labels if dim.every or k in present]
        keys += sorted(present - set(labels))  # a key the vocabulary lacks still shows (never expected)
        if dim.scheme == "typology":
            rank = {r["key"]: int(r["priority"]) for r in _rows(store, "report-rule-priorities")}
            keys.sort(key=lambda k: (rank.get(k, 10**6), k))
        elif dim.scheme == "income-group":
            keys.sort(key=lambda k: (_INCOME_ORDER.get(k, 9), k))
        else:
            keys.sort(key=lambda k: (labels.get(k, k).lower(), k))
    values = [{"key": k, "label": labels.get(k, k)} for k in keys]
    if has_none:
        values.append({"key": NONE_KEY, "label": dim.missing})
    return values


def collect_map(store: ox.Store, *, notice: str) -> dict[str, Any]:
    """The map's data from the named queries on ``store`` (typology derived), ready for JSON.

    ``{"notice", "studies": [...], "uses": [...], "dimensions": [...], "default": {...}}``; a study has
    ``id, first_author, year, title, journal, doi, pmid, doi_url, pmid_url, summary, sources`` and one
    list of keys per study-level dimension; a use has ``study, use_no`` and one list per use-level
    dimension (empty: no key, shown as ``NONE_KEY``). Studies by id, uses by study and number."""
    studies: dict[str, dict[str, Any]] = {}
    for r in _rows(store, "map-studies"):
        doi, pmid = r["doi"], r["pmid"]
        studies[r["study_id"]] = {
            "id": r["study_id"], "first_author": r["first_author"], "year": r["year"], "title": r["title"],
            "journal": r["journal"], "doi": doi, "pmid": pmid, "summary": r["summary"],
            "doi_url": f"https://doi.org/{quote(doi, safe='/')}" if doi else "",
            "pmid_url": f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid, safe='')}/" if pmid else "",
            "sources": [], **{d.key: [] for d in DIMENSIONS if d.level == "study"},
            "study-design": [r["design"]] if r["design"] else []}
    for r in _rows(store, "map-study-values"):
        study = studies.get(r["study_id"])
        if study is not None:
            study["sources" if r["field"] == "source" else r["field"]].append(r["value"])
    uses: dict[tuple[str, int], dict[str, Any]] = {}
    for r in _rows(store, "map-use-values"):
        key = (r["study_id"], int(r["use_no"]))
        use = uses.setdefault(key, {"study": key[0], "use_no": key[1],
                                    **{d.key: [] for d in DIMENSIONS if d.level == "use"}})
        use[r["field"]].append(r["value"])
    ordered_uses = [uses[k] for k in sorted(uses)]
    dimensions = []
    for dim in DIMENSIONS:
        rows = studies.values() if dim.level == "study" else ordered_uses
        present = {k for row in rows for k in row[dim.key]}
        has_none = any(not row[dim.key] for row in rows)
        dimensions.append({"key": dim.key, "label": dim.label, "level": dim.level,
                           "values": _values(store, dim, present, has_none)})
    return {"notice": notice, "default": dict(DEFAULT_VIEW), "dimensions": dimensions,
            "studies": [studies[k] for k in sorted(studies)], "uses": ordered_uses}


def _static_view(data: dict[str, Any]) -> dict[str, Any]:
    """The default view (platform × QI activity, no filter) as the page shows it without script."""
    dims = {d["key"]: d for d in data["dimensions"]}
    x, y = dims[DEFAULT_VIEW["x"]], dims[DEFAULT_VIEW["y"]]
    cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    for use in data["uses"]:
        for yk in use[y["key"]] or [NONE_KEY]:
            for xk in use[x["key"]] or [NONE_KEY]:
                cells[(yk, xk)].add(use["study"])
    return {"x": x, "y": y, "cells": {f"{yk}|{xk}": sorted(ids) for (yk, xk), ids in cells.items()}}


def _card_view(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per study: the labels a card shows (study-level codings, and the codings of each use)."""
    labels = {d["key"]: {v["key"]: v["label"] for v in d["values"]} for d in data["dimensions"]}
    use_dims = [d for d in data["dimensions"] if d["level"] == "use"]
    by_study: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for use in data["uses"]:
        by_study[use["study"]].append({
            "use_no": use["use_no"],
            "codings": [(d["label"], [labels[d["key"]].get(k, k) for k in use[d["key"]]]
                         or [labels[d["key"]].get(NONE_KEY, "")]) for d in use_dims]})
    cards = []
    for study in data["studies"]:
        def named(dim: str) -> str:
            return ", ".join(labels[dim].get(k, k) for k in study[dim]) or labels[dim].get(NONE_KEY, "")
        cards.append({**study, "countries": named("country"), "design": named("study-design"),
                      "income": named("income-group"), "uses": by_study.get(study["id"], [])})
    return cards


def render_map(data: dict[str, Any] | None, *, studies: int, version: str, notice: str,
               report_href: str = "index.html", limit: int = MAP_STUDIES) -> str:
    """The HTML of map.html (autoescaped). ``data`` from :func:`collect_map`, or ``None`` when the
    build has more than ``limit`` studies (the page then says so and carries no data)."""
    return environment().from_string(template_text("map.html")).render(
        version=version, notice=notice, studies=studies, limit=limit, report_href=report_href,
        data=data, none_key=NONE_KEY,
        view=_static_view(data) if data else None, cards=_card_view(data) if data else [],
        map_json=script_json(data) if data else None)


def write_map(store: ox.Store, out: Path, *, studies: int, version: str, notice: str,
              limit: int = MAP_STUDIES) -> list[Path]:
    """Write ``out/map.html``, ``out/map.js`` and (when the map has data) ``out/data/map.json``;
    returns them. ``studies``: how many studies the build holds (above ``limit`` no query is run)."""
    data = collect_map(store, notice=notice) if studies <= limit else None
    html = render_map(data, studies=studies, version=version, notice=notice, limit=limit)
    (out / "data").mkdir(parents=True, exist_ok=True)
    written = [out / "map.html", out / "map.js"]
    (out / "map.js").write_text(template_text("map.js"), encoding="utf-8")
    if data is not None:
        (out / "data" / "map.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                                               encoding="utf-8")
        written.append(out / "data" / "map.json")
    (out / "map.html").write_text(html, encoding="utf-8")
    return written
