"""OWL reasoning with HermiT through owlready2.

owlready2 does not read Turtle, so graphs are handed over as N-Triples written by rdflib. Each call
uses its own owlready2 World, so nothing leaks between runs. HermiT needs Java; when it is missing
the caller gets JavaMissing with what to install.

Besides consistency checks, the module cross-checks the typology: owl_rules() turns the rule data
of the typology vocabulary into OWL classes, HermiT classifies, and check_typology() compares the
answer with the SPARQL derivation (kg.derive.typology.derive_on_store) use by use.

Signatures: the cost does not grow with the evidence. The rules read three things of a use: its
communication model, its host and whether one of its QI activities is among those a rule names.
A use's *signature* is exactly that: (communication model(s), host(s), the subset of its QI
activities that some rule's smqi:requiresAnyActivity names), read from the rules, not hard-coded.
Two uses with the same signature satisfy the same rule atoms, so every rule table with these tested
activities gives them the same model. classify_signatures() therefore reads the uses with ONE
linear SELECT of (use, communication model, host, tested activity) rows, builds one OWL individual
per distinct signature (rt:signature-1, …; 29 on the shipped data, 1,120 for 109,297 synthetic
uses), lets HermiT classify those once, and maps each signature's answer back to its uses. The
ontology goes in as it is, of the vocabularies only the types of the concepts that a rule or a
signature mentions; studies and uses do not. check_typology() compares per use, so a
disagreement still names the use, and now its signature. The input may be an rdflib Graph, Dataset or KnowledgeGraph, or a pyoxigraph
Store (queried with use_default_graph_as_union=True, terms converted with kg.io.store.from_ox).
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

from kg.model.errors import DataError, JavaMissing, SmqiError
from kg.model.namespaces import G_DERIVED, G_ONTOLOGY, G_VOCAB, SMQI

__all__ = [
    "Inconsistent", "java_executable", "owl_safe", "load_world", "run_hermit", "check_consistency",
    "RulesInvalid", "AssignmentUndetermined", "Rule", "read_rules", "owl_rules", "Signature",
    "tested_activities", "read_signatures", "signature_individuals", "signature_assertions",
    "closed_world_axioms", "terminology", "rule_concepts", "without_unused_concepts",
    "SignatureClassification", "classify_signatures", "owl_assignments", "use_label", "Disagreement",
    "TypologyDisagreement", "cross_check", "format_disagreements", "sparql_assignments",
    "check_typology", "JAVA_HINT", "TYPOLOGY_SCHEME", "RT", "UNCLASSIFIED"
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
# Why the negations are sound (and complete) for the signature individuals. OWL is open-world:
# from the bare assertions HermiT cannot conclude that an individual is NOT in Match_i (it might
# have another activity nobody wrote down, or its host "professionals" might be the same individual
# as "consumers-community"), so without more axioms every individual would land in no assignment
# class. The SPARQL rules read the sheet as complete; we state exactly that, and no more, in OWL:
#   1. unique names: every concept that a rule or a signature mentions on the three rule
#      properties (communication model, host, QI activity) is declared different from every other
#      one (owl:AllDifferent). Concepts are distinct by the codebook (one key, one concept).
#   2. closed world for each signature individual s, on the three rule properties only:
#         s ⊑ communicationModel only {its communication model(s)}
#         s ⊑ host only {its host(s)}
#         s ⊑ qiActivity only {its tested activities}   (owl:Nothing where there are none)
#      with the same values asserted on s. This is what the sheet says of every use of the
#      signature, restricted to the activities a rule tests: for any rule with activity set A_i
#      and a use with activities X, X ∩ A_i = (X ∩ T) ∩ A_i where T ⊇ A_i is the union of the tested
#      activities, so dropping untested activities changes no rule atom.
# With 1 and 2 every rule atom has a determinate truth value for every signature individual:
# `cm hasValue c` holds iff its model is c (if it is c' ≠ c, `only {c'}` and c' ≠ c exclude c), and
# `qiActivity some {a1, …}` holds iff one of its activities is among the a_k (they are all of them,
# and each differs from every a_k it is not). So Match_i, hence its complement, hence every Model_i
# and Unclassified, is decided for each individual exactly as a closed-world evaluation of the rule
# table decides it for each use of that signature; HermiT (sound and complete for OWL 2 DL) then
# puts each individual in exactly one assignment class. The signature individuals and the closure
# axioms exist only in the copy given to HermiT; they are never written into the knowledge graph,
# where the open-world reading stays.

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
    """A plain Graph for a Graph, a Dataset (union) or a KnowledgeGraph (its dataset's union)."""
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

    ``graph`` is any Graph, Dataset or KnowledgeGraph holding the typology vocabulary; the classes
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


# ---------------------------------------------------------------- coding signatures

@dataclass(frozen=True, order=True)
class Signature:
    """What the typology's rules read of one use: its communication model(s), host(s) and those of
    its QI activities that some rule tests (sorted tuples of concept IRIs). Uses with the same
    signature get the same model of use from every rule table with these tested activities."""

    communication_models: tuple[URIRef, ...]
    hosts: tuple[URIRef, ...]
    activities: tuple[URIRef, ...]

    def as_text(self) -> str:
        """``communication model one-way-inbound, host third-party-platform, tested activities
        feedback-collection`` (codebook keys, the last segment of each concept IRI)."""
        def keys(iris: tuple[URIRef, ...]) -> str:
            return " + ".join(str(i).rstrip("/").rsplit("/", 1)[-1] for i in iris) or "none"

        return (f"communication model {keys(self.communication_models)}, host {keys(self.hosts)}, "
                f"tested activities {keys(self.activities)}")


def tested_activities(rules: list[Rule]) -> frozenset[URIRef]:
    """Every QI activity some rule's ``smqi:requiresAnyActivity`` names."""
    return frozenset(a for rule in rules for a in rule.activities)


def _signature_query(tested: frozenset[URIRef]) -> str:
    activities = ""
    if tested:
        values = " ".join(f"<{a}>" for a in sorted(tested))
        activities = f"OPTIONAL {{ VALUES ?act {{ {values} }} ?use <{SMQI.qiActivity}> ?act }}"
    return (f"SELECT ?use ?cm ?host ?act WHERE {{ ?use a <{SMQI.SocialMediaUse}> FILTER (isIRI(?use)) "
            f"OPTIONAL {{ ?use <{SMQI.communicationModel}> ?cm }} "
            f"OPTIONAL {{ ?use <{SMQI.host}> ?host }} {activities} }}")


def read_signatures(source, rules: list[Rule]) -> dict[URIRef, Signature]:
    """Use IRI -> its Signature, read with one SELECT of (use, comm model, host, activity) rows over
    the union of ``source``'s graphs (a pyoxigraph Store, an rdflib Graph/Dataset, a KnowledgeGraph).

    Only IRI values count (as in the closure axioms); only activities some rule tests are read."""
    from kg.io.store import select_union

    values: dict[URIRef, tuple[set, set, set]] = {}
    for use, cm, host, act in select_union(source, _signature_query(tested_activities(rules))):
        cms, hosts, acts = values.setdefault(use, (set(), set(), set()))
        for found, into in ((cm, cms), (host, hosts), (act, acts)):
            if isinstance(found, URIRef):
                into.add(found)
    return {use: Signature(tuple(sorted(c)), tuple(sorted(h)), tuple(sorted(a)))
            for use, (c, h, a) in values.items()}


def signature_individuals(signatures) -> dict[Signature, URIRef]:
    """One OWL individual per distinct signature, named by its rank in sorted order
    (``rt:signature-1``, …), so the names do not depend on which uses share them."""
    return {s: RT[f"signature-{i}"] for i, s in enumerate(sorted(set(signatures)), start=1)}


def signature_assertions(individuals: dict[Signature, URIRef]) -> Graph:
    """Each signature individual typed smqi:SocialMediaUse, with its values on the rule properties."""
    out = Graph()
    for signature, node in individuals.items():
        out.add((node, RDF.type, SMQI.SocialMediaUse))
        for prop, values in zip(_RULE_PROPERTIES, (signature.communication_models, signature.hosts,
                                                   signature.activities)):
            for value in values:
                out.add((node, prop, value))
    return out


def closed_world_axioms(individuals: dict[Signature, URIRef], rules: list[Rule]) -> Graph:
    """Unique names for the rule properties' concepts, and each signature individual's closure.

    See the module comment above for why these make the negations in owl_rules sound.
    """
    out = Graph()
    concepts = rule_concepts(rules, individuals)
    for signature, node in sorted(individuals.items()):
        for prop, values in zip(_RULE_PROPERTIES, (signature.communication_models, signature.hosts,
                                                   signature.activities)):
            out.add((node, RDF.type, _restriction(out, prop, OWL.allValuesFrom,
                                                  _one_of(out, values))))
    if len(concepts) > 1:
        node = BNode()
        out.add((node, RDF.type, OWL.AllDifferent))
        out.add((node, OWL.distinctMembers, _rdf_list(out, sorted(concepts))))
    return out


def terminology(source) -> Graph:
    """The ontology and the vocabularies of ``source``, without any use or study.

    A pyoxigraph Store or an rdflib Dataset: its ontology and vocab named graphs (their size does not
    grow with the evidence). A plain Graph has no named graphs to tell them apart: its triples minus
    those about a use, a study or an income classification, and minus derived smqi:modelOfUse."""
    source = getattr(source, "dataset", source)
    out = Graph()
    import pyoxigraph as ox

    if isinstance(source, ox.Store):
        from kg.io.store import from_ox

        for name in (G_ONTOLOGY, G_VOCAB):
            for quad in source.quads_for_pattern(None, None, None, ox.NamedNode(str(name))):
                out.add((from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)))
        return out
    if isinstance(source, Dataset):
        for name in (G_ONTOLOGY, G_VOCAB):
            out += source.graph(name)
        return out
    instances = {s for cls in (SMQI.SocialMediaUse, SMQI.Study, SMQI.IncomeClassification)
                 for s in source.subjects(RDF.type, cls)}
    for s, p, o in source:
        if s not in instances and p != SMQI.modelOfUse:
            out.add((s, p, o))
    return out


