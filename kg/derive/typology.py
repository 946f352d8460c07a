"""The typology of models of use: give every use the model of the first rule that matches it.

The rules are data, not code. Each ``smqi:ModelOfUse`` of the scheme ``vocab/typology`` carries its
rule (``smqi:rulePriority``, ``smqi:requiresCommunicationModel``, ``smqi:requiresHost``,
``smqi:requiresAnyActivity``; see CODEBOOK.md, section "Typology"). ``derive`` reads the rules from
the store and writes ``smqi:modelOfUse`` into the derived named graph only, one SPARQL update per
priority level (``derive_on_store``: linear in the uses; the generic query ``queries/typology/assign.rq``
gives the same answer, which tests check). ``explain`` re-evaluates the same rules in Python, read from
the same graph, to say why a use got its model; a test checks that both give the same answer.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import RDF, SKOS

from kg.model.errors import DataError, UsageError
from kg.model.namespaces import G_DERIVED, SMQI, scheme_iri

__all__ = [
    "UNCLASSIFIED", "Model", "Use", "Check", "Derivation", "SummaryRow", "read_models",
    "read_uses", "evaluate", "first_match", "classify", "derive", "derive_on_store", "read_derivation",
    "rules_graph", "summary_rows", "explain",
    "to_table", "to_csv_assignments", "to_json",
]

TYPOLOGY = scheme_iri("typology")
UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class Model:
    """One model of use and its rule. ``comm_model``, ``host`` and ``activities`` are concept keys
    (for people); the ``*_iris`` fields hold the concepts the rule actually compares."""

    key: str
    label: str
    priority: int
    function: str
    comm_model: str | None
    host: str | None
    activities: tuple[str, ...]
    iri: URIRef
    comm_model_iris: frozenset[URIRef] = frozenset()
    host_iris: frozenset[URIRef] = frozenset()
    activity_iris: frozenset[URIRef] = frozenset()

    @property
    def has_conditions(self) -> bool:
        return bool(self.comm_model_iris or self.host_iris or self.activity_iris)


@dataclass(frozen=True)
class Use:
    """What the rules look at in one use: its concepts on the three dimensions."""

    iri: URIRef
    study_id: str
    use_no: int
    comm_models: frozenset[URIRef]
    hosts: frozenset[URIRef]
    activities: frozenset[URIRef]

    @property
    def use_id(self) -> str:
        return f"{self.study_id}-{self.use_no}"


@dataclass(frozen=True)
class Check:
    """One condition of one rule applied to one use."""

    holds: bool
    text: str


@dataclass
class Derivation:
    """The result of ``derive``: use IRI -> model key (or ``"unclassified"``), rows, the rules."""

    assignments: dict[URIRef, str]
    rows: list[tuple[str, int, str]]  # (study_id, use_no, model key or "unclassified")
    models: list[Model]


@dataclass(frozen=True)
class SummaryRow:
    """One line of the typology summary."""

    key: str
    label: str
    uses: int
    studies: int
    examples: tuple[str, ...]


# ---------------------------------------------------------------- reading rules and uses


def _notations(graph: Graph) -> dict[URIRef, str]:
    return {s: str(o) for s, o in graph.subject_objects(SKOS.notation) if isinstance(s, URIRef)}


def _key(iri: URIRef, notations: dict[URIRef, str]) -> str:
    return notations.get(iri, str(iri))


def _keys(iris: Iterable[URIRef], notations: dict[URIRef, str]) -> list[str]:
    return sorted(_key(i, notations) for i in iris)


def _int(value: object, default: int = 0) -> int:
    try:
        return int(value.toPython()) if isinstance(value, Literal) else default
    except (TypeError, ValueError):
        return default


def _uris(graph: Graph, subject: URIRef, predicate: URIRef) -> frozenset[URIRef]:
    return frozenset(o for o in graph.objects(subject, predicate) if isinstance(o, URIRef))


def read_models(graph: Graph) -> list[Model]:
    """Every ``smqi:ModelOfUse`` of the typology scheme that has a priority, in priority order."""
    notations = _notations(graph)
    models = []
    for iri in set(graph.subjects(RDF.type, SMQI.ModelOfUse)):
        if not isinstance(iri, URIRef) or (iri, SKOS.inScheme, TYPOLOGY) not in graph:
            continue
        priority = graph.value(iri, SMQI.rulePriority)
        if priority is None:
            continue  # assign.rq ignores it too; the ModelOfUse shape reports it
        en = [o for o in graph.objects(iri, SKOS.prefLabel) if getattr(o, "language", "") == "en"]
        comm, host, acts = (
            _uris(graph, iri, SMQI.requiresCommunicationModel),
            _uris(graph, iri, SMQI.requiresHost),
            _uris(graph, iri, SMQI.requiresAnyActivity),
        )
        models.append(
            Model(
                key=_key(iri, notations),
                label=str(en[0]) if en else "",
                priority=_int(priority),
                function=str(graph.value(iri, SMQI.socialMediaFunction) or ""),
                comm_model=";".join(_keys(comm, notations)) or None,
                host=";".join(_keys(host, notations)) or None,
                activities=tuple(_keys(acts, notations)),
                iri=iri,
                comm_model_iris=comm,
                host_iris=host,
                activity_iris=acts,
            )
        )
    return sorted(models, key=lambda m: (m.priority, m.key))


def read_uses(graph: Graph) -> list[Use]:
    """Every ``smqi:SocialMediaUse`` with what the rules look at, by study id then use number."""
    uses = []
    for iri in set(graph.subjects(RDF.type, SMQI.SocialMediaUse)):
        if not isinstance(iri, URIRef):
            continue
        study = graph.value(iri, SMQI.reportedIn)
        study_id = graph.value(study, SMQI.studyId) if study is not None else None
        uses.append(
            Use(
                iri=iri,
                study_id=str(study_id or ""),
                use_no=_int(graph.value(iri, SMQI.useNumber)),
                comm_models=_uris(graph, iri, SMQI.communicationModel),
                hosts=_uris(graph, iri, SMQI.host),
                activities=_uris(graph, iri, SMQI.qiActivity),
            )
        )
    return sorted(uses, key=lambda u: (u.study_id, u.use_no, str(u.iri)))


# ---------------------------------------------------------------- the rules, in Python


def evaluate(model: Model, use: Use, notations: dict[URIRef, str]) -> list[Check]:
    """Each condition of ``model``'s rule on ``use``: the same semantics as assign.rq."""
    checks = []
    for label, needed, have in (
        ("communication model", model.comm_model_iris, use.comm_models),
        ("host", model.host_iris, use.hosts),
    ):
        shown = ";".join(_keys(have, notations)) or "(none)"
        for need in sorted(needed):
            ok = need in have
            need_key = _key(need, notations)
            needs = "as the rule needs" if ok else f"rule needs {need_key}"
            checks.append(Check(ok, f"{label} is {shown}, {needs}"))
    if model.activity_iris:
        shown = ";".join(_keys(use.activities, notations)) or "(none)"
        common = model.activity_iris & use.activities
        if common:
            included = ", ".join(_keys(common, notations))
            checks.append(Check(True, f"activities {shown} include {included}"))
        else:
            wanted = ", ".join(_keys(model.activity_iris, notations))
            checks.append(Check(False, f"activities {shown} include none of {wanted}"))
    return checks


