"""`smqi build`: the one pipeline, from the sheets to every output, all or nothing.

``kg.publish.pipeline.run_pipeline`` (sheets and ``entries/`` → N-Quads → one embedded Oxigraph store →
SHACL compiled to SPARQL on the store → typology → summary queries) → provenance → OWL/HermiT
cross-check, claims, network → every output (TriG, N-Quads, Turtle, N-Triples, JSON-LD, summary.json,
validation.txt, network/, report/, docs/, void.ttl, manifest.json). The same code runs at the shipped 85 studies
and at 100k. The store is kept in the build folder (``build/store/``) so that `smqi query`,
`typology`, `claims`, `export`, `report`, `network`, `serve` and `push` read it instead of building
again; the new folder, store included, is swapped in only when every step succeeded.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import URIRef

from kg.io.atomic import sha256, write_folder
from kg.io.rdf import nquads_of
from kg.model import resources
from kg.model.errors import JavaMissing, Problem
from kg.model.namespaces import G_DERIVED, G_PROVENANCE
from kg.publish.manifest import STORE
from kg.publish.pipeline import NOTICE, Pipeline, run_pipeline

__all__ = ["NOTICE", "STORE", "Pipeline", "run_pipeline", "build", "add_store_provenance"]


def add_store_provenance(pipe: Pipeline, started: datetime) -> None:
    """The provenance graph: the build activity (``kg.derive.provenance.add_provenance``) and one
    ``prov:Derivation`` per study and use row (``kg.derive.provenance.derivation_lines``)."""
    from rdflib import Graph

    from kg.derive.provenance import add_provenance, derivation_lines

    # provenance is written as if before the typology: the derived graph is not among the graphs the
    # activity generated
    names = [URIRef(row["g"].value) for row in pipe.store.query(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }") if row["g"].value not in (str(G_DERIVED),)]
    prov = Graph()
    activity = add_provenance(prov, pipe.inputs, names, started, hashes=pipe.hashes)
    lines = [nquads_of(prov, G_PROVENANCE)]
    if pipe.loaded is not None:
        lines.append("".join(derivation_lines(pipe.loaded, activity, str(G_PROVENANCE))).encode("utf-8"))
    pipe.store.bulk_load(b"".join(lines), ox.RdfFormat.N_QUADS)


def _disk_store(folder: Path, nquads: Path) -> None:
    """The build's on-disk Oxigraph store: one bulk load of the build's own N-Quads (RocksDB)."""
    store = ox.Store(str(folder))
    store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
    store.flush()
    del store  # closes RocksDB before the folder moves


class _Beside:
    """Run ``work`` in a thread now; ``result()`` waits for it and re-raises what it raised."""

    def __init__(self, work: Callable[[], object]):
        self.value: object = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.value = work()
            except BaseException as exc:  # noqa: BLE001 - re-raised by result()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self) -> object:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


def build(out: Path, data_dir: Path | None = None, progress: Callable[[str], None] = lambda _msg: None,
          cross_check: bool = True) -> Pipeline:
    """Build into ``out`` (the store in ``out/store``), all or nothing.

    Raises InputInvalid (exit 1) when the sheets or shapes are broken, TypologyDisagreement (exit 1)
    when HermiT and the SPARQL derivation differ; ``out`` is then exactly as it was."""
    from kg.derive import network
    from kg.derive.claims import check_claims
    from kg.derive.owl import check_typology
    from kg.derive.typology import read_derivation
    from kg.publish import docs, report as html_report
    from kg.publish.manifest import write_manifest
    from kg.publish.outputs import write_dataset_files
    from kg.publish.void import write_void

    out = Path(out)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    found: dict = {}

    beside: list[_Beside] = []

    def write(tmp: Path) -> None:
        try:
            _write(tmp)
        finally:  # a failed build must not remove the folder while a thread still writes into it
            for job in beside:
                job.thread.join()

    def _write(tmp: Path) -> None:
        # the pipeline runs on an in-memory store (RocksDB would make every load and query slower);
        # the build's on-disk store is loaded from smqi.nq beside the other outputs
        pipe = run_pipeline(data_dir, None, progress)
        found["pipe"] = pipe
        before = len(pipe.store)
        add_store_provenance(pipe, started)
        summary, report = pipe.summary, pipe.report
        # one count everywhere (build, add, diff): counts.triples is the pipeline's, the triples of every
        # named graph but the build's provenance graph, which only a build has; that one is counted apart
        summary["provenance_triples"] = len(pipe.store) - before
        summary["built_at"] = started.isoformat()
        summary["data"] = str(Path(data_dir).resolve() if data_dir else resources.data_dir())
        summary["inputs"] = {p.name: pipe.hashes.get(p) or sha256(p) for p in pipe.inputs}
        derivation = read_derivation(pipe.store)
        # HermiT runs in Java: classify beside the other outputs (the store is only read from here on)
        owl = _Beside(lambda: check_typology(pipe.store, derivation.assignments)) if cross_check else None
        beside.extend([owl] if owl is not None else [])
        progress("checking the review's claims")
        claims = check_claims(pipe.store)
        summary["claims"] = [v.as_dict() for v in claims]
        progress(f"writing {out}")
        write_dataset_files(pipe.store, tmp)  # TriG, N-Quads, JSON-LD, union Turtle and N-Triples
        disk = _Beside(lambda: _disk_store(tmp / STORE, tmp / "smqi.nq"))
        beside.append(disk)
        progress("analysing the evidence network")
        analysis = network.analyse(pipe.store)
        network.write_outputs(analysis, tmp / "network")
        progress("writing the HTML report and the ontology documentation")
        html_report.write_report(pipe.store, tmp / "report", claims=claims, network_report=analysis,
                                 agreement=pipe.agreement)  # computed once, by the pipeline
        docs.write_docs(tmp / "docs")
        if owl is not None:
            progress("waiting for the OWL cross-check of the typology (HermiT)")
            try:
                owl.result()  # raises TypologyDisagreement (exit 1)
                summary["typology"]["owl_cross_check"] = "HermiT agrees with the SPARQL derivation on every use"
            except JavaMissing as exc:
                summary["typology"]["owl_cross_check"] = f"skipped: {exc}"
                report.warnings.append(Problem(message=f"OWL cross-check skipped. {exc}", severity="warning"))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "validation.txt").write_text(report.as_text(), encoding="utf-8")
        write_void(pipe.store, tmp, modified=started)
        disk.result()
        write_manifest(tmp, summary, pipe.inputs, derivation.rows, pipe.hashes)  # last: it hashes the other outputs

    write_folder(out, write)  # kg.io.atomic: temp folder beside out, swapped in only on success
    pipe = found["pipe"]
    pipe.store = None  # type: ignore[assignment]  # the store moved with the folder: open out/store to read it
    return pipe