def rule_concepts(rules: list[Rule], individuals) -> set[URIRef]:
    """The concepts a rule or a signature mentions on the rule properties."""
    concepts = {v for rule in rules for v in (rule.communication_model, rule.host, *rule.activities) if v}
    for signature in individuals:
        concepts.update(signature.communication_models + signature.hosts + signature.activities)
    return concepts


def without_unused_concepts(terms: Graph, concepts: set[URIRef]) -> Graph:
    """``terms`` (ontology + vocabularies) keeping, of the SKOS vocabularies, only the rdf:type of
    ``concepts``. The other concepts and schemes (countries, platforms, …: some 400 individuals) play
    no part in the typology, but HermiT would take every one of them into each tableau it builds to
    realise the signature individuals (this halves HermiT's time at 1,000 signatures)."""
    vocabulary = (set(terms.subjects(SKOS.inScheme, None)) | set(terms.subjects(RDF.type, SKOS.Concept))
                  | set(terms.subjects(RDF.type, SKOS.ConceptScheme)))
    out = Graph()
    for s, p, o in terms:
        if s not in vocabulary or (p == RDF.type and s in concepts):
            out.add((s, p, o))
    return out


def _reasoning_input(source) -> tuple[Graph, list[Rule], dict[URIRef, Signature],
                                      dict[Signature, URIRef]]:
    """What HermiT gets: the ontology, the types of the concepts on the rule properties, the
    generated rule classes, one individual per distinct signature and the closure axioms; with the
    rules, each use's signature and the individual of each signature."""
    terms = terminology(source)
    rules = read_rules(terms)
    signatures = read_signatures(source, rules)
    individuals = signature_individuals(signatures.values())
    data = without_unused_concepts(terms, rule_concepts(rules, individuals))
    data += owl_rules(terms)
    data += signature_assertions(individuals)
    data += closed_world_axioms(individuals, rules)
    return data, rules, signatures, individuals


