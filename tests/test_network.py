"""Tests of kg.derive.network on the made-up fixture tests/network/data.ttl; a smoke test on the real data.

Every expected number below was counted by hand from the feature sets listed at the top of the
fixture; the comments show the arithmetic.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import networkx as nx
import pytest
from rdflib import Dataset, Graph

from kg.derive import network as kn
from kg.model import resources
from kg.model.namespaces import (
    G_DERIVED,
    G_EVIDENCE,
    G_ONTOLOGY,
    G_VOCAB,
    SMQI,
    concept_iri,
    use_iri,
)

# rdflib 7.6 warns from inside Dataset.triples() itself when default_union=True; not our call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Dataset.default_context is deprecated:DeprecationWarning"
)

HERE = Path(__file__).parent
FIXTURE = HERE / "network" / "data.ttl"
# delta2023-1 gets no model: it must be reported as unclassified.
MODELS = {
    ("alpha2020", 1): "listening",
    ("alpha2020", 2): "feedback-seeking",
    ("beta2021", 1): "listening",
    ("gamma2022", 1): "improvement-network",
    ("gamma2022", 2): "co-design-space",
}


def fixture_dataset(with_models: bool = True) -> Dataset:
    """Ontology, vocabularies and the fixture evidence; the models of use in the derived graph."""
    ds = Dataset(default_union=True)
    ds.graph(G_ONTOLOGY).parse(resources.ontology_file())
    for path in resources.vocab_files():
        ds.graph(G_VOCAB).parse(path)
    ds.graph(G_EVIDENCE).parse(FIXTURE)
    if with_models:
        derived = ds.graph(G_DERIVED)
        for (study, no), model in MODELS.items():
            derived.add((use_iri(study, no), SMQI.modelOfUse, concept_iri("typology", model)))
    return ds


@pytest.fixture(scope="module")
def report() -> kn.NetworkReport:
    return kn.analyse(fixture_dataset())


def test_bipartite_graph(report: kn.NetworkReport) -> None:
    g = report.bipartite
    # 4 studies + 24 concepts: 20 features + stages study, plan, do, act.
    assert report.sizes()["bipartite"] == {"nodes": 28, "edges": 33, "studies": 4, "concepts": 24}
    # Edges: alpha2020 11 (A1 ∪ A2 codes), beta2021 7, gamma2022 9 (G2 ⊇ G1; stages do, act),
    # delta2023 6: 33.
    assert g["alpha2020"]["user-population:patients-consumers"]["weight"] == 2
    assert g["alpha2020"]["qi-activity:feedback-collection"]["weight"] == 2
    assert g["alpha2020"]["platform:twitter"]["weight"] == 1
    assert g["gamma2022"]["qi-stage:do"]["weight"] == 2
    assert g["gamma2022"]["qi-stage:act"]["weight"] == 1
    # delta2023-1 is linked only by smqi:reportedIn and still reaches its study.
    assert g["delta2023"]["platform:facebook"]["weight"] == 1
    assert g.nodes["alpha2020"] == {
        "kind": "study", "label": "alpha2020", "bipartite": 0, "uses": 2
    }  # fmt: skip
    assert g.nodes["platform:twitter"]["kind"] == "platform"
    assert g.nodes["platform:twitter"]["label"] == "Twitter / X"  # skos:prefLabel in the vocab
    assert g.nodes["qi-stage:do"]["uses"] == 2


def test_cooccurrence_graph(report: kn.NetworkReport) -> None:
    g = report.cooccurrence
    # Cliques of the six feature sets: A1 ∪ B1 = 15 + 15 - 10 shared pairs = 20; A2 adds
    # 10 - 1 (patients x feedback is in A1) = 9; G2 (21) contains G1's 10; D1 adds 10:
    # 20 + 9 + 21 + 10 = 60.
    assert report.sizes()["cooccurrence"] == {"nodes": 20, "edges": 60}
    assert "qi-stage:plan" not in g  # stages are not features
    assert g["communication-model:one-way-inbound"]["platform:twitter"]["weight"] == 2  # A1, B1
    assert g["qi-activity:feedback-collection"]["user-population:patients-consumers"]["weight"] == 2
    assert g["platform:rating-site"]["platform:twitter"]["weight"] == 1  # two platforms, one use
    assert g["communication-model:many-to-many"]["platform:online-forum"]["weight"] == 2
    assert not g.has_edge("platform:facebook", "platform:twitter")  # never in the same use


def test_communities(report: kn.NetworkReport) -> None:
    assert report.feature_communities == [
        [
            "communication-model:many-to-many",
            "host:professionals",
            "platform:online-forum",
            "qi-activity:collaborative-work",
            "qi-activity:networking",
            "user-population:clinical-providers",
            "user-population:non-clinical-providers",
        ],
        [
            "communication-model:one-way-inbound",
            "host:third-party-platform",
            "platform:rating-site",
            "platform:twitter",
            "qi-activity:feedback-collection",
            "qi-activity:quality-monitoring",
            "user-population:patients-consumers",
        ],
        [
            "communication-model:two-way",
            "host:consumers-community",
            "host:health-organisation",
            "platform:facebook",
            "qi-activity:advocacy",
            "user-population:carers-families",
        ],
    ]
    # Jaccard weights: A1-B1 5/7, G1-G2 5/7, A1-A2 2/9, A2-B1 1/10, A2-D1 1/9, G1-D1 1/9,
    # G2-D1 1/11.
    # D1 gains more modularity joining G (0.202 - 1.63 * 0.313 / 4.128 > 0) than A (< 0).
    assert report.sizes()["use_graph"] == {"nodes": 6, "edges": 7}
    assert report.use_graph["alpha2020-1"]["beta2021-1"]["weight"] == pytest.approx(5 / 7)
    assert report.use_communities == [
        ["alpha2020-1", "alpha2020-2", "beta2021-1"],
        ["delta2023-1", "gamma2022-1", "gamma2022-2"],
    ]


def test_contingency_and_ari(report: kn.NetworkReport) -> None:
    assert report.models["delta2023-1"] == "unclassified"
    assert report.contingency_rows == [
        "co-design-space", "feedback-seeking", "improvement-network", "listening", "unclassified"
    ]  # fmt: skip
    assert report.contingency_columns == ["U1", "U2"]
    assert report.contingency == [[0, 1], [1, 0], [0, 1], [2, 0], [0, 1]]
    # Hand: index = C(2,2) = 1; rows a = C(2,2) = 1; columns b = C(3,2) + C(3,2) = 6; C(6,2) = 15;
    # expected = 1 * 6 / 15 = 2/5; max = (1 + 6) / 2 = 7/2; ARI = (1 - 2/5) / (7/2 - 2/5) = 6/31.
    assert report.ari == pytest.approx(6 / 31, abs=1e-12)


def test_models_only_from_derived_graph() -> None:
    ds = fixture_dataset(with_models=False)
    # A model asserted in the evidence graph is not a derived assignment and must be ignored.
    ds.graph(G_EVIDENCE).add(
        (use_iri("alpha2020", 1), SMQI.modelOfUse, concept_iri("typology", "listening"))
    )
    report = kn.analyse(ds)
    assert set(report.models.values()) == {"unclassified"}
    assert report.contingency_rows == ["unclassified"]
    # One model cluster against two communities: index = expected, ARI 0.
    assert report.ari == 0.0


@pytest.mark.parametrize("container", ["graph", "dataset-without-union"])
def test_other_containers(report: kn.NetworkReport, container: str) -> None:
    """A plain Graph (models read from itself) or a Dataset without default_union gives the same."""
    full = fixture_dataset()
    if container == "graph":
        other = Graph()
        other += ((s, p, o) for s, p, o, _ in full.quads((None, None, None, None)))
    else:
        other = Dataset(default_union=False)
        for s, p, o, g in full.quads((None, None, None, None)):
            other.graph(g).add((s, p, o))
    assert kn.to_json_data(kn.analyse(other)) == kn.to_json_data(report)


def test_centralities(report: kn.NetworkReport) -> None:
    platforms = report.centralities["platform"]
    # twitter: A1 gives 5 neighbours, B1 gives 5: strength 10; online-forum: 4 in G1 + 6 in G2 = 10.
    assert platforms["strength"] == [
        ("platform:online-forum", 10.0),
        ("platform:twitter", 10.0),
        ("platform:facebook", 8.0),
        ("platform:rating-site", 5.0),
    ]
    # facebook is a cut vertex between 9 nodes on the A side and 10 beyond it (D1, G), and no
    # other shortest path uses it (its neighbours on either side are adjacent): 90 pairs;
    # normalised by (n-1)(n-2)/2 = 19 * 18 / 2 = 171 -> 90/171 = 0.5263.
    assert platforms["betweenness"][0] == ("platform:facebook", 0.5263)
    assert dict(platforms["betweenness"])["platform:rating-site"] == 0.0
    assert set(report.centralities) == {"platform", "user-population", "qi-activity"}
    assert [v for _, v in platforms["eigenvector"]] == sorted(
        (v for _, v in platforms["eigenvector"]), reverse=True
    )


def test_report_text(report: kn.NetworkReport) -> None:
    text = kn.report_text(report)
    assert "cooccurrence: 20 nodes, 60 edges" in text
    assert "Adjusted Rand index (models vs use communities): 0.1935" in text
    assert "U1 (3): alpha2020-1, alpha2020-2, beta2021-1" in text


def test_write_outputs_deterministic(report: kn.NetworkReport, tmp_path: Path) -> None:
    first = kn.write_outputs(report, tmp_path / "a")
    kn.write_outputs(kn.analyse(fixture_dataset()), tmp_path / "b")
    assert [p.name for p in first] == ["bipartite.graphml", "cooccurrence.graphml", "network.json"]
    for path in first:
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name
    assert not list((tmp_path / "a").glob(".*.tmp"))  # no temp file left behind
    back = nx.read_graphml(tmp_path / "a" / "cooccurrence.graphml")
    assert back.number_of_edges() == 60


SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
sys.path.insert(0, sys.argv[1])
import test_network
from kg.derive import network as kn
kn.write_outputs(kn.analyse(test_network.fixture_dataset()), sys.argv[2])
"""


