"""`smqi agreement`: how far the two independent codings of each use agreed before adjudication."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import add_store_options, source_store, exit_codes, READ_INVALID
from kg.model.errors import UsageError

EXIT_CODES = exit_codes(
    (0, "the agreement figures were written"),
    READ_INVALID,
    (2, "usage error (unknown study in --studies, unreadable --studies-file), or an unreadable store"),
)


def _subset(args: argparse.Namespace, store) -> list[str] | None:
    from kg.derive.agreement import parse_subset
    from kg.io.store import select_text

    texts = []
    if args.studies:
        texts.append(args.studies)
    if args.studies_file:
        path = Path(args.studies_file)
        try:
            texts.append(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--studies-file {path}: cannot be read as UTF-8 text ({exc})") from None
    if not texts:
        return None
    known = [row[0] for row in select_text(
        store, "SELECT ?id WHERE { ?s a <https://w3id.org/smqi/ontology#Study> ; "
               "<https://w3id.org/smqi/ontology#studyId> ?id }") if row[0]]
    return parse_subset(" ".join(texts), known)


def run(args: argparse.Namespace) -> int:
    from kg.derive.agreement import agreement

    store = source_store(args)
    found = agreement(store, _subset(args, store))
    if args.format == "json":
        sys.stdout.write(found.to_json())
    elif args.format == "csv":
        sys.stdout.write(found.to_csv())
    else:
        sys.stdout.write(found.to_text(show_disagreements=args.disagreements))
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("agreement", "inter-coder agreement of the two independent codings of each use",
            "Compare the two coders' independent codings of every use (codings.csv, in the graph as "
            "smqi:Coding nodes) before adjudication, by SPARQL (queries/agreement/): observed agreement and "
            "Cohen's kappa for communication model, host and model of use (the model the typology's rules "
            "give each coder's codes; 'unclassified' is a category; kappa is undefined when chance agreement "
            "is 1), exact agreement and mean Jaccard for platforms, user populations, QI activities and QI "
            "stages, and the disagreements behind them. --studies restricts every figure to some studies "
            "(e.g. one round of data/METHODS.md).")
    p.add_argument("--studies", metavar="IDS",
                   help="only the uses of these studies: study ids separated by commas or spaces")
    p.add_argument("--studies-file", metavar="FILE",
                   help="only the uses of the studies listed in FILE (one study id per line, or separated "
                        "by commas or spaces)")
    p.add_argument("--disagreements", action="store_true",
                   help="list every disagreement (use, dimension, both codings and the consensus)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="table (default), csv (one row per figure) or json (figures and disagreements)")
    add_store_options(p)
    p.set_defaults(func=run)
