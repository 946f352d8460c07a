"""The fast engine (``smqi build --engine fast``): sheets → Oxigraph → SPARQL SHACL → typology → summary.

No rdflib object is made per evidence triple: the sheets become N-Quads (``kg.io.nquads``), streamed in
chunks to a thread that bulk-loads them into Oxigraph while the rest of the sheets is still being read,
beside the ontology, vocabularies, reference graph, ``entries/*.ttl`` and the review graph. The shapes
run as SPARQL (``kg.check.storeshacl``, identical results to pyshacl) on what the default engine validates;
then the identifier links and the SSSOM mapping graph are added, the typology is derived by
``derive_on_store`` (rules read from the graph, one SPARQL update per priority level: linear, same
assignments as ``queries/typology/assign.rq``) into the derived graph, and the summary queries
(``queries/cq``) run on Oxigraph. ``run_pipeline`` is what the benchmark times; ``build_fast`` adds the
provenance graph and writes the build folder (``smqi.trig``, ``smqi.nq`` with literals as written,
``summary.json``, ``validation.txt``) and, with a store folder, the store, each swapped in only when
everything succeeded. Its dataset equals the default engine's (tests/test_store.py), build timestamps
aside. The OWL/HermiT cross-check, the claims check and the network analysis belong to the default
engine and are not run here.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef

from kg import __version__
from kg.model import resources
from kg.model.errors import DataError, InputInvalid, Problem
from kg.io.nquads import link_nquads, load_nquads
from kg.check.storeshacl import WrittenForms, validate_store, written_forms_of
from kg.model.namespaces import BASE, G_DERIVED, G_EVIDENCE, G_ONTOLOGY, G_PROVENANCE, G_REFERENCE, G_VOCAB, SMQI
from kg.io.queries import list_queries
from kg.io.store import swap_in, from_ox
from kg.check.shacl import Report, SLUG_OF, entry_of, field_of, shapes_graph
from kg.model.vocabularies import Vocabulary, load_ontology_graph, load_vocab_graph

__all__ = ["Pipeline", "run_pipeline", "build_fast"]

XSD = "http://www.w3.org/2001/XMLSchema#"


@dataclass
class Pipeline:
    store: ox.Store
    report: Report
    summary: dict = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)
    origins_of: tuple[Path, Path] | None = None  # the two sheets, for the provenance of their rows
    fidelity: WrittenForms | None = None  # literals Oxigraph stores in another form (restored on output)


def _nquads(graph: Graph, name: URIRef) -> bytes:
    nt = graph.serialize(format="nt", encoding="utf-8").decode("utf-8")
    return "".join(f"{line.rstrip()[:-1]}<{name}> .\n" for line in nt.splitlines() if line.strip()).encode()


def _problems(results, store: ox.Store, vocab: Vocabulary, origins: dict) -> tuple[list[Problem], list[Problem]]:
    """Validation results as the Problems kg.check.shacl.shacl_check makes."""
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
                          entry=origin.entry if origin else entry_of(r.focus), field=field_of(r.path, g),
                          value=shown, allowed=allowed,
                          severity="error" if r.severity == SH.Violation else "warning")
        (problems if r.severity == SH.Violation else warnings).append(problem)
    problems.sort(key=lambda p: (p.file or "", p.row or 0, p.entry or "", p.field or "", p.message))
    return problems, warnings


_SMQI = str(SMQI)
_TYPOLOGY = "https://w3id.org/smqi/vocab/typology"


def _typology_rules(store: ox.Store):
    """The models of use and their rules, read from the store (kg.derive.typology.read_models on them)."""
    from kg.derive.typology import read_models

    graph = Graph()
    triples = store.query("CONSTRUCT { ?m ?p ?o } WHERE { ?m a <%sModelOfUse> ; ?p ?o }" % _SMQI,
                          use_default_graph_as_union=True)
    for t in triples:
        graph.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))
    return read_models(graph)


def _rule_pattern(model, n: int) -> str:
    """The uses ``model``'s rule matches, as a pattern over ?use (every triple from any named graph)."""
    parts = [f"GRAPH ?g{n}u {{ ?use a <{_SMQI}SocialMediaUse> }}"]
    parts += [f"GRAPH ?g{n}c{i} {{ ?use <{_SMQI}communicationModel> <{c}> }}"
              for i, c in enumerate(sorted(model.comm_model_iris))]
    parts += [f"GRAPH ?g{n}h{i} {{ ?use <{_SMQI}host> <{h}> }}" for i, h in enumerate(sorted(model.host_iris))]
    if model.activity_iris:
        values = " ".join(f"<{a}>" for a in sorted(model.activity_iris))
        parts.append(f"GRAPH ?g{n}a {{ ?use <{_SMQI}qiActivity> ?a{n} }} VALUES ?a{n} {{ {values} }}")
    return " ".join(parts) + f" BIND (<{model.iri}> AS ?model)"


