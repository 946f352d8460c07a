"""One pipeline run (load + SHACL validation + typology + descriptive summary) for the benchmark.

    python benchmarks/pipeline.py fast|baseline DIR

fast: smqi-kg's fast engine (kg.publish.fastbuild.run_pipeline: N-Quads into Oxigraph, SHACL compiled to SPARQL,
SPARQL typology and summary). baseline: the naive route, an rdflib in-memory Dataset validated with pyshacl,
the typology and the summary queries by rdflib's SPARQL engine, on the same graphs.
Prints one JSON line (studies, uses, conforms, seconds per step).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# The synthetic 100k sheets have 109,297 use rows, over the default sheet limit of kg.model.limits (100,000).
os.environ.setdefault("SMQI_MAX_ROWS", "10000000")

_KEEP: list = []  # the built graph or store, kept alive until os._exit (see main)


def baseline(folder: Path) -> dict:
    from kg.publish.build import summarise
    from kg.io.dataset import assemble
    from kg.derive.typology import derive
    from kg.check.shacl import shacl_check

    steps = {}
    t = time.monotonic()
    kg = assemble(folder)  # the rdflib Dataset of the default engine: every named graph the fast engine has
    steps["load"] = time.monotonic() - t
    t = time.monotonic()
    report = shacl_check(kg.shacl_data_graph(), origins=kg.origins)  # pyshacl
    steps["shacl"] = time.monotonic() - t
    t = time.monotonic()
    derive(kg.dataset)
    steps["typology"] = time.monotonic() - t
    t = time.monotonic()
    summary = summarise(kg.dataset)
    steps["summary"] = time.monotonic() - t
    _KEEP.append(kg)
    return {"studies": summary["counts"]["studies"], "uses": summary["counts"]["uses"],
            "conforms": report.conforms, "steps": steps}


def fast(folder: Path) -> dict:
    from kg.publish.fastbuild import run_pipeline

    marks: list[tuple[str, float]] = []
    pipe = run_pipeline(folder, progress=lambda m: marks.append((m, time.monotonic())))
    marks.append(("end", time.monotonic()))
    _KEEP.append(pipe)
    steps = {marks[i][0].split(" ")[0].rstrip(","): marks[i + 1][1] - marks[i][1] for i in range(len(marks) - 1)}
    return {"studies": pipe.summary["counts"]["studies"], "uses": pipe.summary["counts"]["uses"],
            "conforms": pipe.report.conforms, "steps": steps}


def main(argv: list[str]) -> int:
    engine, folder = argv[0], Path(argv[1])
    started = time.monotonic()
    result = {"fast": fast, "baseline": baseline}[engine](folder)
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result), flush=True)
    # Both engines end here as `smqi build --engine fast` does: without freeing the graph or the store
    # object by object at exit (about a second for either at 100k studies), which no user waits for.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
