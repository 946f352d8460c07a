"""Network analysis of the evidence: who uses what with what, read from the knowledge graph.

Everything is built from the RDF graph (one SPARQL SELECT over the union of the named graphs of an
rdflib Graph/Dataset or a pyoxigraph Store), never from the CSV sheets, so the analysis sees
exactly what the graph holds. Every step is linear in the evidence (uses × features per use); no
step compares pairs of uses or of studies, so it runs the same at the shipped 85 studies and at 100k:

- a bipartite study–concept graph: a study is linked to each platform, communication model, host,
  user population, QI activity and QI stage of its uses, weighted by how many of its uses have it;
- a co-occurrence graph of the features of uses (platform, user population, QI activity,
  communication model, host): edge weight = number of uses in which both concepts occur. Uses are
  first grouped by their feature set; each distinct set adds its number of uses to each of its
  pairs (the same counts as +1 per use and pair, with fewer additions).

Communities: Louvain (networkx ``louvain_communities``, weight "weight", resolution 1.0, seed 42)
on the co-occurrence graph, numbered C1, C2, … (largest first, then by first member). Uses are
then put into those communities instead of into communities of a use–use similarity graph (which
needs every pair of uses: quadratic): each use goes to the feature community that holds most of
its features (ties: the earlier community; a use with no feature gets "none"). This is linear,
gives every use one label, and reads as "the cluster of concepts this use is made of". Those
labels are compared with the rule-based models of use in the derived named graph
(``smqi:modelOfUse``; a use without one is "unclassified") by a contingency table and the adjusted
Rand index (Hubert and Arabie 1985). Louvain's result depends on the order of the nodes as well as
the seed, so every graph is built with its nodes and edges inserted in sorted order.

Centralities (co-occurrence graph): strength (weighted degree); betweenness with distance =
1/weight, as an exact fraction so that tied path lengths stay tied (a strong co-occurrence is a
short distance), normalised; eigenvector centrality with weight. PageRank was not used because
networkx's ``pagerank`` needs scipy, which the project does not depend on. The co-occurrence graph
has one node per coded concept, so its size does not grow with the number of uses.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

import networkx as nx
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import SKOS

from kg.model.errors import DataError
from kg.model.namespaces import G_DERIVED, SMQI

__all__ = [
    "evidence_query", "Evidence", "NetworkReport", "read_evidence", "bipartite_graph",
    "cooccurrence_graph", "community_labels", "assign_uses", "communities", "contingency_table",
    "adjusted_rand_index", "partition_ari", "centralities", "analyse", "to_json_data", "report_text",
    "write_outputs", "SEED", "RESOLUTION", "DECIMALS", "TOP_N", "UNCLASSIFIED", "FEATURE_DIMENSIONS",
    "CENTRALITY_DIMENSIONS", "MEASURES", "NO_FEATURES"
]


SEED = 42
RESOLUTION = 1.0
DECIMALS = 4
TOP_N = 10
UNCLASSIFIED = "unclassified"

# Coding property -> dimension (the vocabulary scheme slug, also the prefix of the node id).
DIMENSIONS: dict[URIRef, str] = {
    SMQI.platform: "platform",
    SMQI.communicationModel: "communication-model",
    SMQI.host: "host",
    SMQI.userPopulation: "user-population",
    SMQI.qiActivity: "qi-activity",
    SMQI.qiStage: "qi-stage",
}
FEATURE_DIMENSIONS = ("platform", "user-population", "qi-activity", "communication-model", "host")
CENTRALITY_DIMENSIONS = ("platform", "user-population", "qi-activity")
MEASURES = ("strength", "betweenness", "eigenvector")

_VALUES = " ".join(f"<{p}>" for p in DIMENSIONS)
_SKOS = str(SKOS)


def evidence_query(models_in_derived_graph: bool = True) -> str:
    """The one SELECT the analysis reads: rows (kind, subject, object, extra) where kind is
    study (study, -, studyId), use (use, study, studyId), code (use, concept, coding property),
    notation (concept, -, notation), label (concept, -, English or plain prefLabel) and model
    (use, model, -), the last from the derived named graph (or from anywhere, for a plain Graph)."""
    smqi = str(SMQI._NS)
    model = (f"GRAPH <{G_DERIVED}> {{ ?s <{smqi}modelOfUse> ?o }}" if models_in_derived_graph
             else f"?s <{smqi}modelOfUse> ?o")
    return f"""SELECT ?kind ?s ?o ?x WHERE {{
  {{ ?s a <{smqi}Study> OPTIONAL {{ ?s <{smqi}studyId> ?x }} BIND ("study" AS ?kind) }}
  UNION {{ ?s a <{smqi}SocialMediaUse>
          OPTIONAL {{ ?s <{smqi}reportedIn>|^<{smqi}reportsUse> ?o OPTIONAL {{ ?o <{smqi}studyId> ?x }} }}
          BIND ("use" AS ?kind) }}
  UNION {{ VALUES ?x {{ {_VALUES} }} ?s a <{smqi}SocialMediaUse> ; ?x ?o BIND ("code" AS ?kind) }}
  UNION {{ ?o <{_SKOS}notation> ?x BIND ("notation" AS ?kind) }}
  UNION {{ ?o <{_SKOS}prefLabel> ?x FILTER (lang(?x) = "" || langMatches(lang(?x), "en"))
          BIND ("label" AS ?kind) }}
  UNION {{ {model} . ?s a <{smqi}SocialMediaUse> BIND ("model" AS ?kind) }}
}}"""


@dataclass
class Evidence:
    """What the analysis reads from the graph, keyed by plain string ids."""

    studies: set[str] = field(default_factory=set)
    use_study: dict[str, str | None] = field(default_factory=dict)
    codes: dict[str, set[str]] = field(default_factory=dict)  # use id -> concept node ids
    labels: dict[str, str] = field(default_factory=dict)  # concept node id -> prefLabel
    models: dict[str, str] = field(default_factory=dict)  # use id -> model notation


@dataclass
class NetworkReport:
    """The result of :func:`analyse`. Lists are in a fixed order, so the report is deterministic."""

    bipartite: nx.Graph
    cooccurrence: nx.Graph
    feature_communities: list[list[str]]
    use_community: dict[str, str]  # use id -> label of its feature community (C1, …) or "none"
    use_communities: list[list[str]]  # the uses of each label of contingency_columns, in order
    models: dict[str, str]  # use id -> model notation or "unclassified"
    contingency_rows: list[str]
    contingency_columns: list[str]
    contingency: list[list[int]]
    ari: float
    centralities: dict[str, dict[str, list[tuple[str, float]]]]  # dimension -> measure -> ranking

    def sizes(self) -> dict[str, dict[str, int]]:
        """Node and edge counts of the two graphs; studies and concepts of the bipartite graph."""
        studies = sum(1 for _, kind in self.bipartite.nodes(data="kind") if kind == "study")
        graphs = (("bipartite", self.bipartite), ("cooccurrence", self.cooccurrence))
        sizes = {n: {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()} for n, g in graphs}
        concepts = sizes["bipartite"]["nodes"] - studies
        sizes["bipartite"] |= {"studies": studies, "concepts": concepts}
        return sizes

    def community_labels(self) -> list[str]:
        """C1, C2, … for feature_communities (zero-padded so that they sort in order)."""
        return community_labels(len(self.feature_communities))


def _tail(iri: object) -> str:
    return str(iri).rstrip("/").rsplit("/", 1)[-1]


def _use_key(use_id: str) -> tuple[str, int, str]:
    """Sort uses by study and then use number (ahne2020-2 before ahne2020-10)."""
    head, _, num = use_id.rpartition("-")
    return (head, int(num), "") if num.isascii() and num.isdigit() else (use_id, 0, use_id)


def read_evidence(source: Any) -> Evidence:
    """Read studies, uses, their codes and the derived models of use from ``source`` with one SELECT:
    a pyoxigraph Store or an rdflib Dataset (models from the derived named graph), a
    KnowledgeGraph (its dataset) or a plain Graph (models from itself)."""
    from kg.io.store import select_text

    source = getattr(source, "dataset", source)
    dimension_of = {str(p): dim for p, dim in DIMENSIONS.items()}
    plain = isinstance(source, Graph) and not isinstance(source, Dataset)
    ev = Evidence()
    codes: list[tuple[str, str, str]] = []
    notations: dict[str, set[str]] = {}
    concept_labels: dict[str, set[str]] = {}
    models: list[tuple[str, str]] = []
    for kind, s, o, x in select_text(source, evidence_query(not plain)):
        if kind == "code":
            codes.append((_tail(s), o, dimension_of[x]))
        elif kind == "use":
            use, study = _tail(s), o and (x or _tail(o))
            if ev.use_study.setdefault(use, study) != study:
                raise DataError(f"use {use} is reported in two studies: {ev.use_study[use]}, {study}")
            ev.codes[use] = set()
            if study is not None:
                ev.studies.add(study)
        elif kind == "study":
            ev.studies.add(x if x is not None else _tail(s))
        elif kind == "notation":
            notations.setdefault(o, set()).add(x)
        elif kind == "label":
            concept_labels.setdefault(o, set()).add(x)
        elif kind == "model":
            models.append((_tail(s), o))
    node_of: dict[tuple[str, str], str] = {}
    labels: dict[str, set[str]] = {}
    for use, concept, dim in codes:
        node = node_of.get((concept, dim))
        if node is None:
            key = min(notations[concept]) if concept in notations else _tail(concept)
            node = node_of[(concept, dim)] = f"{dim}:{key}"
            labels.setdefault(node, set()).update(concept_labels.get(concept, ()))
        ev.codes[use].add(node)
    ev.labels = {n: min(ls) if ls else n.split(":", 1)[1] for n, ls in labels.items()}
    for use, model_iri in models:
        model = min(notations[model_iri]) if model_iri in notations else _tail(model_iri)
        if ev.models.setdefault(use, model) != model:
            raise DataError(f"use {use} has more than one model of use")
    return ev


def bipartite_graph(ev: Evidence) -> nx.Graph:
    """Study–concept graph; edge weight = number of the study's uses that have the concept."""
    weights: Counter[tuple[str, str]] = Counter()
    for use, study in ev.use_study.items():
        for concept in ev.codes[use] if study is not None else ():
            weights[(study, concept)] += 1
    g = nx.Graph()
    uses_per_study = Counter(s for s in ev.use_study.values() if s is not None)
    for study in sorted(ev.studies):
        g.add_node(study, kind="study", label=study, bipartite=0, uses=uses_per_study[study])
    _add_concepts(g, ev, {c for _, c in weights}, bipartite=1)
    for (study, concept), w in sorted(weights.items()):
        g.add_edge(study, concept, weight=w)
    return g


