"""`smqi query`: run a named SPARQL query or a .rq file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kg.cli.common import (
    add_store_options, rdflib_terms, source_store, load_graph, parse_params, raise_usage, exit_codes, READ_INVALID,
    table_width,
)

EXIT_CODES = exit_codes(
    (0, "the results were written (also when there are no rows)"),
    READ_INVALID,
    (2, "usage error (unknown query or --param, a query that is not a read-only SELECT, ASK, CONSTRUCT or "
        "DESCRIBE), an unreadable store, or an endpoint that cannot be reached"),
)


def run(args: argparse.Namespace) -> int:
    from kg.io import queries as q

    if args.list:
        for nq in q.list_queries():
            params = "".join(f"\n    --param {name}=…  {text}".rstrip() for name, text in nq.params)
            print(f"{nq.kind}/{nq.name}\t{nq.summary}{params}")
        return 0
    if not args.name:
        raise_usage("give a query name or a .rq file, or --list to see the named queries")
    named = q.load_query(args.name)
    bindings = parse_params(args.param or [])
    q.check_params(named, list(bindings))
    from kg.model.resources import query_dir

    dataset: tuple[list[str], list[str]] = ([], [])
    if not named.path.resolve().is_relative_to(query_dir().resolve()):  # the shipped queries are ours
        from kg.check.guard import check_query, query_dataset  # issue #8: no updates, no SERVICE unless asked

        parsed = check_query(named.text, str(named.path), allow_service=args.allow_service, refuse_from=False)
        if not args.allow_service and not getattr(args, "endpoint", None):
            dataset = query_dataset(parsed)  # FROM / FROM NAMED: only graphs of the local dataset (issue 13)
    if sum(bool(getattr(args, o, None)) for o in ("store", "endpoint", "graph")) > 1:
        raise_usage("give one of --graph, --store and --endpoint")
    if args.endpoint:
        if args.with_:
            raise_usage("--with works on this machine's graphs, not with --endpoint")
        from kg.io.store import query_endpoint

        result = query_endpoint(args.endpoint, named, rdflib_terms(bindings))
    elif args.graph or args.with_:
        if args.graph:
            graph = load_graph(args.graph)
        else:
            from kg.io.store import dataset_of

            graph = dataset_of(source_store(args))
        if args.with_:  # issue #5: the union with other graphs and linksets
            from kg.publish.link import union_with

            graph = union_with(graph, [Path(p) for p in args.with_])
        _check_from(named, dataset, _rdflib_graphs(graph))
        result = q.run_query(graph, named, rdflib_terms(bindings))
    else:  # the last build's store: a query costs a query (and no rdflib object is made)
        from kg.io.store import select_store

        store = source_store(args)
        _check_from(named, dataset, {g.value for g in store.named_graphs()})
        solutions = select_store(store, named, bindings, union=not any(dataset))
        sys.stdout.write(q.solutions_text(solutions, args.format, table_width()))
        return 0
    if args.format == "table":
        sys.stdout.write(q.to_table(result, table_width()))
    else:
        sys.stdout.write({"csv": q.to_csv, "json": q.to_json}[args.format](result))
    return 0


def _rdflib_graphs(graph) -> set[str]:
    """The names of an rdflib Dataset's non-empty graphs (rdflib would fetch an empty one); none
    for a plain Graph."""
    from rdflib import Dataset
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID

    if not isinstance(graph, Dataset):
        return set()
    return {str(g.identifier) for g in graph.graphs() if len(g) and g.identifier != DATASET_DEFAULT_GRAPH_ID}


def _check_from(named, dataset: tuple[list[str], list[str]], graphs: set[str]) -> None:
    """FROM / FROM NAMED must name graphs of the local dataset; smqi never fetches one."""
    if any(dataset):
        from kg.check.guard import check_dataset

        check_dataset({"FROM": dataset[0], "FROM NAMED": dataset[1]}, graphs, str(named.path))


def register(add) -> None:
    """Add the command to the ``smqi`` parser (``add`` makes a sub-parser)."""
    p = add("query", "run a named SPARQL query or a .rq file",
            "Run a named query (see --list) or a .rq file over the knowledge graph. csv and json are "
            "the W3C SPARQL 1.1 results formats.")
    p.add_argument("name", nargs="?", help="query name (e.g. studies-per-platform) or path to a .rq file")
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table",
                   help="default: table, its cells cut with … to fit COLUMNS or the terminal (never when "
                        "piped); csv and json always hold the full values")
    p.add_argument("--graph", help="query this RDF file (e.g. build/smqi.trig) instead of the built store")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="bind ?NAME to VALUE (a literal, or <IRI>); repeatable")
    add_store_options(p)
    p.add_argument("--endpoint", metavar="URL", help="query a SPARQL 1.1 endpoint (e.g. 'smqi serve')")
    p.add_argument("--with", dest="with_", action="append", metavar="FILE",
                   help="also query this RDF file (another evidence graph, a linkset from 'smqi link'); "
                        "the query sees the union; repeatable")
    p.add_argument("--allow-service", action="store_true",
                   help="allow SERVICE (federation) and FROM clauses that fetch remote data; "
                        "refused by default (FROM naming a graph of the local dataset is always honoured; "
                        "updates are always refused)")
    p.set_defaults(func=run)
