"""Load test of `smqi serve` (issue #8): many queries over loopback from several threads.

Starts `smqi serve` as a second process (on a store made from the shipped data, or on --store DIR),
or uses a running endpoint (--url), sends --queries requests (the named summary queries in turn,
POST, JSON results) from --threads threads, and prints the errors and the latency percentiles.
Exit 0 when every request got HTTP 200 with a readable answer, else 1.

    .venv/bin/python benchmarks/loadtest.py                 # 1,000 queries, 8 threads (make loadtest)
    .venv/bin/python benchmarks/loadtest.py --queries 100   # what tests/serve/test_hostile.py runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(store: Path, port: int, max_rows: int = 10_000) -> subprocess.Popen:
    """`smqi serve` in a second process; returns once its endpoint answers (bounded wait)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kg", "serve", "--store", f"oxigraph:{store}", "--port", str(port),
         "--max-rows", str(max_rows)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    probe = f"http://127.0.0.1:{port}/query?query=ASK%7B%7D"
    for _ in range(600):  # 30 s
        if process.poll() is not None:
            raise RuntimeError(f"smqi serve stopped: {process.stderr.read().decode()[:500]}")
        try:
            with OPENER.open(probe, timeout=1) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("smqi serve did not answer within 30 s")


def make_store(folder: Path) -> Path:
    """The shipped data's store (the pipeline, typology derived) written to ``folder``."""
    from kg.io.store import write_nquads_store
    from kg.publish.pipeline import run_pipeline

    import pyoxigraph as ox

    store = run_pipeline(check=False).store
    write_nquads_store([store.dump(format=ox.RdfFormat.N_QUADS)], folder)
    return folder


def run_load(url: str, queries: list[str], total: int, threads: int) -> dict:
    """Send ``total`` queries from ``threads`` threads; latencies in milliseconds and the errors."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            text = queries[number % len(queries)]
            request = urllib.request.Request(url, data=text.encode(), method="POST", headers={
                "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
            started = time.perf_counter()
            try:
                with OPENER.open(request, timeout=60) as response:
                    body = response.read()
                    ok = response.status == 200 and "results" in json.loads(body)
                    problem = None if ok else f"HTTP {response.status}"
            except Exception as exc:  # counted, not raised: the report lists them
                problem = f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(problem)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "queries": len(latencies), "threads": threads, "errors": len(errors), "error_samples": errors[:5],
        "wall_s": round(wall, 2), "qps": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(percentile(latencies, 50), 1), "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
    }


def named_queries() -> list[str]:
    from kg.io.queries import list_queries

    return [q.text for q in list_queries() if q.kind == "cq"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--url", help="a running endpoint (default: start smqi serve in a second process)")
    parser.add_argument("--store", help="serve this Oxigraph store (default: one made from the shipped data)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    process = None
    tmp = None
    try:
        url = args.url
        if not url:
            store = Path(args.store) if args.store else None
            if store is None:
                tmp = Path(tempfile.mkdtemp(prefix="smqi-loadtest-"))
                store = make_store(tmp / "store")
            port = free_port()
            process = start_serve(store, port)
            url = f"http://127.0.0.1:{port}/query"
        result = run_load(url, named_queries(), args.queries, args.threads)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['queries']} queries from {result['threads']} threads over loopback in "
              f"{result['wall_s']} s ({result['qps']} queries/s): {result['errors']} errors; latency "
              f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms, "
              f"max {result['max_ms']} ms")
        for sample in result["error_samples"]:
            print(f"  error: {sample}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
