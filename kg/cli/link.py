"""`smqi link`: match our studies with another evidence graph; write a VoID linkset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import (READ_INVALID, add_progress_option, add_store_options, exit_codes, load_graph, progress,
                            raise_usage)

EXIT_CODES = exit_codes(
    (0, "the report (and with --out the linkset) was written"),
    READ_INVALID,
    (2, "usage error, a SOURCE that cannot be read or reached, or output that cannot be written"),
)


def run(args: argparse.Namespace) -> int:
    from kg.publish import link as lk
    from kg.io.rdf import FORMATS, rdf_format

    by = [b.strip().lower() for b in args.by.split(",") if b.strip()]
    if not by or set(by) - {"doi", "pmid"}:
        raise_usage(f"--by {args.by!r}: give doi, pmid or doi,pmid")
    props = lk.Properties()
    for spec in args.property or []:
        lk.parse_property(spec, props)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in FORMATS:
        raise_usage(f"--out {args.out}: use one of the extensions {', '.join(sorted(FORMATS))}")
    step = progress(False, args.progress)
    step(f"reading {args.source}")
    theirs, dataset = lk.read_source(args.source, props, timeout=args.timeout)
    step("reading our graph")
    ours = load_graph(args.graph, args)
    step(f"matching on {', '.join(by)}")
    report = lk.link(ours, theirs, by=by, props=props, source=args.source, source_dataset=str(dataset))
    sys.stdout.write(lk.report_json(report) if args.format == "json" else lk.report_text(report))
    if out is not None:
        from kg.io.atomic import write_files

        write_files({out: lk.linkset_graph(report).serialize(format=rdf_format(out), encoding="utf-8")})
        print(f"Wrote the linkset ({len(report.overlaps)} owl:sameAs links) to {out}", file=sys.stderr)
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("link", "find the works another evidence graph shares with ours; write a VoID linkset",
            "Match our studies with the works of SOURCE (a Turtle, N-Triples, TriG or JSON-LD file, or "
            "a SPARQL endpoint http(s)://...) on normalised DOIs and PMIDs, whatever property SOURCE "
            "uses (PRISM, BIBO, FaBiO, schema.org, Dublin Core, DataCite, Wikidata P356/P698; add "
            "more with --property). Report overlaps, studies and works on one side only, and "
            "conflicts (same identifier, different year, title or PMID); --out writes the owl:sameAs "
            "links with a void:Linkset description.")
    p.add_argument("source", metavar="SOURCE", help="RDF file or SPARQL endpoint URL")
    p.add_argument("--by", default="doi,pmid", help="identifiers to match on: doi, pmid or doi,pmid (default)")
    p.add_argument("--property", action="append", metavar="KIND=IRI",
                   help="another property holding identifiers, titles or years, e.g. doi=bibo:doi, "
                        "pmid=<http://…>, title=schema:headline (KIND: doi, pmid, any, title, year); repeatable")
    p.add_argument("--out", metavar="FILE", help="write the linkset here (.ttl, .nt, .jsonld or .trig)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    p.add_argument("--graph", help="our side: this RDF file (e.g. build/smqi.trig) instead of the built store")
    add_store_options(p)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds allowed for the endpoint's whole answer (default: 30)")
    add_progress_option(p)
    p.set_defaults(func=run)
