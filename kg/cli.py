"""The `smqi` command line: a thin layer over the modules, one sub-command per verb.

Exit codes (every command): 0 ok, 1 invalid input or SHACL violations, 2 usage error or unreadable
input. User errors are printed as one clear message, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
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

    if getattr(args, "store", None) or getattr(args, "engine", None) == "fast":  # issue #6
        from kg.fastbuild import cli_build

        return cli_build(args)
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

    report = validate_paths([Path(p) for p in args.paths], Path(args.data) if args.data else None)
    sys.stdout.write(report.as_json() if args.format == "json" else report.as_text())
    return report.exit_code


def cmd_add(args: argparse.Namespace) -> int:
    from kg.add import add_entries, report_text

    result = add_entries([Path(p) for p in args.paths], Path(args.data) if args.data else None,
                         keep_valid=args.keep_valid, rejected_file=Path(args.rejected) if args.rejected else None)
    sys.stdout.write(report_text(result))
    for warning in result.warnings:
        print(f"warning: {warning.as_text()}", file=sys.stderr)
    return result.exit_code


def cmd_diff(args: argparse.Namespace) -> int:
    from kg import diff as d

    if args.git:
        result = d.diff_git(args.old, args.new)
    else:
        result = d.diff_builds(Path(args.old), Path(args.new))
    sys.stdout.write(d.to_json(result) if args.format == "json" else d.to_text(result))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from kg.export import export

    text = export(args.format, Path(args.data) if args.data else None)
    if args.out:
        from kg.atomic import write_files

        write_files({Path(args.out): text.encode("utf-8")})
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


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
    from kg.sparqlguard import check_query  # issue #8: no updates, no SERVICE unless asked

    check_query(named.text, str(named.path), allow_service=args.allow_service,
                refuse_from=not (getattr(args, "store", None) or getattr(args, "endpoint", None)))
    if getattr(args, "store", None) or getattr(args, "endpoint", None):  # issue #6
        from kg.store import query_elsewhere

        result = query_elsewhere(args, named, bindings)
        sys.stdout.write({"table": q.to_table, "csv": q.to_csv, "json": q.to_json}[args.format](result))
        return 0
    graph = _load_graph(args.graph)
    if args.with_:  # issue #5: the union with other graphs and linksets
        from kg.link import union_with

        graph = union_with(graph, [Path(p) for p in args.with_])
    result = q.run_query(graph, named, bindings)
    formatter = {"table": q.to_table, "csv": q.to_csv, "json": q.to_json}[args.format]
    sys.stdout.write(formatter(result))
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    from kg import link as lk
    from kg.rdfio import FORMATS, rdf_format

    by = [b.strip().lower() for b in args.by.split(",") if b.strip()]
    if not by or set(by) - {"doi", "pmid"}:
        raise_usage(f"--by {args.by!r}: give doi, pmid or doi,pmid")
    props = lk.Properties()
    for spec in args.property or []:
        lk.parse_property(spec, props)
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in FORMATS:
        raise_usage(f"--out {args.out}: use one of the extensions {', '.join(sorted(FORMATS))}")
    theirs, dataset = lk.read_source(args.source, props, timeout=args.timeout)
    report = lk.link(_load_graph(args.graph), theirs, by=by, props=props, source=args.source,
                     source_dataset=str(dataset))
    sys.stdout.write(lk.report_json(report) if args.format == "json" else lk.report_text(report))
    if out is not None:
        from kg.atomic import write_files

        write_files({out: lk.linkset_graph(report).serialize(format=rdf_format(out), encoding="utf-8")})
        print(f"Wrote the linkset ({len(report.overlaps)} owl:sameAs links) to {out}", file=sys.stderr)
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from kg import review

    if args.graph:
        graph = _load_graph(args.graph)
    else:
        from kg.dataset import assemble

        graph = assemble(Path(args.data) if args.data else None).dataset
    verdicts = review.check_claims(graph)
    sys.stdout.write(review.verdicts_json(verdicts) if args.format == "json" else review.verdicts_text(verdicts))
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


def cmd_report(args: argparse.Namespace) -> int:
    from kg.report import make_report

    index = make_report(Path(args.out), Path(args.data) if args.data else None)
    print(f"Wrote {index} (open it in a browser; it needs no network)")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from kg.docs import write_docs
    from kg.atomic import write_folder

    out = Path(args.out)
    write_folder(out, write_docs)
    print(f"Wrote {out / 'index.html'}")
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
        is_iri = value.startswith("<") and value.endswith(">") and len(value) >= 2
        if is_iri and (not value[1:-1] or any(c in '<>"{}|^`\\' or ord(c) <= 0x20 for c in value[1:-1])):
            raise_usage(f"--param {param!r}: {value!r} is not an IRI (no spaces, quotes or any of <>{{}}|^`\\)")
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
    p.add_argument("--store", metavar="oxigraph:DIR",
                   help="also keep the dataset in an on-disk Oxigraph store in DIR (query it with --store)")
    p.add_argument("--engine", choices=["fast", "rdflib"],
                   help="fast: Oxigraph + SHACL compiled to SPARQL, for scale; "
                        "rdflib: rdflib + pyshacl + HermiT (the default)")
    p.set_defaults(func=cmd_build)

    p = add("validate", "check sheets or RDF files against the codebook and the shapes",
            "Validate new entries: the two CSV sheets (studies.csv and uses.csv columns, new rows "
            "only), Turtle, N-Triples, TriG or JSON-LD (inline @context, or the project's context "
            "https://w3id.org/smqi/context.jsonld read from the shipped copy; nothing is fetched). "
            "Entries are checked against the existing graph too: a study id, DOI (in any written "
            "form), PMID or use already there is a duplicate; a use's study must exist.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files to validate")
    p.add_argument("--format", choices=["text", "json"], default="text", help="report format (default: text)")
    p.add_argument("--data", help="the data folder the entries are for (default: the shipped data)")
    p.set_defaults(func=cmd_validate)

    p = add("add", "validate new entries and add them to the data folder (all or nothing)",
            "Validate new entries (as smqi validate), then append CSV rows to studies.csv / uses.csv "
            "and write Turtle / JSON-LD entries to <data>/entries/<study_id>.ttl. Files are replaced "
            "atomically; when any entry is invalid nothing is written (exit 1) unless --keep-valid. "
            "Prints the studies and uses added, their models of use and the summary counts that moved. "
            "With --keep-valid, exit 1 when anything was rejected.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files with the new entries")
    p.add_argument("--data", help="data folder to add to (default: the shipped data)")
    p.add_argument("--keep-valid", action="store_true",
                   help="add the valid entries even when others are invalid")
    p.add_argument("--rejected", metavar="FILE",
                   help="with --keep-valid: write the rejected entries and their problems here (JSON)")
    p.set_defaults(func=cmd_add)

    p = add("diff", "compare two builds (or two git revisions of the data)",
            "Report studies added, removed and changed, uses whose model of use changed, and the "
            "counts that moved (totals and each summary-query row). OLD and NEW are build folders "
            "(summary.json + smqi.trig), or git revisions with --git (the data is read with git "
            "show and built in memory).")
    p.add_argument("old", metavar="OLD", help="old build folder (or revision with --git)")
    p.add_argument("new", metavar="NEW", help="new build folder (or revision with --git)")
    p.add_argument("--git", action="store_true", help="OLD and NEW are git revisions of data/")
    p.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    p.set_defaults(func=cmd_diff)

    p = add("export", "export the graph as JSON-LD, a flat CSV or an ORKG comparison CSV",
            "jsonld: every triple, compacted with the project context (short keys); csv: one row "
            "per use (study columns, use columns, model_of_use); orkg-csv: one row per study "
            "(paper:title, paper:authors, paper:publication_year, paper:doi, one column per "
            "dimension, keys joined by ';').")
    p.add_argument("--format", choices=["jsonld", "csv", "orkg-csv"], default="jsonld", help="default: jsonld")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_export)

    p = add("query", "run a named SPARQL query or a .rq file",
            "Run a named query (see --list) or a .rq file over the knowledge graph. csv and json are "
            "the W3C SPARQL 1.1 results formats.")
    p.add_argument("name", nargs="?", help="query name (e.g. studies-per-platform) or path to a .rq file")
    p.add_argument("--list", action="store_true", help="list the named queries")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="default: table")
    p.add_argument("--graph", help="query this RDF file (e.g. build/smqi.trig) instead of a fresh build")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="bind ?NAME to VALUE (a literal, or <IRI>); repeatable")
    p.add_argument("--store", metavar="oxigraph:DIR", help="query the Oxigraph store that 'smqi build --store' wrote")
    p.add_argument("--endpoint", metavar="URL", help="query a SPARQL 1.1 endpoint (e.g. 'smqi serve')")
    p.add_argument("--with", dest="with_", action="append", metavar="FILE",
                   help="also query this RDF file (another evidence graph, a linkset from 'smqi link'); "
                        "the query sees the union; repeatable")
    p.add_argument("--allow-service", action="store_true",
                   help="allow SERVICE (federation) and FROM clauses that fetch remote data; "
                        "refused by default (updates are always refused)")
    p.set_defaults(func=cmd_query)

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
    p.add_argument("--graph", help="our side: this RDF file (e.g. build/smqi.trig) instead of a fresh build")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an endpoint (default: 30)")
    p.set_defaults(func=cmd_link)

    p = add("claims", "check the review's headline claims against the evidence of this graph",
            "Check each claim of Walsh et al. 2021 (data/review_claims.csv, in the graph as smqi:Claim "
            "nodes) with SPARQL over the evidence: supported, not supported or not checkable, with the "
            "numbers behind each verdict. Count claims are not checkable: the evidence here is an "
            "independent extraction, not the review's own list of 40 studies.")
    p.add_argument("--format", choices=["text", "json"], default="text", help="default: text")
    p.add_argument("--graph", help="check this RDF file (e.g. build/smqi.trig) instead of a fresh build")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_claims)

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
            "across uses, detect communities (fixed seed), put each use in the community holding most "
            "of its features and compare that with the rule-based models (contingency table, adjusted "
            "Rand index) and rank platforms, populations and "
            "activities by centrality. Writes GraphML and JSON.")
    p.add_argument("--out", default="build/network", help="output folder (default: build/network)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_network)

    p = add("report", "write the static HTML evidence report (gap map, typology, network, studies)",
            "Build the graph, derive the typology and write an offline HTML report from the named "
            "queries: the platform by QI activity gap map, the typology, the feature network, "
            "countries, income groups and years, the review's claims and the study table. Writes "
            "index.html, report.css and figures/*.svg; the folder is replaced only on success.")
    p.add_argument("--out", default="build/report", help="output folder (default: build/report)")
    p.add_argument("--data", help="folder with studies.csv and uses.csv (default: the shipped data)")
    p.set_defaults(func=cmd_report)

    p = add("docs", "write HTML documentation of the ontology and the SKOS vocabularies",
            "Document the classes and properties of the ontology (label, definition, domain, range) "
            "and every concept scheme (notation, label, definition, exact and close matches) in one "
            "static page: index.html and report.css.")
    p.add_argument("--out", default="build/docs", help="output folder (default: build/docs)")
    p.set_defaults(func=cmd_docs)

    from kg.serve import register  # issue #6: smqi serve, smqi push

    register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and --version exit 0 as argparse does; a usage error is exit 2
        if exc.code in (0, None):
            raise
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
        code = code if isinstance(code, int) else 0
        if argv is None and getattr(args, "skip_teardown", False):
            # Run as the `smqi` command after a fast build: everything is written and closed, so end
            # without freeing millions of store entries one by one (about a second at 100k studies).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
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
    except RecursionError:
        print(f"smqi {args.command}: error: the input is nested too deeply to process", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"smqi {args.command}: error: out of memory (see the limits in the README)", file=sys.stderr)
        return 2
    except Exception as exc:  # the last line of defence (issue #8): a message, never a traceback
        detail = " ".join(str(exc).split())[:500]
        print(f"smqi {args.command}: internal error: {type(exc).__name__}: {detail} — please report this",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
