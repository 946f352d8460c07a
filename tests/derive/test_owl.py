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

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from kg.derive import owl as reason
from kg.model import resources
from pipelinedata import pipeline_data as assemble  # the pipeline's graphs as rdflib
from kg.model.namespaces import bind_prefixes
from kg.model.errors import JavaMissing, SmqiError
from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB, SMQI, concept_iri, use_iri
from kg.io.rdf import parse_into
from kg.model.vocabularies import load_ontology_graph, load_vocab_graph

HERE = Path(__file__).parents[1]
FIXTURE = HERE / "reason" / "uses.ttl"
SIGNATURE_FIXTURE = HERE / "reason" / "signatures.ttl"



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


def csv_rows(path: Path) -> dict[URIRef, tuple[str, str, set[str]]]:
    """use IRI -> (communication model, host, QI activities) as the sheet codes them."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            use_iri(row["study_id"], row["use_no"]): (
                row["communication_model"].strip(),
                row["host"].strip(),
                {a.strip() for a in row["qi_activities"].split(";") if a.strip()},
            )
            for row in csv.DictReader(handle)
        }


# The activities some rule of the codebook's table tests: what a signature keeps of a use's activities.
TESTED = set().union(*(acts for *_rest, acts in CODEBOOK_RULES if acts))


def csv_signature(cm: str, host: str, activities: set[str]) -> tuple[str, str, tuple[str, ...]]:
    return cm, host, tuple(sorted(activities & TESTED))


def signature_text(cm: str, host: str, activities: set[str]) -> str:
    tested = " + ".join(csv_signature(cm, host, activities)[2]) or "none"
    return f"communication model {cm}, host {host}, tested activities {tested}"


def keys_of(signature: reason.Signature) -> tuple:
    """A Signature as codebook keys: (communication model, host, tested activities)."""
    def tail(iri):
        return str(iri).rsplit("/", 1)[-1]
    (cm,), (host,) = signature.communication_models, signature.hosts
    return tail(cm), tail(host), tuple(tail(a) for a in signature.activities)


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


# Written by hand from the codebook's rule table (see the header of tests/reason/signatures.ttl).
SIGNATURE_EXPECTED = {
    U("sigma2010-1"): "feedback-seeking",
    U("sigma2010-2"): "feedback-seeking",
    U("sigma2011-1"): "feedback-seeking",
    U("sigma2011-2"): "listening",
    U("sigma2012-1"): "listening",
}


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ontology_graph() -> Graph:
    return load_ontology_graph()


@pytest.fixture(scope="module")
def vocab_graph() -> Graph:
    return load_vocab_graph()


def fixture_dataset(ontology_graph: Graph, vocab_graph: Graph, evidence: Path = FIXTURE) -> Dataset:
    dataset = bind_prefixes(Dataset(default_union=True))
    for name, graph in ((G_ONTOLOGY, ontology_graph), (G_VOCAB, vocab_graph),
                        (G_EVIDENCE, parse_into(Graph(), evidence))):
        dataset.graph(name).__iadd__(graph)
    return dataset


def store_of(dataset: Dataset) -> ox.Store:
    """An in-memory Oxigraph store holding ``dataset``'s named graphs."""
    store = ox.Store()
    store.bulk_load(dataset.serialize(format="nquads", encoding="utf-8"), ox.RdfFormat.N_QUADS)
    return store


@pytest.fixture(scope="module")
def made_up(ontology_graph, vocab_graph) -> Dataset:
    return fixture_dataset(ontology_graph, vocab_graph)


@pytest.fixture(scope="module")
def real():
    return assemble()


@pytest.fixture(scope="module")
def real_classified(real) -> reason.SignatureClassification:
    return reason.classify_signatures(real.dataset)


@pytest.fixture(scope="module")
def real_owl(real_classified) -> dict[URIRef, str]:
    return real_classified.assignments()


@pytest.fixture(scope="module")
def real_store() -> ox.Store:
    """The build's store (kg.publish.build.run_pipeline): the shipped data and the derived typology."""
    from kg.publish.build import run_pipeline

    return run_pipeline().store


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


# ---------------------------------------------------------------- (f) one individual per signature

@java
def test_five_uses_with_two_signatures_are_two_individuals(ontology_graph, vocab_graph):
    dataset = fixture_dataset(ontology_graph, vocab_graph, SIGNATURE_FIXTURE)
    found = reason.classify_signatures(dataset)
    assert found.classified == 2
    assert len(found.individuals) == 2
    assert sorted(found.individuals.values()) == [
        URIRef("https://w3id.org/smqi/reasoning/typology#signature-1"),
        URIRef("https://w3id.org/smqi/reasoning/typology#signature-2"),
    ]
    assert {u: keys_of(sig) for u, sig in found.signatures.items()} == {
        U("sigma2010-1"): ("two-way", "health-organisation", ("feedback-collection",)),
        U("sigma2010-2"): ("two-way", "health-organisation", ("feedback-collection",)),
        U("sigma2011-1"): ("two-way", "health-organisation", ("feedback-collection",)),
        U("sigma2011-2"): ("one-way-inbound", "third-party-platform", ()),
        U("sigma2012-1"): ("one-way-inbound", "third-party-platform", ()),
    }
    assert found.assignments() == SIGNATURE_EXPECTED
    assert reason.owl_assignments(dataset) == SIGNATURE_EXPECTED


