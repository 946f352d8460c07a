"""`smqi report`: a static, offline HTML evidence report generated from SPARQL over the graph.

Every number in the report is the result of a named query (``queries/cq/``, ``queries/report/``)
run with :func:`kg.io.store.query_store` on the built Oxigraph store, after the typology has been
derived; nothing is read from the CSV sheets or from an rdflib graph. Labels and the rows and columns
of the gap map (every concept of the vocabularies, so that empty cells, the gaps, show) come from the
vocabulary graph.

Output (``DIR/``): ``index.html``, ``report.css``, ``figures/*.svg`` and ``data/`` (the full lists:
``gap-map-studies.csv``/``.json``, ``studies.csv``/``.json``); no font, no CDN: the report opens from
disk or any static server with no network. HTML is rendered by Jinja2 with autoescaping on (study
titles may hold ``&``, ``<`` and quotes).

At every size the page stays readable: a build of at most ``STUDY_ROWS`` studies is shown whole (every
gap-map cell lists its studies, the study table has every study) and has no script at all. A larger
one shows, per cell, its count and the first ``CELL_STUDIES`` study ids then "+ N more" (a link to
``data/gap-map-studies.csv``), and the first ``STUDY_ROWS`` rows of the study table with a note
pointing to ``data/``. The full lists of the shortened cells are then embedded in the page as a
``<script type="application/json">`` block, which a few lines of script use to open a cell in place
(a page opened from disk cannot fetch() its data files); without script the links still work.

The review's claims come from ``kg.derive.claims.check_claims`` when that module is present; otherwise the
section says the claims are not available in this build.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyoxigraph as ox
from rdflib import Literal

from kg import __version__
from kg.publish import evidencemap, figures
from kg.publish.export import spreadsheet_safe
from kg.publish.pages import environment, script_json, template_text
from kg.model.errors import DataError
from kg.model.namespaces import scheme_iri
from kg.io.store import query_store

__all__ = ["ReportData", "collect", "render", "write_report", "write_data_files",
           "NOTICE", "FIGURES", "SECTIONS", "LEVELS", "CELL_STUDIES", "STUDY_ROWS", "DATA_FILES"]

NOTICE = (
    "The evidence in this report is an independent, dual-coded extraction of real studies that meet "
    "the inclusion criteria of the scoping review by Walsh et al. (Digital Health 2021, "
    "doi 10.1177/2055207621996870). It is not the review's own list of 40 studies, so every count "
    "differs from the review's. How it was assembled: data/METHODS.md in the smqi-kg sources."
)
NO_CLAIMS = "Claims are not available in this build."
LEVELS = 5  # shades of the gap map; level 0 is an empty cell (a gap)
FIGURES = ("typology.svg", "population-model.svg", "network.svg", "years.svg", "income.svg")
CELL_STUDIES = 5  # study ids a gap-map cell lists in a build larger than STUDY_ROWS studies
STUDY_ROWS = 200  # rows of the study table at most; a build of at most this many studies is shown whole
DATA_FILES = ("gap-map-studies.csv", "gap-map-studies.json", "studies.csv", "studies.json")
# The sections of index.html, in order: (id, title in the table of contents). A new section is one
# entry here and one <section id="…"> in kg/templates/report.html.
SECTIONS = (("gap-map", "Evidence gap map"), ("map", "Interactive map"), ("typology", "Typology"),
            ("network", "Network"), ("where", "Countries and income groups"), ("years", "Studies per year"),
            ("agreement", "Agreement of the coders"), ("claims", "The review's claims"), ("studies", "Studies"))
DIMENSION_NAMES = {"platform": "platform", "user-population": "user population",
                   "qi-activity": "QI activity", "communication-model": "communication model",
                   "host": "host"}

@dataclass(frozen=True)
class Concept:
    key: str
    label: str


@dataclass
class ReportData:
    """Everything the template shows, already in display order."""

    studies: int = 0
    uses: int = 0
    platforms: list[tuple[Concept, int]] = field(default_factory=list)  # (concept, studies)
    activities: list[tuple[Concept, int]] = field(default_factory=list)
    gap_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    gap_studies: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)  # key, label, uses, studies
    unclassified_uses: int = 0
    populations: list[Concept] = field(default_factory=list)
    population_model: dict[tuple[str, str], int] = field(default_factory=dict)  # (pop, model) -> uses
    countries: list[dict[str, Any]] = field(default_factory=list)
    income_groups: list[dict[str, Any]] = field(default_factory=list)
    years: list[dict[str, Any]] = field(default_factory=list)
    study_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gap_peak(self) -> int:
        return max(self.gap_counts.values(), default=0)

    def level(self, count: int) -> int:
        """Shade 0..LEVELS of a gap-map cell, relative to the fullest cell."""
        return 0 if count <= 0 else max(1, math.ceil(LEVELS * count / max(1, self.gap_peak)))


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object) -> int:
    if isinstance(value, Literal):
        value = value.toPython()
    return int(value) if value is not None else 0


def _rows(store: ox.Store, name: str, bindings: dict | None = None) -> list[dict[str, Any]]:
    result = query_store(store, name, bindings)
    return [dict(zip(result.variables, row)) for row in result.rows]


def _concepts(store: ox.Store, slug: str) -> list[Concept]:
    found: dict[str, Concept] = {}
    for row in _rows(store, "report-concepts", {"scheme": scheme_iri(slug)}):
        key = str(row["notation"])
        label = str(row["label"]) if row["label"] is not None else key
        found[key] = Concept(key, found[key].label if key in found and row["label"] is None else label)
    return sorted(found.values(), key=lambda c: (c.label.lower(), c.key))


def _by_count(concepts: list[Concept], counts: dict[str, int]) -> list[tuple[Concept, int]]:
    """Most studied first; empty concepts stay (at the end), so their gaps are visible."""
    return sorted(((c, counts.get(c.key, 0)) for c in concepts), key=lambda ct: (-ct[1], ct[0].label.lower()))


def collect(store: ox.Store) -> ReportData:
    """Run the named queries on ``store`` (typology already derived) and arrange the results."""
    (counts,) = _rows(store, "report-counts")
    data = ReportData(studies=_int(counts["studies"]), uses=_int(counts["uses"]))
    per_platform = {str(r["key"]): _int(r["studies"]) for r in _rows(store, "studies-per-platform")}
    per_activity = {str(r["key"]): _int(r["studies"]) for r in _rows(store, "studies-per-activity")}
    data.platforms = _by_count(_concepts(store, "platform"), per_platform)
    data.activities = _by_count(_concepts(store, "qi-activity"), per_activity)
    data.gap_counts = {(str(r["platform"]), str(r["activity"])): _int(r["studies"])
                       for r in _rows(store, "platform-by-activity")}
    studies: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in _rows(store, "gap-map-studies"):
        studies[(str(r["platform"]), str(r["activity"]))].append(str(r["study_id"]))
    data.gap_studies = {cell: sorted(set(ids)) for cell, ids in studies.items()}

    uses = {str(r["key"]): _int(r["uses"]) for r in _rows(store, "uses-per-model")}
    model_studies = {str(r["key"]): _int(r["studies"]) for r in _rows(store, "studies-per-model")}
    models = _concepts(store, "typology")
    priority = {str(r["key"]): _int(r["priority"]) for r in _rows(store, "report-rule-priorities")}
    models.sort(key=lambda c: (priority.get(c.key, 10**6), c.key))
    data.models = [{"key": c.key, "label": c.label, "uses": uses.get(c.key, 0),
                    "studies": model_studies.get(c.key, 0)} for c in models]
    data.unclassified_uses = data.uses - sum(uses.values())
    data.populations = _concepts(store, "user-population")
    data.population_model = {(str(r["population"]), str(r["model"])): _int(r["uses"])
                             for r in _rows(store, "model-by-population")}

    def table(name: str) -> list[dict[str, Any]]:
        return [{"key": _text(r["key"]), "label": _text(r.get("label")) or _text(r["key"]),
                 "studies": _int(r["studies"])} for r in _rows(store, name)]

    data.countries = table("studies-per-country")
    data.income_groups = table("studies-per-income-group")
    data.years = sorted(table("studies-per-year"), key=lambda r: r["key"])

    model_label = {m["key"]: m["label"] for m in data.models}
    for r in _rows(store, "study-table"):
        doi, pmid = _text(r["doi"]), _text(r["pmid"])
        keys = sorted(_text(r["models"]).split())
        data.study_rows.append({
            "id": _text(r["study_id"]), "first_author": _text(r["first_author"]),
            "year": _text(r["year"]), "title": _text(r["title"]), "doi": doi, "pmid": pmid,
            "doi_url": f"https://doi.org/{quote(doi, safe='/')}" if doi else "",
            "pmid_url": f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid, safe='')}/" if pmid else "",
            "models": [{"key": k, "label": model_label.get(k, k)} for k in keys],
        })
    return data


def _claim_view(claim: Any) -> dict[str, Any]:
    verdict = str(getattr(claim, "verdict", ""))
    numbers = getattr(claim, "numbers", None) or {}
    return {"id": str(getattr(claim, "claim_id", "")), "statement": str(getattr(claim, "statement", "")),
            "verdict": verdict, "verdict_class": verdict.lower().replace("_", "-").replace(" ", "-"),
            "numbers": [(str(k), str(v)) for k, v in dict(numbers).items()],
            "explanation": str(getattr(claim, "explanation", "") or "")}


def draw_figures(data: ReportData, network_graph: Any) -> dict[str, str]:
    """File name -> SVG text for every figure of the report."""
    models = data.models
    pops = data.populations
    return {
        "typology.svg": figures.bar_chart(
            [m["label"] for m in models],
            {"uses": [m["uses"] for m in models], "studies": [m["studies"] for m in models]},
            title="Models of use: uses and studies per model", xlabel="number of uses / studies",
            ylabel="model of use (typology rule order)"),
        "population-model.svg": figures.heat_map(
            [p.label for p in pops], [m["label"] for m in models],
            [[data.population_model.get((p.key, m["key"]), 0) for m in models] for p in pops],
            title="User population by model of use (uses)", xlabel="model of use",
            ylabel="user population"),
        "network.svg": figures.network_figure(
            network_graph, title="Co-occurrence of features across uses",
            dimension_names=DIMENSION_NAMES),
        "years.svg": figures.column_chart(
            [y["key"] for y in data.years], [y["studies"] for y in data.years],
            title="Studies per publication year", xlabel="publication year", ylabel="studies"),
        "income.svg": figures.column_chart(
            [g["label"] for g in data.income_groups], [g["studies"] for g in data.income_groups],
            title="Studies per World Bank income group", xlabel="income group (latest fiscal year)",
            ylabel="studies"),
    }


_DIMENSION_LABELS = {"communication_model": "communication model", "host": "host", "model_of_use": "model of use",
                     "platform": "platforms", "user_population": "user populations", "qi_activity": "QI activities",
                     "qi_stage": "QI stages"}


def _agreement_view(found: Any) -> dict[str, Any] | None:
    """What the agreement section shows of a ``kg.derive.agreement.Agreement`` (None: no codings)."""
    from kg.derive.agreement import rounded

    if found is None or not found.figures:
        return None
    figures = []
    for f in found.figures:
        share = rounded(f.observed, 3)
        behind = [d for d in found.disagreements if d.dimension == f.dimension]
        figures.append({
            "dimension": f.dimension, "label": _DIMENSION_LABELS.get(f.dimension, f.dimension),
            "kind": "single-valued" if f.kind == "single" else "multi-valued (exact)", "uses": f.uses,
            "agreements": f.agreements, "share": "-" if share is None else f"{share:.1%}",
            "kappa": "" if f.kind != "single" else "undefined" if f.kappa is None else f"{rounded(f.kappa, 3):.3f}",
            "jaccard": "" if f.mean_jaccard is None else f"{rounded(f.mean_jaccard, 3):.3f}",
            "disagreements": [{"use": d.use, "coder1": "; ".join(d.coder1) or "unclassified",
                               "coder2": "; ".join(d.coder2) or "unclassified",
                               "consensus": "; ".join(d.consensus) or "unclassified"} for d in behind]})
    coders = sorted({(f.coder1, f.coder2) for f in found.figures})
    return {"uses": found.coded_uses, "coders": ", ".join(f"{a} and {b}" for a, b in coders), "figures": figures}


def render(data: ReportData, claims: Sequence[Any] | None, *, network: dict[str, Any] | None = None,
           docs_href: str = "../docs/index.html", cell_studies: int = CELL_STUDIES,
           study_rows: int = STUDY_ROWS, figure_texts: dict[str, str] | None = None,
           agreement: Any = None) -> str:
    """The HTML of index.html (autoescaped). ``figure_texts``: figure file name -> its text alternative
    (shown under the figure; :func:`kg.publish.figures.description` of each SVG). ``agreement``: the
    inter-coder agreement (``kg.derive.agreement.agreement``; None or no figures: no codings).

    With at most ``study_rows`` studies everything is listed; with more, each gap-map cell lists its
    first ``cell_studies`` ids and the study table its first ``study_rows`` rows (see the module)."""
    env = environment()
    whole = max(data.studies, len(data.study_rows)) <= study_rows
    rows = data.study_rows if whole else data.study_rows[:study_rows]
    on_page = {row["id"] for row in rows}
    cells, hidden = {}, {}
    for p, _ in data.platforms:
        for a, _ in data.activities:
            key = f"{p.key}|{a.key}"
            count = data.gap_counts.get((p.key, a.key), 0)
            ids = data.gap_studies.get((p.key, a.key), [])
            listed = ids if whole else ids[:cell_studies]
            more = max(count, len(ids)) - len(listed)
            cells[key] = {"count": count, "level": data.level(count), "more": more,
                          "studies": [{"id": s, "linked": s in on_page} for s in listed]}
            if more:
                hidden[key] = ids
    gaps = sum(1 for c in cells.values() if c["count"] == 0)
    return env.from_string(template_text("report.html")).render(
        version=__version__, notice=NOTICE, no_claims=NO_CLAIMS, data=data, cells=cells, gaps=gaps,
        sections=SECTIONS, figure_texts=figure_texts or {},
        levels=LEVELS, claims=None if claims is None else [_claim_view(c) for c in claims],
        agreement=_agreement_view(agreement),
        network={"nodes": 0, "edges": 0, "communities": 0, "use_communities": 0, "ari": "n/a",
                 "seed": figures.SEED, "table": [], **(network or {})}, docs_href=docs_href,
        rows=rows, whole=whole, cell_studies=cell_studies,
        gap_data=script_json({"cells": hidden}) if hidden else None,
    )


def write_data_files(data: ReportData, folder: Path) -> list[Path]:
    """The full lists behind the page, in ``folder``: every gap-map cell's studies and every study row
    (CSV and JSON each; the names are ``DATA_FILES``)."""
    folder.mkdir(parents=True, exist_ok=True)
    cells = sorted(data.gap_studies.items())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["platform", "activity", "study_id"])
    for (platform, activity), ids in cells:
        writer.writerows([spreadsheet_safe(platform), spreadsheet_safe(activity), spreadsheet_safe(s)] for s in ids)
    columns = ["id", "first_author", "year", "title", "doi", "pmid"]
    studies = io.StringIO()
    table = csv.writer(studies, lineterminator="\n")
    table.writerow([*columns, "models"])
    for row in data.study_rows:
        table.writerow([spreadsheet_safe(v) for v in (*(row[c] for c in columns),
                                                      " ".join(m["key"] for m in row["models"]))])
    gap_json = {"cells": [{"platform": p, "activity": a, "studies": data.gap_counts.get((p, a), len(ids)),
                           "study_ids": ids} for (p, a), ids in cells]}
    study_json = [{**{c: row[c] for c in columns}, "models": [m["key"] for m in row["models"]]}
                  for row in data.study_rows]
    texts = {"gap-map-studies.csv": buffer.getvalue(),
             "gap-map-studies.json": json.dumps(gap_json, ensure_ascii=False, indent=1) + "\n",
             "studies.csv": studies.getvalue(),
             "studies.json": json.dumps(study_json, ensure_ascii=False, indent=1) + "\n"}
    paths = []
    for name in DATA_FILES:
        (folder / name).write_text(texts[name], encoding="utf-8", newline="")
        paths.append(folder / name)
    return paths


def _network(report: Any) -> tuple[Any, dict[str, Any]]:
    """The co-occurrence graph to draw and the numbers to show (an empty graph without a report)."""
    from kg.derive import network as kn

    if report is None:
        import networkx as nx

        return nx.Graph(), {}
    sizes = report.sizes()
    graph = report.cooccurrence
    community = {node: label for label, members in zip(report.community_labels(), report.feature_communities)
                 for node in members}
    strength = dict(graph.degree(weight="weight"))
    table = [{"number": i, "label": str(graph.nodes[n].get("label", n)), "uses": graph.nodes[n].get("uses", 0),
              "dimension": DIMENSION_NAMES.get(graph.nodes[n].get("kind"), str(graph.nodes[n].get("kind"))),
              "links": strength[n], "community": community.get(n, "")}
             for i, n in enumerate(figures.network_order(graph), start=1)]
    summary = {"nodes": sizes["cooccurrence"]["nodes"], "edges": sizes["cooccurrence"]["edges"],
               "communities": len(report.feature_communities), "ari": round(report.ari, 3),
               "use_communities": len(report.use_communities), "seed": kn.SEED, "table": table}
    return graph, summary


_COMPUTE = object()  # write_report's default: compute the agreement from the store


def write_report(store: ox.Store, out: Path, *, claims: Any = None, network_report: Any = None,
                 agreement: Any = _COMPUTE,
                 docs_href: str = "../docs/index.html", cell_studies: int = CELL_STUDIES,
                 study_rows: int = STUDY_ROWS, map_studies: int = evidencemap.MAP_STUDIES) -> Path:
    """Write ``out/index.html``, ``out/report.css``, ``out/figures/*.svg``, ``out/data/*`` and the
    interactive map (``out/map.html``, ``out/map.js``, ``out/data/map.json``; at most ``map_studies``
    studies, see :mod:`kg.publish.evidencemap`); returns index.html. ``store`` is the built Oxigraph
    store, typology derived.

    ``claims``: the verdicts to show (``kg.derive.claims.check_claims``; ``None``: not available).
    ``network_report``: the ``kg.derive.network`` analysis to show (``None``: no network section).
    ``agreement``: the ``kg.derive.agreement.Agreement`` to show (``None``: no codings); by default it is
    computed from the store when the store has codings (the build passes the pipeline's)."""
    out = Path(out)
    data = collect(store)
    graph, net = _network(network_report)
    svgs = draw_figures(data, graph)
    if agreement is _COMPUTE:
        from kg.derive.agreement import agreement as compute, has_codings

        agreement = compute(store) if has_codings(store) else None
    html = render(data, claims, network=net, docs_href=docs_href, cell_studies=cell_studies,
                  study_rows=study_rows, figure_texts={k: figures.description(v) for k, v in svgs.items()},
                  agreement=agreement)
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for name, svg in svgs.items():
            (out / "figures" / name).write_text(svg, encoding="utf-8")
        (out / "report.css").write_text(template_text("report.css"), encoding="utf-8")
        write_data_files(data, out / "data")
        evidencemap.write_map(store, out, studies=data.studies, version=__version__, notice=NOTICE,
                              limit=map_studies)
        (out / "index.html").write_text(html, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    return out / "index.html"
