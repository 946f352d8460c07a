"""The one pipeline over one store: sheets and ``entries/`` → N-Quads (``kg.io.sheets``,
``kg.io.datafolder``) → one embedded Oxigraph store → SHACL compiled to SPARQL on the store
(``kg.check.storeshacl``) → typology (``kg.derive.typology.derive_on_store``) → summary queries.

``kg.publish.build.build`` adds provenance, the OWL/HermiT cross-check, claims, network and every
output; `smqi diff`, `smqi add`, `smqi report` and the reading commands without a build run this in
memory. No rdflib object is made per evidence triple: the sheets become N-Quads, streamed in chunks
to a thread that bulk-loads them into Oxigraph while the rest of the sheets is still being read,
beside the ontology, vocabularies, reference graph, ``entries/*.ttl`` and the review graph. The same
code runs at the shipped 85 studies and at 100k.
"""
from __future__ import annotations

import gc
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from kg import __version__
from kg.check.shacl import Report, notations_in, problems_of, shapes_graph
from kg.check.storeshacl import validate_store, written_forms_of
from kg.derive.typology import derive_on_store
from kg.io.atomic import sha256
from kg.io.datafolder import BulkLoader, data_files, load_evidence
from kg.io.lock import data_lock
from kg.io.queries import list_queries
from kg.io.rdf import nquads_of
from kg.io.sheets import Loaded
from kg.model import resources
from kg.model.errors import InputInvalid
from kg.model.identifiers import graph_link_lines
from kg.model.namespaces import G_ONTOLOGY, G_REFERENCE, G_VOCAB, SMQI
from kg.model.vocabularies import default_ontology, default_vocabulary

__all__ = ["NOTICE", "Pipeline", "run_pipeline"]

XSD = "http://www.w3.org/2001/XMLSchema#"

NOTICE = (
    "Evidence: an independent, dual-coded extraction of real studies that meet the inclusion criteria "
    "of Walsh et al. 2021 (doi 10.1177/2055207621996870); not that review's own list of 40 studies, "
    "so counts differ from the review's. See data/METHODS.md."
)


@dataclass
class Pipeline:
    store: ox.Store
    report: Report
    summary: dict = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)
    loaded: Loaded | None = None  # the sheets as loaded (their rows, for the provenance of each node)
    hashes: dict[Path, str] = field(default_factory=dict)  # SHA-256 of each input, taken while it was read
    agreement: Any = None  # kg.derive.agreement.Agreement of the codings; None when the data has none


# Scheduling hint only (which summary queries to start first): the two that return a row per study or
# per study and cell take longest at scale.
_LONG_QUERIES = ("study-table", "gap-map-studies")


_INTEGER_TYPES = {XSD + t for t in (
    "integer int long short byte nonNegativeInteger positiveInteger negativeInteger nonPositiveInteger "
    "unsignedLong unsignedInt unsignedShort unsignedByte").split()}
_FLOAT_TYPES = {XSD + "double", XSD + "float"}


def _count(store: ox.Store, cls: URIRef) -> int:
    rows = store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{cls}> }}",
                       use_default_graph_as_union=True)
    return int(next(iter(rows))["n"].value)


def _plain_ox(term) -> object:
    """``kg.publish.build._plain`` of a pyoxigraph term, with no rdflib object in between."""
    if isinstance(term, ox.Literal) and not term.language:
        datatype = term.datatype.value
        try:
            if datatype in _INTEGER_TYPES:
                return int(term.value)
            if datatype in _FLOAT_TYPES:
                return float(term.value)
        except ValueError:
            pass
    return term.value


