"""`smqi claims`: the review's headline claims checked against the evidence."""

from __future__ import annotations

import argparse
import sys

from kg.cli.common import add_store_options, load_graph, source_store, exit_codes, READ_INVALID, READ_ERROR

EXIT_CODES = exit_codes(
    (0, "every claim was checked (whatever its verdict)"),
    READ_INVALID,
    READ_ERROR,
)


def run(args: argparse.Namespace) -> int:
    from kg.derive import claims as review

    if args.graph:
        graph = load_graph(args.graph)
    else:
        graph = source_store(args)  # the build's store
    verdicts = review.check_claims(graph)
    sys.stdout.write(review.verdicts_json(verdicts) if args.format == "json" else review.verdicts_text(verdicts))
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("claims", "check the review's headline claims against the evidence of this graph",
            "Check each claim of Walsh et al. 2021 (data/review_claims.csv, in the graph as smqi:Claim "
            "nodes) with SPARQL over the evidence: supported, not supported or not checkable, with the "
            "numbers behind each verdict. Count claims are not checkable: the evidence here is an "
            "independent extraction, not the review's own list of 40 studies.")
    p.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    p.add_argument("--graph", help="check this RDF file (e.g. build/smqi.trig) instead of a fresh build")
    add_store_options(p)
    p.set_defaults(func=run)