@pytest.mark.parametrize("hashseed", ["0", "4242"])
def test_deterministic_across_hash_seeds(
    report: kn.NetworkReport, tmp_path: Path, hashseed: str
) -> None:
    kn.write_outputs(report, tmp_path / "here")
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(HERE), str(tmp_path / "there")], env=env, check=True
    )
    for name in ("network.json", "bipartite.graphml", "cooccurrence.graphml"):
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "there" / name).read_bytes()


# ------------------------------------------------------------------ adjusted Rand index


def test_ari_identical_partitions() -> None:
    labels = {"a": 1, "b": 1, "c": 2, "d": 3}
    assert kn.partition_ari(labels, {k: f"x{v}" for k, v in labels.items()}) == 1.0


def test_ari_degenerate_cases() -> None:
    assert kn.adjusted_rand_index([[4]]) == 1.0  # both one single cluster
    assert kn.adjusted_rand_index([[1, 0], [0, 1]]) == 1.0  # both all singletons
    assert kn.adjusted_rand_index([[1]]) == 1.0  # one item
    assert kn.adjusted_rand_index([]) == 1.0  # no items
    assert kn.adjusted_rand_index([[1, 1, 1, 1]]) == 0.0  # one cluster vs all singletons


def test_ari_textbook_values() -> None:
    # [0,0,1,1] vs [0,0,1,2] (the scikit-learn documentation example, 0.57):
    # table [[2,0,0],[0,1,1]];
    # index 1, a = 2, b = 1, C(4,2) = 6: (1 - 2/6) / (3/2 - 2/6) = 4/7.
    assert kn.partition_ari(dict(enumerate([0, 0, 1, 1])), dict(enumerate([0, 0, 1, 2]))) == (
        pytest.approx(4 / 7, abs=1e-12)
    )
    # [0,0,1,1] vs [0,1,0,1]: index 0, a = b = 2: (0 - 4/6) / (2 - 4/6) = -1/2.
    assert kn.partition_ari(dict(enumerate([0, 0, 1, 1])), dict(enumerate([0, 1, 0, 1]))) == -0.5