def _summary_rows(store: ox.Store, query) -> list[dict]:
    solutions = store.query(query.text, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    rows = []
    for solution in solutions:
        row = {}
        for name in names:
            value = solution[name]
            if value is not None:
                row[name] = _plain_ox(value)
        for name in query.unordered:  # a GROUP_CONCAT comes in no set order: keep it sorted, so diffs are stable
            if isinstance(row.get(name), str):
                row[name] = " ".join(sorted(row[name].split()))
        rows.append(row)
    return rows


def run_pipeline(data_dir: Path | None = None, store_dir: Path | None = None,
                 progress: Callable[[str], None] = lambda _m: None, check: bool = True) -> Pipeline:
    """Load, validate, derive the typology and summarise on Oxigraph. Raises InputInvalid on violations.

    The store (in ``store_dir``, or in memory) gets the named graphs ontology, vocab, evidence (sheets
    and ``entries/*.ttl``), reference, review, links, mappings and derived; ``build`` adds provenance.
    ``smqi query`` and the other reading commands run this in memory when there is no build to read.
    ``check=False`` skips the SHACL validation (the sheets' row checks still run), for `smqi diff` and
    `smqi add`, which compare data that is validated on its own."""
    from kg.model.identifiers import G_LINKS, G_MAPPINGS, mapping_set_graph, read_sssom
    from kg.io.sheets import load_income_groups
    from kg.derive.claims import G_REVIEW, review_graph

    # the data folder is read under its shared lock (kg/io/lock.py): an add cannot change it half-way
    reading = ExitStack()
    reading.enter_context(data_lock(Path(data_dir) if data_dir else resources.data_dir()))
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short strings and no cycles: the collector would only rescan them
    try:
        files = data_files(data_dir)
        progress("reading the ontology, vocabularies and entries")
        vocab = default_vocabulary()
        ontology, vocab_graph = default_ontology(), vocab.graph
        reference = load_income_groups(files.income, vocab)
        review = review_graph(files.claims, vocab)
        store = ox.Store(str(store_dir)) if store_dir else ox.Store()
        progress("checking, converting and loading the sheets")
        prepared: dict = {}

        def meanwhile(loader: BulkLoader, entry_graph: Graph) -> None:
            # The loading thread is still busy with the evidence: meanwhile this thread prepares the
            # small graphs (queued behind the evidence), the shapes and what Oxigraph will rewrite.
            for graph, name in ((ontology, G_ONTOLOGY), (vocab_graph, G_VOCAB), (reference, G_REFERENCE),
                                (review, G_REVIEW)):
                loader.put(nquads_of(graph, name), counted=False)
            if check:
                prepared["shapes"] = shapes_graph()
                # the sheets' literals are canonical (the model decides their forms); entries may not be
                prepared["written"] = written_forms_of([ontology, vocab_graph, reference, entry_graph, review])

        evidence = load_evidence(files, vocab, store, links_graph=str(G_LINKS), meanwhile=meanwhile)
        inputs = [files.studies, files.uses, files.income, *files.entries, files.sssom, files.claims,
                  *([files.codings] if files.codings is not None else [])]
        hashes = {path: sha256(path) for path in inputs}  # of the bytes read, before an add may change them
        reading.close()
        loaded, entry_graph = evidence.loaded, evidence.entry_graph
        progress("validating with SHACL (compiled to SPARQL)")
        results = validate_store(store, prepared["shapes"], prepared["written"], fallback=False) if check else []
        origins = {**loaded.origins, **evidence.codings.origins} if results and evidence.codings else \
            (loaded.origins if results else {})
        problems, warnings = problems_of(results, vocab, origins,
                                         notations_in(store, results))
        report = Report(conforms=not problems, problems=problems, warnings=loaded.warnings + warnings)
        if problems:
            raise InputInvalid(problems=problems)
        links = graph_link_lines(entry_graph, str(G_LINKS)) if len(entry_graph) else []
        mappings = nquads_of(mapping_set_graph(read_sssom(files.sssom)), G_MAPPINGS)
        progress("deriving the typology of models of use and running the summary queries")
        cq = [q for q in list_queries() if q.kind == "cq"]
        # Two threads (Oxigraph evaluates without the GIL) share one queue of summary queries, longest
        # first. One loads the identifier links and the mappings (not in what the shapes see, so loaded
        # only now), derives the typology and counts the triples; the queries that read smqi:modelOfUse
        # join the front of the queue only after the typology. Meanwhile the other thread runs the
        # queries that read neither smqi:modelOfUse nor those two graphs: they give the same rows before
        # and after these writes.
        order = sorted(cq, key=lambda q: (q.name not in _LONG_QUERIES, q.name))
        tasks = {q.name: (lambda q=q: _summary_rows(store, q)) for q in cq}
        tasks["#studies"] = lambda: _count(store, SMQI.Study)
        tasks["#uses"] = lambda: _count(store, SMQI.SocialMediaUse)
        waiting = deque([q.name for q in order if "modelOfUse" not in q.text] + ["#studies", "#uses"])
        after_typology = [q.name for q in order if "modelOfUse" in q.text]
        lock = threading.Lock()
        rows_of: dict[str, object] = {}

        def drain() -> None:
            while True:
                with lock:
                    if not waiting:
                        return
                    name = waiting.popleft()
                rows_of[name] = tasks[name]()

        def links_typology_then_drain() -> tuple[int, int, int]:
            store.bulk_load("".join(loaded.links + links).encode("utf-8"), ox.RdfFormat.N_QUADS)
            store.bulk_load(mappings, ox.RdfFormat.N_QUADS)
            found = derive_on_store(store)
            with lock:
                waiting.extendleft(reversed(after_typology))
            triples = len(store)  # every graph of the pipeline is written by now
            drain()
            return (*found, triples)

        with ThreadPoolExecutor(max_workers=2) as pool:
            typology, other = pool.submit(links_typology_then_drain), pool.submit(drain)
            other.result()
            n_uses, unclassified, n_triples = typology.result()
        del loaded.links[:]
        summary: dict = {
            "smqi_kg_version": __version__, "notice": NOTICE,
            "counts": {"studies": rows_of["#studies"], "uses": rows_of["#uses"], "triples": n_triples},
            "queries": {q.name: {"summary": q.summary, "rows": rows_of[q.name]} for q in cq},
        }
        summary["typology"] = {"unclassified_uses": unclassified, "owl_cross_check": "not run"}
        agreed = None
        if evidence.codings is not None or len(evidence.entry_codings):
            from kg.derive.agreement import agreement

            progress("computing the agreement of the independent codings")
            agreed = agreement(store)
            summary["agreement"] = agreed.as_json()
    finally:
        reading.close()
        if gc_was_enabled:
            # Everything made while the collector was off counts as new: enabling it as is would start a
            # full collection over every summary row (about a second at 100k studies). These objects
            # are either kept (the summary) or freed by reference counting, so the collector may skip them.
            gc.freeze()
            gc.enable()
    return Pipeline(store, report, summary, inputs, loaded, hashes, agreed)
