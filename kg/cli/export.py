"""`smqi export`: the graph as JSON-LD, a flat CSV or an ORKG comparison CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import add_store_options, source_store


def run(args: argparse.Namespace) -> int:
    from kg.publish.export import export

    text = export(args.format, store=source_store(args))
    if args.out:
        from kg.io.atomic import write_files

        write_files({Path(args.out): text.encode("utf-8")})
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("export", "export the graph as JSON-LD, a flat CSV or an ORKG comparison CSV",
            "jsonld: every triple, compacted with the project context (short keys); csv: one row "
            "per use (study columns, use columns, model_of_use); orkg-csv: one row per study "
            "(paper:title, paper:authors, paper:publication_year, paper:doi, one column per "
            "dimension, keys joined by ';').")
    p.add_argument("--format", choices=["jsonld", "csv", "orkg-csv"], default="jsonld", help="default: jsonld")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    add_store_options(p)
    p.set_defaults(func=run)