@java
def test_shipped_data_individuals_are_its_distinct_signatures(real_classified):
    rows = csv_rows(resources.data_dir() / "uses.csv")
    expected = {use: csv_signature(*row) for use, row in rows.items()}
    distinct = len(set(expected.values()))
    assert distinct < len(rows)  # uses do share signatures on the shipped data
    assert real_classified.classified == distinct
    assert len(real_classified.individuals) == distinct
    assert {u: keys_of(sig) for u, sig in real_classified.signatures.items()} == expected


@java
@pytest.mark.parametrize("kind", ["dataset", "store"])
def test_a_tampered_sparql_answer_names_the_use_and_its_signature(kind, real, real_store,
                                                                   real_classified):
    source = real.dataset if kind == "dataset" else real_store
    sparql = oracle_on_csv(resources.data_dir() / "uses.csv")
    if kind == "store":  # the store carries the derivation of kg.derive.typology.derive_on_store
        assert reason.sparql_assignments(real_store) == sparql
        sparql = reason.sparql_assignments(real_store)
    victim = sorted(u for u, m in sparql.items() if m == "listening")[-1]
    sparql[victim] = "consultation"
    with pytest.raises(reason.TypologyDisagreement) as info:
        reason.check_typology(source, sparql)
    row = csv_rows(resources.data_dir() / "uses.csv")[victim]
    assert str(info.value).splitlines() == [
        "the typology's SPARQL derivation and HermiT disagree on 1 use:",
        f"{reason.use_label(victim)}: SPARQL says consultation, HermiT says listening "
        f"(signature: {signature_text(*row)})",
    ]
    assert info.value.disagreements == [
        reason.Disagreement(victim, "consultation", "listening", real_classified.signatures[victim])
    ]


@java
def test_a_store_gives_the_same_answer_as_rdflib(made_up, real_classified, real_store):
    on_store = reason.classify_signatures(store_of(made_up))
    on_rdflib = reason.classify_signatures(made_up)
    assert on_store == on_rdflib
    assert on_store.assignments() == FIXTURE_EXPECTED
    from_build = reason.classify_signatures(real_store)
    assert from_build == real_classified
    assert reason.check_typology(real_store, reason.sparql_assignments(real_store)) == (
        real_classified.assignments())


@java
def test_the_types_of_the_signature_concepts_reach_hermit(ontology_graph, vocab_graph):
    """Only the concepts a rule or a signature mentions keep their type, and that still catches a
    platform given as a host (Platform and Host are disjoint; host has range Host)."""
    dataset = fixture_dataset(ontology_graph, vocab_graph, SIGNATURE_FIXTURE)
    evidence = dataset.graph(G_EVIDENCE)
    evidence.set((U("sigma2012-1"), SMQI.host, concept_iri("platform", "twitter")))
    with pytest.raises(reason.Inconsistent, match="inconsistent"):
        reason.owl_assignments(dataset)


def test_sparql_assignments_read_the_derived_graph(real_store):
    from kg.derive.typology import derive

    fresh = assemble()
    assert set(reason.sparql_assignments(fresh.dataset).values()) == {"unclassified"}
    derivation = derive(fresh.dataset)
    assert reason.sparql_assignments(fresh.dataset) == derivation.assignments
    assert reason.sparql_assignments(real_store) == derivation.assignments
    assert reason.sparql_assignments(fresh) == derivation.assignments  # a KnowledgeGraph


# ---------------------------------------------------------------- (g) no Java

def test_java_missing_is_raised_first_with_the_hint(made_up, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere on PATH

    def no_work(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("expensive work was done before Java was looked for")

    monkeypatch.setattr(reason, "_reasoning_input", no_work)
    monkeypatch.setattr(reason, "load_world", no_work)
    store = store_of(made_up)
    calls = (lambda: reason.owl_assignments(made_up), lambda: reason.check_consistency(made_up),
             lambda: reason.owl_assignments(store), lambda: reason.check_typology(store, {}))
    for call in calls:
        with pytest.raises(JavaMissing) as info:
            call()
        assert str(info.value) == reason.JAVA_HINT
        assert "apt-get install default-jre-headless" in str(info.value)


def test_java_missing_when_which_finds_nothing(monkeypatch):
    monkeypatch.setattr(reason.shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(JavaMissing, match="needs a Java runtime"):
        reason.java_executable()
