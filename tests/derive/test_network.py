"""Tests of kg.derive.network on the made-up fixture tests/network/data.ttl, and on the shipped data against
counts recomputed from data/uses.csv with the csv module (and a Store against rdflib).

Every expected number below was counted by hand from the feature sets listed at the top of the
fixture; the comments show the arithmetic.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

import networkx as nx
import pyoxigraph as ox
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

HERE = Path(__file__).parents[1]
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
    # Each use goes to the community holding most of its features (C1, C2, C3 above):
    # A1 6 in C2; A2 facebook, two-way, health-organisation in C3 (3) vs patients, feedback in C2 (2);
    # B1 6 in C2; G1 5 and G2 7 in C1; D1 facebook, carers, advocacy, consumers-community in C3 (4)
    # vs many-to-many in C1 (1).
    assert report.use_community == {
        "alpha2020-1": "C2", "alpha2020-2": "C3", "beta2021-1": "C2",
        "gamma2022-1": "C1", "gamma2022-2": "C1", "delta2023-1": "C3",
    }  # fmt: skip
    assert report.contingency_columns == ["C1", "C2", "C3"]
    assert report.use_communities == [
        ["gamma2022-1", "gamma2022-2"],
        ["alpha2020-1", "beta2021-1"],
        ["alpha2020-2", "delta2023-1"],
    ]
    assert "use_graph" not in report.sizes()  # no use-use graph: it needs every pair of uses


def test_assign_uses_ties_and_uses_without_features() -> None:
    ev = kn.Evidence(codes={"a2000-1": {"platform:x", "host:y"}, "a2000-2": {"qi-stage:do"},
                            "a2000-3": {"platform:x", "host:z", "host:y"}})
    comms = [["host:z", "platform:q"], ["host:y"], ["platform:x"]]
    # a2000-1: one feature in the 2nd and one in the 3rd community: the earlier (C2) wins;
    # a2000-2: a stage is no feature; a2000-3: one each in C1, C2, C3: C1.
    assert kn.assign_uses(ev, comms) == {"a2000-1": "C2", "a2000-2": "none", "a2000-3": "C1"}
    assert kn.community_labels(12)[:2] == ["C01", "C02"] and kn.community_labels(12)[-1] == "C12"


def test_contingency_and_ari(report: kn.NetworkReport) -> None:
    assert report.models["delta2023-1"] == "unclassified"
    assert report.contingency_rows == [
        "co-design-space", "feedback-seeking", "improvement-network", "listening", "unclassified"
    ]  # fmt: skip
    assert report.contingency_columns == ["C1", "C2", "C3"]
    assert report.contingency == [[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 2, 0], [0, 0, 1]]
    # Hand: index = C(2,2) = 1 (the two listening uses in C2); rows a = C(2,2) = 1; columns
    # b = 3 * C(2,2) = 3; C(6,2) = 15; expected = 1 * 3 / 15 = 1/5; max = (1 + 3) / 2 = 2;
    # ARI = (1 - 1/5) / (2 - 1/5) = 4/9.
    assert report.ari == pytest.approx(4 / 9, abs=1e-12)


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
    assert "Adjusted Rand index (models vs feature communities of the uses): 0.4444" in text
    assert "  C2 (2): alpha2020-1, beta2021-1\n" in text
    assert "use_graph" not in text


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
        [sys.executable, "-c", SCRIPT, str(Path(__file__).parent), str(tmp_path / "there")], env=env, check=True
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


# ------------------------------------------------------------------ a pyoxigraph Store


def store_of(dataset: Dataset) -> ox.Store:
    """An in-memory Oxigraph store holding ``dataset``'s named graphs."""
    store = ox.Store()
    store.bulk_load(dataset.serialize(format="nquads", encoding="utf-8"), ox.RdfFormat.N_QUADS)
    return store


def test_store_gives_the_same_analysis(report: kn.NetworkReport, tmp_path: Path) -> None:
    on_store = kn.analyse(store_of(fixture_dataset()))
    assert kn.to_json_data(on_store) == kn.to_json_data(report)
    assert kn.report_text(on_store) == kn.report_text(report)
    kn.write_outputs(report, tmp_path / "rdflib")
    kn.write_outputs(on_store, tmp_path / "store")
    for name in ("network.json", "bipartite.graphml", "cooccurrence.graphml"):
        assert (tmp_path / "rdflib" / name).read_bytes() == (tmp_path / "store" / name).read_bytes()


# ------------------------------------------------------------------ the shipped data

COLUMNS = {
    "platforms": "platform",
    "communication_model": "communication-model",
    "host": "host",
    "user_populations": "user-population",
    "qi_activities": "qi-activity",
    "qi_stages": "qi-stage",
}


def sheet_codes() -> dict[str, tuple[str, set[str]]]:
    """use id -> (study id, its concept node ids), read with the csv module from data/uses.csv."""
    with open(resources.data_dir() / "uses.csv", newline="", encoding="utf-8") as fh:
        return {
            f"{row['study_id']}-{row['use_no']}": (row["study_id"], {
                f"{dim}:{key.strip()}" for col, dim in COLUMNS.items()
                for key in row[col].split(";") if key.strip()
            })
            for row in csv.DictReader(fh)
        }