@dataclass
class SignatureClassification:
    """HermiT's answer on the distinct signatures, and how it maps back to the uses."""

    rules: list[Rule]
    signatures: dict[URIRef, Signature]  # use -> its signature
    individuals: dict[Signature, URIRef]  # signature -> the OWL individual standing for it
    models: dict[Signature, str]  # signature -> model key or "unclassified"
    classified: int  # smqi:SocialMediaUse individuals in the world HermiT classified

    def assignments(self) -> dict[URIRef, str]:
        """Use IRI -> model key (or "unclassified"): the answer of the use's signature."""
        return {use: self.models[sig] for use, sig in sorted(self.signatures.items(),
                                                              key=lambda kv: _use_sort_key(kv[0]))}


_MAX_LINES = 50


def classify_signatures(source) -> SignatureClassification:
    """Let HermiT classify one individual per distinct signature of ``source``'s uses.

    ``source``: a pyoxigraph Store, an rdflib Dataset (ontology and vocab named graphs; uses from the
    union), a KnowledgeGraph or a plain Graph holding ontology, vocabularies and uses. Raises
    JavaMissing (before any work) without Java, Inconsistent when the input is inconsistent, and
    AssignmentUndetermined (naming the uses) when a signature ends in no assignment class or several.
    """
    java_executable()  # fail fast, before building anything
    data, rules, signatures, individuals = _reasoning_input(source)
    world, _onto = load_world(data)
    run_hermit(world)

    keys: dict[str, str] = {str(r.model_class): r.key for r in rules}
    keys[str(RT.Unclassified)] = UNCLASSIFIED
    use_class = world[str(SMQI.SocialMediaUse)]
    classified = len(list(use_class.instances())) if use_class is not None else 0
    found: dict[Signature, list[str]] = {}
    for signature, node in individuals.items():
        individual = world[str(node)]
        names: set[str] = set()
        if individual is not None:
            for cls in individual.is_a:
                if hasattr(cls, "ancestors"):
                    # ancestors() includes the classes found equivalent (Model_1 ≡ Match_1, …)
                    names.update(a.iri for a in cls.ancestors() if hasattr(a, "iri"))
        found[signature] = sorted(keys[n] for n in names if n in keys)
    world.close()
    bad = {u: found[s] for u, s in signatures.items() if len(found[s]) != 1}
    if bad:
        ordered = sorted(bad.items(), key=lambda kv: _use_sort_key(kv[0]))
        lines = [f"{use_label(u)}: {', '.join(ks) if ks else 'no assignment class'} "
                 f"(signature: {signatures[u].as_text()})" for u, ks in ordered[:_MAX_LINES]]
        if len(ordered) > _MAX_LINES:
            lines.append(f"… and {len(ordered) - _MAX_LINES} more")
        raise AssignmentUndetermined(
            f"HermiT put {len(bad)} use{'s' if len(bad) != 1 else ''} in no or several models "
            "of use:\n" + "\n".join(lines), bad)
    return SignatureClassification(rules, signatures, individuals,
                                   {s: ks[0] for s, ks in found.items()}, classified)


