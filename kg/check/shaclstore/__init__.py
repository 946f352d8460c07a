"""SHACL Core on an Oxigraph store: the modules behind ``kg.check.storeshacl`` (import from there).

``model`` (results, errors, reading a shapes graph), ``forms`` (literals Oxigraph stores in another
form than written), ``engine`` (shapes compiled to SPARQL), ``fallback`` (pySHACL for one shape),
``report`` (W3C validation report graph, text and JSON).
"""
