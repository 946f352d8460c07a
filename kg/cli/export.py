"""`smqi export`: the graph as JSON-LD, a flat CSV or an ORKG comparison CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import add_store_options, raise_usage, source_store, exit_codes, READ_INVALID, READ_ERROR

EXIT_CODES = exit_codes(
    (0, "the export was written"),
    READ_INVALID,
    READ_ERROR,
)


def run(args: argparse.Namespace) -> int:
    from kg.publish.export import export

    text = export(args.format, store=source_store(args), raw=args.raw)
    if args.excel:
        if args.format == "jsonld":
            raise_usage("--excel is for the CSV formats (csv, orkg-csv), not jsonld")
        text = "\ufeff" + text  # Excel reads a CSV as UTF-8 only after this byte-order mark
    if args.out:
        from kg.io.atomic import write_files

        write_files({Path(args.out): text.encode("utf-8")})  # a full disk or read-only folder: a DataError
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            from kg.io.atomic import os_error

            raise os_error(exc, "writing the export to standard output", "the output may be incomplete") from None
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("export", "export the graph as JSON-LD, a flat CSV or an ORKG comparison CSV",
            "jsonld: every triple, compacted with the project context (short keys); csv: one row "
            "per use (study columns, use columns, model_of_use); orkg-csv: one row per study "
            "(paper:title, paper:authors, paper:publication_year, paper:doi, one column per "
            "dimension, keys joined by ';'). The CSVs are safe to open in a spreadsheet: a cell that "
            "begins with =, +, -, @, a tab or a carriage return gets a leading ' (so it is never run as a "
            "formula); --raw writes the values exactly.")
    p.add_argument("--format", choices=["jsonld", "csv", "orkg-csv"], default="jsonld", help="default: jsonld")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    p.add_argument("--raw", action="store_true",
                   help="csv, orkg-csv: write cells exactly, without the ' that keeps a spreadsheet from "
                        "running a cell beginning with = + - @ tab or CR as a formula")
    p.add_argument("--excel", action="store_true",
                   help="csv, orkg-csv: begin with a UTF-8 byte-order mark, for Excel")
    add_store_options(p)
    p.set_defaults(func=run)
