"""The benchmark of the one pipeline: every figure a ratio to a baseline measured in the same run.

    python benchmarks/run.py [--sizes 10000,100000] [--repeat 3] [--write-readme]

Shipped data (the real studies of data/): the complete ``smqi build`` and the reading commands (``query``,
``typology``, ``claims``, ``export``) on the last build, and ``smqi add`` of one real study held out
of a copy of the data folder, each against the start-up of ``smqi --version`` (the floor of any
command). Scale (``--sizes``, SYNTHETIC sheets from benchmarks/generate.py, seed 6): the complete
build, every output, against the floor of a build: a process that starts Python and bulk-loads the
build's own ``smqi.nq`` into pyoxigraph. Every process runs under ``/usr/bin/time -v`` (wall time
and peak RSS); each cell is the median of ``--repeat`` runs. ``--write-readme`` puts the tables in
benchmarks/README.md between the ``<!-- results -->`` markers. Not run by the tests (``make bench``).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402

HELD_OUT = "wu2019"  # a real study of data/ taken out of a copy of the data folder and added back
FLOOR = ("import sys, pyoxigraph as ox\n"
         "store = ox.Store()\n"
         "store.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)\n"
         "print(len(store))\n"
         "import os; os._exit(0)\n")


def timed(command: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, from GNU time; a failure stops the benchmark."""
    time_bin = "/usr/bin/time"
    if not Path(time_bin).exists():
        raise SystemExit("GNU time is missing: apt-get install time")
    shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command))
    print(f"bench: {shown[:100]}…", file=sys.stderr, flush=True)  # progress: one line per timed run
    done = subprocess.run([time_bin, "-v", *command], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if wall is None or rss is None:
        raise SystemExit(f"no timing from GNU time for {command}:\n{done.stderr[-2000:]}")
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    return h * 3600 + m * 60 + s, int(rss.group(1)) / 1024


def median(command: list[str], cwd: Path, repeat: int, env: dict | None = None,
           before=None) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        if before is not None:
            before()
        runs.append(timed(command, cwd, env))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def smqi(*args: str) -> list[str]:
    return [sys.executable, "-m", "kg", *args]


def hold_out(data: Path, target: Path, study_id: str) -> None:
    """Copy ``data`` to ``target`` without ``study_id``; its rows (and its two codings) go to
    ``target/../new/*.csv``."""
    shutil.copytree(data, target, ignore=shutil.ignore_patterns(".smqi-write.lock"))
    new = target.parent / "new"
    new.mkdir()
    for name, key in (("studies.csv", 0), ("uses.csv", 0), ("codings.csv", 1)):
        text = (data / name).read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        held = [ln for ln in lines[1:] if ln.split(",")[key] == study_id]
        (target / name).write_text(lines[0] + "".join(ln for ln in lines[1:] if ln not in held), encoding="utf-8")
        (new / name).write_text(lines[0] + "".join(held), encoding="utf-8")


def shipped(repeat: int) -> list[tuple[str, float, float, str]]:
    from kg.model import resources

    rows = []
    with tempfile.TemporaryDirectory(prefix="smqi-bench-") as tmp:
        work = Path(tmp)
        start, start_rss = median(smqi("--version"), work, max(repeat, 5))
        rows.append(("`smqi --version` (start-up, the baseline)", start, start_rss, "1×"))
        build, build_rss = median(smqi("build", "--quiet"), work, repeat)
        rows.append(("`smqi build` (complete: SHACL, typology + HermiT, claims, every output)", build, build_rss,
                     f"{build / start:.1f}× start-up"))
        floor, floor_rss = median([sys.executable, "-c", FLOOR, str(work / "build" / "smqi.nq")], work, repeat)
        rows.append(("floor: Python + bulk-load of the build's smqi.nq", floor, floor_rss,
                     f"build = {build / floor:.1f}× floor"))
        for name, args in (("query studies-per-platform", ("query", "studies-per-platform")),
                           ("typology", ("typology",)), ("claims", ("claims",)),
                           ("export --format csv", ("export", "--format", "csv", "--out", "x.csv"))):
            wall, rss = median(smqi(*args), work, repeat)
            rows.append((f"`smqi {name}` (reads build/store)", wall, rss, f"{wall / start:.1f}× start-up"))
        data = work / "data"

        def fresh() -> None:
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(work / "new", ignore_errors=True)
            hold_out(resources.data_dir(), data, HELD_OUT)

        add, add_rss = median(smqi("add", "new/studies.csv", "new/uses.csv", "new/codings.csv", "--data", "data"),
                              work, repeat, before=fresh)
        rows.append((f"`smqi add` of one real study ({HELD_OUT})", add, add_rss, f"{add / start:.1f}× start-up"))
    return rows


def scale(sizes: list[int], repeat: int) -> list[tuple]:
    rows = []
    env = {"SMQI_MAX_ROWS": "10000000"}  # the 100k sheets have more use rows than the default sheet limit
    with tempfile.TemporaryDirectory(prefix="smqi-bench-") as tmp:
        work = Path(tmp)
        for size in sizes:
            folder = work / f"synth{size}"
            generate(size, folder, seed=6)
            with (folder / "uses.csv").open(encoding="utf-8", newline="") as handle:
                uses = sum(1 for _ in csv.reader(handle)) - 1
            out = work / f"build{size}"
            build, build_rss = median(smqi("build", "--data", str(folder), "--out", str(out), "--quiet"), work,
                                      repeat, env)
            floor, floor_rss = median([sys.executable, "-c", FLOOR, str(out / "smqi.nq")], work, repeat)
            rows.append((size, uses, build, build_rss, floor, floor_rss))
    return rows


def tables(shipped_rows, scale_rows, repeat: int) -> str:
    import pyoxigraph
    import rdflib

    lines = [f"Measured {date.today().isoformat()} on {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"pyoxigraph {pyoxigraph.__version__}, rdflib {rdflib.__version__}; median of {repeat} runs per "
             "cell (start-up: of at least 5), all in one run.", ""]
    if shipped_rows:
        studies, uses = (sum(1 for _ in csv.DictReader((ROOT / "data" / name).open(encoding="utf-8")))
                         for name in ("studies.csv", "uses.csv"))
        lines += [f"Shipped data ({studies} real studies, {uses} uses):", "",
                  "| command | wall (s) | peak RSS (MB) | ratio |", "|---|---:|---:|---|"]
        lines += [f"| {name} | {wall:.2f} | {rss:.0f} | {ratio} |" for name, wall, rss, ratio in shipped_rows]
        lines.append("")
    if scale_rows:
        lines += ["SYNTHETIC studies (benchmarks/generate.py), complete `smqi build` against its floor:", "",
                  "| studies | uses | build (s) | build peak RSS (MB) | floor (s) | floor RSS (MB) | build / floor |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for size, uses, build, rss, floor, frss in scale_rows:
            lines.append(f"| {size:,} | {uses:,} | {build:.1f} | {rss:.0f} | {floor:.1f} | {frss:.0f} | "
                         f"{build / floor:.2f}× |")
        if len(scale_rows) >= 2:
            (a, *_rest), (b, *_rest2) = scale_rows[0], scale_rows[-1]
            growth = scale_rows[-1][2] / scale_rows[0][2]
            lines += ["", f"Growth of the build from {a:,} to {b:,} studies: {growth:.1f}×."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="", help="synthetic sizes, e.g. 10000,100000 (default: none)")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped-data table")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (default: 3)")
    parser.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    shipped_rows = [] if args.no_shipped else shipped(args.repeat)
    scale_rows = scale(sizes, args.repeat) if sizes else []
    text = tables(shipped_rows, scale_rows, args.repeat)
    print(text)
    if args.write_readme:
        readme = HERE / "README.md"
        old = readme.read_text(encoding="utf-8")
        new = re.sub(r"<!-- results -->.*<!-- /results -->", f"<!-- results -->\n{text}<!-- /results -->", old,
                     flags=re.S)
        readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