def _add_concepts(g: nx.Graph, ev: Evidence, nodes: set[str], **attrs: Any) -> None:
    uses = Counter(c for codes in ev.codes.values() for c in codes)
    for node in sorted(nodes):
        kind, key = node.split(":", 1)
        g.add_node(node, kind=kind, key=key, label=ev.labels[node], uses=uses[node], **attrs)


def _features(ev: Evidence, use: str) -> list[str]:
    return sorted(c for c in ev.codes[use] if c.split(":", 1)[0] in FEATURE_DIMENSIONS)


def cooccurrence_graph(ev: Evidence) -> nx.Graph:
    """Feature co-occurrence graph; edge weight = number of uses in which both concepts occur.

    Uses with the same feature set are counted once, with their number as the weight of each pair."""
    feature_sets = Counter(tuple(_features(ev, use)) for use in ev.codes)
    weights: Counter[tuple[str, str]] = Counter()
    nodes: set[str] = set()
    for feats, n in feature_sets.items():
        nodes.update(feats)
        for pair in combinations(feats, 2):
            weights[pair] += n
    g = nx.Graph()
    _add_concepts(g, ev, nodes)
    for (a, b), w in sorted(weights.items()):
        g.add_edge(a, b, weight=w)
    return g


NO_FEATURES = "none"


