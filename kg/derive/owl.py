"""OWL reasoning with HermiT through owlready2.

owlready2 does not read Turtle, so graphs are handed over as N-Triples written by rdflib. Each call
uses its own owlready2 World, so nothing leaks between runs. HermiT needs Java; when it is missing
the caller gets JavaMissing with what to install.

Besides consistency checks, the module cross-checks the typology: owl_rules() turns the rule data
of the typology vocabulary into OWL classes, owl_assignments() lets HermiT classify the uses, and
cross_check() / check_typology() compare that with the SPARQL derivation (kg/typology.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from rdflib import OWL, RDF, RDFS, SKOS, XSD, BNode, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection

from kg.model.errors import JavaMissing, SmqiError
from kg.model.namespaces import G_EVIDENCE, G_ONTOLOGY, G_VOCAB, SMQI

__all__ = [
    "Inconsistent", "java_executable", "owl_safe", "load_world", "run_hermit", "check_consistency",
    "RulesInvalid", "AssignmentUndetermined", "Rule", "read_rules", "owl_rules", "closed_world_axioms",
    "owl_assignments", "use_label", "Disagreement", "TypologyDisagreement", "cross_check",
    "format_disagreements", "check_typology", "JAVA_HINT", "TYPOLOGY_SCHEME", "RT", "UNCLASSIFIED"
]

JAVA_HINT = (
    "HermiT (owlready2's OWL reasoner) needs a Java runtime and none was found on PATH. "
    "Install one, e.g. on Debian/Ubuntu: apt-get install default-jre-headless"
)


class Inconsistent(SmqiError):
    """The ontology (with its data) is inconsistent under OWL 2 DL."""

    exit_code = 1


def java_executable() -> str:
    java = shutil.which("java")
    if java is None:
        raise JavaMissing(JAVA_HINT)
    return java


# Literals HermiT can read: the OWL 2 datatype map (xsd:gYear, for one, is not in it).
_OWL2_XSD = {
    "string", "normalizedString", "token", "language", "Name", "NCName", "NMTOKEN", "boolean",
    "decimal", "integer", "nonNegativeInteger", "nonPositiveInteger", "positiveInteger",
    "negativeInteger", "long", "int", "short", "byte", "unsignedLong", "unsignedInt",
    "unsignedShort", "unsignedByte", "double", "float", "hexBinary", "base64Binary", "anyURI",
    "dateTime", "dateTimeStamp",
}


def owl_safe(graph: Graph | Dataset) -> Graph:
    """``graph`` without literals outside the OWL 2 datatype map (they carry no logic here), and
    without ``owl:imports``: owlready2 would fetch every imported ontology from the network."""
    safe = Graph()
    for s, p, o in _triples(graph):
        if p == OWL.imports:
            continue
        if isinstance(o, Literal) and o.datatype is not None:
            dt = str(o.datatype)
            xsd_name = dt.rsplit("#", 1)[-1] if dt.startswith(str(XSD)) else None
            if xsd_name not in _OWL2_XSD and dt not in (str(RDF.PlainLiteral), str(RDF.langString),
                                                          str(RDFS.Literal), str(RDF.XMLLiteral)):
                continue
        safe.add((s, p, o))
    return safe


def load_world(graph: Graph | Dataset):
    """A fresh owlready2 World holding ``graph`` (written as N-Triples); returns (world, ontology)."""
    import owlready2

    world = owlready2.World()
    handle, name = tempfile.mkstemp(suffix=".nt")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(owl_safe(graph).serialize(format="nt", encoding="utf-8"))
        onto = world.get_ontology(Path(name).as_uri()).load(format="ntriples")
    finally:
        os.unlink(name)
    return world, onto


def run_hermit(world, infer_property_values: bool = False) -> None:
    """Classify ``world`` with HermiT; raise Inconsistent or JavaMissing with a clear message."""
    import owlready2

    owlready2.JAVA_EXE = java_executable()
    try:
        with world.get_ontology("https://w3id.org/smqi/reasoning/inferred#"):
            owlready2.sync_reasoner_hermit(world, infer_property_values=infer_property_values, debug=0)
    except owlready2.OwlReadyInconsistentOntologyError as exc:
        detail = " ".join(str(exc).split())
        raise Inconsistent("HermiT found the graph inconsistent under OWL 2 DL"
                           + (f": {detail}" if detail else "")) from None
    except owlready2.OwlReadyJavaError as exc:
        raise SmqiError(f"HermiT failed: {' '.join(str(exc).split())[:500]}") from None


def check_consistency(graph: Graph | Dataset) -> None:
    """Raise Inconsistent when HermiT finds ``graph`` inconsistent (JavaMissing without Java)."""
    java_executable()  # fail fast, before writing the graph out
    world, _onto = load_world(getattr(graph, "dataset", graph))
    run_hermit(world)
    import owlready2

    nothing = list(world.inconsistent_classes())
    if nothing:
        names = ", ".join(sorted(c.iri for c in nothing if c is not owlready2.Nothing))
        if names:
            raise Inconsistent(f"HermiT found unsatisfiable classes: {names}")


# ---------------------------------------------------------------- the typology, checked by HermiT
#
# The typology (ontology/vocab/typology.ttl) is rule data: each smqi:ModelOfUse concept of the
# scheme <https://w3id.org/smqi/vocab/typology> carries smqi:rulePriority and the conditions
# smqi:requiresCommunicationModel, smqi:requiresHost and smqi:requiresAnyActivity. kg/typology.py
# applies the rules with SPARQL. Here the SAME rule data is turned into OWL class definitions and
# HermiT classifies the uses; cross_check() compares the two answers. Nothing below is written per
# model: a changed rule in the vocabulary changes both derivations.
#
# For the rules in priority order 1..n the generated classes are
#   Match_i      ≡ SocialMediaUse ⊓ (communicationModel hasValue cm)? ⊓ (host hasValue h)?
#                                  ⊓ (qiActivity some {a1, …})?
#   Model_i      ≡ Match_i ⊓ ¬Match_1 ⊓ … ⊓ ¬Match_{i-1}      (the first matching rule wins)
#   Unclassified ≡ SocialMediaUse ⊓ ¬Match_1 ⊓ … ⊓ ¬Match_n
# The Model_i and Unclassified are pairwise disjoint by construction (Model_j, j > i, lies under
# ¬Match_i, Model_i under Match_i), so a use can be entailed to be in at most one of them.
#
# Why the negations are sound (and complete) for the uses. OWL is open-world: from the bare
# evidence HermiT cannot conclude that a use is NOT in Match_i (the use might have another activity
# nobody wrote down, or its host "professionals" might be the same individual as
# "consumers-community"), so without more axioms every use would land in no assignment class. The
# SPARQL rules read the sheet as complete; we state exactly that, and no more, in OWL:
#   1. unique names: every concept that a rule or a use mentions on the three rule properties
#      (communication model, host, QI activity) is declared different from every other one
#      (owl:AllDifferent). Concepts are distinct by the codebook (one key, one concept).
#   2. closed world for each use, on the three rule properties only:
#         use ⊑ communicationModel only {its communication model}
#         use ⊑ host only {its host}
#         use ⊑ qiActivity only {its activities}   (only owl:Nothing where the sheet gives none)
#      This is what the sheet says: the coded values are all the values (communicationModel and
#      host are, besides, functional in the ontology).
# With 1 and 2 every rule atom has a determinate truth value for every use: `cm hasValue c` holds
# iff the coded model is c (if the coded model c' ≠ c, `only {c'}` and c' ≠ c exclude c), and
# `qiActivity some {a1, …}` holds iff a coded activity is among the a_k (the coded ones are all of
# them, and each differs from every a_k it is not). So Match_i, hence its complement, hence every
# Model_i and Unclassified, is decided for each use exactly as a closed-world evaluation of the
# rule table decides it; HermiT (sound and complete for OWL 2 DL) then puts each use in exactly one
# assignment class. The closure axioms are added to a copy of the evidence given to HermiT only;
# they are never written into the knowledge graph, where the open-world reading stays.

TYPOLOGY_SCHEME = URIRef("https://w3id.org/smqi/vocab/typology")
RT = Namespace("https://w3id.org/smqi/reasoning/typology#")
UNCLASSIFIED = "unclassified"
_USE_PREFIX = "https://w3id.org/smqi/kg/use/"
# The properties the rules test, and their condition property on a model.
_RULE_PROPERTIES = (SMQI.communicationModel, SMQI.host, SMQI.qiActivity)


class RulesInvalid(SmqiError):
    """The typology's rule data cannot be turned into OWL (missing or clashing priorities, …)."""

    exit_code = 1


