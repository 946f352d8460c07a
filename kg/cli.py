"""The `smqi` command line: a thin layer over the modules, one sub-command per verb.

Exit codes (every command): 0 ok, 1 invalid input or SHACL violations, 2 usage error or unreadable
input. User errors are printed as one clear message, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from kg import __version__
from kg.errors import InputInvalid, SmqiError

EXIT_CODES = """exit codes:
  0  success (the graph conforms)
  1  invalid input: the sheets or files break the codebook or the SHACL shapes
  2  usage error, or input that cannot be read (missing file, broken Turtle, bad CSV header)"""


def _progress(quiet: bool) -> Callable[[str], None]:
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: print(f"smqi: {msg}…", file=sys.stderr)


def cmd_build(args: argparse.Namespace) -> int:
    from kg.build import build

    result = build(Path(args.out), Path(args.data) if args.data else None, progress=_progress(args.quiet),
                   cross_check=not args.no_owl)
    counts = result.summary["counts"]
    typology = result.summary["typology"]
    print(f"Built {result.out}/: {counts['studies']} studies, {counts['uses']} uses, "
          f"{counts['triples']} triples; SHACL: conforms; typology: "
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


def cmd_validate(args: argparse.Namespace) -> int:
    from kg.validate import validate_paths

    report = validate_paths([Path(p) for p in args.paths])
    sys.stdout.write(report.as_json() if args.format == "json" else report.as_text())
    return report.exit_code


def cmd_query(args: argparse.Namespace) -> int:
    from kg import query as q

    if args.list:
        for nq in q.list_queries():
            print(f"{nq.kind}/{nq.name}\t{nq.summary}")
        return 0
    if not args.name:
        raise_usage("give a query name or a .rq file, or --list to see the named queries")
    named = q.load_query(args.name)
    bindings = _parse_params(args.param or [])
    graph = _load_graph(args.graph)
    result = q.run_query(graph, named, bindings)
    formatter = {"table": q.to_table, "csv": q.to_csv, "json": q.to_json}[args.format]
    sys.stdout.write(formatter(result))
    return 0


def cmd_typology(args: argparse.Namespace) -> int:
    from kg import typology as t
    from kg.dataset import assemble

    kg = assemble(Path(args.data) if args.data else None)
    derivation = t.derive(kg.dataset)
    if args.explain:
        sys.stdout.write(t.explain(kg.dataset, derivation, args.explain))
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


def cmd_network(args: argparse.Namespace) -> int:
    from kg import network
    from kg.dataset import assemble
    from kg.typology import derive

    kg = assemble(Path(args.data) if args.data else None)
    derive(kg.dataset)
    report = network.analyse(kg.dataset)
    sys.stdout.write(network.report_text(report))
    written = network.write_outputs(report, Path(args.out))
    print(f"Wrote {', '.join(str(p) for p in written)}")
    return 0


def raise_usage(message: str) -> None:
    from kg.errors import UsageError

    raise UsageError(message)


def _parse_params(params: Sequence[str]) -> dict:
    from rdflib import Literal, URIRef

    bindings: dict = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep or not name.isidentifier():
            raise_usage(f"--param {param!r}: write NAME=VALUE (a variable name, '=', a value)")
        is_iri = value.startswith("<") and value.endswith(">")
        bindings[name] = URIRef(value[1:-1]) if is_iri else Literal(value)
    return bindings


def _load_graph(path: str | None):
    """The graph to query: a built file (TriG/Turtle/…) or, by default, a fresh in-memory build."""
    if path:
        from kg.rdfio import parse_file

        return parse_file(Path(path))
    from kg.dataset import assemble

    return assemble().dataset


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smqi",
        description="smqi-kg: a knowledge graph of the evidence on social media used to engage "
                    "stakeholders in health service design and quality improvement.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"smqi-kg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=description, epilog=EXIT_CODES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = add("build", "load, validate and summarise the evidence into a build folder",
            "Load the extraction sheets, validate the graph with SHACL, run the summary queries and "
            "write smqi.trig, smqi.ttl, smqi.nt, smqi.jsonld, summary.json and validation.txt. Nothing "
            "in the output folder changes unless every step succeeds.")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the one-line result")
    p.add_argument("--no-owl", action="store_true",
                   help="skip the OWL/HermiT cross-check of the typology (it needs Java)")
    p.set_defaults(func=cmd_build)

    p = add("validate", "check sheets or RDF files against the codebook and the shapes",
            "Validate entries: the two CSV sheets (studies.csv and uses.csv columns), Turtle, "
            "N-Triples, TriG or JSON-LD (inline @context only; nothing is fetched).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files to validate")
    p.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    p.set_defaults(func=cmd_validate)

    p = add("query", "run a named SPARQL query or a .rq file",
            "Run a named query (see --list) or a .rq file over the knowledge graph. csv and json are "
            "the W3C SPARQL 1.1 results formats.")
    p.add_argument("name", nargs="?", help="query name (e.g. studies-per-platform) or path to a .rq file")
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default: table")
    p.add_argument("--graph", help="query this RDF file (e.g. build/smqi.trig) instead of a fresh build")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="bind ?NAME to VALUE (a literal, or <IRI>); repeatable")
    p.set_defaults(func=cmd_query)

    p = add("typology", "derive the models of use and show them per model, per use, or explained",
            "Assign every use the model of the first typology rule (ontology/vocab/typology.ttl) that "
            "matches it, by priority. Uses matching no rule are listed as unclassified.")
    p.add_argument("--assignments", action="store_true",
                   help="one row per use: study_id,use_no,model (model = key or unclassified)")
    p.add_argument("--explain", metavar="STUDY_ID[-USE_NO]",
                   help="show, for each use, the rule that matched and why each earlier rule did not")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default: table")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_typology)

    p = add("network", "graph analysis of the evidence with networkx",
            "Build a bipartite study-concept graph and a weighted co-occurrence graph of features "
            "across uses, detect communities (fixed seed), compare them with the rule-based models "
            "(contingency table, adjusted Rand index) and rank platforms, populations and "
            "activities by centrality. Writes GraphML and JSON.")
    p.add_argument("--out", default="build/network", help="output folder (default: build/network)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_network)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except InputInvalid as exc:
        print(f"smqi {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SmqiError as exc:
        print(f"smqi {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smqi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
