"""`smqi report`: the static HTML evidence report."""

from __future__ import annotations

import argparse
from pathlib import Path

from kg.cli.common import add_store_options, source_store, exit_codes, READ_INVALID, READ_ERROR

EXIT_CODES = exit_codes(
    (0, "the report folder was written (replaced only on success)"),
    READ_INVALID,
    READ_ERROR,
)


def run(args: argparse.Namespace) -> int:
    from kg.derive import network
    from kg.derive.claims import check_claims
    from kg.io.atomic import write_folder
    from kg.publish.report import write_report

    store = source_store(args)
    claims, analysis = check_claims(store), network.analyse(store)
    write_folder(Path(args.out), lambda tmp: write_report(store, tmp, claims=claims, network_report=analysis))
    index = Path(args.out) / "index.html"
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
    add_store_options(p)
    p.set_defaults(func=run)
