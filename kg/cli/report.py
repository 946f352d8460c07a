"""`smqi report`: the static HTML evidence report."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from kg.publish.report import make_report

    index = make_report(Path(args.out), Path(args.data) if args.data else None)
    print(f"Wrote {index} (open it in a browser; it needs no network)")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("report", "write the static HTML evidence report (gap map, typology, network, studies)",
            "Build the graph, derive the typology and write an offline HTML report from the named "
            "queries: the platform by QI activity gap map, the typology, the feature network, "
            "countries, income groups and years, the review's claims and the study table. Writes "
            "index.html, report.css and figures/*.svg; the folder is replaced only on success.")
    p.add_argument("--out", default="build/report", help="output folder (default: build/report)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=run)
