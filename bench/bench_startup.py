"""Start-up of the SDK: ``import tagscope as ts; ts.open(root).datasets()`` in a fresh process.
Goal: < 0.5 s and < 100 MB peak RSS.

Builds (or reuses) a workspace with a few datasets, then runs the snippet ``--repeats`` times,
each in a new interpreter, timed from just before that interpreter starts (so Python's start-up
is counted, as a user's script pays it), with its CPU time (user + system, which a busy machine
inflates less) and the load average. Peak RSS is the child's ``ru_maxrss``. Also lists which
heavy libraries the snippet loaded (there should be none).

Prints ONE JSON line (median and best of the runs).

    python bench/bench_startup.py [--repeats 7] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _machine import cpu_info

HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "faiss", "scipy", "fastapi")

# Runs in the child: time from the interpreter's start, heavy modules loaded, peak RSS in KiB.
SNIPPET = f"""
import json, resource, sys, time
import tagscope as ts
names = ts.open(sys.argv[1]).datasets()
took = time.time() - float(sys.argv[2])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{
    "s": took,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "datasets": len(names),
    "heavy": [m for m in {list(HEAVY)!r} if m in sys.modules],
    "rss_kib": usage.ru_maxrss,
}}))
"""


def build_workspace(root: Path, n_datasets: int) -> None:
    import tagscope as ts

    ws = ts.open(root)
    for i in range(len(ws.datasets()), n_datasets):
        ws.create_dataset(f"startup-{i}")


def run_once(root: Path) -> dict[str, object]:
    import time

    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(root), repr(time.time())],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--datasets", type=int, default=5)
    parser.add_argument("--root", type=Path, default=None, help="workspace (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or Path(tmp) / "ws"
        build_workspace(root, args.datasets)
        runs = [run_once(root) for _ in range(args.repeats)]
    seconds = [float(r["s"]) for r in runs]
    cpu_seconds = [float(r["cpu_s"]) for r in runs]
    rss_mb = [int(r["rss_kib"]) / 1024 for r in runs]
    print(
        json.dumps(
            {
                "bench": "startup",
                "snippet": "import tagscope as ts; ts.open(root).datasets()",
                "repeats": args.repeats,
                "datasets": runs[0]["datasets"],
                "median_s": round(statistics.median(seconds), 3),
                "best_s": round(min(seconds), 3),
                "median_cpu_s": round(statistics.median(cpu_seconds), 3),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "peak_rss_mb": round(max(rss_mb), 1),
                "heavy_modules_loaded": runs[0]["heavy"],
                "goal": {"s": 0.5, "rss_mb": 100},
                "python": platform.python_version(),
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
