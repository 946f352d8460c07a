"""`smqi diff`: what changed between two builds of the knowledge graph.

A side is a build folder (``summary.json`` + ``smqi.trig``; ``manifest.json`` when present) or a
git revision of the data (``git show REV:data/studies.csv`` … into a temporary folder, built in
memory). Reported: studies added, removed and changed (any triple about the study or its uses
differs), uses whose model of use changed (and the models of added uses), every count that
moved: the totals and each row of each summary query, and every inter-coder agreement figure that
moved (``summary.json``'s ``agreement``, from ``kg.derive.agreement``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from kg.model.errors import DataError, UsageError
from kg.model.namespaces import BASE, G_DERIVED, G_EVIDENCE, SMQI

__all__ = [
    "Snapshot", "snapshot_of_store", "snapshot_of_data", "snapshot_of_build", "snapshot_of_git",
    "compare", "to_json", "to_text", "moved", "diff_builds", "diff_git", "agreement_lines"
]


@dataclass
class Snapshot:
    """One side of a diff: the evidence triples per study, the model of each use, the summary."""

    label: str
    studies: dict[str, frozenset] = field(default_factory=dict)  # study id -> its triples (and its uses')
    uses: dict[str, str] = field(default_factory=dict)  # use id -> study id
    models: dict[str, str] = field(default_factory=dict)  # use id -> model key or "unclassified"
    summary: dict = field(default_factory=dict)


def _tail(node: object) -> str:
    return str(node).rsplit("/", 1)[-1]


def _from_graphs(label: str, evidence: Graph, models: dict[str, str], summary: dict) -> Snapshot:
    snap = Snapshot(label=label, models=dict(models), summary=summary)
    triples: dict[str, set] = defaultdict(set)
    owner: dict[URIRef, str] = {}
    for study, sid in evidence.subject_objects(SMQI.studyId):
        owner[study] = str(sid)
    for use, study in evidence.subject_objects(SMQI.reportedIn):
        if study in owner:
            owner[use] = owner[study]
            snap.uses[_tail(use)] = owner[study]
    for s, p, o in evidence:
        if s in owner:
            triples[owner[s]].add((s, p, o))
    snap.studies = {sid: frozenset(triples.get(sid, set())) for sid in set(owner.values())}
    for use in snap.uses:
        snap.models.setdefault(use, "unclassified")
    return snap


def snapshot_of_store(store, label: str, summary: dict) -> Snapshot:
    """A snapshot of a store the pipeline built (typology derived, ``summary`` from its queries)."""
    from kg.derive.typology import read_derivation
    from kg.io.store import from_ox

    evidence = Graph()
    for t in store.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{G_EVIDENCE}> {{ ?s ?p ?o }} }}"):
        evidence.add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))
    models = {_tail(use): key for use, key in read_derivation(store).assignments.items()}
    return _from_graphs(label, evidence, models, summary)


def snapshot_of_data(data_dir: Path, label: str) -> Snapshot:
    """Run the pipeline on ``data_dir`` in memory (no SHACL: the data may be mid-edit) and snapshot it."""
    from kg.publish.pipeline import run_pipeline

    pipe = run_pipeline(data_dir, check=False)
    return snapshot_of_store(pipe.store, label, pipe.summary)


def snapshot_of_build(folder: Path) -> Snapshot:
    """Read a build folder written by ``smqi build``."""
    folder = Path(folder)
    summary_path, trig = folder / "summary.json", folder / "smqi.trig"
    for path in (summary_path, trig):
        if not path.is_file():
            raise DataError(f"{path}: no such file; give a build folder (with summary.json and smqi.trig) "
                            "written by smqi build")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{summary_path}: not readable JSON ({exc})") from None
    from kg.io.rdf import parse_file

    dataset = parse_file(trig)
    evidence = dataset.graph(G_EVIDENCE) if isinstance(dataset, Dataset) else dataset
    notations = {}
    from rdflib.namespace import SKOS

    for concept, notation in dataset.subject_objects(SKOS.notation):
        notations[concept] = str(notation)
    derived = dataset.graph(G_DERIVED) if isinstance(dataset, Dataset) else dataset
    models = {_tail(use): notations.get(model, _tail(model))
              for use, model in derived.subject_objects(SMQI.modelOfUse)
              if str(use).startswith(f"{BASE}kg/use/")}  # not the codings' models (kg.derive.agreement)
    return _from_graphs(str(folder), evidence, models, summary)


def snapshot_of_git(rev: str, repo: Path | None = None) -> Snapshot:
    """Build the data of git revision ``rev`` in memory (read with ``git show``, nothing checked out)."""
    from kg.model import resources

    repo = Path(repo) if repo else resources.data_dir().parent
    if shutil.which("git") is None:
        raise UsageError("--git needs the git command, which is not installed")
    tmp = Path(tempfile.mkdtemp(prefix="smqi-diff-"))
    try:
        for name in ("studies.csv", "uses.csv", "world_bank_income_groups.csv", "codings.csv"):
            done = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:data/{name}"],
                                  capture_output=True, check=False)
            if done.returncode != 0:
                if name in ("world_bank_income_groups.csv", "codings.csv"):
                    continue  # the shipped table stands in; a revision without codings has none
                message = done.stderr.decode("utf-8", "replace").strip()
                raise DataError(f"git show {rev}:data/{name} failed: {message}")
            (tmp / name).write_bytes(done.stdout)
        listing = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only", f"{rev}", "data/entries/"],
                                 capture_output=True, text=True, check=False)
        for line in listing.stdout.splitlines():
            if line.endswith(".ttl"):
                done = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{line}"],
                                      capture_output=True, check=False)
                (tmp / "entries").mkdir(exist_ok=True)
                (tmp / "entries" / Path(line).name).write_bytes(done.stdout)
        return snapshot_of_data(tmp, rev)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unordered_columns(name: str) -> tuple[str, ...]:
    """The ``#+ unordered:`` columns of the shipped summary query ``name`` (none for another name); a
    build made before the summary sorted them still compares equal."""
    from kg.io.queries import load_query

    try:
        return load_query(name).unordered
    except UsageError:
        return ()


def _query_changes(old: dict, new: dict) -> dict[str, list[dict]]:
    changes: dict[str, list[dict]] = {}
    for name in sorted(set(old) | set(new)):
        unordered = _unordered_columns(name)

        def value(k: str, v: object) -> object:  # a GROUP_CONCAT in no set order compares as a set
            return " ".join(sorted(v.split())) if k in unordered and isinstance(v, str) else v

        def index(rows: list[dict]) -> dict[tuple, dict]:
            return {tuple(sorted((k, value(k, v)) for k, v in r.items() if not _is_count(v))):
                    {k: v for k, v in r.items() if _is_count(v)} for r in rows}

        before = index(old.get(name, {}).get("rows", []))
        after = index(new.get(name, {}).get("rows", []))
        rows = []
        for key in sorted(set(before) | set(after), key=lambda k: [str(x) for x in k]):
            if before.get(key) != after.get(key):
                status = "added" if key not in before else "removed" if key not in after else "changed"
                rows.append({"row": dict(key), "status": status, "old": before.get(key, {}),
                             "new": after.get(key, {})})
        if rows:
            changes[name] = rows
    return changes


_AGREEMENT_FIGURES = ("uses", "agreements", "observed", "kappa", "mean_jaccard")


def _agreement_changes(old: dict, new: dict) -> list[dict]:
    """The agreement figures (per dimension) whose uses, agreements, share, kappa or mean Jaccard moved."""
    def index(doc: dict) -> dict[str, dict]:
        return {f["dimension"]: {k: f.get(k) for k in _AGREEMENT_FIGURES if f.get(k) is not None or k == "kappa"}
                for f in (doc or {}).get("figures", [])}

    before, after = index(old), index(new)
    order = [f["dimension"] for f in (new or {}).get("figures", [])]
    order += [d for d in before if d not in order]
    return [{"dimension": d, "old": before.get(d, {}), "new": after.get(d, {})}
            for d in order if before.get(d) != after.get(d)]


def compare(old: Snapshot, new: Snapshot) -> dict:
    """The differences between two snapshots, as a JSON-ready dict."""
    def uses_of(snap: Snapshot, sid: str) -> list[dict]:
        return [{"use": u, "model": snap.models.get(u, "unclassified")}
                for u in sorted(snap.uses, key=_use_order) if snap.uses[u] == sid]

    added = sorted(set(new.studies) - set(old.studies))
    removed = sorted(set(old.studies) - set(new.studies))
    changed = sorted(s for s in set(old.studies) & set(new.studies) if old.studies[s] != new.studies[s])
    model_changes = [
        {"use": u, "study_id": new.uses[u], "old": old.models.get(u, "unclassified"),
         "new": new.models.get(u, "unclassified")}
        for u in sorted(set(old.uses) & set(new.uses), key=_use_order)
        if old.models.get(u) != new.models.get(u)
    ]
    old_counts, new_counts = old.summary.get("counts", {}), new.summary.get("counts", {})
    counts = {k: {"old": old_counts.get(k), "new": new_counts.get(k)}
              for k in sorted(set(old_counts) | set(new_counts)) if old_counts.get(k) != new_counts.get(k)}
    return {
        "old": old.label,
        "new": new.label,
        "studies_added": [{"study_id": s, "uses": uses_of(new, s)} for s in added],
        "studies_removed": [{"study_id": s, "uses": uses_of(old, s)} for s in removed],
        "studies_changed": [{"study_id": s, "uses": uses_of(new, s)} for s in changed],
        "uses_added": [{"use": u, "study_id": new.uses[u], "model": new.models.get(u, "unclassified")}
                       for u in sorted(set(new.uses) - set(old.uses), key=_use_order)],
        "uses_removed": [{"use": u, "study_id": old.uses[u], "model": old.models.get(u, "unclassified")}
                         for u in sorted(set(old.uses) - set(new.uses), key=_use_order)],
        "model_changes": model_changes,
        "counts": counts,
        "queries": _query_changes(old.summary.get("queries", {}), new.summary.get("queries", {})),
        "agreement": _agreement_changes(old.summary.get("agreement", {}), new.summary.get("agreement", {})),
    }


def _use_order(use: str) -> tuple:
    sid, _sep, no = use.rpartition("-")
    return (sid, int(no) if no.isascii() and no.isdigit() else 0, no)


def to_json(diff: dict) -> str:
    return json.dumps(diff, indent=2, ensure_ascii=False) + "\n"


def _row_text(row: dict) -> str:
    return ", ".join(f"{v}" for k, v in row.items() if k != "label") or "-"


def to_text(diff: dict) -> str:
    """A readable report of ``compare``'s result."""
    lines = [f"Changes from {diff['old']} to {diff['new']}"]

    def studies(title: str, items: list[dict]) -> None:
        lines.append(f"{title}: {len(items)}")
        for item in items:
            models = ", ".join(f"{u['use']} {u['model']}" for u in item["uses"])
            lines.append(f"  {item['study_id']}" + (f" (uses: {models})" if models else ""))

    studies("Studies added", diff["studies_added"])
    studies("Studies removed", diff["studies_removed"])
    studies("Studies changed", diff["studies_changed"])
    lines.append(f"Uses whose model of use changed: {len(diff['model_changes'])}")
    lines.extend(f"  {c['use']}: {c['old']} -> {c['new']}" for c in diff["model_changes"])
    lines.append(f"Counts changed: {len(diff['counts'])}")
    lines.extend(f"  {k}: {v['old']} -> {v['new']}" for k, v in diff["counts"].items())
    lines.append(f"Summary query rows changed: {sum(len(r) for r in diff['queries'].values())}")
    for name, rows in diff["queries"].items():
        lines.extend(f"  {name} [{_row_text(r['row'])}]: {moved(r)}" for r in rows)
    changes = diff.get("agreement", [])
    lines.append(f"Agreement figures changed: {len(changes)}")
    lines.extend(agreement_lines(changes))
    return "\n".join(lines) + "\n"


