"""`smqi diff`: what changed between two builds or two git revisions of the data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from kg.cli.common import exit_codes

EXIT_CODES = exit_codes(
    (0, "the differences were reported (also when there are none)"),
    (1, "the data of a git revision breaks the codebook or the shapes"),
    (2, "usage error, a folder that is not a build, or a git revision that cannot be read"),
)


def run(args: argparse.Namespace) -> int:
    from kg.publish import diff as d

    if args.git:
        result = d.diff_git(args.old, args.new)
    else:
        result = d.diff_builds(Path(args.old), Path(args.new))
    sys.stdout.write(d.to_json(result) if args.format == "json" else d.to_text(result))
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("diff", "compare two builds (or two git revisions of the data)",
            "Report studies added, removed and changed, uses whose model of use changed, and the "
            "counts that moved (totals and each summary-query row). OLD and NEW are build folders "
            "(summary.json + smqi.trig), or git revisions with --git (the data is read with git "
            "show and built in memory).")
    p.add_argument("old", metavar="OLD", help="old build folder (or revision with --git)")
    p.add_argument("new", metavar="NEW", help="new build folder (or revision with --git)")
    p.add_argument("--git", action="store_true", help="OLD and NEW are git revisions of data/")
    p.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    p.set_defaults(func=run)
