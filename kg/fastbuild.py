"""The fast engine (``smqi build --engine fast``): sheets → Oxigraph → SPARQL SHACL → typology → summary.

No rdflib object is made per triple: the sheets become N-Quads (``kg.fastload``), Oxigraph bulk-loads
them beside the ontology, vocabularies and reference graph, the shapes run as SPARQL
(``kg.fastshacl``, identical results to pyshacl), and the typology (``queries/typology/assign.rq``)
and the summary queries (``queries/cq``) run on Oxigraph. The derived graph gets the assignments, as
in the default engine. ``run_pipeline`` is what the benchmark times; ``build_fast`` also writes the
build folder (``smqi.trig``, ``smqi.nq``, ``summary.json``, ``validation.txt``) and, with a store
folder, the store, each swapped in only when everything succeeded. The OWL/HermiT cross-check and
the network analysis belong to the default engine and are not run here.
"""

from __future__ import annotations

import json
import sys
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from kg import __version__, resources
from kg.errors import DataError, InputInvalid, Problem
from kg.fastload import load_nquads
from kg.fastshacl import Fidelity, fidelity_of, validate_store
from kg.namespace import G_DERIVED, G_EVIDENCE, G_ONTOLOGY, G_PROVENANCE, G_REFERENCE, G_VOCAB, SMQI
from kg.query import list_queries
from kg.store import _swap_in, query_store
from kg.validate import Report, SLUG_OF, _field, entry_of, shapes_graph
from kg.vocab import Vocabulary, load_ontology_graph, load_vocab_graph

__all__ = ["Pipeline", "run_pipeline", "build_fast"]

XSD = "http://www.w3.org/2001/XMLSchema#"


@dataclass
class Pipeline:
    store: ox.Store
    report: Report
    summary: dict = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)


def _nquads(graph: Graph, name: URIRef) -> bytes:
    nt = graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    return "".join(f"{line.rstrip()[:-1]}<{name}> .\n" for line in nt.splitlines() if line.strip()).encode()


def _problems(results, store: ox.Store, vocab: Vocabulary, origins: dict) -> tuple[list[Problem], list[Problem]]:
    """Validation results as the Problems kg.validate.shacl_check makes."""
    from rdflib import Literal
    from rdflib.namespace import SH

    notation = {}
    values = {r.value for r in results if isinstance(r.value, URIRef)}
    if values:
        rows = store.query("SELECT ?c ?n WHERE { VALUES ?c { %s } ?c <http://www.w3.org/2004/02/skos/core#notation> ?n }"
                           % " ".join(f"<{v}>" for v in values), use_default_graph_as_union=True)
        notation = {URIRef(r["c"].value): r["n"].value for r in rows}
    nm = Graph().namespace_manager
    problems, warnings = [], []
    for r in results:
        origin = origins.get(r.focus)
        allowed = None
        if r.path in SLUG_OF and r.component in (SH.ClassConstraintComponent, SH.MinCountConstraintComponent,
                                                 SH.MaxCountConstraintComponent):
            allowed = vocab.allowed(SLUG_OF[r.path])
        shown = None if r.value is None else (str(r.value) if isinstance(r.value, Literal)
                                               else notation.get(r.value, str(r.value)))
        g = Graph()
        g.namespace_manager = nm
        problem = Problem(message=r.messages[0] if r.messages else f"breaks {r.component}",
                          file=origin.file if origin else None, row=origin.row if origin else None,
                          entry=origin.entry if origin else entry_of(r.focus), field=_field(r.path, g),
                          value=shown, allowed=allowed,
                          severity="error" if r.severity == SH.Violation else "warning")
        (problems if r.severity == SH.Violation else warnings).append(problem)
    problems.sort(key=lambda p: (p.file or "", p.row or 0, p.entry or "", p.field or "", p.message))
    return problems, warnings