def community_labels(n: int) -> list[str]:
    """C1 … Cn, zero-padded to one width (C01 … C12) so that they sort in numeric order."""
    width = len(str(n))
    return [f"C{i:0{width}d}" for i in range(1, n + 1)]


def assign_uses(ev: Evidence, feature_communities: Sequence[Sequence[str]]) -> dict[str, str]:
    """Use id -> the label of the feature community holding most of the use's features.

    Ties go to the earlier community (larger, then by first member); a use with no feature in any
    community gets "none". Linear: one look-up per feature of each use."""
    labels = community_labels(len(feature_communities))
    index = {node: i for i, comm in enumerate(feature_communities) for node in comm}
    out: dict[str, str] = {}
    for use in sorted(ev.codes, key=_use_key):
        counts = Counter(index[f] for f in _features(ev, use) if f in index)
        out[use] = labels[min(counts, key=lambda i: (-counts[i], i))] if counts else NO_FEATURES
    return out


def communities(g: nx.Graph, key: Any = None) -> list[list[str]]:
    """Louvain communities (seed 42, resolution 1): largest first, then by first member."""
    parts = nx.community.louvain_communities(g, weight="weight", resolution=RESOLUTION, seed=SEED)
    return sorted((sorted(p, key=key) for p in parts), key=lambda c: (-len(c), (key or str)(c[0])))


