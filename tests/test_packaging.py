"""The installed wheel works outside the checkout: its ontology, shapes, queries and data ship inside."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheels = list(dist.glob("smqi_kg-*.whl"))
    assert len(wheels) == 1
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
        for folder in ("ontology/smqi.ttl", "ontology/vocab/platform.ttl", "shapes/study.ttl",
                       "queries/cq/studies-per-platform.rq", "data/studies.csv", "data/METHODS.md"):
            assert f"kg/_res/{folder}" in names, folder
        zf.extractall(site)
    return site


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_resources_resolve_inside_the_installed_package(unpacked_wheel: Path, tmp_path: Path) -> None:
    done = run(unpacked_wheel, tmp_path, "-c",
               "import kg, kg.model.resources as r; print(kg.__file__); print(r.ontology_file()); print(r.data_dir())")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith(str(unpacked_wheel)) for line in lines), lines


def test_build_runs_from_the_wheel_outside_the_checkout(unpacked_wheel: Path, tmp_path: Path) -> None:
    done = run(unpacked_wheel, tmp_path, "-m", "kg", "build", "--out", "out", "--quiet")
    assert done.returncode == 0, done.stderr
    studies, uses = (len((ROOT / "data" / name).read_text(encoding="utf-8").splitlines()) - 1
                     for name in ("studies.csv", "uses.csv"))
    assert done.stdout.startswith(f"Built out/ (store out/store/): {studies} studies, {uses} uses")
    assert (tmp_path / "out" / "summary.json").is_file()
