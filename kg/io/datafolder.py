"""A data folder's evidence into an Oxigraph store: the sheets through the one loader
(``kg.io.sheets.load_sheets``) and ``entries/*.ttl`` (added by ``smqi add``), streamed to a thread that
bulk-loads them while the sheets are still being read. ``kg.publish.build.run_pipeline`` (the build)
and ``kg.check.entries.check_entries`` (the existing data new entries are checked against) both load
a folder this way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, Graph

from kg.io.rdf import nquads_of, parse_into
from kg.io.sheets import Loaded, LoadedCodings, load_codings, load_sheets
from kg.model import resources
from kg.model.errors import DataError
from kg.model.namespaces import BASE, G_CODINGS, G_EVIDENCE, SMQI
from kg.model.vocabularies import Vocabulary

__all__ = ["DataFiles", "data_files", "entry_files", "read_entry_graph", "split_codings", "BulkLoader", "Evidence",
           "load_evidence"]


@dataclass
class DataFiles:
    """The files of a data folder; the reference tables fall back to the shipped ones when absent."""

    root: Path
    studies: Path
    uses: Path
    income: Path
    claims: Path
    sssom: Path
    entries: list[Path] = field(default_factory=list)
    codings: Path | None = None  # both coders' codings of every use; a folder without one has none


def data_files(data_dir: Path | None = None) -> DataFiles:
    """The files of ``data_dir`` (default: the shipped data)."""
    root = Path(data_dir) if data_dir else resources.data_dir()
    shipped = resources.data_dir()

    def own_or_shipped(name: str) -> Path:
        return root / name if (root / name).exists() else shipped / name

    files = DataFiles(root=root, studies=root / "studies.csv", uses=root / "uses.csv",
                      income=own_or_shipped("world_bank_income_groups.csv"),
                      claims=own_or_shipped("review_claims.csv"),
                      sssom=shipped / "platform_mappings.sssom.tsv",
                      entries=entry_files(root),
                      codings=root / "codings.csv" if (root / "codings.csv").exists() else None)
    for path in (files.studies, files.uses, files.income, files.claims, *files.entries,
                 *([files.codings] if files.codings else [])):
        if path.exists() and not path.is_file():  # a FIFO or a device would hang or never end a read
            raise DataError(f"{path}: not a regular file (a folder, a FIFO or a device); a data folder holds "
                            "regular files only.")
    return files


def entry_files(root: Path) -> list[Path]:
    """``<root>/entries/*.ttl``, sorted. Raises DataError when ``entries/`` or an entry file leads
    outside the data folder through a symbolic link (a data folder's files are untrusted)."""
    folder = Path(root) / "entries"
    if not folder.is_dir() and not folder.is_symlink():
        return []
    real_root = Path(root).resolve()
    found = sorted(folder.glob("*.ttl"))
    for path in [folder, *found]:
        real = path.resolve()
        if not real.is_relative_to(real_root) or real == real_root:
            raise DataError(f"{path}: a symbolic link that leads outside the data folder {root} (to {real}); "
                            "entries are read only from inside it. Replace the link by the folder or file "
                            "itself.")
    return found


def read_entry_graph(files: list[Path]) -> Graph:
    """``entries/*.ttl`` as one rdflib graph (small: entries are added one study at a time)."""
    graph = Graph()
    for path in files:
        parse_into(graph, path)
    return graph


def split_codings(graph: Graph) -> tuple[Graph, Graph]:
    """``graph`` (entries) as (evidence, codings): the ``smqi:Coding`` nodes and the coders they are
    attributed to go to the codings graph, everything else stays evidence."""
    from rdflib.namespace import PROV

    codings = set(graph.subjects(RDF.type, SMQI.Coding))
    coders = {c for node in codings for c in graph.objects(node, PROV.wasAttributedTo)}
    coders = {c for c in coders if str(c).startswith(f"{BASE}kg/coder/")}
    if not codings:
        return graph, Graph()
    evidence, coding_graph = Graph(), Graph()
    for triple in graph:
        (coding_graph if triple[0] in codings or triple[0] in coders else evidence).add(triple)
    return evidence, coding_graph


class BulkLoader:
    """Bulk-loads N-Quads chunks into a store in a thread while the caller goes on (Oxigraph releases
    the GIL while it loads). ``put(chunk, counted=True)`` queues evidence lines from the loader (already
    checked line by line, so loaded leniently and counted); ``close()`` waits, re-raises an error of the
    thread and returns how many evidence lines were loaded."""

    def __init__(self, store: ox.Store):
        self.store, self.lines = store, 0
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            chunk, counted = self.queue.get()
            if chunk is None:
                return
            if self.error is not None:
                continue
            try:
                self.store.bulk_load(chunk, ox.RdfFormat.N_QUADS, lenient=counted)
                if counted:
                    self.lines += chunk.count(b"\n")
            except BaseException as exc:  # noqa: BLE001 - re-raised by close()
                self.error = exc

    def put(self, chunk: bytes, counted: bool = True) -> None:
        """Queue N-Quads for the store."""
        self.queue.put((chunk, counted))

    def close(self) -> int:
        self.queue.put((None, False))
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.lines


@dataclass
class Evidence:
    """What ``load_evidence`` loaded: the sheets (``kg.io.sheets.Loaded``) and the entries graph."""

    loaded: Loaded
    entry_graph: Graph
    entry_files: list[Path]
    codings: LoadedCodings | None = None  # codings.csv of the folder, when it has one
    entry_codings: Graph = field(default_factory=Graph)  # codings carried by entries/*.ttl

    @property
    def entry_ids(self) -> set[str]:
        return {str(o) for o in self.entry_graph.objects(None, SMQI.studyId)}


def load_evidence(files: DataFiles, vocab: Vocabulary, store: ox.Store, *, links_graph: str | None = None,
                  meanwhile: Callable[[BulkLoader, Graph], None] | None = None) -> Evidence:
    """Check the sheets and load them with ``entries/*.ttl`` into the evidence graph of ``store``, and
    ``codings.csv`` (with the codings that entries carry) into the codings graph.

    Raises InputInvalid (every row problem) like ``load_sheets``. ``meanwhile(loader, entry_graph)`` runs once
    the sheets are read while the thread is still loading: it may queue more N-Quads (loaded
    after the evidence) and prepare what comes next."""
    entry_graph, entry_codings = split_codings(read_entry_graph(files.entries))
    entry_ids = {str(o) for o in entry_graph.objects(None, SMQI.studyId)}
    loader = BulkLoader(store)
    codings = None
    try:
        loaded = load_sheets(files.studies, files.uses, vocab, graph=str(G_EVIDENCE), known_study_ids=entry_ids,
                             links_graph=links_graph, sink=loader.put)
        if len(entry_graph):
            loader.put(nquads_of(entry_graph, G_EVIDENCE), counted=False)
        if files.codings is not None:
            uses = {f"{BASE}kg/use/{entry}" for _row, entry in loaded.use_rows}
            uses |= {str(u) for u in entry_graph.subjects(RDF.type, SMQI.SocialMediaUse)}
            codings = load_codings(files.codings, vocab, graph=str(G_CODINGS), known_uses=uses)
            loader.put("".join(codings.lines).encode("utf-8"), counted=False)
        if len(entry_codings):
            loader.put(nquads_of(entry_codings, G_CODINGS), counted=False)
        if meanwhile is not None:
            meanwhile(loader, entry_graph)
    finally:
        loader.close()
    return Evidence(loaded, entry_graph, files.entries, codings, entry_codings)
