"""The scale benchmark: smqi-kg's fast engine against the naive rdflib + pyshacl baseline, side by side.

    python benchmarks/run.py [--sizes 1000,10000] [--engines fast,baseline] [--write-readme]

For each size it generates SYNTHETIC sheets (benchmarks/generate.py, seed 6) in a temporary folder,
runs ``benchmarks/pipeline.py`` once per engine under ``/usr/bin/time -v`` (wall time and peak RSS of
the whole process) and prints a Markdown table; ``--write-readme`` puts it in benchmarks/README.md
between the ``<!-- results -->`` markers. Not run by the tests (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.generate import generate  # noqa: E402
from kg.progress import Progress  # noqa: E402


def measure(engine: str, folder: Path) -> dict:
    time_bin = shutil.which("time", path="/usr/bin") or "/usr/bin/time"
    if not Path(time_bin).exists():
        raise SystemExit("GNU time is missing: apt-get install time")
    proc = subprocess.run([time_bin, "-v", sys.executable, str(HERE / "pipeline.py"), engine, str(folder)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed on {folder}:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())  # type: ignore[union-attr]
    result["wall"] = h * 3600 + m * 60 + s
    result["rss_mb"] = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    return result


def table(rows: list[dict]) -> str:
    lines = ["| studies | uses | engine | wall (s) | peak RSS (MB) | speed-up | steps (s) |",
             "|---:|---:|---|---:|---:|---:|---|"]
    for r in rows:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in r["steps"].items())
        lines.append(f"| {r['studies']:,} | {r['uses']:,} | {r['engine']} | {r['wall']:.1f} | {r['rss_mb']:.0f} | "
                     f"{r.get('speedup', '')} | {steps} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--engines", default="fast,baseline")
    parser.add_argument("--write-readme", action="store_true")
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
                by_engine[engine] = dict(measure(engine, folder), engine=engine)
            if "fast" in by_engine and "baseline" in by_engine:
                by_engine["fast"]["speedup"] = f"{by_engine['baseline']['wall'] / by_engine['fast']['wall']:.1f}×"
            rows.extend(by_engine.values())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = table(rows)
    print(text)
    if args.write_readme:
        readme = HERE / "README.md"
        content = readme.read_text(encoding="utf-8")
        note = (f"Measured {date.today().isoformat()} on {os.cpu_count()} cores, Python "
                f"{platform.python_version()}, one run per cell (`python benchmarks/run.py --sizes {args.sizes}`).")
        block = f"<!-- results -->\n{note}\n\n{text}\n<!-- /results -->"
        content = re.sub(r"<!-- results -->.*?<!-- /results -->", lambda _m: block, content, flags=re.S)
        readme.write_text(content, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