def derive_on_store(store: ox.Store) -> tuple[int, int]:
    """The typology on Oxigraph: ``smqi:modelOfUse`` of every use into the derived graph.

    Same answer as ``queries/typology/assign.rq`` (tests/test_store.py checks it on the fixtures and the
    real data), but linear: the rules are read from the graph (``kg.derive.typology.read_models``, as
    ``smqi typology --explain`` does) and each priority level becomes one SPARQL update whose patterns are
    index lookups on the rule's concepts, applied to the uses no earlier level matched. Rules of equal
    priority that both match a use raise DataError as ``kg.derive.typology.derive`` does. Returns
    (uses, unclassified uses). Meant for validated data (positive integer priorities)."""
    derived = f"<{G_DERIVED}>"
    levels: dict[int, list] = defaultdict(list)
    for model in _typology_rules(store):
        levels[model.priority].append(model)
    for n, priority in enumerate(sorted(levels)):
        branches = " UNION ".join(f"{{ {_rule_pattern(m, n * 100 + i)} }}" for i, m in enumerate(levels[priority]))
        store.update(f"INSERT {{ GRAPH {derived} {{ ?use <{_SMQI}modelOfUse> ?model }} }} WHERE {{ "
                     f"{{ {branches} }} FILTER (isIRI(?use)) "
                     f"MINUS {{ GRAPH {derived} {{ ?use <{_SMQI}modelOfUse> ?earlier }} }} }}")
    ties = store.query(f"SELECT ?use ?model WHERE {{ GRAPH {derived} {{ ?use <{_SMQI}modelOfUse> ?model, ?other }} "
                       f"FILTER (?model != ?other) }}")
    tied: dict[str, set[str]] = defaultdict(set)
    for row in ties:
        tied[row["use"].value].add(row["model"].value)
    if tied:
        keys = {str(m.iri): m.key for ms in levels.values() for m in ms}
        detail = "; ".join(f"{u} ({', '.join(sorted(keys.get(m, m) for m in ms))})" for u, ms in sorted(tied.items()))
        raise DataError("rules of equal smqi:rulePriority both match, so these uses would get two models: "
                        f"{detail}. Give every model of ontology/vocab/typology.ttl its own priority.")
    (uses,), = [(int(r["n"].value),) for r in store.query(
        f"SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE {{ ?u a <{_SMQI}SocialMediaUse> FILTER (isIRI(?u)) }}",
        use_default_graph_as_union=True)]
    (assigned,), = [(int(r["n"].value),) for r in store.query(
        f"SELECT (COUNT(DISTINCT ?u) AS ?n) WHERE {{ GRAPH {derived} {{ ?u <{_SMQI}modelOfUse> ?m }} }}")]
    return uses, uses - assigned


# Scheduling hint only (which summary queries to start first): the two that return a row per study or
# per study and cell take longest at scale.
_LONG_QUERIES = ("study-table", "gap-map-studies")


def _count(store: ox.Store, cls: URIRef) -> int:
    rows = store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{cls}> }}",
                       use_default_graph_as_union=True)
    return int(next(iter(rows))["n"].value)


_INTEGER_TYPES = {XSD + t for t in (
    "integer int long short byte nonNegativeInteger positiveInteger negativeInteger nonPositiveInteger "
    "unsignedLong unsignedInt unsignedShort unsignedByte").split()}
_FLOAT_TYPES = {XSD + "double", XSD + "float"}


def _plain_ox(term) -> object:
    """``kg.publish.build._plain`` of a pyoxigraph term, with no rdflib object in between."""
    if isinstance(term, ox.Literal) and not term.language:
        datatype = term.datatype.value
        try:
            if datatype in _INTEGER_TYPES:
                return int(term.value)
            if datatype in _FLOAT_TYPES:
                return float(term.value)
        except ValueError:
            pass
    return term.value


