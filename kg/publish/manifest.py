"""The build manifest (``manifest.json``): what a build contains, for `smqi diff` and releases.

Counts, the sha256 of every output file and every input file, the smqi-kg version, the build date
and the typology assignment of every use.
"""

from __future__ import annotations

import json
from pathlib import Path

from kg import __version__
from kg.io.atomic import sha256

__all__ = ["manifest", "write_manifest", "MANIFEST"]

MANIFEST = "manifest.json"
STORE = "store"  # the build's Oxigraph store folder inside a build folder (build/store/)


def manifest(folder: Path, summary: dict, inputs: list[Path], rows: list[tuple[str, int, str]],
             hashes: dict[Path, str] | None = None) -> dict:
    """The manifest of the build files in ``folder``: every file but the manifest itself and the store
    (``store/``, a database whose files change when it is opened; ``smqi.nq`` holds its content).
    The inputs' hashes come from ``hashes`` when given (taken while the pipeline read them)."""
    folder = Path(folder)
    outputs = {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*"))
               if p.is_file() and p.name != MANIFEST and p.relative_to(folder).parts[0] != STORE}
    return {
        "smqi_kg_version": __version__,
        "built_at": summary.get("built_at"),
        "counts": summary.get("counts", {}),
        "outputs": outputs,
        "inputs": {(f"entries/{p.name}" if p.parent.name == "entries" else p.name): (hashes or {}).get(p) or sha256(p)
                   for p in inputs},
        "typology": [{"study_id": s, "use_no": n, "model": m} for s, n, m in rows],
    }


def write_manifest(folder: Path, summary: dict, inputs: list[Path], rows: list[tuple[str, int, str]],
                   hashes: dict[Path, str] | None = None) -> Path:
    path = Path(folder) / MANIFEST
    document = manifest(folder, summary, inputs, rows, hashes)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
