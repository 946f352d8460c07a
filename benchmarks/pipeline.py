"""One pipeline run (load + SHACL validation + typology + descriptive summary) for the benchmark.

    python benchmarks/pipeline.py fast|baseline DIR

fast: smqi-kg's fast engine (kg.fastbuild.run_pipeline: N-Quads into Oxigraph, SHACL compiled to SPARQL,
SPARQL typology and summary). baseline: the naive route, an rdflib in-memory Dataset validated with pyshacl,
the typology and the summary queries by rdflib's SPARQL engine, on the same graphs.
Prints one JSON line (studies, uses, conforms, seconds per step).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def baseline(folder: Path) -> dict:
    from kg import resources
    from kg.build import summarise
    from kg.dataset import add_graph, new_dataset
    from kg.load import load_income_groups, load_sheets
    from kg.namespace import G_EVIDENCE, G_ONTOLOGY, G_REFERENCE, G_VOCAB
    from kg.typology import derive
    from kg.validate import shacl_check
    from kg.vocab import Vocabulary, load_ontology_graph, load_vocab_graph

    steps = {}
    t = time.monotonic()
    vocab_graph = load_vocab_graph()
    vocab = Vocabulary(vocab_graph)
    loaded = load_sheets(folder / "studies.csv", folder / "uses.csv", vocab)
    dataset = new_dataset()
    add_graph(dataset, G_ONTOLOGY, load_ontology_graph())
    add_graph(dataset, G_VOCAB, vocab_graph)
    add_graph(dataset, G_EVIDENCE, loaded.graph)
    add_graph(dataset, G_REFERENCE, load_income_groups(resources.data_dir() / "world_bank_income_groups.csv", vocab))
    steps["load"] = time.monotonic() - t
    t = time.monotonic()
    data = loaded.graph
    for name in (G_REFERENCE, G_VOCAB):
        for triple in dataset.graph(name):
            data.add(triple)
    report = shacl_check(data, vocab, loaded.origins)
    steps["shacl"] = time.monotonic() - t
    t = time.monotonic()
    derive(dataset)
    steps["typology"] = time.monotonic() - t
    t = time.monotonic()
    summary = summarise(dataset)
    steps["summary"] = time.monotonic() - t
    return {"studies": summary["counts"]["studies"], "uses": summary["counts"]["uses"],
            "conforms": report.conforms, "steps": steps}


def fast(folder: Path) -> dict:
    from kg.fastbuild import run_pipeline

    marks: list[tuple[str, float]] = []
    pipe = run_pipeline(folder, progress=lambda m: marks.append((m, time.monotonic())))
    marks.append(("end", time.monotonic()))
    steps = {marks[i][0].split(" ")[0]: marks[i + 1][1] - marks[i][1] for i in range(len(marks) - 1)}
    return {"studies": pipe.summary["counts"]["studies"], "uses": pipe.summary["counts"]["uses"],
            "conforms": pipe.report.conforms, "steps": steps}


def main(argv: list[str]) -> int:
    engine, folder = argv[0], Path(argv[1])
    started = time.monotonic()
    result = {"fast": fast, "baseline": baseline}[engine](folder)
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
