"""`smqi typology`: the models of use, per model, per use, or explained."""

from __future__ import annotations

import argparse
import sys

from kg.cli.common import add_store_options, source_store, exit_codes, READ_INVALID

EXIT_CODES = exit_codes(
    (0, "every use was assigned a model or listed as unclassified"),
    READ_INVALID,
    (2, "usage error, an unreadable store, or typology rules that cannot be read"),
)


def run(args: argparse.Namespace) -> int:
    from kg.derive import typology as t
    from kg.io.store import dataset_of

    store = source_store(args)
    derivation = t.read_derivation(store)  # the build derived it; reading costs a query
    if args.explain:
        sys.stdout.write(t.explain(dataset_of(store), derivation, args.explain))
        return 0
    if args.format == "json":
        sys.stdout.write(t.to_json(derivation))
    elif args.assignments:
        if args.format == "csv":
            sys.stdout.write(t.to_csv_assignments(derivation))
        else:
            rows = [("study_id", "use_no", "model"), *((s, str(n), m) for s, n, m in derivation.rows)]
            width = [max(len(r[i]) for r in rows) for i in range(3)]
            sys.stdout.write("".join("  ".join(c.ljust(w) for c, w in zip(r, width)).rstrip() + "\n"
                                     for r in rows))
    elif args.format == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["key", "label", "uses", "studies", "example_studies"])
        for r in t.summary_rows(derivation):
            writer.writerow([r.key, r.label, r.uses, r.studies, ";".join(r.examples)])
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write(t.to_table(t.summary_rows(derivation)))
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("typology", "derive the models of use and show them per model, per use, or explained",
            "Assign every use the model of the first typology rule (ontology/vocab/typology.ttl) that "
            "matches it, by priority. Uses matching no rule are listed as unclassified.")
    p.add_argument("--assignments", action="store_true",
                   help="one row per use: study_id,use_no,model (model = key or unclassified)")
    p.add_argument("--explain", metavar="STUDY_ID[-USE_NO]",
                   help="show, for each use, the rule that matched and why each earlier rule did not")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default: table")
    add_store_options(p)
    p.set_defaults(func=run)
