"""`smqi build`: the one pipeline, from the sheets to every output, all or nothing.

sheets and ``entries/`` → N-Quads (``kg.io.nquads``) → one embedded Oxigraph store → SHACL compiled to
SPARQL on the store (``kg.check.storeshacl``) → typology (``kg.derive.typology.derive_on_store``) →
summary queries → provenance → OWL/HermiT cross-check, claims, network → every output (TriG, N-Quads,
Turtle, N-Triples, JSON-LD, summary.json, validation.txt, network/, report/, docs/, void.ttl,
manifest.json). The same code runs at 66 studies and at 100k.

No rdflib object is made per evidence triple: the sheets become N-Quads, streamed in chunks to a
thread that bulk-loads them into Oxigraph while the rest of the sheets is still being read, beside
the ontology, vocabularies, reference graph, ``entries/*.ttl`` and the review graph. The store is
kept in the build folder (``build/store/``) so that `smqi query`, `typology`, `claims`, `export`,
`report`, `network`, `serve` and `push` read it instead of building again; the new folder, store
included, is swapped in only when every step succeeded.
"""
from __future__ import annotations

import gc
import json
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from kg import __version__
from kg.check.shacl import Report, SLUG_OF, entry_of, field_of, shapes_graph
from kg.check.storeshacl import validate_store, written_forms_of
from kg.derive.typology import derive_on_store
from kg.io.atomic import write_folder
from kg.io.nquads import link_nquads, load_nquads, string_literal
from kg.io.queries import list_queries
from kg.model import resources
from kg.model.errors import InputInvalid, JavaMissing, Problem
from kg.model.namespaces import BASE, G_DERIVED, G_EVIDENCE, G_ONTOLOGY, G_PROVENANCE, G_REFERENCE, G_VOCAB, SMQI
from kg.model.vocabularies import Vocabulary, load_ontology_graph, load_vocab_graph
from kg.publish.manifest import STORE

__all__ = ["NOTICE", "STORE", "Pipeline", "run_pipeline", "build", "sha256"]

XSD = "http://www.w3.org/2001/XMLSchema#"

NOTICE = (
    "Evidence: an independent, dual-coded extraction of real studies that meet the inclusion criteria "
    "of Walsh et al. 2021 (doi 10.1177/2055207621996870); not that review's own list of 40 studies, "
    "so counts differ from the review's. See data/METHODS.md."
)


@dataclass
class Pipeline:
    store: ox.Store
    report: Report
    summary: dict = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)
    origins_of: tuple[Path, Path] | None = None  # the two sheets, for the provenance of their rows


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


def _count(store: ox.Store, cls: URIRef) -> int:
    rows = store.query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{cls}> }}",
                       use_default_graph_as_union=True)
    return int(next(iter(rows))["n"].value)


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
    """``<data>/entries/*.ttl`` (added by ``smqi add``), read as kg.io.dataset.assemble reads them."""
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
                 progress: Callable[[str], None] = lambda _m: None, check: bool = True) -> Pipeline:
    """Load, validate, derive the typology and summarise on Oxigraph. Raises InputInvalid on violations.

    The store (in ``store_dir``, or in memory) gets the named graphs ontology, vocab, evidence (sheets
    and ``entries/*.ttl``), reference, review, links, mappings and derived; ``build`` adds provenance.
    ``smqi query`` and the other reading commands run this in memory when there is no build to read.
    ``check=False`` skips the SHACL validation (the sheets' row checks still run), for `smqi diff` and
    `smqi add`, which compare data that is validated on its own."""
    from kg.model.identifiers import G_LINKS, G_MAPPINGS, mapping_set_graph, read_sssom
    from kg.io.sheets import load_income_groups
    from kg.io.review import G_REVIEW, review_graph

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
            # the sheets' literals are canonical (the model decides their forms); entries may not be
            written = written_forms_of([ontology, vocab_graph, reference, entry_graph, review])
        finally:
            loader.close()
        progress("validating with SHACL (compiled to SPARQL)")
        results = validate_store(store, shapes, written) if check else []
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
        summary["typology"] = {"unclassified_uses": unclassified, "owl_cross_check": "not run"}
    finally:
        if gc_was_enabled:
            # Everything made while the collector was off counts as new: enabling it as is would start a
            # full collection over every summary row (about a second at 100k studies). These objects
            # are either kept (the summary) or freed by reference counting, so the collector may skip them.
            gc.freeze()
            gc.enable()
    inputs = [studies, uses, income, *entry_files, sssom, claims]
    return Pipeline(store, report, summary, inputs, loaded.origins_of)


