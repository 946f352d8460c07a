"""`smqi add`: validate new entries, then write them into the data folder, all or nothing.

CSV rows are appended to ``studies.csv`` / ``uses.csv`` (same columns, QUOTE_MINIMAL, the file's own
line ending, so the diff of a data file is exactly the new lines). Turtle / JSON-LD entries become
``<data>/entries/<study_id>.ttl``, which the pipeline loads with the sheets (kg.io.datafolder). Every file is written through
kg.io.atomic (temporary file + os.replace, rolled back on failure): a failed add leaves every data file
byte-identical. With ``keep_valid`` the valid entries are added and the rejected ones are written,
with their messages, to a JSON file. The whole read-validate-write holds the data folder's lock
exclusively (kg.io.lock), and every file written is checked to lie inside the data folder
(``kg.io.atomic.inside``); an entry's file name is its validated study id
(``kg.check.entries.study_id_of``).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rdflib import RDF, Graph, URIRef

from kg.model import resources
from kg.io.atomic import inside, os_error, recover, write_files
from kg.io.lock import data_lock
from kg.publish.diff import Snapshot, agreement_lines, compare, moved, snapshot_of_data
from kg.check.entries import Entries, check_entries, problems_by_study, study_id_of
from kg.model.errors import InputInvalid, Problem, UsageError
from kg.io.sheets import CODING_COLUMNS, STUDY_COLUMNS, USE_COLUMNS, display_path, read_sheet
from kg.model.namespaces import SMQI

__all__ = ["AddResult", "append_rows", "append_rows_to_header", "plan_writes", "add_entries", "report_text", "MAX_ROUNDS"]

MAX_ROUNDS = 5


@dataclass
class AddResult:
    data_dir: Path
    written: list[Path] = field(default_factory=list)
    rejected: dict[str, list[Problem]] = field(default_factory=dict)
    rejected_file: Path | None = None
    changes: dict = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


# ---------------------------------------------------------------- what to write


def _newline_of(raw: bytes) -> str:
    first = raw.split(b"\n", 1)[0]
    return "\r\n" if first.endswith(b"\r") else "\n"


def append_rows(path: Path, rows: list[dict[str, str]]) -> bytes:
    """The bytes of ``path`` with ``rows`` appended in its column order and line-ending convention."""
    raw = path.read_bytes()
    newline = _newline_of(raw)
    text = raw.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)), [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator=newline)
    # the csv module quotes only the line terminator's characters: a cell holding a carriage return
    # in a "\n" file would end its row early, so such a row is quoted whole
    quoted = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator=newline)
    for row in rows:
        cells = [row.get(col, "") for col in header]
        (quoted if any("\r" in c or "\n" in c for c in cells) else writer).writerow(cells)
    prefix = raw
    if raw and not raw.endswith(b"\n"):
        prefix += newline.encode()
    return prefix + buffer.getvalue().encode("utf-8")


def append_rows_to_header(columns: list[str], rows: list[dict[str, str]]) -> bytes:
    """A new sheet: the header ``columns`` and ``rows`` (UTF-8, "\n" line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(col, "") for col in columns])
    return buffer.getvalue().encode("utf-8")


def _study_graph(graph: Graph, study: URIRef) -> Graph:
    """The study node and its uses, with everything said about them (blank nodes followed)."""
    out = Graph()
    nodes = [study, *graph.objects(study, SMQI.reportsUse), *graph.subjects(SMQI.reportedIn, study)]
    seen: set = set()
    while nodes:
        node = nodes.pop()
        if node in seen:
            continue
        seen.add(node)
        for s, p, o in graph.triples((node, None, None)):
            out.add((s, p, o))
            if not isinstance(o, URIRef) and o.__class__.__name__ == "BNode":
                nodes.append(o)
    return out


def _turtle(graph: Graph, sources: list[str]) -> bytes:
    from kg.model.namespaces import bind_prefixes

    bind_prefixes(graph)
    body = graph.serialize(format="turtle")
    head = (f"# Added by smqi add on {date.today().isoformat()} from {', '.join(sources)}.\n"
            "# A new entry of the evidence graph, loaded by smqi build with the sheets.\n")
    return (head + body).encode("utf-8")


