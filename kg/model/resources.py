"""Where the shipped artefacts (ontology, vocabularies, shapes, queries, data) are found.

In an installed wheel they live inside the package (``kg/_res/<folder>``, put there by hatch
force-include); in a source checkout or an editable install they are the top-level folders of the
repository. Paths never depend on the current working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = [
    "resource_dir", "ontology_file", "vocab_files", "shape_files", "query_dir", "data_dir", "FOLDERS"
]

FOLDERS = ("ontology", "shapes", "queries", "data")


def _root() -> Path:
    packaged = Path(str(files("kg"))) / "_res"
    if (packaged / "ontology").is_dir():
        return packaged
    return Path(__file__).resolve().parents[2]


def resource_dir(folder: str) -> Path:
    """The directory of one shipped folder: ``ontology``, ``shapes``, ``queries`` or ``data``."""
    if folder not in FOLDERS:
        raise ValueError(f"unknown resource folder {folder!r}; expected one of {', '.join(FOLDERS)}")
    return _root() / folder


def ontology_file() -> Path:
    return resource_dir("ontology") / "smqi.ttl"


def vocab_files() -> list[Path]:
    return sorted((resource_dir("ontology") / "vocab").glob("*.ttl"))


def shape_files() -> list[Path]:
    return sorted(resource_dir("shapes").glob("*.ttl"))


def query_dir() -> Path:
    return resource_dir("queries")


def data_dir() -> Path:
    return resource_dir("data")