def pair_ari(a: dict[str, str], b: dict[str, str]) -> float:
    """The adjusted Rand index by its definition over every pair of items (fine for the shipped uses)."""
    items = sorted(a)
    both = same_a = same_b = 0
    for x, y in combinations(items, 2):
        sa, sb = a[x] == a[y], b[x] == b[y]
        both, same_a, same_b = both + (sa and sb), same_a + sa, same_b + sb
    pairs = len(items) * (len(items) - 1) // 2
    expected = same_a * same_b / pairs
    return (both - expected) / ((same_a + same_b) / 2 - expected)


@pytest.fixture(scope="module")
def shipped() -> tuple[kn.NetworkReport, dict[str, str]]:
    """The analysis of the shipped data with its derived typology, and the derived models."""
    from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib
    from kg.derive.typology import derive

    kg = assemble()
    rows = derive(kg.dataset).rows
    return kn.analyse(kg.dataset), {f"{study}-{no}": model for study, no, model in rows}


def test_shipped_data_counts_match_the_sheet(shipped) -> None:
    report, _models = shipped
    codes = sheet_codes()
    study_concepts: Counter[tuple[str, str]] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    uses_of: Counter[str] = Counter()
    for study, concepts in codes.values():
        study_concepts.update((study, c) for c in concepts)
        uses_of.update(concepts)
        pairs.update(combinations(sorted(c for c in concepts if not c.startswith("qi-stage:")), 2))
    with open(resources.data_dir() / "studies.csv", newline="", encoding="utf-8") as fh:
        studies = {row["study_id"] for row in csv.DictReader(fh)}
    bip, cooc = report.bipartite, report.cooccurrence
    assert {(a, b) if bip.nodes[a]["kind"] == "study" else (b, a): w
            for a, b, w in bip.edges(data="weight")} == dict(study_concepts)
    assert {n for n, kind in bip.nodes(data="kind") if kind == "study"} == studies
    assert {tuple(sorted((a, b))): w for a, b, w in cooc.edges(data="weight")} == dict(pairs)
    assert dict(cooc.nodes(data="uses")) == {
        c: n for c, n in uses_of.items() if not c.startswith("qi-stage:")}
    assert report.sizes() == {
        "bipartite": {"nodes": len(studies) + len(uses_of), "edges": len(study_concepts),
                      "studies": len(studies), "concepts": len(uses_of)},
        "cooccurrence": {"nodes": len(uses_of) - sum(c.startswith("qi-stage:") for c in uses_of),
                         "edges": len(pairs)},
    }


def test_shipped_data_use_communities_models_and_ari(shipped) -> None:
    report, models = shipped
    codes = sheet_codes()
    community_of = {n: i for i, comm in enumerate(report.feature_communities) for n in comm}
    assert set(community_of) == set(report.cooccurrence)  # the communities partition the features
    width = len(str(len(report.feature_communities)))
    expected: dict[str, str] = {}
    for use, (_study, concepts) in codes.items():
        votes = Counter(community_of[c] for c in concepts if not c.startswith("qi-stage:"))
        best = max(votes.values())
        expected[use] = f"C{min(i for i, v in votes.items() if v == best) + 1:0{width}d}"
    assert report.use_community == expected
    assert report.models == models
    assert set(models.values()) - {"unclassified"}  # the typology was derived
    cells = Counter((models[u], expected[u]) for u in codes)
    assert report.contingency == [
        [cells[(r, c)] for c in report.contingency_columns] for r in report.contingency_rows]
    assert sorted(report.contingency_columns) == sorted(set(expected.values()))
    assert report.ari == pytest.approx(pair_ari(models, expected), abs=1e-12)


def test_shipped_data_store_equals_rdflib(shipped, tmp_path: Path) -> None:
    """The build's store (kg.publish.build.run_pipeline, typology derived on Oxigraph) gives the same."""
    from kg.publish.build import run_pipeline

    report, _models = shipped
    on_store = kn.analyse(run_pipeline().store)
    assert kn.to_json_data(on_store) == kn.to_json_data(report)
    kn.write_outputs(report, tmp_path / "rdflib")
    kn.write_outputs(on_store, tmp_path / "store")
    for name in ("network.json", "bipartite.graphml", "cooccurrence.graphml"):
        assert (tmp_path / "rdflib" / name).read_bytes() == (tmp_path / "store" / name).read_bytes()


def test_shipped_data_without_typology_is_all_unclassified() -> None:
    from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib

    report = kn.analyse(assemble())
    assert set(report.models.values()) == {"unclassified"}
    assert report.contingency_rows == ["unclassified"]
    assert report.contingency == [[len(c) for c in report.use_communities]]
    assert report.ari == (1.0 if len(report.use_communities) == 1 else 0.0)