def plan_writes(entries: Entries, data_dir: Path, keep: set[str]) -> dict[Path, bytes]:
    """The new bytes of every data file that changes, for the entries of the studies in ``keep``."""
    changes: dict[Path, bytes] = {}
    if entries.sheets:
        for kind, target, columns in (("studies", "studies.csv", STUDY_COLUMNS), ("uses", "uses.csv", USE_COLUMNS),
                                      ("codings", "codings.csv", CODING_COLUMNS)):
            rows = [rec for _row, rec in entries.sheet_rows.get(kind, []) if rec["study_id"] in keep]
            if rows:
                path = inside(data_dir, data_dir / target)
                if kind == "codings" and not path.exists():  # the folder's first codings: a new sheet
                    changes[path] = append_rows_to_header(columns, rows)
                    continue
                read_sheet(path, columns)  # the target must be a readable sheet with these columns
                changes[path] = append_rows(path, rows)
    per_study: dict[str, Graph] = {}
    sources: dict[str, list[str]] = {}
    for path, graph in entries.rdf.items():
        roots = set(graph.subjects(RDF.type, SMQI.Study)) | set(graph.objects(None, SMQI.reportedIn))
        for study in roots:
            sid = study_id_of(study)  # the validated id: the only source of the file name
            if sid is None or sid not in keep:
                continue
            part = per_study.setdefault(sid, Graph())
            for triple in _study_graph(graph, study):
                part.add(triple)
            sources.setdefault(sid, []).append(Path(path).name)
    for sid, graph in per_study.items():
        target = inside(data_dir, data_dir / "entries" / f"{sid}.ttl")
        if target.exists():  # new uses of a study added earlier as RDF
            from kg.io.rdf import parse_into

            parse_into(graph, target)
        changes[target] = _turtle(graph, sources[sid])
    return changes


# ---------------------------------------------------------------- the command


def _entry_ids(entries: Entries) -> set[str]:
    """Study ids of every new entry (for a use of an existing study: that study's id)."""
    ids = {rec["study_id"] for kind in ("studies", "uses", "codings") for _r, rec in entries.sheet_rows.get(kind, [])}
    for graph in entries.rdf.values():
        for node in set(graph.subjects(RDF.type, SMQI.Study)) | set(graph.objects(None, SMQI.reportedIn)):
            ids.add(study_id_of(node) or "")
    return {i for i in ids if i}


def _subset_files(entries: Entries, keep: set[str], folder: Path) -> list[Path]:
    """The kept entries written to ``folder`` as files again, to be re-validated on their own."""
    paths = []
    if entries.sheets:
        for kind, columns in (("studies", STUDY_COLUMNS), ("uses", USE_COLUMNS), ("codings", CODING_COLUMNS)):
            if kind not in entries.sheet_rows:
                continue
            path = folder / f"{kind}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
                writer.writeheader()
                writer.writerows(rec for _r, rec in entries.sheet_rows[kind] if rec["study_id"] in keep)
            paths.append(path)
    for number, (path, graph) in enumerate(entries.rdf.items()):
        part = Graph()
        for study in set(graph.subjects(RDF.type, SMQI.Study)) | set(graph.objects(None, SMQI.reportedIn)):
            if study_id_of(study) in keep:
                for triple in _study_graph(graph, study):
                    part.add(triple)
        if len(part):
            target = folder / f"{number}-{Path(path).stem}.ttl"
            part.serialize(target, format="turtle")
            paths.append(target)
    return paths


