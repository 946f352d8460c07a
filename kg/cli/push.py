"""`smqi push`: upload the built dataset to a SPARQL 1.1 store."""

from __future__ import annotations

import argparse
from pathlib import Path



def run(args: argparse.Namespace) -> int:
    from kg.io.progress import progress_for
    from kg.serve.push import push
    from kg.io.store import open_store, parse_store_spec

    source = open_store(parse_store_spec(args.store)) if args.store else Path(args.source)
    result = push(args.url, source, args.graph or None, args.query_url, progress=progress_for(args.quiet))
    total = sum(result.counts.values())
    print(f"Pushed {len(result.counts)} graphs ({total} triples) to {result.url}; "
          f"checked through {result.query_url}.")
    return 0


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("push", "upload the built dataset to a SPARQL 1.1 store (Graph Store Protocol) and check it",
            "PUT every named graph of the build to URL (the store's Graph Store endpoint, e.g. "
            "http://127.0.0.1:7878/store) as N-Triples, then count each graph's triples through the "
            "store's query endpoint. Refused connections, HTTP errors and partial uploads exit 2.")
    p.add_argument("url", metavar="URL", help="Graph Store Protocol endpoint of the store")
    p.add_argument("--graph", action="append", metavar="IRI", help="push only this named graph; repeatable")
    p.add_argument("--from", dest="source", default="build/smqi.trig",
                   help="the built dataset (default: build/smqi.trig)")
    p.add_argument("--store", metavar="oxigraph:DIR", help="push from this store instead of --from")
    p.add_argument("--query-url", help="query endpoint for the check (default: URL with /store → /query)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on the terminal")
    p.set_defaults(func=run)