def first_match(models: Sequence[Model], use: Use, notations: dict[URIRef, str]) -> list[Model]:
    """The matching models of the lowest priority that has any (two or more only on a tie)."""
    for priority in sorted({m.priority for m in models}):
        tied = [m for m in models if m.priority == priority]
        hits = [m for m in tied if all(c.holds for c in evaluate(m, use, notations))]
        if hits:
            return hits
    return []


def classify(graph: Graph) -> dict[URIRef, str]:
    """Use IRI -> model key (``;``-joined on a tie) or ``"unclassified"``, computed in Python."""
    models, notations = read_models(graph), _notations(graph)
    return {
        use.iri: ";".join(m.key for m in first_match(models, use, notations)) or UNCLASSIFIED
        for use in read_uses(graph)
    }


# ---------------------------------------------------------------- derive


def rules_graph(store: ox.Store) -> Graph:
    """The typology's models with their rules, and every concept's ``skos:notation``, as a small rdflib
    graph read from ``store`` (what ``read_models`` and ``explain`` need)."""
    from kg.io.store import from_ox

    graph = Graph()
    for query in (f"CONSTRUCT {{ ?m ?p ?o }} WHERE {{ ?m a <{SMQI.ModelOfUse}> ; ?p ?o }}",
                  f"CONSTRUCT {{ ?c <{SKOS.notation}> ?n }} WHERE {{ ?c <{SKOS.notation}> ?n }}"):
        for t in store.query(query, use_default_graph_as_union=True):
            graph.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))
    return graph