def add_entries(paths: list[Path], data_dir: Path | None = None, keep_valid: bool = False,
                rejected_file: Path | None = None, similar_titles: bool = False,
                progress: Callable[[str], None] = lambda _step: None) -> AddResult:
    """Validate ``paths`` against ``data_dir`` and add them. Raises InputInvalid (nothing written)
    when any entry is invalid, unless ``keep_valid``. A title the same as or very close to another
    study's is a problem unless ``similar_titles``. ``progress`` is told each step."""
    if rejected_file is not None and not keep_valid:
        raise UsageError("--rejected goes with --keep-valid (without it, nothing is added when an entry "
                         "is invalid)")
    data_dir = Path(data_dir) if data_dir else resources.data_dir()
    if not (data_dir / "studies.csv").is_file() or not (data_dir / "uses.csv").is_file():
        raise UsageError(f"{data_dir}: not a data folder (it needs studies.csv and uses.csv)")
    # one writer at a time, for the whole read-validate-write (kg/io/lock.py); it completes the write
    # of an add that was killed between its renames (kg/io/atomic.py)
    progress(f"locking {data_dir} for writing")
    with data_lock(data_dir, exclusive=True):
        try:
            recover(data_dir)
        except OSError as exc:
            raise os_error(exc, f"removing the temporary files of a killed smqi add in {data_dir}",
                           "nothing was added") from None
        result = _add_locked(paths, data_dir, keep_valid, similar_titles, progress)
    if result.rejected and rejected_file is not None:
        document = {"rejected": [
            {"study_id": sid, "problems": [p.as_dict() for p in problems]}
            for sid, problems in sorted(result.rejected.items())]}
        write_files({Path(rejected_file): (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()})
        result.rejected_file = Path(rejected_file)
    return result


def _add_locked(paths: list[Path], data_dir: Path, keep_valid: bool, similar_titles: bool,
                progress: Callable[[str], None]) -> AddResult:
    progress(f"checking {len(paths)} file(s) against the data of {data_dir}")
    report, entries = check_entries(paths, data_dir, similar_titles=similar_titles)
    result = AddResult(data_dir=data_dir, warnings=report.warnings)
    all_ids = _entry_ids(entries)
    if not report.conforms and not keep_valid:
        raise InputInvalid(problems=report.problems)
    rejected = problems_by_study(entries, report.problems) if not report.conforms else {}
    if "" in rejected:  # a problem not tied to any entry: nothing can be kept safely
        raise InputInvalid(problems=report.problems)
    keep = all_ids - set(rejected)
    for _round in range(MAX_ROUNDS):  # the kept entries must also be valid on their own
        if not keep or not rejected:
            break
        with tempfile.TemporaryDirectory(prefix="smqi-add-") as tmp:
            subset = _subset_files(entries, keep, Path(tmp))
            if not subset:
                break
            again, _e = check_entries(subset, data_dir, similar_titles=similar_titles)
        if again.conforms:
            break
        more = problems_by_study(_e, again.problems)
        if "" in more:
            keep = set()
            break
        for sid, problems in more.items():
            rejected.setdefault(sid, []).extend(problems)
        keep -= set(more)
    else:
        keep = set()
    changes = plan_writes(entries, data_dir, keep) if keep else {}
    progress("summarising the data before the add")
    before: Snapshot = snapshot_of_data(data_dir, "before")
    if changes:
        originals = {p: (p.read_bytes() if p.exists() else None) for p in changes}
        progress(f"writing {len(changes)} file(s)")
        write_files(changes, journal_dir=data_dir)
        progress("checking that the data still loads, and summarising it")
        try:
            after = snapshot_of_data(data_dir, "after")  # the data must still load; else undo
        except BaseException:
            write_files({p: b for p, b in originals.items() if b is not None}, journal_dir=data_dir)
            for path, content in originals.items():
                if content is None:
                    path.unlink(missing_ok=True)
            raise
    else:
        after = before
    result.written = sorted(changes)
    result.rejected = {sid: problems for sid, problems in rejected.items()}
    result.changes = compare(before, after)
    return result


def report_text(result: AddResult) -> str:
    """What changed: files written, studies and uses added with their models, counts that moved."""
    changes = result.changes
    lines = []
    if result.written:
        lines.append(f"Added to {display_path(result.data_dir)}: "
                     + ", ".join(display_path(p) for p in result.written))
    else:
        lines.append("Nothing added.")
    lines.append(f"Studies added: {len(changes.get('studies_added', []))}")
    for item in changes.get("studies_added", []):
        lines.append(f"  {item['study_id']}")
    lines.append(f"Uses added: {len(changes.get('uses_added', []))}")
    for use in changes.get("uses_added", []):
        lines.append(f"  {use['use']}: model of use {use['model']}")
    counts = changes.get("counts", {})
    if counts:
        lines.append("Counts: " + ", ".join(f"{k} {v['old']} -> {v['new']}" for k, v in counts.items()))
    queries = changes.get("queries", {})
    if queries:
        lines.append("Summary rows that moved (before -> after):")
        for name, rows in queries.items():
            for r in rows:
                key = ", ".join(str(v) for k, v in r["row"].items() if k != "label")
                lines.append(f"  {name} [{key}]: {moved(r)}")
    if changes.get("agreement"):
        lines.append("Agreement figures that moved (before -> after):")
        lines.extend(agreement_lines(changes["agreement"]))
    if result.rejected:
        lines.append(f"Rejected: {len(result.rejected)} entr{'y' if len(result.rejected) == 1 else 'ies'}"
                     + (f" (written to {display_path(result.rejected_file)})" if result.rejected_file else ""))
        for sid, problems in sorted(result.rejected.items()):
            for problem in problems:
                lines.append(f"  {problem.as_text()}")
    return "\n".join(lines) + "\n"
