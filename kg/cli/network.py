"""`smqi network`: networkx analysis of the evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import add_store_options, source_store, exit_codes, READ_INVALID, READ_ERROR

EXIT_CODES = exit_codes(
    (0, "the analysis was written"),
    READ_INVALID,
    READ_ERROR,
)


def run(args: argparse.Namespace) -> int:
    from kg.derive import network
    report = network.analyse(source_store(args))
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
    add_store_options(p)
    p.set_defaults(func=run)
