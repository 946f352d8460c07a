"""`smqi build`: the one pipeline, into a build folder and its store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import add_progress_option, exit_codes, progress

EXIT_CODES = exit_codes(
    (0, "the build folder and its store were written"),
    (1, "the data breaks the codebook or the SHACL shapes, or HermiT's typology disagrees with the SPARQL "
        "derivation; the output folder is unchanged"),
    (2, "usage error, unreadable input (missing file, broken Turtle, bad CSV header), no Java for the OWL "
        "check (--no-owl skips it), or an output folder that cannot be written; the output folder is unchanged"),
)


def run(args: argparse.Namespace) -> int:
    from kg.publish.build import STORE, build

    out = Path(args.out)
    result = build(out, Path(args.data) if args.data else None, progress=progress(args.quiet, args.progress),
                   cross_check=not args.no_owl)
    counts = result.summary["counts"]
    typology = result.summary["typology"]
    print(f"Built {out}/ (store {out / STORE}/): {counts['studies']} studies, {counts['uses']} uses, "
          f"{counts['triples']} triples (+{result.summary.get('provenance_triples', 0)} of provenance); SHACL: conforms; typology: "
          f"{typology['unclassified_uses']} unclassified uses; OWL cross-check: "
          f"{typology['owl_cross_check'].split(':')[0].split(' on ')[0]}.")
    for warning in result.report.warnings:
        print(f"warning: {warning.as_text()}", file=sys.stderr)
    if not args.quiet:
        for name, what in (("studies-per-platform", "Studies per platform"),
                           ("uses-per-model", "Uses per model of use")):
            rows = result.summary["queries"].get(name, {}).get("rows", [])
            if rows:
                top = ", ".join(f"{r['key']} {r.get('studies', r.get('uses'))}" for r in rows[:5])
                print(f"{what} (top 5): {top}")
        print("Note: the evidence is an independent extraction, not the review's own list of 40 "
              "studies (see data/METHODS.md).")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("build", "load, validate, derive and publish the evidence into a build folder and its store",
            "Load the extraction sheets and entries into an embedded Oxigraph store (kept as "
            "OUT/store, read by query, typology, claims, export, report, network, serve and push), "
            "validate it with the SHACL shapes, derive the typology (cross-checked by HermiT), check "
            "the review's claims, run the summary queries and write smqi.trig, smqi.nq, smqi.ttl, "
            "smqi.nt, smqi.jsonld, summary.json, validation.txt, network/, report/, docs/, void.ttl "
            "and manifest.json. Nothing in the output folder changes unless every step succeeds.")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the one-line result")
    p.add_argument("--no-owl", action="store_true",
                   help="skip the OWL/HermiT cross-check of the typology (it needs Java)")
    add_progress_option(p)
    p.set_defaults(func=run)