def _derive(store: ox.Store) -> dict[str, str]:
    """assign.rq on Oxigraph; the assignments go into the derived graph. Use IRI -> key."""
    result = query_store(store, "typology/assign")
    col = {name: i for i, name in enumerate(result.variables)}
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in result.rows:
        use, model, key = row[col["use"]], row[col["model"]], row[col["key"]]
        if not isinstance(use, URIRef):
            continue
        found.setdefault(str(use), set())
        if isinstance(model, URIRef):
            found[str(use)].add((str(model), str(key) if key is not None else str(model)))
    ties = {u: p for u, p in found.items() if len(p) > 1}
    if ties:
        detail = "; ".join(f"{u} ({', '.join(sorted(k for _, k in p))})" for u, p in sorted(ties.items()))
        raise DataError("rules of equal smqi:rulePriority both match, so these uses would get two models: "
                        f"{detail}. Give every model of ontology/vocab/typology.ttl its own priority.")
    derived = ox.NamedNode(str(G_DERIVED))
    predicate = ox.NamedNode(str(SMQI.modelOfUse))
    store.extend(ox.Quad(ox.NamedNode(u), predicate, ox.NamedNode(next(iter(p))[0]), derived)
                 for u, p in found.items() if p)
    return {u: next(iter(p))[1] if p else "unclassified" for u, p in found.items()}


def _count(store: ox.Store, cls: URIRef) -> int:
    rows = store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{cls}> }}",
                       use_default_graph_as_union=True)
    return int(next(iter(rows))["n"].value)


def run_pipeline(data_dir: Path | None = None, store_dir: Path | None = None,
                 progress: Callable[[str], None] = lambda _m: None) -> Pipeline:
    """Load, validate, derive the typology and summarise on Oxigraph. Raises InputInvalid on violations."""
    from kg.build import NOTICE, _plain
    from kg.load import load_income_groups

    data_dir = Path(data_dir) if data_dir else resources.data_dir()
    studies, uses = data_dir / "studies.csv", data_dir / "uses.csv"
    income = data_dir / "world_bank_income_groups.csv"
    if not income.exists():
        income = resources.data_dir() / "world_bank_income_groups.csv"
    progress("reading the ontology and vocabularies")
    ontology, vocab_graph = load_ontology_graph(), load_vocab_graph()
    vocab = Vocabulary(vocab_graph)
    reference = load_income_groups(income, vocab)
    progress("checking and converting the sheets")
    loaded = load_nquads(studies, uses, vocab, str(G_EVIDENCE))
    progress(f"loading {len(loaded.lines)} evidence triples into Oxigraph")
    store = ox.Store(str(store_dir)) if store_dir else ox.Store()
    for graph, name in ((ontology, G_ONTOLOGY), (vocab_graph, G_VOCAB), (reference, G_REFERENCE)):
        store.bulk_load(_nquads(graph, name), ox.RdfFormat.N_QUADS)
    chunk = 200_000
    for start in range(0, len(loaded.lines), chunk):
        store.bulk_load("".join(loaded.lines[start:start + chunk]).encode("utf-8"), ox.RdfFormat.N_QUADS)
    n_lines = len(loaded.lines)
    del loaded.lines[:]
    progress("validating with SHACL (compiled to SPARQL)")
    fidelity = fidelity_of([ontology, vocab_graph, reference])
    fidelity.defaults[SMQI.useNumber] = (XSD + "integer", XSD + "positiveInteger")  # the loader writes canonical ones
    results = validate_store(store, shapes_graph(), fidelity)
    problems, warnings = _problems(results, store, vocab, loaded.origins() if results else {})
    report = Report(conforms=not problems, problems=problems, warnings=loaded.warnings + warnings)
    if problems:
        raise InputInvalid(problems=problems)
    progress("deriving the typology of models of use")
    assignments = _derive(store)
    progress("running the summary queries")
    summary: dict = {
        "smqi_kg_version": __version__, "notice": NOTICE,
        "counts": {"studies": _count(store, SMQI.Study), "uses": _count(store, SMQI.SocialMediaUse),
                   "triples": len(store)},
        "queries": {},
    }
    for query in list_queries():
        if query.kind != "cq":
            continue
        result = query_store(store, query)
        summary["queries"][query.name] = {"summary": query.summary, "rows": [
            {var: _plain(val) for var, val in zip(result.variables, row) if val is not None}
            for row in result.rows]}
    summary["typology"] = {
        "unclassified_uses": sum(1 for k in assignments.values() if k == "unclassified"),
        "owl_cross_check": "not run (fast engine)",
    }
    summary["engine"] = {"name": "fast", "evidence_triples": n_lines}
    return Pipeline(store, report, summary, [studies, uses, income])


