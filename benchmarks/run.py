"""The scale benchmark: smqi-kg's fast engine against the naive rdflib + pyshacl baseline, side by side.

    python benchmarks/run.py [--sizes 1000,10000] [--engines fast,baseline] [--write-readme]

For each size it generates SYNTHETIC sheets (benchmarks/generate.py, seed 6) in a temporary folder,
runs ``benchmarks/pipeline.py`` once per engine under ``/usr/bin/time -v`` (wall time and peak RSS of
the whole process) and prints a Markdown table; ``--write-readme`` puts it in benchmarks/README.md
between the ``<!-- results -->`` markers. Not run by the tests (``make bench``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import generate  # noqa: E402
from kg.io.progress import Progress  # noqa: E402


def measure(engine: str, folder: Path, timeout: float | None = None) -> dict:
    """One pipeline run under ``/usr/bin/time -v``; with ``timeout`` (seconds) a run still going then is
    killed and reported as stopped, with the wall time and peak RSS it had reached."""
    time_bin = shutil.which("time", path="/usr/bin") or "/usr/bin/time"
    if not Path(time_bin).exists():
        raise SystemExit("GNU time is missing: apt-get install time")
    command = [time_bin, "-v", sys.executable, str(HERE / "pipeline.py"), engine, str(folder)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # kill the pipeline, not GNU time, so that time still reports the wall time and peak RSS reached
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        stdout, stderr = proc.communicate()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if wall is None or rss is None:
        raise SystemExit(f"{engine} on {folder}: no timing from GNU time:\n{stderr[-2000:]}")
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    seconds, rss_mb = h * 3600 + m * 60 + s, int(rss.group(1)) / 1024
    if proc.returncode != 0:
        if timeout and seconds >= timeout - 1:
            return {"studies": _rows(folder / "studies.csv"), "uses": _rows(folder / "uses.csv"), "steps": {},
                    "stopped": True, "wall": seconds, "rss_mb": rss_mb}
        raise SystemExit(f"{engine} failed on {folder}:\n{stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall"], result["rss_mb"] = seconds, rss_mb
    return result


def _rows(sheet: Path) -> int:
    with sheet.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def table(rows: list[dict]) -> str:
    lines = ["| studies | uses | engine | wall (s) | peak RSS (MB) | speed-up | steps (s) |",
             "|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        if r.get("stopped"):
            wall, rss = f"> {r['wall']:.0f} (stopped)", f"≥ {r['rss_mb']:.0f}"
            steps = f"did not finish; killed after {r['wall']:.0f} s (--timeout)"
        else:
            wall, rss = f"{r['wall']:.1f}", f"{r['rss_mb']:.0f}"
            steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())
        lines.append(f"| {r['studies']:,} | {r['uses']:,} | {r['engine']} | {wall} | {rss} | "
                     f"{r.get('speedup', '')} | {steps} |")
    return "\n".join(lines)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--engines", default="fast,baseline")
    parser.add_argument("--write-readme", action="store_true")
    parser.add_argument("--timeout", type=float, default=None,
                        help="kill a baseline run still going after this many seconds and report it as stopped "
                             "(the fast engine is never stopped)")
    args = parser.parse_args(argv)
    progress = Progress(prefix="bench")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="smqi-bench-"))
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            folder = work / str(size)
            progress(f"generating {size} synthetic studies")
            generate(size, folder, seed=6)
            by_engine = {}
            for engine in args.engines.split(","):
                progress(f"{engine} pipeline on {size} studies")
                limit = args.timeout if engine == "baseline" else None
                by_engine[engine] = dict(measure(engine, folder, limit), engine=engine)
            if "fast" in by_engine and "baseline" in by_engine:
                ratio = by_engine["baseline"]["wall"] / by_engine["fast"]["wall"]
                by_engine["fast"]["speedup"] = (f"> {ratio:.0f}×" if by_engine["baseline"].get("stopped")
                                                else f"{ratio:.1f}×")
            rows.extend(by_engine.values())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(text)
    if args.write_readme:
        readme = HERE / "README.md"
        content = readme.read_text(encoding="utf-8")
        flags = f" --engines {args.engines}" + (f" --timeout {args.timeout:.0f}" if args.timeout else "")
        note = (f"Measured {date.today().isoformat()} on {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, pyoxigraph {_version('pyoxigraph')}, rdflib {_version('rdflib')}, "
                f"pyshacl {_version('pyshacl')}, one run per cell, all in one run "
                f"(`python benchmarks/run.py --sizes {args.sizes}{flags} --write-readme`).")
        block = f"<!-- results -->\n{note}\n\n{text}\n<!-- /results -->"
        content = re.sub(r"<!-- results -->.*?<!-- /results -->", lambda _m: block, content, flags=re.S)
        readme.write_text(content, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
