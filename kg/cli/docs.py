"""`smqi docs`: HTML documentation of the ontology and vocabularies."""

from __future__ import annotations

import argparse
from pathlib import Path
from kg.cli.common import exit_codes

EXIT_CODES = exit_codes(
    (0, "the documentation was written"),
    (2, "usage error, an output folder that cannot be written, or shipped ontology or vocabularies that cannot "
        "be read"),
)


def run(args: argparse.Namespace) -> int:
    from kg.publish.docs import write_docs
    from kg.io.atomic import write_folder

    out = Path(args.out)
    write_folder(out, write_docs)
    print(f"Wrote {out / 'index.html'}")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("docs", "write HTML documentation of the ontology and the SKOS vocabularies",
            "Document the classes and properties of the ontology (label, definition, domain, range) "
            "and every concept scheme (notation, label, definition, exact and close matches) in one "
            "static page: index.html and report.css.")
    p.add_argument("--out", default="build/docs", help="output folder (default: build/docs)")
    p.set_defaults(func=run)