def contingency_table(
    rows: Mapping[Hashable, Hashable], columns: Mapping[Hashable, Hashable]
) -> tuple[list[Any], list[Any], list[list[int]]]:
    """Counts of items by (row label, column label); both mappings must cover the same items."""
    if set(rows) != set(columns):
        raise ValueError("the two partitions do not cover the same items")
    row_labels = sorted(set(rows.values()), key=lambda v: (v == UNCLASSIFIED, str(v)))
    col_labels = sorted(set(columns.values()), key=str)
    counts = Counter((rows[i], columns[i]) for i in rows)
    return row_labels, col_labels, [[counts[(r, c)] for c in col_labels] for r in row_labels]


def adjusted_rand_index(table: Sequence[Sequence[int]]) -> float:
    """Adjusted Rand index (Hubert and Arabie 1985) of a contingency table of two partitions.

    ARI = (sum_ij C(n_ij,2) - E) / (((sum_i C(a_i,2) + sum_j C(b_j,2)) / 2) - E) with
    E = sum_i C(a_i,2) * sum_j C(b_j,2) / C(n,2). The denominator is 0 only when both partitions
    are one single cluster or both all singletons (or n < 2); they are then identical: 1.0.
    """
    n = sum(sum(r) for r in table)
    index = sum(comb(x, 2) for r in table for x in r)
    a = sum(comb(sum(r), 2) for r in table)
    b = sum(comb(sum(c), 2) for c in zip(*table)) if table else 0
    pairs = comb(n, 2)
    if pairs == 0:
        return 1.0
    expected = Fraction(a * b, pairs)
    maximum = Fraction(a + b, 2)
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def partition_ari(a: Mapping[Hashable, Hashable], b: Mapping[Hashable, Hashable]) -> float:
    """Adjusted Rand index of two labellings of the same items."""
    return adjusted_rand_index(contingency_table(a, b)[2])


def _ranked(values: Mapping[str, float]) -> list[tuple[str, float]]:
    rounded = {k: round(float(v), DECIMALS) + 0.0 for k, v in values.items()}  # +0.0: no -0.0
    return sorted(rounded.items(), key=lambda kv: (-kv[1], kv[0]))


