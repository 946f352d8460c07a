"""`smqi validate`: check new entries (or any RDF against any shapes)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.model.errors import UsageError
from kg.cli.common import exit_codes

EXIT_CODES = exit_codes(
    (0, "the entries conform (warnings may be printed)"),
    (1, "problems were found: each is listed with its file, row or line, field and value"),
    (2, "usage error, or a file that cannot be read (missing file, broken Turtle, bad CSV header)"),
)


def run(args: argparse.Namespace) -> int:
    from kg.check.entries import validate_paths

    if args.shapes:  # any RDF against any shapes (SHACL Core on a fresh in-memory store)
        from kg.check import storeshacl

        if args.data:
            raise UsageError("--data is for entries checked against the shipped shapes, not with --shapes")
        conforms, results, report = storeshacl.validate_files([Path(p) for p in args.paths],
                                                              [Path(p) for p in args.shapes])
        out = {"json": storeshacl.as_json, "text": storeshacl.as_text}.get(args.format)
        sys.stdout.write(out(results) if out else storeshacl.as_turtle(report))
        return 0 if conforms else 1
    if args.format == "turtle":
        raise UsageError("--format turtle (a W3C validation report) needs --shapes")

    report = validate_paths([Path(p) for p in args.paths], Path(args.data) if args.data else None,
                            similar_titles=args.allow_similar_title)
    sys.stdout.write(report.as_json() if args.format == "json" else report.as_text())
    return report.exit_code


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("validate", "check sheets or RDF files against the codebook and the shapes",
            "Validate new entries: the two CSV sheets (studies.csv and uses.csv columns, new rows "
            "only), Turtle, N-Triples, TriG or JSON-LD (inline @context, or the project's context "
            "https://w3id.org/smqi/context.jsonld read from the shipped copy; nothing is fetched). "
            "Entries are checked against the existing graph too: a study id, DOI (in any written "
            "form), PMID or use already there is a duplicate, and so is a study whose title is the same as or "
            "very close to another's (case, accents and punctuation ignored; difflib ratio 0.93 or more); "
            "a use's study must exist.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files to validate")
    p.add_argument("--format", choices=["text", "json", "turtle"], default="text",
                   help="report format (default: text; turtle: the W3C validation report, with --shapes)")
    p.add_argument("--data", help="the data folder the entries are for (default: the shipped data)")
    p.add_argument("--allow-similar-title", action="store_true",
                   help="do not report titles that are the same as or very close to another study's")
    p.add_argument("--shapes", nargs="+", metavar="SHAPES",
                   help="validate the PATHs (any RDF) against these SHACL shapes files instead; "
                        "exit 0 conforms, 1 results, 2 error")
    p.set_defaults(func=run)
