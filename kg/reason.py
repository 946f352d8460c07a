"""OWL reasoning with HermiT through owlready2.

owlready2 does not read Turtle, so graphs are handed over as N-Triples written by rdflib. Each call
uses its own owlready2 World, so nothing leaks between runs. HermiT needs Java; when it is missing
the caller gets JavaMissing with what to install.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rdflib import RDF, RDFS, XSD, Graph, Literal

from kg.errors import JavaMissing, SmqiError

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


def owl_safe(graph: Graph) -> Graph:
    """``graph`` without literals outside the OWL 2 datatype map (they carry no logic here)."""
    safe = Graph()
    for s, p, o in graph:
        if isinstance(o, Literal) and o.datatype is not None:
            dt = str(o.datatype)
            xsd_name = dt.rsplit("#", 1)[-1] if dt.startswith(str(XSD)) else None
            if xsd_name not in _OWL2_XSD and dt not in (str(RDF.PlainLiteral), str(RDF.langString),
                                                          str(RDFS.Literal), str(RDF.XMLLiteral)):
                continue
        safe.add((s, p, o))
    return safe


def load_world(graph: Graph):
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


def check_consistency(graph: Graph) -> None:
    """Raise Inconsistent when HermiT finds ``graph`` inconsistent (JavaMissing without Java)."""
    world, _onto = load_world(graph)
    run_hermit(world)
    import owlready2

    nothing = list(world.inconsistent_classes())
    if nothing:
        names = ", ".join(sorted(c.iri for c in nothing if c is not owlready2.Nothing))
        if names:
            raise Inconsistent(f"HermiT found unsatisfiable classes: {names}")