def _rule_pattern(model: Model, n: int) -> str:
    """The uses ``model``'s rule matches, as a pattern over ?use (every triple from any named graph):
    the consensus uses and each coder's codings of them (``smqi:Coding``), whose models the agreement
    queries compare."""
    smqi = str(SMQI)
    parts = [f"GRAPH ?g{n}u {{ ?use a ?unit{n} }} VALUES ?unit{n} {{ <{smqi}SocialMediaUse> <{smqi}Coding> }}"]
    parts += [f"GRAPH ?g{n}c{i} {{ ?use <{smqi}communicationModel> <{c}> }}"
              for i, c in enumerate(sorted(model.comm_model_iris))]
    parts += [f"GRAPH ?g{n}h{i} {{ ?use <{smqi}host> <{h}> }}" for i, h in enumerate(sorted(model.host_iris))]
    if model.activity_iris:
        values = " ".join(f"<{a}>" for a in sorted(model.activity_iris))
        parts.append(f"GRAPH ?g{n}a {{ ?use <{smqi}qiActivity> ?a{n} }} VALUES ?a{n} {{ {values} }}")
    return " ".join(parts) + f" BIND (<{model.iri}> AS ?model)"


def derive_on_store(store: ox.Store, models: Sequence[Model] | None = None) -> tuple[int, int]:
    """``smqi:modelOfUse`` of every use into the derived graph of ``store``: the one derivation.

    The rules are read from the graph (``read_models``, as ``explain`` does) and each priority level
    becomes one SPARQL update whose patterns are index lookups on the rule's concepts, applied to the
    uses no earlier level matched: linear in the uses, the same answer as the generic query
    ``queries/typology/assign.rq`` (tests/test_store.py). Earlier assignments are removed first. Rules
    of equal priority that both match a use raise DataError. Returns (uses, unclassified uses)."""
    smqi, derived = str(SMQI), f"<{G_DERIVED}>"
    store.update(f"DELETE WHERE {{ GRAPH {derived} {{ ?use <{smqi}modelOfUse> ?model }} }}")
    levels: dict[int, list[Model]] = defaultdict(list)
    for model in models if models is not None else read_models(rules_graph(store)):
        levels[model.priority].append(model)
    for n, priority in enumerate(sorted(levels)):
        branches = " UNION ".join(f"{{ {_rule_pattern(m, n * 100 + i)} }}" for i, m in enumerate(levels[priority]))
        store.update(f"INSERT {{ GRAPH {derived} {{ ?use <{smqi}modelOfUse> ?model }} }} WHERE {{ "
                     f"{{ {branches} }} FILTER (isIRI(?use)) "
                     f"MINUS {{ GRAPH {derived} {{ ?use <{smqi}modelOfUse> ?earlier }} }} }}")
    ties = store.query(f"SELECT ?use ?model WHERE {{ GRAPH {derived} {{ ?use <{smqi}modelOfUse> ?model, ?other }} "
                       f"FILTER (?model != ?other) }}")
    tied: dict[str, set[str]] = defaultdict(set)
    for row in ties:
        tied[row["use"].value].add(row["model"].value)
    if tied:
        keys = {str(m.iri): m.key for ms in levels.values() for m in ms}
        detail = "; ".join(f"{u} ({', '.join(sorted(keys.get(m, m) for m in ms))})" for u, ms in sorted(tied.items()))
        raise DataError("rules of equal smqi:rulePriority both match, so these uses would get two models: "
                        f"{detail}. Give every model of ontology/vocab/typology.ttl its own priority.")
    (uses,), = [(int(r["n"].value),) for r in store.query(
        f"SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE {{ ?u a <{smqi}SocialMediaUse> FILTER (isIRI(?u)) }}",
        use_default_graph_as_union=True)]
    (assigned,), = [(int(r["n"].value),) for r in store.query(
        f"SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE {{ GRAPH {derived} {{ ?u <{smqi}modelOfUse> ?m }} "
        f"?u a <{smqi}SocialMediaUse> }}", use_default_graph_as_union=True)]
    return uses, uses - assigned