class AssignmentUndetermined(SmqiError):
    """After reasoning a use is in no assignment class, or in more than one."""

    exit_code = 1

    def __init__(self, message: str, uses: dict[URIRef, list[str]]):
        super().__init__(message)
        self.uses = uses


@dataclass(frozen=True)
class Rule:
    """One model's rule, read from the vocabulary graph."""

    priority: int
    key: str  # skos:notation of the model
    concept: URIRef
    communication_model: URIRef | None
    host: URIRef | None
    activities: tuple[URIRef, ...]  # any of these; empty = no activity condition

    @property
    def match_class(self) -> URIRef:
        return RT["Match_" + quote(self.key, safe="")]

    @property
    def model_class(self) -> URIRef:
        return RT["Model_" + quote(self.key, safe="")]


def _triples(graph: Graph | Dataset):
    """Triples of a Graph, or of the union of a Dataset's graphs."""
    if isinstance(graph, Dataset):
        for s, p, o, _g in graph.quads((None, None, None, None)):
            yield s, p, o
    else:
        yield from graph


def _as_graph(graph) -> Graph:
    """A plain Graph for a Graph, a Dataset (union) or an object with a ``dataset`` (its union)."""
    graph = getattr(graph, "dataset", graph)
    if isinstance(graph, Dataset):
        plain = Graph()
        for triple in _triples(graph):
            plain.add(triple)
        return plain
    return graph


