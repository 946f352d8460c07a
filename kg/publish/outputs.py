"""The dataset files of a build, written from the built Oxigraph store.

``write_dataset_files(store, folder)`` writes

- ``smqi.trig`` and ``smqi.nq``: every quad, named graphs kept;
- ``smqi.ttl`` and ``smqi.nt``: the union of the named graphs as one graph, each distinct triple once;
- ``smqi.jsonld``: every quad, compacted with the project context (kg.publish.outputs.write_store_jsonld).

Everything streams from the store to the file (pyoxigraph's serializers, the JSON-LD writer node by
node): no rdflib graph of the dataset is made, so memory does not grow with the number of studies.
Prefixes are kg.dataset.PREFIXES. What is written is what the store holds: Oxigraph keeps literal
values, so an ``xsd:positiveInteger`` of the sheets is written as the ``xsd:integer`` the store gives.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyoxigraph as ox

from kg.model.prefixes import PREFIXES
from kg.model.errors import DataError
from kg.io.jsonld import JsonLdWriter
from kg.io.store import graphs_of, quads_by_subject

__all__ = ["DATASET_FILES", "file_prefixes", "write_dataset_files", "shared_triples", "union_triples",
           "write_store_jsonld", "store_to_jsonld"]

DATASET_FILES = ("smqi.trig", "smqi.nq", "smqi.ttl", "smqi.nt", "smqi.jsonld")
# kg.dataset.PREFIXES, then the other namespaces of the JSON-LD context (ontology/context.jsonld)
# except its two umbrella ones (kg:, vocab:), whose local names would need a '/'
_CONTEXT_PREFIXES = ("rdf", "rdfs", "owl", "xsd", "schema", "sssom", "cito", "dcat", "void", "foaf", "spdx")


def file_prefixes() -> dict[str, str]:
    """The prefixes declared in smqi.trig and smqi.ttl."""
    from kg.io.jsonld import local_context

    context = local_context()
    return {**PREFIXES, **{name: context[name] for name in _CONTEXT_PREFIXES if name not in PREFIXES}}


def shared_triples(store: ox.Store) -> set:
    """The triples found in more than one graph of ``store`` (usually none): the union files write
    each of them once. One SPARQL join (an index lookup per quad), so linear."""
    named = "SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } GRAPH ?h { ?s ?p ?o } FILTER (?g != ?h) }"
    default = "SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o GRAPH ?g { ?s ?p ?o } }"
    shared = set()
    for query in (named, default):
        shared.update(ox.Triple(r["s"], r["p"], r["o"]) for r in store.query(query))
    return shared


def union_triples(store: ox.Store, shared: set | None = None, nt: BinaryIO | None = None) -> Iterator[ox.Triple]:
    """Every distinct triple of every graph of ``store``, once (``shared``: ``shared_triples``),
    graph by graph and subject by subject (kg.io.store.quads_by_subject). With ``nt``, each triple is
    also written there as an N-Triples line."""
    shared = shared_triples(store) if shared is None else shared
    seen: set = set()
    for graph in graphs_of(store):
        for _subject, quads in quads_by_subject(store, graph):
            for quad in quads:
                triple = quad.triple
                if shared and triple in shared:
                    if triple in seen:
                        continue
                    seen.add(triple)
                if nt is not None:
                    nt.write(f"{triple} .\n".encode("utf-8"))
                yield triple


def _quads(store: ox.Store, nq: BinaryIO | None, jsonld: JsonLdWriter | None) -> Iterator[ox.Quad]:
    """Every quad, graph by graph and subject by subject; also written to ``nq`` (N-Quads lines) and
    ``jsonld`` on the way, so one pass over the store feeds three files."""
    for graph in graphs_of(store):
        if jsonld is not None and not isinstance(graph, ox.DefaultGraph):
            jsonld.start_graph(graph)
        for subject, quads in quads_by_subject(store, graph):
            if nq is not None:
                nq.write("".join(f"{quad} .\n" for quad in quads).encode("utf-8"))
            if jsonld is not None:
                jsonld.node(subject, quads)
            yield from quads


def write_dataset_files(store: ox.Store, folder: Path, *, jsonld: bool = True) -> list[Path]:
    """Write smqi.trig, smqi.nq, smqi.ttl, smqi.nt (and smqi.jsonld unless ``jsonld`` is False)
    from ``store`` into ``folder``; returns the paths written, in that order.

    Two passes over the store: the quads (TriG, N-Quads and JSON-LD together), then the union
    (Turtle and N-Triples together), after one join that finds the triples in several graphs."""
    folder = Path(folder)
    names = DATASET_FILES if jsonld else DATASET_FILES[:4]
    paths = [folder / name for name in names]
    prefixes = file_prefixes()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with paths[0].open("wb") as trig, paths[1].open("wb") as nq, contextlib.ExitStack() as stack:
            writer = None
            if jsonld:
                text = stack.enter_context((folder / "smqi.jsonld").open("w", encoding="utf-8", newline="\n"))
                writer = JsonLdWriter(text)
            ox.serialize(_quads(store, nq, writer), trig, ox.RdfFormat.TRIG, prefixes=prefixes)
            if writer is not None:
                writer.close()
        with paths[2].open("wb") as ttl, paths[3].open("wb") as nt:
            ox.serialize(union_triples(store, nt=nt), ttl, ox.RdfFormat.TURTLE, prefixes=prefixes)
    except OSError as exc:
        raise DataError(f"{folder}: cannot write the dataset files: {exc.strerror or exc}") from exc
    return paths


def write_store_jsonld(store: Any, out: Any) -> int:
    """Write every quad of ``store`` (a pyoxigraph Store) to the text stream ``out`` as JSON-LD
    compacted with the project context (JsonLdWriter); returns the node objects written.

    Graphs and subjects come in the order of ``kg.io.store.quads_by_subject``. Datatypes and languages
    are kept (see Compactor): expanding the document gives back the store's quads."""
    writer = JsonLdWriter(out)
    for graph in graphs_of(store):
        if not isinstance(graph, ox.DefaultGraph):
            writer.start_graph(graph)
        for subject, quads in quads_by_subject(store, graph):
            writer.node(subject, quads)
    return writer.close()


def store_to_jsonld(store: Any) -> str:
    """``write_store_jsonld`` into a string (for ``smqi export --format jsonld``)."""
    import io

    buffer = io.StringIO()
    write_store_jsonld(store, buffer)
    return buffer.getvalue()