def _summary_rows(store: ox.Store, query) -> list[dict]:
    solutions = store.query(query.text, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    rows = []
    for solution in solutions:
        row = {}
        for name in names:
            value = solution[name]
            if value is not None:
                row[name] = _plain_ox(value)
        rows.append(row)
    return rows


def _entries(data_dir: Path) -> tuple[Graph, list[Path]]:
    """``<data>/entries/*.ttl`` (added by ``smqi add``), read as kg.dataset.assemble reads them."""
    from kg.io.rdf import parse_into

    files = sorted((data_dir / "entries").glob("*.ttl"))
    graph = Graph()
    for path in files:
        parse_into(graph, path)
    return graph, files


class _Loader:
    """Bulk-loads N-Quads chunks into the store in a thread while the sheets are still being read
    (Oxigraph releases the GIL while it loads). ``put(None)`` drops what was loaded (the fast loader gave
    up half way and will send everything again)."""

    def __init__(self, store: ox.Store, graph: str):
        import queue
        import threading

        self.store, self.graph, self.lines = store, ox.NamedNode(graph), 0
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            chunk, counted = self.queue.get()
            if chunk is StopIteration:
                return
            if self.error is not None:
                continue
            try:
                if chunk is None:
                    self.store.clear_graph(self.graph)
                    self.lines = 0
                else:
                    # lenient only for the evidence the fast loader wrote (already checked line by line)
                    self.store.bulk_load(chunk, ox.RdfFormat.N_QUADS, lenient=counted)
                    if counted:
                        self.lines += chunk.count(b"\n")
            except BaseException as exc:  # noqa: BLE001 - re-raised by close()
                self.error = exc

    def put(self, chunk: bytes | None, counted: bool = True) -> None:
        """Queue N-Quads for the store; ``counted`` ones are evidence lines (``close`` returns how many)."""
        self.queue.put((chunk, counted))

    def close(self) -> int:
        self.queue.put((StopIteration, False))
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.lines


def run_pipeline(data_dir: Path | None = None, store_dir: Path | None = None,
                 progress: Callable[[str], None] = lambda _m: None) -> Pipeline:
    """Load, validate, derive the typology and summarise on Oxigraph. Raises InputInvalid on violations.

    The store gets the same named graphs as ``kg.dataset.assemble`` (ontology, vocab, evidence with the
    ``entries/*.ttl``, reference, review, links, mappings) and the derived graph; ``build_fast`` adds the
    provenance graph."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    from kg.publish.build import NOTICE
    from kg.model.identifiers import G_LINKS, G_MAPPINGS, mapping_set_graph, read_sssom
    from kg.io.sheets import load_income_groups
    from kg.derive.claims import G_REVIEW, review_graph

    data_dir = Path(data_dir) if data_dir else resources.data_dir()
    studies, uses = data_dir / "studies.csv", data_dir / "uses.csv"
    income = data_dir / "world_bank_income_groups.csv"
    if not income.exists():
        income = resources.data_dir() / "world_bank_income_groups.csv"
    claims = data_dir / "review_claims.csv"
    if not claims.exists():
        claims = resources.data_dir() / "review_claims.csv"
    sssom = resources.data_dir() / "platform_mappings.sssom.tsv"
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short strings and no cycles: the collector would only rescan them
    try:
        progress("reading the ontology, vocabularies and entries")
        ontology, vocab_graph = load_ontology_graph(), load_vocab_graph()
        vocab = Vocabulary(vocab_graph)
        reference = load_income_groups(income, vocab)
        entry_graph, entry_files = _entries(data_dir)
        entry_ids = {str(o) for o in entry_graph.objects(None, SMQI.studyId)}
        review = review_graph(claims, vocab)
        store = ox.Store(str(store_dir)) if store_dir else ox.Store()
        progress("checking, converting and loading the sheets")
        loader = _Loader(store, str(G_EVIDENCE))
        try:
            loaded = load_nquads(studies, uses, vocab, str(G_EVIDENCE), known_study_ids=entry_ids,
                                 links_graph=str(G_LINKS), sink=loader.put)
            # The loading thread is still busy with the evidence: meanwhile this thread prepares the
            # small graphs (queued behind the evidence), the shapes and what Oxigraph will rewrite.
            for graph, name in ((ontology, G_ONTOLOGY), (vocab_graph, G_VOCAB), (reference, G_REFERENCE),
                                (entry_graph, G_EVIDENCE), (review, G_REVIEW)):
                loader.put(_nquads(graph, name), counted=False)
            shapes = shapes_graph()
            fidelity = written_forms_of([ontology, vocab_graph, reference, entry_graph, review])
            fidelity.defaults[SMQI.useNumber] = (XSD + "integer", XSD + "positiveInteger")  # the loader writes canonical ones
        finally:
            n_lines = loader.close()
        progress("validating with SHACL (compiled to SPARQL)")
        results = validate_store(store, shapes, fidelity)
        problems, warnings = _problems(results, store, vocab, loaded.origins() if results else {})
        report = Report(conforms=not problems, problems=problems, warnings=loaded.warnings + warnings)
        if problems:
            raise InputInvalid(problems=problems)
        links = link_nquads(entry_graph, str(G_LINKS)) if len(entry_graph) else []
        mappings = _nquads(mapping_set_graph(read_sssom(sssom)), G_MAPPINGS)
        progress("deriving the typology of models of use and running the summary queries")
        cq = [q for q in list_queries() if q.kind == "cq"]
        # Two threads (Oxigraph evaluates without the GIL) share one queue of summary queries, longest
        # first. One loads the identifier links and the mappings (not in what the shapes see, so loaded
        # only now), derives the typology and counts the triples; the queries that read smqi:modelOfUse
        # join the front of the queue only after the typology. Meanwhile the other thread runs the
        # queries that read neither smqi:modelOfUse nor those two graphs: they give the same rows before
        # and after these writes.
        order = sorted(cq, key=lambda q: (q.name not in _LONG_QUERIES, q.name))
        tasks = {q.name: (lambda q=q: _summary_rows(store, q)) for q in cq}
        tasks["#studies"] = lambda: _count(store, SMQI.Study)
        tasks["#uses"] = lambda: _count(store, SMQI.SocialMediaUse)
        waiting = deque([q.name for q in order if "modelOfUse" not in q.text] + ["#studies", "#uses"])
        after_typology = [q.name for q in order if "modelOfUse" in q.text]
        lock = threading.Lock()
        rows_of: dict[str, object] = {}

        def drain() -> None:
            while True:
                with lock:
                    if not waiting:
                        return
                    name = waiting.popleft()
                rows_of[name] = tasks[name]()

        def links_typology_then_drain() -> tuple[int, int, int]:
            store.bulk_load("".join(loaded.links + links).encode("utf-8"), ox.RdfFormat.N_QUADS)
            store.bulk_load(mappings, ox.RdfFormat.N_QUADS)
            found = derive_on_store(store)
            with lock:
                waiting.extendleft(reversed(after_typology))
            triples = len(store)  # every graph of the pipeline is written by now
            drain()
            return (*found, triples)

        with ThreadPoolExecutor(max_workers=2) as pool:
            typology, other = pool.submit(links_typology_then_drain), pool.submit(drain)
            other.result()
            n_uses, unclassified, n_triples = typology.result()
        del loaded.links[:]
        summary: dict = {
            "smqi_kg_version": __version__, "notice": NOTICE,
            "counts": {"studies": rows_of["#studies"], "uses": rows_of["#uses"], "triples": n_triples},
            "queries": {q.name: {"summary": q.summary, "rows": rows_of[q.name]} for q in cq},
        }
        summary["typology"] = {"unclassified_uses": unclassified, "owl_cross_check": "not run (fast engine)"}
        summary["engine"] = {"name": "fast", "evidence_triples": n_lines}
    finally:
        if gc_was_enabled:
            # Everything made while the collector was off counts as new: enabling it as is would start a
            # full collection over every summary row (about a second at 100k studies). These objects
            # are either kept (the summary) or freed by reference counting, so the collector may skip them.
            gc.freeze()
            gc.enable()
    inputs = [studies, uses, income, *entry_files, sssom, claims]
    return Pipeline(store, report, summary, inputs, loaded.origins_of, fidelity)


def build_fast(out: Path, data_dir: Path | None = None, store_dir: Path | None = None,
               progress: Callable[[str], None] = lambda _m: None) -> Pipeline:
    """``run_pipeline``, then write the build folder (and the store), all or nothing."""
    from kg.io.atomic import swap_folder, temp_folder
    from kg.publish.build import sha256

    out = Path(out)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    tmp = temp_folder(out)
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
        nquads = _as_written(pipe.store.dump(format=ox.RdfFormat.N_QUADS), pipe.fidelity)
        (tmp / "smqi.nq").write_bytes(nquads)
        ox.serialize(ox.parse(nquads, ox.RdfFormat.N_QUADS), str(tmp / "smqi.trig"), ox.RdfFormat.TRIG)
        del nquads
        (tmp / "summary.json").write_text(json.dumps(pipe.summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "validation.txt").write_text(pipe.report.as_text(), encoding="utf-8")
        if tmp_store is not None:
            pipe.store.flush()
            pipe.store = None  # type: ignore[assignment]  # close RocksDB before the folder moves
            swap_in(tmp_store, store_dir)  # type: ignore[arg-type]
            tmp_store = None
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if tmp_store is not None:
            shutil.rmtree(tmp_store, ignore_errors=True)
        raise
    return pipe


def _as_written(nquads: bytes, fidelity: WrittenForms | None) -> bytes:
    """The store's N-Quads with the typed literals as the sources wrote them (Oxigraph keeps values:
    ``"3"^^xsd:positiveInteger`` comes back as ``"3"^^xsd:integer``), so the files hold the same
    quads as the default engine's."""
    if fidelity is None:
        return nquads
    exact = {f"{s.n3()} {p.n3()} {Literal(str(o), datatype=o.datatype).n3()}": original.n3()
             for (s, p, o), original in fidelity.exact.items()}
    defaults = {f"<{p}>": (f"^^<{stored}>", f"^^<{written}>") for p, (stored, written) in fidelity.defaults.items()}
    out = []
    for line in nquads.decode("utf-8").splitlines(keepends=True):
        if "^^<" in line:
            cut = line.rstrip().rfind(" <")  # every quad here is in a named graph
            spo = line[:cut]
            if spo in exact:
                subject, predicate, _stored = spo.split(" ", 2)
                line = f"{subject} {predicate} {exact[spo]}{line[cut:]}"
            else:
                subject, predicate, obj = spo.split(" ", 2)
                swap = defaults.get(predicate)
                if swap is not None and obj.endswith(swap[0]):
                    line = f"{subject} {predicate} {obj[:-len(swap[0])]}{swap[1]}{line[cut:]}"
        out.append(line)
    return "".join(out).encode("utf-8")


