"""Time the OWL/HermiT cross-check of the typology and the network analysis on the build's store.

    python benchmarks/derive.py DIR [--rdflib]

DIR holds sheets (``benchmarks/generate.py``). The store comes from ``kg.publish.build.run_pipeline``
(sheets → Oxigraph, SHACL, typology derived on the store); then, timed one by one on that store:
``kg.derive.owl.sparql_assignments`` (the derived answer), ``kg.derive.owl.check_typology`` (HermiT on the
distinct signatures) and ``kg.derive.network.analyse``. With ``--rdflib`` the same two steps also run on
the default engine's rdflib Dataset (``kg.dataset.assemble`` + ``kg.derive.typology.derive``, slow at
scale: the derivation is rdflib's SPARQL). Prints one JSON line with [wall, CPU] seconds per step
(CPU includes HermiT's Java process). Not a test: no thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("SMQI_MAX_ROWS", "10000000")  # the synthetic 100k sheets have 109,297 use rows


def _cpu() -> float:
    """CPU seconds of this process and its finished children (HermiT's Java runs as a child)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(results: dict, name: str, call):
    """Run ``call``; record [wall seconds, CPU seconds] (CPU varies less on a shared machine)."""
    started, cpu = time.perf_counter(), _cpu()
    value = call()
    results[name] = [round(time.perf_counter() - started, 2), round(_cpu() - cpu, 2)]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rdflib", action="store_true", help="also time both steps on an rdflib Dataset")
    args = parser.parse_args(argv)

    from kg.derive import network
    from kg.derive import owl as reason
    from kg.publish.build import run_pipeline

    seconds: dict = {}
    pipe = _timed(seconds, "pipeline", lambda: run_pipeline(args.folder))
    sparql = _timed(seconds, "sparql_assignments", lambda: reason.sparql_assignments(pipe.store))
    classified = _timed(seconds, "classify_signatures", lambda: reason.classify_signatures(pipe.store))
    owl = _timed(seconds, "check_typology", lambda: reason.check_typology(pipe.store, sparql))
    report = _timed(seconds, "analyse", lambda: network.analyse(pipe.store))
    out = {
        "uses": len(sparql), "signatures": len(classified.individuals),
        "hermit_individuals": classified.classified, "agrees": owl == sparql,
        "cooccurrence": report.sizes()["cooccurrence"], "bipartite": report.sizes()["bipartite"],
        "seconds_on_store": seconds,
    }
    if args.rdflib:
        from kg.derive.typology import derive
        from kg.io.store import dataset_of

        on_rdflib: dict = {}
        dataset = _timed(on_rdflib, "to rdflib", lambda: dataset_of(pipe.store))
        derivation = _timed(on_rdflib, "derive", lambda: derive(dataset))
        _timed(on_rdflib, "check_typology", lambda: reason.check_typology(dataset, derivation.assignments))
        _timed(on_rdflib, "analyse", lambda: network.analyse(dataset))
        out["seconds_on_rdflib"] = on_rdflib
    print(json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)  # do not pay for freeing the store


if __name__ == "__main__":
    sys.exit(main())