def add_store_provenance(pipe: Pipeline, started: datetime) -> None:
    """The provenance graph: the build activity (``kg.derive.provenance.add_provenance``) and one
    ``prov:Derivation`` per study and use row (written here as N-Quads)."""
    from types import SimpleNamespace

    from rdflib import Dataset

    from kg.io.sheets import STUDY_COLUMNS, USE_COLUMNS, display_path, read_sheet
    from kg.derive.provenance import add_provenance, input_iri

    # provenance is written as if before the typology: the derived graph is not among the graphs the
    # activity generated
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


def sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class _Beside:
    """Run ``work`` in a thread now; ``result()`` waits for it and re-raises what it raised."""

    def __init__(self, work: Callable[[], object]):
        self.value: object = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.value = work()
            except BaseException as exc:  # noqa: BLE001 - re-raised by result()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self) -> object:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


def build(out: Path, data_dir: Path | None = None, progress: Callable[[str], None] = lambda _msg: None,
          cross_check: bool = True) -> Pipeline:
    """Build into ``out`` (the store in ``out/store``), all or nothing.

    Raises InputInvalid (exit 1) when the sheets or shapes are broken, TypologyDisagreement (exit 1)
    when HermiT and the SPARQL derivation differ; ``out`` is then exactly as it was."""
    from kg.derive import network
    from kg.derive.claims import check_claims
    from kg.derive.owl import check_typology
    from kg.derive.typology import read_derivation
    from kg.publish import docs, report as html_report
    from kg.publish.manifest import write_manifest
    from kg.publish.outputs import write_dataset_files
    from kg.publish.void import write_void

    out = Path(out)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    found: dict = {}

    def write(tmp: Path) -> None:
        pipe = run_pipeline(data_dir, tmp / STORE, progress)
        found["pipe"] = pipe
        add_store_provenance(pipe, started)
        summary, report = pipe.summary, pipe.report
        # one count everywhere: the quads of the store, i.e. the triples of all named graphs, provenance included
        summary["counts"]["triples"] = len(pipe.store)
        summary["built_at"] = started.isoformat()
        summary["data"] = str(Path(data_dir).resolve() if data_dir else resources.data_dir())
        summary["inputs"] = {p.name: sha256(p) for p in pipe.inputs}
        derivation = read_derivation(pipe.store)
        # HermiT runs in Java: classify beside the other outputs (the store is only read from here on)
        owl = _Beside(lambda: check_typology(pipe.store, derivation.assignments)) if cross_check else None
        progress("checking the review's claims")
        claims = check_claims(pipe.store)
        summary["claims"] = [v.as_dict() for v in claims]
        progress(f"writing {out}")
        write_dataset_files(pipe.store, tmp)  # TriG, N-Quads, JSON-LD, union Turtle and N-Triples
        progress("analysing the evidence network")
        analysis = network.analyse(pipe.store)
        network.write_outputs(analysis, tmp / "network")
        progress("writing the HTML report and the ontology documentation")
        html_report.write_report(pipe.store, tmp / "report", claims=claims, network_report=analysis)
        docs.write_docs(tmp / "docs")
        if owl is not None:
            progress("waiting for the OWL cross-check of the typology (HermiT)")
            try:
                owl.result()  # raises TypologyDisagreement (exit 1)
                summary["typology"]["owl_cross_check"] = "HermiT agrees with the SPARQL derivation on every use"
            except JavaMissing as exc:
                summary["typology"]["owl_cross_check"] = f"skipped: {exc}"
                report.warnings.append(Problem(message=f"OWL cross-check skipped. {exc}", severity="warning"))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "validation.txt").write_text(report.as_text(), encoding="utf-8")
        write_void(pipe.store, tmp, modified=started)
        pipe.store.flush()
        write_manifest(tmp, summary, pipe.inputs, derivation.rows)  # last: it hashes the other outputs

    write_folder(out, write)  # kg.io.atomic: temp folder beside out, swapped in only on success
    pipe = found["pipe"]
    pipe.store = None  # type: ignore[assignment]  # the store moved with the folder: open out/store to read it
    return pipe