def _add_provenance(pipe: Pipeline, started: datetime) -> None:
    """The provenance graph ``kg.derive.provenance.add_provenance`` writes in ``kg.publish.build.build``: the build activity
    (by that same function) and one ``prov:Derivation`` per study and use row (written here as N-Quads)."""
    from types import SimpleNamespace

    from rdflib import Dataset

    from kg.io.nquads import string_literal
    from kg.io.sheets import STUDY_COLUMNS, USE_COLUMNS, display_path, read_sheet
    from kg.derive.provenance import add_provenance, input_iri

    # kg.publish.build.build writes provenance before the typology, so the derived graph is not among the
    # graphs the activity generated
    names = [URIRef(row["g"].value) for row in pipe.store.query(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }") if row["g"].value not in (str(G_DERIVED),)]
    prov = Dataset()
    stub = SimpleNamespace(
        inputs=pipe.inputs, origins={}, graph=prov.graph,
        dataset=SimpleNamespace(graphs=lambda: [SimpleNamespace(identifier=n) for n in [*names, G_PROVENANCE]],
                                graph=lambda name: [None] if name in names else []))
    activity = add_provenance(stub, started)
    lines = _nquads(prov.graph(G_PROVENANCE), G_PROVENANCE).decode("utf-8").splitlines(keepends=True)
    if pipe.origins_of is not None:
        g = f" <{G_PROVENANCE}> .\n"
        p = "http://www.w3.org/ns/prov#"
        qualified, derivation_t, entity_p, had_p = (f"<{p}qualifiedDerivation>", f"<{p}Derivation>",
                                                    f"<{p}entity>", f"<{p}hadActivity>")
        rdf_type, comment = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", "<http://www.w3.org/2000/01/rdf-schema#comment>"
        studies, uses = pipe.origins_of
        for path, columns, kind in ((studies, STUDY_COLUMNS, "study"), (uses, USE_COLUMNS, "use")):
            sheet, name = f"<{input_iri(display_path(path))}>", Path(display_path(path)).name
            for row, rec in read_sheet(path, columns):
                entry = rec["study_id"] if kind == "study" else f"{rec['study_id']}-{rec['use_no']}"
                node = f"{BASE}kg/{kind}/{entry}"
                d = f"<{node}#derivation>"
                lines += [f"<{node}> {qualified} {d}{g}", f"{d} {rdf_type} {derivation_t}{g}",
                          f"{d} {entity_p} {sheet}{g}", f"{d} {had_p} <{activity}>{g}",
                          f"{d} {comment} {string_literal(f'{name} row {row} ({entry}; the header is row 1)')}{g}"]
    pipe.store.bulk_load("".join(lines).encode("utf-8"), ox.RdfFormat.N_QUADS)


def cli_build(args) -> int:
    """``smqi build --store oxigraph:DIR`` and/or ``--engine fast`` (called by kg.cli.cmd_build)."""
    from kg.io.progress import progress_for
    from kg.io.store import parse_store_spec, write_store

    store_dir = parse_store_spec(args.store) if args.store else None
    progress = progress_for(args.quiet)
    # rdflib stays the default: the fast engine runs neither the OWL cross-check nor the network analysis
    engine = args.engine or "rdflib"
    if engine == "rdflib":
        from kg.publish.build import build

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
    args.skip_teardown = engine == "fast"  # kg.cli.main may end the process without freeing the store
    return 0