def read_derivation(store: ox.Store, models: Sequence[Model] | None = None) -> Derivation:
    """The assignments already in the derived graph of ``store``, as a ``Derivation``."""
    smqi = str(SMQI)
    rows = store.query(
        f"SELECT ?use ?studyId ?useNo ?key WHERE {{ ?use a <{smqi}SocialMediaUse> FILTER (isIRI(?use)) "
        f"OPTIONAL {{ ?use <{smqi}reportedIn> ?study . ?study <{smqi}studyId> ?studyId }} "
        f"OPTIONAL {{ ?use <{smqi}useNumber> ?useNo }} "
        f"OPTIONAL {{ GRAPH <{G_DERIVED}> {{ ?use <{smqi}modelOfUse> ?model }} "
        f"OPTIONAL {{ ?model <{SKOS.notation}> ?key }} }} }}", use_default_graph_as_union=True)
    assignments: dict[URIRef, str] = {}
    ids: dict[URIRef, tuple[str, int]] = {}
    for row in rows:
        use = URIRef(row["use"].value)
        key = row["key"]
        assignments[use] = key.value if key is not None else UNCLASSIFIED
        study, number = row["studyId"], row["useNo"]
        ids[use] = (study.value if study is not None else "", _int(Literal(number.value) if number is not None else None))
    ordered = sorted((*ids[use], key) for use, key in assignments.items())
    return Derivation(assignments, ordered, list(models) if models is not None else read_models(rules_graph(store)))


def derive(source: ox.Store | Dataset) -> Derivation:
    """Derive the models of use (``derive_on_store``) and return them as a ``Derivation``.

    ``source`` is the build's pyoxigraph Store, or an rdflib Dataset (or an object with a ``dataset``), which
    is copied into an in-memory store for the derivation; its derived graph then gets the assignments
    (earlier ``smqi:modelOfUse`` triples removed; no other graph is touched)."""
    if isinstance(source, ox.Store):
        models = read_models(rules_graph(source))
        derive_on_store(source, models)
        return read_derivation(source, models)
    dataset = getattr(source, "dataset", source)
    from kg.io.store import store_from_dataset

    store = store_from_dataset(dataset)
    models = read_models(rules_graph(store))
    derive_on_store(store, models)
    derivation = read_derivation(store, models)
    derived = dataset.graph(G_DERIVED)
    derived.remove((None, SMQI.modelOfUse, None))
    for row in store.query(f"SELECT ?u ?m WHERE {{ GRAPH <{G_DERIVED}> {{ ?u <{SMQI.modelOfUse}> ?m }} }}"):
        derived.add((URIRef(row["u"].value), SMQI.modelOfUse, URIRef(row["m"].value)))
    return derivation


# ---------------------------------------------------------------- summary and explanation


def summary_rows(derivation: Derivation, dataset: Graph | None = None) -> list[SummaryRow]:
    """Per model in priority order (plus ``unclassified`` if any use is): uses, studies, examples.
    Counts come from ``derivation``; ``dataset`` (as passed to ``explain``) is not read."""
    studies: dict[str, set[str]] = defaultdict(set)
    uses: dict[str, int] = defaultdict(int)
    for study_id, _no, key in derivation.rows:
        uses[key] += 1
        studies[key].add(study_id)
    lines = [(m.key, m.label) for m in derivation.models]
    if uses.get(UNCLASSIFIED):
        lines.append((UNCLASSIFIED, "No rule matches"))
    return [
        SummaryRow(key, label, uses[key], len(studies[key]), tuple(sorted(studies[key])[:3]))
        for key, label in lines
    ]