def agreement_lines(changes: list[dict]) -> list[str]:
    """``  host: agreements 3 -> 4; kappa 0.5556 -> 1`` for each agreement figure that moved."""
    lines = []
    for change in changes:
        old, new = change["old"], change["new"]
        parts = [f"{k} {_figure(old.get(k))} -> {_figure(new.get(k))}" for k in _AGREEMENT_FIGURES
                 if old.get(k) != new.get(k) and (k in old or k in new)]
        lines.append(f"  {change['dimension']}: " + "; ".join(parts))
    return lines


def _figure(value: object) -> str:
    if value is None:
        return "undefined"
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def moved(row: dict) -> str:
    """``uses 5 -> 6`` for a count that moved; ``row added`` / ``row removed`` otherwise."""
    cols = sorted(set(row["old"]) | set(row["new"]))
    text = "; ".join(f"{c} {row['old'].get(c, 0)} -> {row['new'].get(c, 0)}" for c in cols)
    if row["status"] == "changed":
        return text
    return f"row {row['status']}" + (f" ({text})" if text else "")


def diff_builds(old: Path, new: Path) -> dict:
    return compare(snapshot_of_build(old), snapshot_of_build(new))


def diff_git(rev1: str, rev2: str, repo: Path | None = None) -> dict:
    return compare(snapshot_of_git(rev1, repo), snapshot_of_git(rev2, repo))