def centralities(g: nx.Graph) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Strength, betweenness (distance = 1/weight) and eigenvector centrality, per dimension."""
    strength = dict(g.degree(weight="weight"))
    dist = nx.Graph()
    dist.add_nodes_from(g)
    dist.add_edges_from((u, v, {"distance": Fraction(1, w)}) for u, v, w in g.edges(data="weight"))
    between = nx.betweenness_centrality(dist, weight="distance", normalized=True)
    eigen = (
        nx.eigenvector_centrality(g, weight="weight", max_iter=10000, tol=1e-12)
        if g.number_of_edges()
        else {n: 0.0 for n in g}
    )
    out: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for dim in CENTRALITY_DIMENSIONS:
        nodes = [n for n, kind in g.nodes(data="kind") if kind == dim]
        out[dim] = {
            name: _ranked({n: values[n] for n in nodes})
            for name, values in zip(MEASURES, (strength, between, eigen))
        }
    return out


def analyse(source: Any) -> NetworkReport:
    """Run the whole analysis on an assembled Dataset, a KnowledgeGraph, a plain Graph or a
    pyoxigraph Store (the build's store), read with one SELECT."""
    ev = read_evidence(source)
    bip, cooc = bipartite_graph(ev), cooccurrence_graph(ev)
    feature_comms = communities(cooc)
    use_label = assign_uses(ev, feature_comms)
    models = {u: ev.models.get(u, UNCLASSIFIED) for u in sorted(ev.codes, key=_use_key)}
    rows, cols, table = contingency_table(models, use_label)
    members: dict[str, list[str]] = {c: [] for c in cols}
    for use, label in use_label.items():  # already in use order
        members[label].append(use)
    return NetworkReport(
        bipartite=bip,
        cooccurrence=cooc,
        feature_communities=feature_comms,
        use_community=use_label,
        use_communities=[members[c] for c in cols],
        models=models,
        contingency_rows=rows,
        contingency_columns=cols,
        contingency=table,
        ari=adjusted_rand_index(table),
        centralities=centralities(cooc),
    )


def to_json_data(report: NetworkReport) -> dict[str, Any]:
    """The JSON-ready content of ``network.json``."""
    return {
        "sizes": report.sizes(),
        "parameters": {"algorithm": "louvain", "seed": SEED, "resolution": RESOLUTION,
                       "use_communities": "each use in the feature community holding most of its "
                                          "features (ties: the earlier community)"},
        "feature_communities": dict(zip(report.community_labels(), report.feature_communities)),
        "use_communities": dict(zip(report.contingency_columns, report.use_communities)),
        "models": report.models,
        "contingency": {
            "rows": report.contingency_rows,
            "columns": report.contingency_columns,
            "counts": report.contingency,
        },
        "ari": round(report.ari, 6),
        "centralities": {
            dim: {m: [{"id": n, "value": v} for n, v in ranking] for m, ranking in measures.items()}
            for dim, measures in report.centralities.items()
        },
    }


def report_text(report: NetworkReport) -> str:
    """A human-readable summary: sizes, communities, contingency table, ARI, top centralities."""
    out = ["Network analysis of the evidence", ""]
    for name, size in report.sizes().items():
        out.append(f"{name}: " + ", ".join(f"{v} {k}" for k, v in size.items()))
    out += ["", f"Feature communities (Louvain, seed {SEED}): {len(report.feature_communities)}"]
    labels = dict(report.cooccurrence.nodes(data="label"))
    for name, comm in zip(report.community_labels(), report.feature_communities):
        out.append(f"  {name} ({len(comm)}): " + "; ".join(f"{n} ({labels[n]})" for n in comm))
    out += ["", "Uses by feature community (each use in the community holding most of its features)"]
    for label, comm in zip(report.contingency_columns, report.use_communities):
        out.append(f"  {label} ({len(comm)}): " + ", ".join(comm))
    out += ["", "Models of use (rows) x use communities (columns)"]
    width = max([len(r) for r in report.contingency_rows] + [5])
    out.append(" " * width + "".join(f"{c:>5}" for c in report.contingency_columns))
    for row, counts in zip(report.contingency_rows, report.contingency):
        out.append(f"{row:<{width}}" + "".join(f"{x:>5}" for x in counts))
    out += ["", f"Adjusted Rand index (models vs feature communities of the uses): {report.ari:.4f}"]
    for dim, measures in report.centralities.items():
        out += ["", f"Top {TOP_N} {dim} by centrality in the co-occurrence graph"]
        for measure, ranking in measures.items():
            top = ", ".join(f"{n.split(':', 1)[1]} {v:g}" for n, v in ranking[:TOP_N])
            out.append(f"  {measure}: {top}")
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then move the file into place, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates 0600; keep an existing file's mode, else the usual 0644.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_outputs(report: NetworkReport, out_dir: Path) -> list[Path]:
    """Write ``bipartite.graphml``, ``cooccurrence.graphml`` and ``network.json`` to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, g in (("bipartite", report.bipartite), ("cooccurrence", report.cooccurrence)):
        path = out_dir / f"{name}.graphml"
        _write_atomic(path, lambda tmp, g=g: nx.write_graphml(g, tmp, encoding="utf-8"))
        written.append(path)
    text = json.dumps(to_json_data(report), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    path = out_dir / "network.json"
    _write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline="\n"))
    return written + [path]
