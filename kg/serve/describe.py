"""What `smqi serve` says about itself and about the graph's resources, as RDF.

- :func:`service_description`: the SPARQL 1.1 Service Description (``sd:`` vocabulary) answered on
  ``GET /query`` without a query: the endpoint, the query language, the result formats, the union
  default graph and each named graph of the served dataset with its triple count (``void:triples``).
- :func:`describe_query`: the CONSTRUCT that gives a resource's Linked Data description (every
  triple with the IRI as subject, and the labels of what it points to), and :func:`is_served_iri`,
  which IRIs of the dataset the front answers a GET for.
"""

from __future__ import annotations

import pyoxigraph as ox

from kg.model.namespaces import BASE

__all__ = ["service_description", "describe_query", "is_served_iri", "describe_html", "wants_html", "RESULT_FORMATS",
           "GRAPH_FORMATS"]

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
RESULT_FORMATS = (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML, ox.QueryResultsFormat.CSV,
                  ox.QueryResultsFormat.TSV)
GRAPH_FORMATS = (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES, ox.RdfFormat.RDF_XML, ox.RdfFormat.JSON_LD)
_FORMAT_IRIS = ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                "Turtle", "N-Triples", "RDF_XML", "JSON-LD")
PREFIXES = {"sd": SD, "void": "http://rdfs.org/ns/void#", "dcterms": "http://purl.org/dc/terms/",
            "formats": FORMATS, "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
NOTICE = ("The knowledge graph of studies on social media in health-service quality improvement (smqi-kg). "
          "Its evidence is an independent extraction of real studies that meet the criteria of the scoping "
          "review by Walsh et al. 2021 (doi:10.1177/2055207621996870), not the review's own 40 studies. "
          "Read-only: SPARQL 1.1 queries only; no updates, no SERVICE.")


def service_description(endpoint: str, graphs: dict[str, int]) -> list[ox.Triple]:
    """The service description of the endpoint at ``endpoint`` serving ``graphs`` (name → triples)."""
    rdf_type = ox.NamedNode(PREFIXES["rdf"] + "type")
    triples: list[ox.Triple] = []

    def sd(name: str) -> ox.NamedNode:
        return ox.NamedNode(SD + name)

    service = ox.BlankNode("service")
    dataset = ox.BlankNode("dataset")
    default = ox.BlankNode("default")
    triples += [
        ox.Triple(service, rdf_type, sd("Service")),
        ox.Triple(service, sd("endpoint"), ox.NamedNode(endpoint)),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("defaultEntailmentRegime"), ox.NamedNode("http://www.w3.org/ns/entailment/Simple")),
        ox.Triple(service, ox.NamedNode(PREFIXES["dcterms"] + "description"), ox.Literal(NOTICE)),
    ]
    triples += [ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS + f)) for f in _FORMAT_IRIS]
    triples += [
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, rdf_type, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default),
        ox.Triple(default, rdf_type, sd("Graph")),
    ]
    for n, (name, count) in enumerate(sorted(graphs.items())):
        named, graph = ox.BlankNode(f"named{n}"), ox.BlankNode(f"graph{n}")
        triples += [
            ox.Triple(dataset, sd("namedGraph"), named),
            ox.Triple(named, rdf_type, sd("NamedGraph")),
            ox.Triple(named, sd("name"), ox.NamedNode(name)),
            ox.Triple(named, sd("graph"), graph),
            ox.Triple(graph, rdf_type, sd("Graph")),
            ox.Triple(graph, ox.NamedNode(PREFIXES["void"] + "triples"),
                      ox.Literal(str(count), datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))),
        ]
    return triples


def is_served_iri(iri: str) -> bool:
    """Whether ``iri`` is one the front describes on a GET: under ``https://w3id.org/smqi/``."""
    return iri.startswith(str(BASE)) and len(iri) > len(str(BASE))


def describe_query(iri: str) -> str:
    """A CONSTRUCT of the triples about ``iri`` (as subject, over every graph) and the labels of the
    IRIs it points to. ``iri`` must be a valid IRI (checked by the caller with pyoxigraph)."""
    term = str(ox.NamedNode(iri))  # the N-Triples form, escaped by pyoxigraph
    label = "<http://www.w3.org/2004/02/skos/core#prefLabel>"
    return (f"CONSTRUCT {{ {term} ?p ?o . ?o {label} ?label }} WHERE {{ {term} ?p ?o "
            f"OPTIONAL {{ ?o {label} ?label }} }}")


def wants_html(accept: str) -> bool:
    """Whether an Accept header asks for HTML before any RDF format (a browser's does)."""
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            return True
        if media in ("text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml",
                     "*/*", "text/*", "application/*"):
            return False
    return False


def describe_html(iri: str, ntriples: bytes) -> bytes:
    """An HTML page of the triples about ``iri`` (from its N-Triples description): one row per triple,
    every value escaped, IRIs of this dataset linked to their own page, and the data notice."""
    from html import escape

    def cell(term) -> str:
        if isinstance(term, ox.NamedNode):
            shown = escape(term.value)
            if is_served_iri(term.value):
                rest = term.value[len("https://w3id.org/smqi/"):]
                if rest.startswith(("kg/", "vocab/")) and "#" not in rest:  # the front's own paths
                    return f'<a href="/{escape(rest)}">{shown}</a>'
                from urllib.parse import quote

                return f'<a href="/describe?uri={escape(quote(term.value, safe=""))}">{shown}</a>'
            return f"<code>{shown}</code>"
        if isinstance(term, ox.Literal):
            tail = f"@{term.language}" if term.language else (
                "" if term.datatype.value.endswith("#string") else f" ({escape(term.datatype.value)})")
            return escape(term.value) + escape(tail)
        return escape(str(term))

    triples = sorted(ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES), key=lambda t: (t.subject != ox.NamedNode(iri),
                                                                                       str(t.subject), str(t.predicate), str(t.object)))
    rows = "\n".join(f"<tr><td>{cell(t.subject)}</td><td>{cell(t.predicate)}</td><td>{cell(t.object)}</td></tr>"
                     for t in triples)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(iri)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<style>body{font-family:system-ui,sans-serif;margin:1rem;max-width:75rem}table{border-collapse:collapse;"
            "width:100%}td{border-top:1px solid #ddd;padding:.25rem .5rem;vertical-align:top;overflow-wrap:anywhere}"
            ".notice{border-left:4px solid #c05621;padding:.25rem .75rem}</style></head><body>"
            f"<h1>{escape(iri)}</h1><p class=\"notice\">{escape(NOTICE)}</p>"
            "<p>The same description as RDF: <code>Accept: text/turtle</code> or <code>application/ld+json</code>; "
            "the query page is at <a href=\"/\">/</a>.</p>"
            f"<table><thead><tr><th>subject</th><th>property</th><th>value</th></tr></thead><tbody>\n{rows}\n"
            "</tbody></table></body></html>\n")
    return page.encode("utf-8")