def read_rules(graph) -> list[Rule]:
    """The typology's rules in priority order, from the smqi:ModelOfUse concepts of the scheme."""
    graph = _as_graph(graph)
    rules: list[Rule] = []
    problems: list[str] = []
    for concept in sorted(set(graph.subjects(SKOS.inScheme, TYPOLOGY_SCHEME))):
        if (concept, RDF.type, SMQI.ModelOfUse) not in graph:
            continue
        key = graph.value(concept, SKOS.notation)
        priorities = list(graph.objects(concept, SMQI.rulePriority))
        cms = sorted(graph.objects(concept, SMQI.requiresCommunicationModel))
        hosts = sorted(graph.objects(concept, SMQI.requiresHost))
        name = str(key) if key is not None else str(concept)
        if key is None:
            problems.append(f"{concept} has no skos:notation")
        if len(priorities) != 1 or not str(priorities[0]).isdigit() or int(priorities[0]) < 1:
            problems.append(f"{name}: needs exactly one positive smqi:rulePriority, has "
                            f"{', '.join(map(str, priorities)) or 'none'}")
            continue
        if len(cms) > 1 or len(hosts) > 1:
            problems.append(f"{name}: at most one smqi:requiresCommunicationModel and one "
                            "smqi:requiresHost (a use has exactly one of each)")
            continue
        rules.append(Rule(
            priority=int(priorities[0]),
            key=name,
            concept=concept,
            communication_model=cms[0] if cms else None,
            host=hosts[0] if hosts else None,
            activities=tuple(sorted(graph.objects(concept, SMQI.requiresAnyActivity))),
        ))
    seen: dict[int, str] = {}
    for rule in sorted(rules, key=lambda r: (r.priority, r.key)):
        if rule.priority in seen:
            problems.append(
                f"{seen[rule.priority]} and {rule.key} share rule priority {rule.priority}")
        seen.setdefault(rule.priority, rule.key)
    if len({r.key for r in rules}) != len(rules):
        problems.append("two models share a skos:notation")
    if problems:
        raise RulesInvalid("the typology's rule data is invalid:\n" + "\n".join(problems))
    if not rules:
        raise RulesInvalid(f"no smqi:ModelOfUse concept with a rule in <{TYPOLOGY_SCHEME}>")
    return sorted(rules, key=lambda r: r.priority)


def _rdf_list(graph: Graph, items) -> BNode:
    head = BNode()
    Collection(graph, head, list(items))
    return head


def _intersection(graph: Graph, members: list) -> URIRef | BNode:
    if len(members) == 1:
        return members[0]
    node = BNode()
    graph.add((node, RDF.type, OWL.Class))
    graph.add((node, OWL.intersectionOf, _rdf_list(graph, members)))
    return node


def _complement(graph: Graph, cls) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, OWL.Class))
    graph.add((node, OWL.complementOf, cls))
    return node


def _restriction(graph: Graph, prop: URIRef, kind: URIRef, value) -> BNode:
    node = BNode()
    graph.add((node, RDF.type, OWL.Restriction))
    graph.add((node, OWL.onProperty, prop))
    graph.add((node, kind, value))
    return node


def _one_of(graph: Graph, individuals) -> URIRef | BNode:
    individuals = list(individuals)
    if not individuals:
        return OWL.Nothing
    node = BNode()
    graph.add((node, RDF.type, OWL.Class))
    graph.add((node, OWL.oneOf, _rdf_list(graph, individuals)))
    return node


