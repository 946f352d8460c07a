"""`smqi add`: validate new entries and write them into the data folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.model.errors import InputInvalid, SmqiError
from kg.cli.common import add_progress_option, exit_codes, progress

EXIT_CODES = exit_codes(
    (0, "every entry was added"),
    (1, "an entry is invalid: nothing was written (with --keep-valid: the valid entries were added and the "
        "rest rejected)"),
    (2, "usage error, an unreadable file, or a data folder that is locked by another add or cannot be written: "
        "nothing was written"),
)


def run(args: argparse.Namespace) -> int:
    from kg.curate.add import add_entries, report_text

    try:
        result = add_entries([Path(p) for p in args.paths], Path(args.data) if args.data else None,
                             keep_valid=args.keep_valid, rejected_file=Path(args.rejected) if args.rejected else None,
                             similar_titles=args.allow_similar_title, progress=progress(False, args.progress))
    except SmqiError as exc:  # every failed add leaves the data folder as it was, and says so
        text = str(exc)
        if "nothing was" not in text.lower():
            kind = "" if isinstance(exc, InputInvalid) else "error: "
            print(f"smqi add: {kind}{text}\nsmqi add: nothing was written: the data folder is unchanged.",
                  file=sys.stderr)
            return exc.exit_code
        raise
    sys.stdout.write(report_text(result))
    for warning in result.warnings:
        print(f"warning: {warning.as_text()}", file=sys.stderr)
    return result.exit_code


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("add", "validate new entries and add them to the data folder (all or nothing)",
            "Validate new entries (as smqi validate), then append CSV rows to studies.csv / uses.csv "
            "and write Turtle / JSON-LD entries to <data>/entries/<study_id>.ttl. Files are replaced "
            "atomically; when any entry is invalid nothing is written (exit 1) unless --keep-valid. "
            "One add at a time per data folder: another waits up to SMQI_LOCK_WAIT_SECONDS (default 30) "
            "for the folder's lock, then stops with a message (exit 2). "
            "Prints the studies and uses added, their models of use and the summary counts that moved. "
            "With --keep-valid, exit 1 when anything was rejected.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files with the new entries")
    p.add_argument("--data", help="data folder to add to (default: the shipped data)")
    p.add_argument("--keep-valid", action="store_true",
                   help="add the valid entries even when others are invalid")
    p.add_argument("--allow-similar-title", action="store_true",
                   help="add a study even when its title is the same as or very close to another study's "
                        "(case, accents and punctuation ignored; difflib ratio 0.93 or more)")
    p.add_argument("--rejected", metavar="FILE",
                   help="with --keep-valid: write the rejected entries and their problems here (JSON)")
    add_progress_option(p)
    p.set_defaults(func=run)
