"""The dataset files of a build, written from the built Oxigraph store.

``write_dataset_files(store, folder)`` writes

- ``smqi.trig`` and ``smqi.nq``: every quad, named graphs kept;
- ``smqi.ttl`` and ``smqi.nt``: the union of the named graphs as one graph, each distinct triple once;
- ``smqi.jsonld``: every quad, compacted with the project context (kg.jsonld.write_store_jsonld).

Everything streams from the store to the file (pyoxigraph's serializers, the JSON-LD writer node by
node): no rdflib graph of the dataset is made, so memory does not grow with the number of studies.
Prefixes are kg.dataset.PREFIXES. What is written is what the store holds: Oxigraph keeps literal
values, so an ``xsd:positiveInteger`` of the sheets is written as the ``xsd:integer`` the store gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox

from kg.dataset import PREFIXES
from kg.errors import DataError
from kg.store import graphs_of, quads_by_subject, union_by_subject

__all__ = ["DATASET_FILES", "file_prefixes", "write_dataset_files", "union_triples", "write_jsonld"]

DATASET_FILES = ("smqi.trig", "smqi.nq", "smqi.ttl", "smqi.nt", "smqi.jsonld")
# kg.dataset.PREFIXES, then the other namespaces of the JSON-LD context (ontology/context.jsonld)
# except its two umbrella ones (kg:, vocab:), whose local names would need a '/'
_CONTEXT_PREFIXES = ("rdf", "rdfs", "owl", "xsd", "schema", "sssom", "cito", "dcat", "void", "foaf", "spdx")


def file_prefixes() -> dict[str, str]:
    """The prefixes declared in smqi.trig and smqi.ttl."""
    from kg.jsonld import local_context

    context = local_context()
    return {**PREFIXES, **{name: context[name] for name in _CONTEXT_PREFIXES if name not in PREFIXES}}


def union_triples(store: ox.Store) -> Iterator[ox.Triple]:
    """Every distinct triple of every graph of ``store``, once, grouped by subject (kg.store)."""
    for _subject, triples in union_by_subject(store):
        yield from triples


def _graph_quads(store: ox.Store) -> Iterator[ox.Quad]:
    for graph in graphs_of(store):
        for _subject, quads in quads_by_subject(store, graph):
            yield from quads


def write_jsonld(store: ox.Store, path: Path) -> Path:
    """``smqi.jsonld``: every quad of ``store`` as JSON-LD with the project context."""
    from kg.jsonld import write_store_jsonld

    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        write_store_jsonld(store, handle)
    return Path(path)


def write_dataset_files(store: ox.Store, folder: Path, *, jsonld: bool = True) -> list[Path]:
    """Write smqi.trig, smqi.nq, smqi.ttl, smqi.nt (and smqi.jsonld unless ``jsonld`` is False)
    from ``store`` into ``folder``; returns the paths written, in that order."""
    folder = Path(folder)
    paths = [folder / name for name in DATASET_FILES[:4]]
    prefixes = file_prefixes()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with paths[0].open("wb") as handle:  # by graph and subject, so each subject is one block
            ox.serialize(_graph_quads(store), handle, ox.RdfFormat.TRIG, prefixes=prefixes)
        with paths[1].open("wb") as handle:
            ox.serialize(_graph_quads(store), handle, ox.RdfFormat.N_QUADS)
        with paths[2].open("wb") as handle:
            ox.serialize(union_triples(store), handle, ox.RdfFormat.TURTLE, prefixes=prefixes)
        with paths[3].open("wb") as handle:
            ox.serialize(union_triples(store), handle, ox.RdfFormat.N_TRIPLES)
        if jsonld:
            paths.append(write_jsonld(store, folder / "smqi.jsonld"))
    except OSError as exc:
        raise DataError(f"{folder}: cannot write the dataset files: {exc.strerror or exc}") from exc
    return paths