def owl_rules(graph) -> Graph:
    """OWL classes Match_i, Model_i and Unclassified generated from the typology's rule data.

    ``graph`` is any Graph, Dataset (or object with a ``dataset``) holding the typology vocabulary; the classes
    are in the namespace https://w3id.org/smqi/reasoning/typology#.
    """
    rules = read_rules(graph)
    out = Graph()
    out.bind("rt", RT)
    out.bind("smqi", str(SMQI._NS))
    ontology = URIRef(str(RT).rstrip("#"))
    out.add((ontology, RDF.type, OWL.Ontology))
    out.add((ontology, RDFS.comment, Literal(
        "Generated by kg.derive.owl.owl_rules from the rule data of the typology scheme; "
        "used only to cross-check the SPARQL derivation with HermiT.", lang="en")))
    matches: list[URIRef] = []
    for rule in rules:
        conditions: list = [SMQI.SocialMediaUse]
        if rule.communication_model is not None:
            conditions.append(_restriction(out, SMQI.communicationModel, OWL.hasValue,
                                           rule.communication_model))
        if rule.host is not None:
            conditions.append(_restriction(out, SMQI.host, OWL.hasValue, rule.host))
        if rule.activities:
            conditions.append(_restriction(out, SMQI.qiActivity, OWL.someValuesFrom,
                                           _one_of(out, rule.activities)))
        match, model = rule.match_class, rule.model_class
        out.add((match, RDF.type, OWL.Class))
        out.add((match, RDFS.label, Literal(f"matches the rule of {rule.key} "
                                            f"(priority {rule.priority})", lang="en")))
        out.add((match, OWL.equivalentClass, _intersection(out, conditions)))
        out.add((model, RDF.type, OWL.Class))
        out.add((model, RDFS.label, Literal(f"assigned {rule.key}", lang="en")))
        out.add((model, RDFS.seeAlso, rule.concept))
        out.add((model, OWL.equivalentClass,
                 _intersection(out, [match] + [_complement(out, m) for m in matches])))
        matches.append(match)
    out.add((RT.Unclassified, RDF.type, OWL.Class))
    out.add((RT.Unclassified, RDFS.label, Literal("matches no rule of the typology", lang="en")))
    out.add((RT.Unclassified, OWL.equivalentClass,
             _intersection(out, [SMQI.SocialMediaUse] + [_complement(out, m) for m in matches])))
    return out


def closed_world_axioms(graph, rules: list[Rule]) -> Graph:
    """Unique names for the rule properties' concepts, and each use's closure on them.

    See the module comment above for why these make the negations in owl_rules sound.
    """
    graph = _as_graph(graph)
    out = Graph()
    concepts: set[URIRef] = set()
    for cls in (SMQI.CommunicationModel, SMQI.Host, SMQI.QIActivity):
        concepts.update(c for c in graph.subjects(RDF.type, cls) if isinstance(c, URIRef))
    for rule in rules:
        concepts.update(v for v in (rule.communication_model, rule.host, *rule.activities) if v)
    for use in sorted(set(graph.subjects(RDF.type, SMQI.SocialMediaUse))):
        for prop in _RULE_PROPERTIES:
            values = sorted(v for v in graph.objects(use, prop) if isinstance(v, URIRef))
            concepts.update(values)
            out.add((use, RDF.type, _restriction(out, prop, OWL.allValuesFrom,
                                                 _one_of(out, values))))
    if len(concepts) > 1:
        node = BNode()
        out.add((node, RDF.type, OWL.AllDifferent))
        out.add((node, OWL.distinctMembers, _rdf_list(out, sorted(concepts))))
    return out


def _reasoning_input(graph) -> tuple[Graph, list[Rule], list[URIRef]]:
    """Ontology + vocabularies + the uses with their codings, the generated rules and closure."""
    dataset = getattr(graph, "dataset", graph)
    if isinstance(dataset, Dataset):
        source = Graph()
        for name in (G_ONTOLOGY, G_VOCAB, G_EVIDENCE):
            for triple in dataset.graph(name):
                source.add(triple)
    else:
        source = dataset
    uses = sorted(u for u in set(source.subjects(RDF.type, SMQI.SocialMediaUse))
                  if isinstance(u, URIRef))
    use_set = set(uses)
    data = Graph()
    for s, p, o in source:
        # the uses (not their studies, titles, …) and everything else that is not evidence
        if s in use_set and p == SMQI.reportedIn:
            continue
        if any((s, RDF.type, cls) in source for cls in (SMQI.Study, SMQI.IncomeClassification)):
            continue
        if p == SMQI.modelOfUse:  # a derived answer must not feed the check of it
            continue
        data.add((s, p, o))
    rules = read_rules(source)
    data += owl_rules(source)
    data += closed_world_axioms(source, rules)
    return data, rules, uses


