"""`smqi serve`: the built graph as a read-only SPARQL 1.1 endpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from kg.model.errors import UsageError
from kg.cli.common import exit_codes

EXIT_CODES = exit_codes(
    (0, "the server was stopped (Ctrl-C)"),
    (2, "usage error, no build to serve, a port that is taken, or the oxigraph server that cannot start"),
)


def run(args: argparse.Namespace) -> int:
    from kg.io.store import parse_store_spec
    from kg.serve.server import serve

    if args.store and args.graph:
        raise UsageError("give --store or --graph, not both")
    from kg.cli.common import BUILD
    from kg.publish.build import STORE

    store = (parse_store_spec(args.store) if args.store.startswith("oxigraph:") else Path(args.store)) if args.store else None
    if store is None and not args.graph:
        if not (BUILD / STORE).is_dir():
            raise UsageError(f"no build to serve: {BUILD / STORE}/ does not exist. Run 'smqi build' first, "
                             "or give --store DIR or --graph FILE")
        store = BUILD / STORE
    if args.max_rows is not None and args.max_rows < 1:
        raise UsageError("--max-rows: give a whole number from 1")
    return serve(args.host, args.port, store, Path(args.graph) if args.graph else None, args.timeout,
                 args.max_rows)


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("serve", "serve the built graph as a read-only SPARQL 1.1 endpoint (Oxigraph server)",
            "Start the Oxigraph server (from the 'oxigraph' package) on the built graph: SPARQL 1.1 "
            "Protocol at http://HOST:PORT/query (GET, HEAD and POST; JSON, XML, CSV or TSV results by the "
            "Accept header; default-graph-uri, named-graph-uri and FROM over the served graphs; a service "
            "description on GET /query without a query; CORS for reads), a query page at http://HOST:PORT/, "
            "Linked Data GETs of the dataset's IRIs (e.g. /kg/study/ahne2020), read-only (updates get "
            "HTTP 403), no SERVICE (federation; HTTP 403), the union of the named graphs as the default "
            "graph, each query stopped after --timeout seconds, answers of more than --max-rows rows "
            "refused (HTTP 413).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7878, help="default: 7878")
    p.add_argument("--store", metavar="DIR", help="serve the Oxigraph store in DIR (default: the last build's, build/store)")
    p.add_argument("--graph", help="serve this RDF file (e.g. build/smqi.trig) loaded into a temporary store")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="query timeout in seconds (default: 30)")
    p.add_argument("--max-rows", type=int, metavar="N",
                   help="refuse (HTTP 413) an answer of more than N rows (default: 10000, or SMQI_MAX_ROWS_SERVED)")
    p.set_defaults(func=run)
