"""`smqi report`: a static, offline HTML evidence report generated from SPARQL over the graph.

Every number in the report is the result of a named query (``queries/cq/``) run with
:func:`kg.io.queries.run_query` over the assembled dataset, after the typology has been derived; nothing
is read from the CSV sheets. Labels and the rows and columns of the gap map (every concept of the
vocabularies, so that empty cells, the gaps, show) come from the vocabulary graph.

Output (``DIR/``): ``index.html``, ``report.css`` and ``figures/*.svg``; no script, no font, no
CDN: the report opens from disk or any static server with no network. HTML is rendered by Jinja2
with autoescaping on (study titles may hold ``&``, ``<`` and quotes).

The review's claims come from ``kg.derive.claims.check_claims`` when that module is present; otherwise the
section says the claims are not available in this build.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SKOS

from kg import __version__
from kg.publish import figures
from kg.io import queries as kq
from kg.io.atomic import write_folder
from kg.model.errors import DataError
from kg.model.namespaces import SMQI, scheme_iri

__all__ = ["ReportData", "collect", "load_claims", "render", "write_report", "AUTO", "NOTICE",
           "FIGURES", "LEVELS", "environment", "template_text", "make_report"]

NOTICE = (
    "The evidence in this report is an independent, dual-coded extraction of real studies that meet "
    "the inclusion criteria of the scoping review by Walsh et al. (Digital Health 2021, "
    "doi 10.1177/2055207621996870). It is not the review's own list of 40 studies, so every count "
    "differs from the review's. How it was assembled: data/METHODS.md in the smqi-kg sources."
)
NO_CLAIMS = "Claims are not available in this build."
LEVELS = 5  # shades of the gap map; level 0 is an empty cell (a gap)
FIGURES = ("typology.svg", "population-model.svg", "network.svg", "years.svg", "income.svg")
AUTO: Any = object()  # write_report(claims=AUTO): ask kg.derive.claims, when it exists
DIMENSION_NAMES = {"platform": "platform", "user-population": "user population",
                   "qi-activity": "QI activity", "communication-model": "communication model",
                   "host": "host"}

_CONCEPTS = """PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?concept ?notation ?label WHERE {
  ?concept skos:inScheme ?scheme ; skos:notation ?notation .
  OPTIONAL { ?concept skos:prefLabel ?label FILTER (lang(?label) = "" || langMatches(lang(?label), "en")) }
}"""


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


def _rows(dataset: Graph, name: str) -> list[dict[str, Any]]:
    result = kq.run_query(dataset, name)
    return [dict(zip(result.variables, row)) for row in result.rows]


def _concepts(dataset: Graph, slug: str) -> list[Concept]:
    found = {}
    for row in dataset.query(_CONCEPTS, initBindings={"scheme": scheme_iri(slug)}):
        key = str(row.notation)
        label = str(row.label) if row.label is not None else key
        found[key] = Concept(key, found[key].label if key in found and row.label is None else label)
    return sorted(found.values(), key=lambda c: (c.label.lower(), c.key))


def _count_typed(dataset: Graph, cls: URIRef) -> int:
    query = "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?cls }"
    return _int(next(iter(dataset.query(query, initBindings={"cls": cls})))[0])


def _by_count(concepts: list[Concept], counts: dict[str, int]) -> list[tuple[Concept, int]]:
    """Most studied first; empty concepts stay (at the end), so their gaps are visible."""
    return sorted(((c, counts.get(c.key, 0)) for c in concepts), key=lambda ct: (-ct[1], ct[0].label.lower()))


def collect(dataset: Graph) -> ReportData:
    """Run the named queries over ``dataset`` (typology already derived) and arrange the results."""
    data = ReportData(studies=_count_typed(dataset, SMQI.Study), uses=_count_typed(dataset, SMQI.SocialMediaUse))
    per_platform = {str(r["key"]): _int(r["studies"]) for r in _rows(dataset, "studies-per-platform")}
    per_activity = {str(r["key"]): _int(r["studies"]) for r in _rows(dataset, "studies-per-activity")}
    data.platforms = _by_count(_concepts(dataset, "platform"), per_platform)
    data.activities = _by_count(_concepts(dataset, "qi-activity"), per_activity)
    data.gap_counts = {(str(r["platform"]), str(r["activity"])): _int(r["studies"])
                       for r in _rows(dataset, "platform-by-activity")}
    studies: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in _rows(dataset, "gap-map-studies"):
        studies[(str(r["platform"]), str(r["activity"]))].append(str(r["study_id"]))
    data.gap_studies = dict(studies)

    uses = {str(r["key"]): _int(r["uses"]) for r in _rows(dataset, "uses-per-model")}
    model_studies = {str(r["key"]): _int(r["studies"]) for r in _rows(dataset, "studies-per-model")}
    models = _concepts(dataset, "typology")
    priority = {str(k): _int(v) for k, v in dataset.query(
        "SELECT ?n ?p WHERE { ?m skos:notation ?n ; smqi:rulePriority ?p }",
        initNs={"skos": SKOS, "smqi": SMQI._NS})}
    models.sort(key=lambda c: (priority.get(c.key, 10**6), c.key))
    data.models = [{"key": c.key, "label": c.label, "uses": uses.get(c.key, 0),
                    "studies": model_studies.get(c.key, 0)} for c in models]
    data.unclassified_uses = data.uses - sum(uses.values())
    data.populations = _concepts(dataset, "user-population")
    data.population_model = {(str(r["population"]), str(r["model"])): _int(r["uses"])
                             for r in _rows(dataset, "model-by-population")}

    def table(name: str) -> list[dict[str, Any]]:
        return [{"key": _text(r["key"]), "label": _text(r.get("label")) or _text(r["key"]),
                 "studies": _int(r["studies"])} for r in _rows(dataset, name)]

    data.countries = table("studies-per-country")
    data.income_groups = table("studies-per-income-group")
    data.years = sorted(table("studies-per-year"), key=lambda r: r["key"])

    model_label = {m["key"]: m["label"] for m in data.models}
    for r in _rows(dataset, "study-table"):
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


def load_claims(dataset: Graph) -> list[Any] | None:
    """The review's claims with verdicts from ``kg.derive.claims.check_claims``; None when the module (or
    the function) is not in this build. Any other failure is a real error and propagates."""
    import importlib

    try:
        review = importlib.import_module("kg.derive.claims")  # not a static import: it may not exist yet
    except ModuleNotFoundError as exc:
        if exc.name in ("kg.derive.claims",):
            return None
        raise
    check = getattr(review, "check_claims", None)
    return None if check is None else list(check(dataset))


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


def template_text(name: str) -> str:
    return (files("kg") / "templates" / name).read_text(encoding="utf-8")


def environment() -> Environment:
    return Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def render(data: ReportData, claims: Sequence[Any] | None, *, network: dict[str, Any] | None = None,
           docs_href: str = "../docs/index.html") -> str:
    """The HTML of index.html (autoescaped)."""
    env = environment()
    cells = {}
    for p, _ in data.platforms:
        for a, _ in data.activities:
            count = data.gap_counts.get((p.key, a.key), 0)
            cells[f"{p.key}|{a.key}"] = {"count": count, "level": data.level(count),
                                         "studies": data.gap_studies.get((p.key, a.key), [])}
    gaps = sum(1 for c in cells.values() if c["count"] == 0)
    return env.from_string(template_text("report.html")).render(
        version=__version__, notice=NOTICE, no_claims=NO_CLAIMS, data=data, cells=cells, gaps=gaps,
        levels=LEVELS, claims=None if claims is None else [_claim_view(c) for c in claims],
        network={"nodes": 0, "edges": 0, "communities": 0, "use_communities": 0, "ari": "n/a",
                 "seed": figures.SEED, **(network or {})}, docs_href=docs_href,
    )


def _network(dataset: Graph, report: Any = None) -> tuple[Any, dict[str, Any]]:
    from kg.derive import network as kn

    report = report if report is not None else kn.analyse(dataset)
    sizes = report.sizes()
    summary = {"nodes": sizes["cooccurrence"]["nodes"], "edges": sizes["cooccurrence"]["edges"],
               "communities": len(report.feature_communities), "ari": round(report.ari, 3),
               "use_communities": len(report.use_communities), "seed": kn.SEED}
    return report.cooccurrence, summary


def write_report(dataset: Graph, out: Path, *, claims: Any = AUTO, network_report: Any = None,
                 docs_href: str = "../docs/index.html") -> Path:
    """Write ``out/index.html``, ``out/report.css`` and ``out/figures/*.svg``; returns index.html.

    ``dataset`` must already carry the derived typology (``kg.derive.typology.derive``)."""
    out = Path(out)
    data = collect(dataset)
    graph, net = _network(dataset, network_report)
    claim_list = load_claims(dataset) if claims is AUTO else claims
    html = render(data, claim_list, network=net, docs_href=docs_href)
    svgs = draw_figures(data, graph)
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        for name, svg in svgs.items():
            (out / "figures" / name).write_text(svg, encoding="utf-8")
        (out / "report.css").write_text(template_text("report.css"), encoding="utf-8")
        (out / "index.html").write_text(html, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    return out / "index.html"


def make_report(out: Path, data_dir: Path | None = None) -> Path:
    """`smqi report`: run the pipeline on ``data_dir`` (default: the shipped data; the typology is
    derived on the store) and write the report into ``out``, replacing it only when every step succeeded."""
    from kg.io.store import dataset_of
    from kg.publish.pipeline import run_pipeline

    dataset = dataset_of(run_pipeline(data_dir, check=False).store)
    write_folder(Path(out), lambda tmp: write_report(dataset, tmp))
    return Path(out) / "index.html"