def owl_assignments(graph) -> dict[URIRef, str]:
    """Each use's model of use as HermiT derives it: use IRI -> model key, or "unclassified".

    ``graph`` is an rdflib Dataset (its ontology, vocab and evidence graphs are
    used) or a Graph holding ontology, vocabularies and uses. Raises JavaMissing (before any work)
    without Java, Inconsistent when the input is inconsistent, and AssignmentUndetermined when a
    use ends in no assignment class or in several.
    """
    java_executable()  # fail fast, before building anything
    data, rules, uses = _reasoning_input(graph)
    world, _onto = load_world(data)
    run_hermit(world)

    keys: dict[str, str] = {str(r.model_class): r.key for r in rules}
    keys[str(RT.Unclassified)] = UNCLASSIFIED
    found: dict[URIRef, list[str]] = {}
    for use in uses:
        individual = world[str(use)]
        names: set[str] = set()
        if individual is not None:
            for cls in individual.is_a:
                if hasattr(cls, "ancestors"):
                    # ancestors() includes the classes found equivalent (Model_1 ≡ Match_1, …)
                    names.update(a.iri for a in cls.ancestors() if hasattr(a, "iri"))
        found[use] = sorted(keys[n] for n in names if n in keys)
    world.close()
    bad = {u: ks for u, ks in found.items() if len(ks) != 1}
    if bad:
        lines = [f"{use_label(u)}: {', '.join(ks) if ks else 'no assignment class'}"
                 for u, ks in sorted(bad.items(), key=lambda kv: _use_sort_key(kv[0]))]
        raise AssignmentUndetermined(
            f"HermiT put {len(bad)} use{'s' if len(bad) != 1 else ''} in no or several models "
            "of use:\n" + "\n".join(lines), bad)
    return {u: ks[0] for u, ks in found.items()}


# ---------------------------------------------------------------- the cross-check

def use_label(use: URIRef) -> str:
    """``<study_id>-<use_no>`` for a use IRI (the IRI itself for anything else)."""
    text = str(use)
    return text[len(_USE_PREFIX):] if text.startswith(_USE_PREFIX) else text


def _use_sort_key(use: URIRef):
    label = use_label(use)
    study, _, number = label.rpartition("-")
    return (study, int(number)) if number.isascii() and number.isdigit() and study else (label, 0)


@dataclass(frozen=True)
class Disagreement:
    """One use on which the SPARQL derivation and HermiT differ (None: that side has no answer)."""

    use: URIRef
    sparql: str | None
    owl: str | None

    def as_text(self) -> str:
        def said(answer: str | None) -> str:
            return answer if answer is not None else "nothing (use missing)"

        return (f"{use_label(self.use)}: SPARQL says {said(self.sparql)}, "
                f"HermiT says {said(self.owl)}")


class TypologyDisagreement(SmqiError):
    """The SPARQL derivation of the typology and HermiT's classification disagree."""

    exit_code = 1

    def __init__(self, disagreements: list[Disagreement]):
        self.disagreements = list(disagreements)
        n = len(self.disagreements)
        super().__init__(
            f"the typology's SPARQL derivation and HermiT disagree on {n} "
            f"use{'s' if n != 1 else ''}:\n"
            + format_disagreements(self.disagreements))


def cross_check(sparql: dict[URIRef, str], owl: dict[URIRef, str]) -> list[Disagreement]:
    """Every use on which the two answers differ, including uses only one side answers for."""
    return [
        Disagreement(use, sparql.get(use), owl.get(use))
        for use in sorted(set(sparql) | set(owl), key=_use_sort_key)
        if sparql.get(use) != owl.get(use)
    ]


def format_disagreements(disagreements: list[Disagreement]) -> str:
    """One line per use: ``<study_id>-<use_no>: SPARQL says X, HermiT says Y``."""
    return "\n".join(d.as_text() for d in disagreements)


def check_typology(graph, sparql: dict[URIRef, str]) -> dict[URIRef, str]:
    """Run HermiT on ``graph`` and raise TypologyDisagreement unless it agrees with ``sparql``.

    Returns HermiT's assignments. JavaMissing is raised before any work; the caller may turn it
    into a warning.
    """
    owl = owl_assignments(graph)
    disagreements = cross_check(sparql, owl)
    if disagreements:
        raise TypologyDisagreement(disagreements)
    return owl