def test_ari_needs_same_items() -> None:
    with pytest.raises(ValueError):
        kn.partition_ari({"a": 1}, {"b": 1})


# ------------------------------------------------------------------ real data smoke test


def test_real_data_sizes() -> None:
    """On the shipped data (no derived graph yet) sizes match counts taken from the CSV sheets."""
    from pipelinedata import pipeline_data

    report = kn.analyse(pipeline_data())
    columns = {
        "platforms": "platform",
        "communication_model": "communication-model",
        "host": "host",
        "user_populations": "user-population",
        "qi_activities": "qi-activity",
        "qi_stages": "qi-stage",
    }
    with open(resources.data_dir() / "uses.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    study_concepts: set[tuple[str, str]] = set()
    pairs: set[tuple[str, str]] = set()
    features: set[str] = set()
    for row in rows:
        codes = {
            f"{dim}:{key.strip()}" for col, dim in columns.items() for key in row[col].split(";")
        }
        study_concepts.update((row["study_id"], c) for c in codes)
        feats = sorted(c for c in codes if not c.startswith("qi-stage:"))
        features.update(feats)
        pairs.update(combinations(feats, 2))
    concepts = {c for _, c in study_concepts}
    with open(resources.data_dir() / "studies.csv", newline="", encoding="utf-8") as fh:
        studies = {row["study_id"] for row in csv.DictReader(fh)}
    sizes = report.sizes()
    assert sizes["bipartite"] == {
        "nodes": len(studies) + len(concepts),
        "edges": len(study_concepts),
        "studies": len(studies),
        "concepts": len(concepts),
    }
    assert sizes["cooccurrence"] == {"nodes": len(features), "edges": len(pairs)}
    assert sizes["use_graph"]["nodes"] == len(rows)
    assert set(report.models.values()) == {"unclassified"}
    assert report.contingency_rows == ["unclassified"]
    assert report.contingency == [[len(c) for c in report.use_communities]]
    assert report.ari == (1.0 if len(report.use_communities) == 1 else 0.0)
