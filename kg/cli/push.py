"""`smqi push`: upload the built dataset to a SPARQL 1.1 store."""

from __future__ import annotations

import argparse
from pathlib import Path
from kg.cli.common import exit_codes

EXIT_CODES = exit_codes(
    (0, "every graph was uploaded and its triple count checked"),
    (2, "usage error, a refused connection, an HTTP error, or a graph whose count in the store differs "
        "(a partial upload)"),
)


def run(args: argparse.Namespace) -> int:
    from kg.io.progress import progress_for
    from kg.serve.push import push
    from kg.io.store import open_store, parse_store_spec

    from kg.cli.common import BUILD
    from kg.publish.build import STORE

    if args.store:
        source = open_store(parse_store_spec(args.store) if args.store.startswith("oxigraph:") else Path(args.store))
    elif args.source:
        source = Path(args.source)
    elif (BUILD / STORE).is_dir():
        source = open_store(BUILD / STORE)
    else:
        source = BUILD / "smqi.trig"  # push says clearly that it is missing
    result = push(args.url, source, args.graph or None, args.query_url, progress=progress_for(args.quiet))
    total = sum(result.counts.values())
    print(f"Pushed {len(result.counts)} graphs ({total} triples) to {result.url}; "
          f"checked the counts through {result.query_url} ({result.query_method}).")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("push", "upload the built dataset to a SPARQL 1.1 store (Graph Store Protocol) and check it",
            "PUT every named graph of the build to URL (the store's Graph Store endpoint, e.g. "
            "http://127.0.0.1:7878/store) as N-Triples, then count each graph's triples through the "
            "store's query endpoint. Refused connections, HTTP errors and partial uploads exit 2.")
    p.add_argument("url", metavar="URL", help="Graph Store Protocol endpoint of the store")
    p.add_argument("--graph", action="append", metavar="IRI", help="push only this named graph; repeatable")
    p.add_argument("--from", dest="source",
                   help="a built dataset file (e.g. build/smqi.trig) instead of the last build's store")
    p.add_argument("--store", metavar="DIR", help="push from the Oxigraph store in DIR (default: the last build's, build/store)")
    p.add_argument("--query-url", help="query endpoint for the check (default: URL with /store → /query, "
                        "Virtuoso's /sparql-graph-crud[-auth] → /sparql)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on the terminal")
    p.set_defaults(func=run)