def _explain_use(use: Use, models: Sequence[Model], notations: dict[URIRef, str]) -> list[str]:
    lines = [
        f"use {use.use_id}",
        f"  communication model: {';'.join(_keys(use.comm_models, notations)) or '(none)'}",
        f"  host: {';'.join(_keys(use.hosts, notations)) or '(none)'}",
        f"  activities: {';'.join(_keys(use.activities, notations)) or '(none)'}",
    ]
    winners = first_match(models, use, notations)
    for model in models:
        if winners and model.priority > winners[0].priority:
            break
        checks = evaluate(model, use, notations)
        matches = all(c.holds for c in checks)
        verdict = "matches" if matches else "does not match"
        lines.append(f"  rule {model.priority} {model.key}: {verdict}")
        if not model.has_conditions:
            lines.append("    holds: the rule has no condition, so it matches every use")
        lines.extend(f"    {'holds' if c.holds else 'fails'}: {c.text}" for c in checks)
    if winners:
        lines.extend(f"  model: {m.key} ({m.label})" for m in winners)
    else:
        lines.append(f"  model: {UNCLASSIFIED} (no rule matches)")
    return lines


def explain(dataset: Graph, derivation: Derivation, target: str) -> str:
    """Why the uses of ``target`` (``STUDY_ID`` or ``STUDY_ID-USE_NO``) got their models.

    The rules are re-read from ``dataset`` and applied in Python; the result must agree with
    ``derivation`` (the SPARQL), else ``DataError``. An unknown target raises ``UsageError``.
    """
    dataset = getattr(dataset, "dataset", dataset)
    uses = read_uses(dataset)
    by_study = defaultdict(list)
    for use in uses:
        by_study[use.study_id].append(use)
    by_id = {use.use_id: use for use in uses}
    if target in by_study:
        chosen = by_study[target]
    elif target in by_id:
        chosen = [by_id[target]]
    else:
        known = sorted(set(by_study) | set(by_id))
        close = difflib.get_close_matches(target, known, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"no study or use {target!r}.{hint} Give a study id or STUDY_ID-USE_NO.")
    models, notations = read_models(dataset), _notations(dataset)
    blocks = []
    for use in chosen:
        python_key = ";".join(m.key for m in first_match(models, use, notations)) or UNCLASSIFIED
        sparql_key = derivation.assignments.get(use.iri)
        if sparql_key is not None and sparql_key != python_key:
            raise DataError(
                f"{use.use_id}: assign.rq gives {sparql_key} but the rules read in Python give "
                f"{python_key}; run derive again on this dataset"
            )
        blocks.append("\n".join(_explain_use(use, models, notations)))
    return "\n\n".join(blocks) + "\n"


# ---------------------------------------------------------------- formats


def to_table(rows: Sequence[SummaryRow]) -> str:
    """An aligned text table of summary rows, counts right-aligned."""
    header = ("key", "label", "uses", "studies", "example studies")
    body = [(r.key, r.label, str(r.uses), str(r.studies), ", ".join(r.examples)) for r in rows]
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    numeric = (False, False, True, True, False)

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body)]) + "\n"


def to_csv_assignments(derivation: Derivation) -> str:
    """``study_id,use_no,model`` and one line per use (model key or ``unclassified``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["study_id", "use_no", "model"])
    writer.writerows(derivation.rows)
    return buffer.getvalue()


def to_json(derivation: Derivation) -> str:
    """The summary per model and every assignment, as one JSON document."""
    models = [
        {"key": r.key, "label": r.label, "uses": r.uses, "studies": r.studies,
         "example_studies": list(r.examples)}
        for r in summary_rows(derivation)
    ]
    assignments = [{"study_id": s, "use_no": n, "model": k} for s, n, k in derivation.rows]
    document = {"models": models, "assignments": assignments}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