def owl_assignments(source) -> dict[URIRef, str]:
    """Each use's model of use as HermiT derives it: use IRI -> model key, or "unclassified".

    HermiT classifies one individual per distinct signature (``classify_signatures``); each use gets
    its signature's answer. ``source`` and the errors: as ``classify_signatures``.
    """
    return classify_signatures(source).assignments()


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
    """One use on which the SPARQL derivation and HermiT differ (None: that side has no answer).

    ``signature`` is the use's coding signature when it is known (check_typology fills it in)."""

    use: URIRef
    sparql: str | None
    owl: str | None
    signature: Signature | None = None

    def as_text(self) -> str:
        def said(answer: str | None) -> str:
            return answer if answer is not None else "nothing (use missing)"

        text = f"{use_label(self.use)}: SPARQL says {said(self.sparql)}, HermiT says {said(self.owl)}"
        return text + (f" (signature: {self.signature.as_text()})" if self.signature else "")


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


def cross_check(sparql: dict[URIRef, str], owl: dict[URIRef, str],
                signatures: dict[URIRef, Signature] | None = None) -> list[Disagreement]:
    """Every use on which the two answers differ, including uses only one side answers for; each
    with its signature when ``signatures`` (use -> Signature) has it."""
    signatures = signatures or {}
    return [
        Disagreement(use, sparql.get(use), owl.get(use), signatures.get(use))
        for use in sorted(set(sparql) | set(owl), key=_use_sort_key)
        if sparql.get(use) != owl.get(use)
    ]


def format_disagreements(disagreements: list[Disagreement]) -> str:
    """One line per use: ``<study_id>-<use_no>: SPARQL says X, HermiT says Y``."""
    return "\n".join(d.as_text() for d in disagreements)


def sparql_assignments(source) -> dict[URIRef, str]:
    """The SPARQL derivation's answer as it stands in the graph: every use IRI -> the skos:notation of
    its smqi:modelOfUse in the derived named graph (a plain Graph: anywhere), or "unclassified".

    One linear SELECT; ``source`` as for check_typology. A use with two models is a DataError."""
    from kg.io.store import select_union

    derived = getattr(source, "dataset", source)
    plain = isinstance(derived, Graph) and not isinstance(derived, Dataset)
    where = (f"?use <{SMQI.modelOfUse}> ?model" if plain
             else f"GRAPH <{G_DERIVED}> {{ ?use <{SMQI.modelOfUse}> ?model }}")
    text = (f"SELECT ?use ?model ?notation WHERE {{ ?use a <{SMQI.SocialMediaUse}> FILTER (isIRI(?use)) "
            f"OPTIONAL {{ {where} OPTIONAL {{ ?model <{SKOS.notation}> ?notation }} }} }}")
    out: dict[URIRef, str] = {}
    for use, model, notation in select_union(source, text):
        key = UNCLASSIFIED if model is None else str(notation or str(model).rstrip("/").rsplit("/", 1)[-1])
        if out.setdefault(use, key) != key:
            raise DataError(f"use {use_label(use)} has more than one model of use: {out[use]}, {key}")
    return dict(sorted(out.items(), key=lambda kv: _use_sort_key(kv[0])))


def check_typology(source, sparql: dict[URIRef, str]) -> dict[URIRef, str]:
    """Run HermiT on ``source``'s distinct signatures; raise TypologyDisagreement unless it agrees,
    use by use, with ``sparql`` (use IRI -> model key or "unclassified").

    ``source``: a pyoxigraph Store, an rdflib Graph/Dataset or a KnowledgeGraph. Returns HermiT's
    assignments per use. Each disagreement names the use and its signature (read again only when
    there is one). JavaMissing is raised before any work; the caller may turn it into a warning.
    """
    owl = owl_assignments(source)
    disagreements = cross_check(sparql, owl)
    if disagreements:
        signatures = read_signatures(source, read_rules(terminology(source)))
        raise TypologyDisagreement(cross_check(sparql, owl, signatures))
    return owl
