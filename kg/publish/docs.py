"""`smqi docs`: HTML documentation of the ontology and the SKOS vocabularies, read from the graphs.

One static page (``DIR/index.html`` and its ``report.css``): the ontology's metadata; its classes,
object properties and datatype properties (label, IRI, definition, domain, range, characteristics,
super-classes); then one section per SKOS concept scheme listing every concept with its notation (the
codebook key), label, definition and ``skos:exactMatch`` / ``skos:closeMatch`` links.

Written with Jinja2 (autoescaped) rather than pyLODE: pyLODE documents an OWL ontology and a SKOS
vocabulary with two different profiles and pages, pulls in a larger dependency tree, and its output
changes with its version; this page is small, offline, deterministic and tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import OWL, RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from kg import __version__
from kg.model.namespaces import PREFIXES
from kg.model.errors import DataError
from kg.model.namespaces import ONTOLOGY_IRI, SMQI
from kg.publish.pages import environment, template_text

__all__ = ["Term", "Scheme", "collect_docs", "render_docs", "write_docs"]

EXTRA_PREFIXES = {"owl": str(OWL), "rdfs": str(RDFS), "xsd": "http://www.w3.org/2001/XMLSchema#",
                  "schema": "http://schema.org/", "vocab": "https://w3id.org/smqi/vocab/",
                  "typology": "https://w3id.org/smqi/vocab/typology/"}
CHARACTERISTICS = {OWL.FunctionalProperty: "functional", OWL.InverseFunctionalProperty: "inverse functional",
                   OWL.TransitiveProperty: "transitive", OWL.SymmetricProperty: "symmetric"}


@dataclass
class Term:
    iri: str
    anchor: str
    label: str
    definition: str
    facts: list[tuple[str, list[dict[str, str]]]] = field(default_factory=list)  # (name, links)


@dataclass
class Scheme:
    iri: str
    anchor: str
    title: str
    definition: str
    concepts: list[dict[str, Any]] = field(default_factory=list)
    rules: bool = False  # its concepts carry rules (smqi:rulePriority): listed in priority order


def _en(graph: Graph, subject: URIRef, *predicates: URIRef) -> str:
    """The English (or untagged) value of the first predicate that has one."""
    for predicate in predicates:
        values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
        for value in sorted(values, key=lambda v: (v.language not in ("en", None), str(v))):
            return str(value)
    return ""


def _curie(iri: str) -> str:
    best = ""
    for prefix, ns in {**PREFIXES, **EXTRA_PREFIXES}.items():
        if iri.startswith(ns) and len(ns) > len(best.partition("|")[2]):
            best = f"{prefix}|{ns}"
    if not best:
        return iri
    prefix, _, ns = best.partition("|")
    return f"{prefix}:{iri[len(ns):]}"


def _anchor(iri: str) -> str:
    return _curie(iri).replace(":", "-").replace("/", "-")


def _links(values: Iterable[Any], local: set[str]) -> list[dict[str, str]]:
    out = []
    for value in sorted(values, key=str):
        if isinstance(value, URIRef):
            text = str(value)
            href = f"#{_anchor(text)}" if text in local else text
            out.append({"text": _curie(text), "href": href})
        elif not isinstance(value, Literal):
            out.append({"text": "(an anonymous class expression)", "href": ""})
        else:
            out.append({"text": str(value), "href": ""})
    return out


def _terms(graph: Graph, kind: URIRef, local: set[str]) -> list[Term]:
    terms = []
    for subject in sorted({s for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef)}, key=str):
        term = Term(str(subject), _anchor(str(subject)), _en(graph, subject, RDFS.label, SKOS.prefLabel)
                    or _curie(str(subject)), _en(graph, subject, SKOS.definition, RDFS.comment))
        if not term.definition and not term.iri.startswith(str(SMQI._NS)):
            term.definition = "A term reused from another vocabulary; see that vocabulary for its definition."
        if kind == OWL.Class:
            facts = [("subclass of", RDFS.subClassOf), ("disjoint with", OWL.disjointWith)]
        else:
            facts = [("domain", RDFS.domain), ("range", RDFS.range), ("inverse of", OWL.inverseOf),
                     ("sub-property of", RDFS.subPropertyOf)]
        for name, predicate in facts:
            links = _links(graph.objects(subject, predicate), local)
            if links:
                term.facts.append((name, links))
        traits = sorted(CHARACTERISTICS[t] for t in graph.objects(subject, RDF.type) if t in CHARACTERISTICS)
        if traits:
            term.facts.append(("characteristics", [{"text": t, "href": ""} for t in traits]))
        terms.append(term)
    return sorted(terms, key=lambda t: t.label.lower())


def _rule_text(vocab: Graph, model: URIRef) -> str:
    """A model's rule in words, from the graph: ``communication model = two-way and host = … and QI
    activity includes any of …`` (``any use`` for a rule with no condition)."""
    def keys(predicate: URIRef) -> list[str]:
        return sorted(_en(vocab, c, SKOS.notation) or _curie(str(c)) for c in vocab.objects(model, predicate))

    parts = [f"communication model = {k}" for k in keys(SMQI.requiresCommunicationModel)]
    parts += [f"host = {k}" for k in keys(SMQI.requiresHost)]
    activities = keys(SMQI.requiresAnyActivity)
    if activities:
        parts.append("QI activity includes " + (activities[0] if len(activities) == 1
                                                 else "any of " + ", ".join(activities)))
    return " and ".join(parts) or "any use"


def collect_docs(ontology: Graph, vocab: Graph) -> dict[str, Any]:
    """The template context: ontology metadata, classes, properties and concept schemes."""
    local = {str(s) for s in ontology.subjects(RDF.type, None) if isinstance(s, URIRef)}
    local |= {str(s) for s in vocab.subjects(RDF.type, None) if isinstance(s, URIRef)}
    schemes = []
    for iri in sorted({s for s in vocab.subjects(RDF.type, SKOS.ConceptScheme) if isinstance(s, URIRef)},
                      key=str):
        scheme = Scheme(str(iri), _anchor(str(iri)), _en(vocab, iri, DCTERMS.title, SKOS.prefLabel, RDFS.label)
                        or _curie(str(iri)), _en(vocab, iri, SKOS.definition, DCTERMS.description))
        concepts = {c for c in vocab.subjects(SKOS.inScheme, iri) if isinstance(c, URIRef)}
        for concept in concepts:
            notation = _en(vocab, concept, SKOS.notation)
            priority = vocab.value(concept, SMQI.rulePriority)
            scheme.concepts.append({
                "iri": str(concept), "anchor": _anchor(str(concept)), "notation": notation,
                "label": _en(vocab, concept, SKOS.prefLabel), "definition": _en(vocab, concept, SKOS.definition),
                "exact": _links(vocab.objects(concept, SKOS.exactMatch), local),
                "close": _links(vocab.objects(concept, SKOS.closeMatch), local),
                "priority": int(priority) if priority is not None and str(priority).isdigit() else None,
                "rule": _rule_text(vocab, concept) if priority is not None else "",
            })
        # a scheme of rules (the typology) is listed in the order its rules are tried: the first that
        # matches a use decides; any other scheme by notation
        scheme.concepts.sort(key=lambda c: (c["priority"] is None, c["priority"] or 0, c["notation"], c["iri"]))
        scheme.rules = any(c["priority"] is not None for c in scheme.concepts)
        schemes.append(scheme)
    schemes.sort(key=lambda s: s.title.lower())
    return {
        "version": __version__,
        "ontology": {"iri": str(ONTOLOGY_IRI), "title": _en(ontology, ONTOLOGY_IRI, DCTERMS.title, RDFS.label),
                     "definition": _en(ontology, ONTOLOGY_IRI, SKOS.definition, RDFS.comment),
                     "version": _en(ontology, ONTOLOGY_IRI, OWL.versionInfo),
                     "license": [str(o) for o in ontology.objects(ONTOLOGY_IRI, DCTERMS.license)]},
        "classes": _terms(ontology, OWL.Class, local),
        "object_properties": _terms(ontology, OWL.ObjectProperty, local),
        "datatype_properties": _terms(ontology, OWL.DatatypeProperty, local),
        "schemes": schemes,
        "namespace": str(SMQI._NS),
    }


def render_docs(ontology: Graph, vocab: Graph, *, report_href: str = "../report/index.html") -> str:
    context = collect_docs(ontology, vocab)
    return environment().from_string(template_text("docs.html")).render(**context, report_href=report_href)


def write_docs(out: Path, ontology: Graph | None = None, vocab: Graph | None = None) -> Path:
    """Write ``out/index.html`` and ``out/report.css``; the graphs default to the shipped files."""
    from kg.model.vocabularies import load_ontology_graph, load_vocab_graph

    html = render_docs(ontology if ontology is not None else load_ontology_graph(),
                       vocab if vocab is not None else load_vocab_graph())
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.css").write_text(template_text("report.css"), encoding="utf-8")
        (out / "index.html").write_text(html, encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{out}: cannot write the documentation: {exc.strerror or exc}") from exc
    return out / "index.html"
