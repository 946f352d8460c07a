"""kg/reason.py: HermiT consistency checks and the OWL cross-check of the typology.

The typology's rules are read from the vocabulary and turned into OWL; HermiT's classification of
the uses is compared with answers written by hand (a made-up fixture) and with an independent
Python evaluation of the rule table in CODEBOOK.md over data/uses.csv (the oracle below).
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from kg.derive import owl as reason
from kg.model import resources
from kg.model.namespaces import bind_prefixes
from pipelinedata import pipeline_data
from kg.model.errors import JavaMissing, SmqiError
from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB, SMQI, concept_iri, use_iri
from kg.io.rdf import parse_into
from kg.model.vocabularies import load_ontology_graph, load_vocab_graph

HERE = Path(__file__).parent
FIXTURE = HERE / "reason" / "uses.ttl"



def java(test):
    """Mark a test that runs HermiT: marker ``java``, skipped when no Java runtime is on PATH."""
    no_java = shutil.which("java") is None and not os.environ.get("CI")  # CI installs Java: fail there
    test = pytest.mark.skipif(no_java, reason="HermiT needs a Java runtime")(test)
    return pytest.mark.java(test)


# ---------------------------------------------------------------- the oracle: CODEBOOK.md's table
# (key, communication_model, host, any of these qi_activities), in priority order; None = any.
CODEBOOK_RULES = [
    ("listening", "one-way-inbound", None, None),
    ("broadcasting", "one-way-outbound", None, None),
    ("consumer-advocacy", None, "consumers-community", {"advocacy"}),
    ("professional-movement", None, "professionals", {"advocacy"}),
    ("co-design-space", None, None, {"co-design", "collaborative-work"}),
    ("crowdsourcing", None, None, {"idea-generation"}),
    ("improvement-network", None, None, {"networking"}),
    ("consultation", None, None, {"consultation", "priority-setting"}),
    ("feedback-seeking", None, None, {"feedback-collection"}),
]


def oracle_model(communication_model: str, host: str, activities: set[str]) -> str:
    for key, cm, h, acts in CODEBOOK_RULES:
        if cm is not None and communication_model != cm:
            continue
        if h is not None and host != h:
            continue
        if acts is not None and not (activities & acts):
            continue
        return key
    return "unclassified"


def oracle_on_csv(path: Path) -> dict[URIRef, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            use_iri(row["study_id"], row["use_no"]): oracle_model(
                row["communication_model"].strip(),
                row["host"].strip(),
                {a.strip() for a in row["qi_activities"].split(";") if a.strip()},
            )
            for row in csv.DictReader(handle)
        }


def U(label: str) -> URIRef:
    return URIRef("https://w3id.org/smqi/kg/use/" + label)


# Written by hand from the codebook's rule table (see the comments in tests/reason/uses.ttl).
FIXTURE_EXPECTED = {
    U("madeup2001-1"): "listening",
    U("madeup2001-2"): "broadcasting",
    U("madeup2002-1"): "consumer-advocacy",
    U("madeup2002-2"): "professional-movement",
    U("madeup2003-1"): "co-design-space",
    U("madeup2003-2"): "crowdsourcing",
    U("madeup2004-1"): "improvement-network",
    U("madeup2004-2"): "consultation",
    U("madeup2005-1"): "feedback-seeking",
    U("madeup2005-2"): "consumer-advocacy",  # also matches co-design-space
    U("madeup2006-1"): "broadcasting",  # also matches consultation and feedback-seeking
    U("madeup2006-2"): "unclassified",
    U("madeup2006-3"): "unclassified",
}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ontology_graph() -> Graph:
    return load_ontology_graph()


@pytest.fixture(scope="module")
def vocab_graph() -> Graph:
    return load_vocab_graph()


def fixture_dataset(ontology_graph: Graph, vocab_graph: Graph) -> Dataset:
    dataset = bind_prefixes(Dataset(default_union=True))
    for name, graph in ((G_ONTOLOGY, ontology_graph), (G_VOCAB, vocab_graph),
                        (G_EVIDENCE, parse_into(Graph(), FIXTURE))):
        target = dataset.graph(name)
        target += graph
    return dataset


@pytest.fixture(scope="module")
def made_up(ontology_graph, vocab_graph) -> Dataset:
    return fixture_dataset(ontology_graph, vocab_graph)


@pytest.fixture(scope="module")
def real():
    return pipeline_data()


@pytest.fixture(scope="module")
def real_owl(real) -> dict[URIRef, str]:
    return reason.owl_assignments(real.dataset)


# ---------------------------------------------------------------- the generated OWL (no Java)

def test_owl_rules_come_from_the_rule_data(vocab_graph):
    rules = reason.read_rules(vocab_graph)
    assert [(r.key, r.priority) for r in rules] == [
        (key, i) for i, (key, *_rest) in enumerate(CODEBOOK_RULES, start=1)
    ]
    owl = reason.owl_rules(vocab_graph)
    classes = {c for c in owl.subjects(RDF.type, URIRef("http://www.w3.org/2002/07/owl#Class"))
               if isinstance(c, URIRef)}
    assert all(str(c).startswith("https://w3id.org/smqi/reasoning/typology#") for c in classes)
    assert len(classes) == 2 * len(CODEBOOK_RULES) + 1  # Match_i, Model_i, Unclassified


def test_invalid_rule_data_is_reported(vocab_graph):
    broken = Graph()
    broken += vocab_graph
    broken.set((concept_iri("typology", "crowdsourcing"), SMQI.rulePriority,
                Literal(5, datatype=XSD.integer)))  # clashes with co-design-space
    clash = "co-design-space and crowdsourcing share rule priority 5"
    with pytest.raises(reason.RulesInvalid, match=clash):
        reason.owl_rules(broken)


def test_oracle_agrees_with_the_hand_written_fixture_answers():
    graph = parse_into(Graph(), FIXTURE)

    def key(node):
        return str(node).rsplit("/", 1)[-1]
    got = {
        use: oracle_model(key(graph.value(use, SMQI.communicationModel)),
                          key(graph.value(use, SMQI.host)),
                          {key(a) for a in graph.objects(use, SMQI.qiActivity)})
        for use in graph.subjects(RDF.type, SMQI.SocialMediaUse)
    }
    assert got == FIXTURE_EXPECTED


# ---------------------------------------------------------------- (a), (b) consistency

@java
@pytest.mark.parametrize("part", ["ontology", "ontology+vocab"])
def test_consistent_parts(part, ontology_graph, vocab_graph):
    graph = Graph()
    graph += ontology_graph
    if part == "ontology+vocab":
        graph += vocab_graph
    reason.check_consistency(graph)


@java
def test_real_dataset_is_consistent(real):
    reason.check_consistency(real.dataset)


@java
def test_host_used_as_platform_is_inconsistent(ontology_graph, vocab_graph):
    graph = Graph()
    graph += ontology_graph
    graph += vocab_graph
    use = U("madeup2099-1")
    graph.add((use, RDF.type, SMQI.SocialMediaUse))
    graph.add((use, SMQI.platform, concept_iri("host", "professionals")))  # a Host is no Platform
    with pytest.raises(reason.Inconsistent, match="inconsistent"):
        reason.check_consistency(graph)


# ---------------------------------------------------------------- (c) made-up fixture

@java
def test_owl_assignments_on_made_up_uses(made_up):
    assert reason.owl_assignments(made_up) == FIXTURE_EXPECTED


@java
def test_without_closed_world_the_negations_decide_nothing(made_up, monkeypatch):
    """Open world: without the closure axioms HermiT cannot tell that a use fails a rule."""
    monkeypatch.setattr(reason, "closed_world_axioms", lambda graph, rules: Graph())
    with pytest.raises(reason.AssignmentUndetermined) as info:
        reason.owl_assignments(made_up)
    # only rule 1 has no negation before it and matches positively
    assert set(info.value.uses) == set(FIXTURE_EXPECTED) - {U("madeup2001-1")}
    assert "madeup2006-3: no assignment class" in str(info.value)


# ---------------------------------------------------------------- (d) real data vs the oracle

@java
def test_owl_assignments_on_real_data_match_the_codebook(real, real_owl):
    expected = oracle_on_csv(resources.data_dir() / "uses.csv")
    assert len(expected) == real.use_count
    assert reason.cross_check(expected, real_owl) == []
    assert real_owl == expected


# ---------------------------------------------------------------- (e) the cross-check catches it

@java
def test_cross_check_catches_an_altered_sparql_answer(real_owl):
    sparql = oracle_on_csv(resources.data_dir() / "uses.csv")
    victim = sorted(u for u, m in sparql.items() if m == "listening")[0]
    sparql[victim] = "broadcasting"
    found = reason.cross_check(sparql, real_owl)
    assert found == [reason.Disagreement(victim, "broadcasting", "listening")]
    assert reason.format_disagreements(found) == (
        f"{reason.use_label(victim)}: SPARQL says broadcasting, HermiT says listening"
    )
    with pytest.raises(reason.TypologyDisagreement) as info:
        raise reason.TypologyDisagreement(found)
    assert info.value.exit_code == 1 and info.value.disagreements == found


@java
def test_cross_check_catches_a_rule_changed_on_the_owl_side_only(ontology_graph, vocab_graph):
    changed = Graph()
    changed += vocab_graph
    # swap the priorities of consumer-advocacy (3) and co-design-space (5) for HermiT only
    changed.set((concept_iri("typology", "consumer-advocacy"), SMQI.rulePriority,
                 Literal(5, datatype=XSD.integer)))
    changed.set((concept_iri("typology", "co-design-space"), SMQI.rulePriority,
                 Literal(3, datatype=XSD.integer)))
    owl = reason.owl_assignments(fixture_dataset(ontology_graph, changed))
    found = reason.cross_check(FIXTURE_EXPECTED, owl)
    assert found == [reason.Disagreement(U("madeup2005-2"), "consumer-advocacy", "co-design-space")]
    assert reason.format_disagreements(found) == (
        "madeup2005-2: SPARQL says consumer-advocacy, HermiT says co-design-space"
    )


def test_cross_check_reports_uses_on_one_side_only():
    sparql = {U("a2000-1"): "listening", U("a2000-2"): "crowdsourcing",
              U("a2000-10"): "consultation"}
    owl = {U("a2000-1"): "listening", U("a2000-10"): "consultation", U("b2000-1"): "unclassified"}
    found = reason.cross_check(sparql, owl)
    assert found == [
        reason.Disagreement(U("a2000-2"), "crowdsourcing", None),
        reason.Disagreement(U("b2000-1"), None, "unclassified"),
    ]
    assert reason.format_disagreements(found) == (
        "a2000-2: SPARQL says crowdsourcing, HermiT says nothing (use missing)\n"
        "b2000-1: SPARQL says nothing (use missing), HermiT says unclassified"
    )
    assert reason.cross_check(sparql, dict(sparql)) == []
    error = reason.TypologyDisagreement(found)
    assert isinstance(error, SmqiError) and error.exit_code == 1
    assert "disagree on 2 uses" in str(error)


# ---------------------------------------------------------------- (f) no Java

def test_java_missing_is_raised_first_with_the_hint(made_up, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere on PATH

    def no_work(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("expensive work was done before Java was looked for")

    monkeypatch.setattr(reason, "_reasoning_input", no_work)
    monkeypatch.setattr(reason, "load_world", no_work)
    calls = (lambda: reason.owl_assignments(made_up), lambda: reason.check_consistency(made_up))
    for call in calls:
        with pytest.raises(JavaMissing) as info:
            call()
        assert str(info.value) == reason.JAVA_HINT
        assert "apt-get install default-jre-headless" in str(info.value)


def test_java_missing_when_which_finds_nothing(monkeypatch):
    monkeypatch.setattr(reason.shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(JavaMissing, match="needs a Java runtime"):
        reason.java_executable()
