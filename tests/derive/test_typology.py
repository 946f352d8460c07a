"""Tests of kg.derive.typology and queries/typology/assign.rq: the typology of models of use.

The fixture ``tests/typology/uses.ttl`` is made up (one use per rule, ties broken by priority, an
unclassified use); it is loaded with the real ontology and vocabularies, so the rules are the real
ones from ``ontology/vocab/typology.ttl``. Rule edits are made on a copy of that file. The real-data
test compares the SPARQL derivation with an independent oracle: the codebook's rule table written
out by hand below and applied to ``data/uses.csv`` with the csv module.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from rdflib import RDF, Dataset, Graph, Literal, URIRef
from rdflib.namespace import XSD

from kg.io import queries as kq
from kg.model import resources
from kg.derive import typology as ty
from kg.model.namespaces import bind_prefixes
from codebook import CODEBOOK_RULES
from pipelinedata import pipeline_data
from kg.model.errors import DataError, UsageError
from kg.model.namespaces import (
    G_DERIVED,
    G_EVIDENCE,
    G_ONTOLOGY,
    G_VOCAB,
    SMQI,
    concept_iri,
    use_iri,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Dataset.default_context is deprecated:DeprecationWarning"
)

HERE = Path(__file__).parents[1]
USES = HERE / "typology" / "uses.ttl"

# What the real rules give the made-up uses of tests/typology/uses.ttl.
EXPECTED = {
    "alpha2020-1": "listening",  # rules 1 and 5 match: 1 wins
    "alpha2020-2": "broadcasting",
    "alpha2020-3": "consumer-advocacy",  # rules 3 and 7 match: 3 wins
    "alpha2020-4": "professional-movement",
    "alpha2020-5": "co-design-space",
    "alpha2020-6": "crowdsourcing",
    "alpha2020-7": "improvement-network",
    "alpha2020-8": "consultation",  # rules 8 and 9 match: 8 wins
    "alpha2020-9": "feedback-seeking",
    "alpha2020-10": "unclassified",
    "beta2021-1": "consultation",
    "beta2021-2": "listening",
}


def build(uses: Path = USES, typology: Path | None = None) -> Dataset:
    """Ontology + vocabularies (with ``typology`` in place of the shipped file) + ``uses``."""
    ds = bind_prefixes(Dataset(default_union=True))
    ds.graph(G_ONTOLOGY).parse(resources.ontology_file())
    vocab = ds.graph(G_VOCAB)
    for path in resources.vocab_files():
        vocab.parse(typology if typology is not None and path.name == "typology.ttl" else path)
    ds.graph(G_EVIDENCE).parse(uses)
    ds.graph(G_DERIVED)
    return ds


def by_use_id(derivation: ty.Derivation) -> dict[str, str]:
    return {f"{s}-{n}": key for s, n, key in derivation.rows}


def edited_typology(tmp_path: Path, edit) -> Path:
    """A copy of the shipped typology.ttl with ``edit(graph)`` applied to its data."""
    shipped = next(p for p in resources.vocab_files() if p.name == "typology.ttl")
    graph = Graph().parse(shipped)
    edit(graph)
    target = tmp_path / "typology.ttl"
    graph.serialize(target, format="turtle")
    return target


def model(key: str) -> URIRef:
    return concept_iri("typology", key)


def priority(n: int) -> Literal:
    return Literal(n, datatype=XSD.integer)


# ---------------------------------------------------------------- the rules on the fixture


def test_one_use_per_rule_and_priority_decides_ties():
    derivation = ty.derive(build())
    assert by_use_id(derivation) == EXPECTED
    assert set(derivation.assignments) == {use_iri(*u.rsplit("-", 1)) for u in EXPECTED}
    assert [m.key for m in derivation.models] == [
        "listening", "broadcasting", "consumer-advocacy", "professional-movement",
        "co-design-space", "crowdsourcing", "improvement-network", "consultation",
        "feedback-seeking",
    ]
    assert [m.priority for m in derivation.models] == list(range(1, 10))
    advocacy = derivation.models[2]
    assert (advocacy.host, advocacy.comm_model, advocacy.activities) == (
        "consumers-community", None, ("advocacy",)
    )
    assert advocacy.label == "Consumer-led advocacy"
    assert advocacy.function == "collectivise and advocate"


def test_unclassified_use_is_listed_not_dropped():
    derivation = ty.derive(build())
    assert derivation.assignments[use_iri("alpha2020", 10)] == "unclassified"
    assert ("alpha2020", 10, "unclassified") in derivation.rows
    assert len(derivation.rows) == len(EXPECTED)


def test_python_rules_agree_with_sparql_on_fixture():
    ds = build()
    assert ty.classify(ds) == ty.derive(ds).assignments


def test_derived_triples_only_in_derived_graph_and_evidence_unchanged():
    ds = build()
    evidence_before = set(ds.graph(G_EVIDENCE))
    vocab_before = set(ds.graph(G_VOCAB))
    stale = (use_iri("alpha2020", 10), SMQI.modelOfUse, model("listening"))
    ds.graph(G_DERIVED).add(stale)  # from an earlier run: derive must clear it
    derivation = ty.derive(ds)
    assert set(ds.graph(G_EVIDENCE)) == evidence_before
    assert set(ds.graph(G_VOCAB)) == vocab_before
    derived = set(ds.graph(G_DERIVED))
    assert stale not in derived
    assert derived == {
        (use, SMQI.modelOfUse, model(key))
        for use, key in derivation.assignments.items()
        if key != "unclassified"
    }
    assert len(derived) == len(EXPECTED) - 1
    for name in (G_EVIDENCE, G_VOCAB, G_ONTOLOGY):
        assert not list(ds.graph(name).triples((None, SMQI.modelOfUse, None))), name
    ty.derive(ds)  # a second run gives the same graph, no duplicates
    assert set(ds.graph(G_DERIVED)) == derived


def test_editing_the_activity_set_of_a_rule_changes_the_assignment(tmp_path: Path):
    def edit(graph: Graph) -> None:
        graph.remove((model("feedback-seeking"), SMQI.requiresAnyActivity, None))
        graph.add((model("feedback-seeking"), SMQI.requiresAnyActivity,
                   concept_iri("qi-activity", "quality-monitoring")))

    got = by_use_id(ty.derive(build(typology=edited_typology(tmp_path, edit))))
    assert got == EXPECTED | {"alpha2020-9": "unclassified", "alpha2020-10": "feedback-seeking"}


def test_swapping_two_priorities_changes_the_assignment(tmp_path: Path):
    def edit(graph: Graph) -> None:
        graph.set((model("consultation"), SMQI.rulePriority, priority(9)))
        graph.set((model("feedback-seeking"), SMQI.rulePriority, priority(8)))

    ds = build(typology=edited_typology(tmp_path, edit))
    derivation = ty.derive(ds)
    assert by_use_id(derivation) == EXPECTED | {
        "alpha2020-8": "feedback-seeking", "beta2021-1": "feedback-seeking"
    }
    assert [m.key for m in derivation.models][7:] == ["feedback-seeking", "consultation"]
    assert ty.classify(ds) == derivation.assignments


def test_equal_priorities_that_both_match_raise_naming_uses_and_models(tmp_path: Path):
    def edit(graph: Graph) -> None:
        graph.set((model("feedback-seeking"), SMQI.rulePriority, priority(8)))

    with pytest.raises(DataError) as info:
        ty.derive(build(typology=edited_typology(tmp_path, edit)))
    message = str(info.value)
    assert "alpha2020-8 (consultation, feedback-seeking)" in message
    assert "beta2021-1 (consultation, feedback-seeking)" in message
    assert "alpha2020-9" not in message  # only feedback-seeking matches it: no tie


def test_rule_without_condition_matches_and_is_flagged(tmp_path: Path):
    def edit(graph: Graph) -> None:
        graph.remove((model("crowdsourcing"), SMQI.requiresAnyActivity, None))

    ds = build(typology=edited_typology(tmp_path, edit))
    got = by_use_id(ty.derive(ds))
    # Every use that reaches rule 6 now stops there.
    assert got["alpha2020-7"] == got["alpha2020-10"] == got["beta2021-1"] == "crowdsourcing"
    assert ty.classify(ds) == ty.derive(ds).assignments
    flagged = kq.run_query(ds, "qc/rule-without-condition-violation")
    assert [str(r[1]) for r in flagged.rows] == ["crowdsourcing"]
    assert kq.run_query(build(), "qc/rule-without-condition-violation").rows == []


# ---------------------------------------------------------------- summary, explanation, formats


def test_summary_rows():
    derivation = ty.derive(build())
    rows = ty.summary_rows(derivation, build())
    assert [(r.key, r.uses, r.studies, r.examples) for r in rows] == [
        ("listening", 2, 2, ("alpha2020", "beta2021")),
        ("broadcasting", 1, 1, ("alpha2020",)),
        ("consumer-advocacy", 1, 1, ("alpha2020",)),
        ("professional-movement", 1, 1, ("alpha2020",)),
        ("co-design-space", 1, 1, ("alpha2020",)),
        ("crowdsourcing", 1, 1, ("alpha2020",)),
        ("improvement-network", 1, 1, ("alpha2020",)),
        ("consultation", 2, 2, ("alpha2020", "beta2021")),
        ("feedback-seeking", 1, 1, ("alpha2020",)),
        ("unclassified", 1, 1, ("alpha2020",)),
    ]
    table = ty.to_table(rows).splitlines()
    assert table[0].split() == ["key", "label", "uses", "studies", "example", "studies"]
    assert table[2].split()[0] == "listening" and table[-1].startswith("unclassified")


def test_explain_states_each_failing_condition_until_the_match():
    ds = build()
    text = ty.explain(ds, ty.derive(ds), "beta2021-1")
    assert text.splitlines() == [
        "use beta2021-1",
        "  communication model: two-way",
        "  host: health-organisation",
        "  activities: consultation;feedback-collection",
        "  rule 1 listening: does not match",
        "    fails: communication model is two-way, rule needs one-way-inbound",
        "  rule 2 broadcasting: does not match",
        "    fails: communication model is two-way, rule needs one-way-outbound",
        "  rule 3 consumer-advocacy: does not match",
        "    fails: host is health-organisation, rule needs consumers-community",
        "    fails: activities consultation;feedback-collection include none of advocacy",
        "  rule 4 professional-movement: does not match",
        "    fails: host is health-organisation, rule needs professionals",
        "    fails: activities consultation;feedback-collection include none of advocacy",
        "  rule 5 co-design-space: does not match",
        "    fails: activities consultation;feedback-collection include none of co-design, "
        "collaborative-work",
        "  rule 6 crowdsourcing: does not match",
        "    fails: activities consultation;feedback-collection include none of idea-generation",
        "  rule 7 improvement-network: does not match",
        "    fails: activities consultation;feedback-collection include none of networking",
        "  rule 8 consultation: matches",
        "    holds: activities consultation;feedback-collection include consultation",
        "  model: consultation (Online consultation)",
    ]


def test_explain_shows_conditions_that_hold_and_fail_and_whole_studies():
    ds = build()
    derivation = ty.derive(ds)
    lines = ty.explain(ds, derivation, "alpha2020-4").splitlines()
    rule3 = lines.index("  rule 3 consumer-advocacy: does not match")
    assert lines[rule3 + 1 : rule3 + 3] == [
        "    fails: host is professionals, rule needs consumers-community",
        "    holds: activities advocacy include advocacy",
    ]
    assert lines[-1] == "  model: professional-movement (Professional improvement movements)"
    unclassified = ty.explain(ds, derivation, "alpha2020-10").splitlines()
    assert unclassified[-1] == "  model: unclassified (no rule matches)"
    assert "  rule 9 feedback-seeking: does not match" in unclassified
    study = ty.explain(ds, derivation, "beta2021")
    assert [line for line in study.splitlines() if line.startswith("use ")] == [
        "use beta2021-1", "use beta2021-2"
    ]


def test_unknown_explain_target_suggests_close_ids():
    ds = build()
    derivation = ty.derive(ds)
    with pytest.raises(UsageError) as info:
        ty.explain(ds, derivation, "alpha2002")
    assert "Did you mean" in str(info.value) and "alpha2020" in str(info.value)
    with pytest.raises(UsageError, match="beta2021-2"):
        ty.explain(ds, derivation, "beta2021-3")
    assert info.value.exit_code == 2


def test_csv_of_assignments_is_exact():
    text = ty.to_csv_assignments(ty.derive(build()))
    assert text == (
        "study_id,use_no,model\n"
        "alpha2020,1,listening\n"
        "alpha2020,2,broadcasting\n"
        "alpha2020,3,consumer-advocacy\n"
        "alpha2020,4,professional-movement\n"
        "alpha2020,5,co-design-space\n"
        "alpha2020,6,crowdsourcing\n"
        "alpha2020,7,improvement-network\n"
        "alpha2020,8,consultation\n"
        "alpha2020,9,feedback-seeking\n"
        "alpha2020,10,unclassified\n"
        "beta2021,1,consultation\n"
        "beta2021,2,listening\n"
    )


def test_json_has_summary_and_assignments():
    document = json.loads(ty.to_json(ty.derive(build())))
    assert document["models"][0] == {
        "key": "listening",
        "label": "Social listening and online reviews",
        "uses": 2,
        "studies": 2,
        "example_studies": ["alpha2020", "beta2021"],
    }
    assert document["assignments"][9] == {"study_id": "alpha2020", "use_no": 10, "model": "unclassified"}
    assert len(document["assignments"]) == len(EXPECTED)


# ---------------------------------------------------------------- the real data

# The codebook's rule table, written out by hand in tests/codebook.py: the independent oracle.


def oracle() -> list[tuple[str, int, str]]:
    rows = []
    with (resources.data_dir() / "uses.csv").open(newline="", encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            acts = {a.strip() for a in rec["qi_activities"].split(";") if a.strip()}
            key = next(
                (k for k, rule in CODEBOOK_RULES if rule(rec["communication_model"], rec["host"], acts)),
                "unclassified",
            )
            rows.append((rec["study_id"], int(rec["use_no"]), key))
    return sorted(rows)


@pytest.fixture(scope="module")
def real():
    kg = pipeline_data()
    return kg, ty.derive(kg.dataset)


def test_real_data_every_use_gets_one_model_or_unclassified(real):
    kg, derivation = real
    keys = {m.key for m in derivation.models} | {"unclassified"}
    assert len(derivation.rows) == kg.use_count == len(derivation.assignments) > 0
    assert all(key in keys for key in derivation.assignments.values())
    per_node: dict = {}
    for node, _p, _o in kg.graph(G_DERIVED).triples((None, SMQI.modelOfUse, None)):
        per_node[node] = per_node.get(node, 0) + 1
    assert set(per_node.values()) <= {1}
    uses = set(kg.dataset.subjects(RDF.type, SMQI.SocialMediaUse))
    codings = set(kg.dataset.subjects(RDF.type, SMQI.Coding))
    classified = sum(1 for k in derivation.assignments.values() if k != "unclassified")
    assert len(set(per_node) & uses) == classified
    # each coder's coding of a use gets a model by the same rules (the agreement queries compare them)
    assert set(per_node) - uses <= codings and len(codings) == 2 * kg.use_count


def test_real_data_sparql_equals_the_codebook_oracle(real):
    _kg, derivation = real
    assert derivation.rows == oracle()


def test_real_data_python_rules_used_by_explain_agree_with_sparql(real):
    kg, derivation = real
    assert ty.classify(kg.dataset) == derivation.assignments
    for study_id, use_no, key in derivation.rows[:5]:  # explain itself cross-checks too
        assert ty.explain(kg.dataset, derivation, f"{study_id}-{use_no}").rstrip().split("\n")[-1]


def test_typology_questions_read_the_derived_graph():
    kg = pipeline_data()
    names = ("uses-per-model", "studies-per-model", "model-by-population", "model-by-platform")
    for name in names:
        assert kq.run_query(kg.dataset, name).rows == [], f"{name} before derive"
    derivation = ty.derive(kg.dataset)
    uses = {str(r[0]): int(r[2]) for r in kq.run_query(kg.dataset, "uses-per-model").rows}
    summary = {r.key: r.uses for r in ty.summary_rows(derivation, kg.dataset) if r.uses}
    summary.pop("unclassified", None)
    assert uses == summary
    studies = {str(r[0]): int(r[2]) for r in kq.run_query(kg.dataset, "studies-per-model").rows}
    assert studies == {
        r.key: r.studies for r in ty.summary_rows(derivation) if r.studies and r.key != "unclassified"
    }
    for name in names[2:]:
        assert kq.run_query(kg.dataset, name).rows, f"{name} after derive"
