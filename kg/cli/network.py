"""`smqi network`: networkx analysis of the evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from kg.derive import network
    from kg.io.dataset import assemble
    from kg.derive.typology import derive

    kg = assemble(Path(args.data) if args.data else None)
    derive(kg.dataset)
    report = network.analyse(kg.dataset)
    sys.stdout.write(network.report_text(report))
    written = network.write_outputs(report, Path(args.out))
    print(f"Wrote {', '.join(str(p) for p in written)}")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("network", "graph analysis of the evidence with networkx",
            "Build a bipartite study-concept graph and a weighted co-occurrence graph of features "
            "across uses, detect communities (fixed seed), put each use in the community holding most "
            "of its features and compare that with the rule-based models (contingency table, adjusted "
            "Rand index) and rank platforms, populations and "
            "activities by centrality. Writes GraphML and JSON.")
    p.add_argument("--out", default="build/network", help="output folder (default: build/network)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=run)