def build_fast(out: Path, data_dir: Path | None = None, store_dir: Path | None = None,
               progress: Callable[[str], None] = lambda _m: None) -> Pipeline:
    """``run_pipeline``, then write the build folder (and the store), all or nothing."""
    from kg.build import sha256, swap_in

    out = Path(out)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    tmp.chmod(0o755)
    tmp_store = None
    if store_dir is not None:
        store_dir = Path(store_dir)
        store_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp_store = Path(tempfile.mkdtemp(prefix=f".{store_dir.name}.new-", dir=store_dir.parent))
    try:
        pipe = run_pipeline(data_dir, tmp_store, progress)
        _add_provenance(pipe, started)
        pipe.summary["built_at"] = started.isoformat()
        pipe.summary["inputs"] = {p.name: sha256(p) for p in pipe.inputs}
        progress(f"writing {out}")
        pipe.store.dump(str(tmp / "smqi.trig"), ox.RdfFormat.TRIG)
        pipe.store.dump(str(tmp / "smqi.nq"), ox.RdfFormat.N_QUADS)
        (tmp / "summary.json").write_text(json.dumps(pipe.summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "validation.txt").write_text(pipe.report.as_text(), encoding="utf-8")
        if tmp_store is not None:
            pipe.store.flush()
            pipe.store = None  # type: ignore[assignment]  # close RocksDB before the folder moves
            _swap_in(tmp_store, store_dir)  # type: ignore[arg-type]
            tmp_store = None
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if tmp_store is not None:
            shutil.rmtree(tmp_store, ignore_errors=True)
        raise
    return pipe


def _add_provenance(pipe: Pipeline, started: datetime) -> None:
    from rdflib import Dataset

    from kg.build import add_provenance
    from kg.dataset import KnowledgeGraph

    kg = KnowledgeGraph(dataset=Dataset(), inputs=pipe.inputs)
    add_provenance(kg, started)
    pipe.store.bulk_load(_nquads(kg.graph(G_PROVENANCE), G_PROVENANCE), ox.RdfFormat.N_QUADS)


def cli_build(args) -> int:
    """``smqi build --store oxigraph:DIR`` and/or ``--engine fast`` (called by kg.cli.cmd_build)."""
    from kg.progress import progress_for
    from kg.store import parse_store_spec, write_store

    store_dir = parse_store_spec(args.store) if args.store else None
    progress = progress_for(args.quiet)
    # rdflib stays the default: the fast engine does not yet add the graphs of issue #5 (review, links)
    engine = args.engine or "rdflib"
    if engine == "rdflib":
        from kg.build import build

        result = build(Path(args.out), Path(args.data) if args.data else None, progress=progress,
                       cross_check=not args.no_owl)
        summary, report = result.summary, result.report
        if store_dir is not None:
            progress(f"writing the Oxigraph store {store_dir}")
            write_store(result.kg.dataset, store_dir)
    else:
        pipe = build_fast(Path(args.out), Path(args.data) if args.data else None, store_dir, progress)
        summary, report = pipe.summary, pipe.report
    counts, typology = summary["counts"], summary["typology"]
    where = f" and store {store_dir}/" if store_dir else ""
    print(f"Built {args.out}/{where} ({engine} engine): {counts['studies']} studies, {counts['uses']} uses, "
          f"{counts['triples']} triples; SHACL: conforms; typology: {typology['unclassified_uses']} "
          f"unclassified uses.")
    for warning in report.warnings:
        print(f"warning: {warning.as_text()}", file=sys.stderr)
    return 0
