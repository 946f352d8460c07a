"""The prefixes smqi-kg writes its files and tables with (a plain table: no RDF library needed)."""

__all__ = ["PREFIXES"]

PREFIXES = {
    "smqi": "https://w3id.org/smqi/ontology#",
    "study": "https://w3id.org/smqi/kg/study/",
    "use": "https://w3id.org/smqi/kg/use/",
    "platform": "https://w3id.org/smqi/vocab/platform/",
    "cm": "https://w3id.org/smqi/vocab/communication-model/",
    "host": "https://w3id.org/smqi/vocab/host/",
    "pop": "https://w3id.org/smqi/vocab/user-population/",
    "act": "https://w3id.org/smqi/vocab/qi-activity/",
    "stage": "https://w3id.org/smqi/vocab/qi-stage/",
    "country": "https://w3id.org/smqi/vocab/country/",
    "income": "https://w3id.org/smqi/vocab/income-group/",
    "fabio": "http://purl.org/spar/fabio/",
    "prism": "http://prismstandard.org/namespaces/basic/2.0/",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "wd": "http://www.wikidata.org/entity/",
}
