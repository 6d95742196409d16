"""Peak memory of ``import_vectors`` (``tagscope vectors import``) of a large .npy file.

A workspace gets a dataset of ``--n`` catalog items (no media: only the catalog rows the vectors
attach to) and an (n, ``--dim``) float32 matrix with its ids file (``--n 200000 --dim 512``:
a 410 MB file). The import runs in a child process; its peak resident memory (``ru_maxrss``)
is reported beside the RSS of the same child just before the import (Python, numpy, the
package) and the file's size. Goal: the import's own peak (``import_peak_mb``, the difference)
well under the file's size, whatever that size (the file is read a chunk at a time).
Prints ONE JSON line.

    python bench/bench_vectors_import.py [--n 200000] [--dim 512]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _machine import cpu_info

_CHILD = """
import json, resource, sys, time
from tagscope.service import Workspace
from tagscope.service.embeddings import import_vectors

ws = Workspace.open(sys.argv[1])
ws.dataset("big")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
report = import_vectors(ws, "big", "mine", sys.argv[2])
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "peak_kb": peak, "s": seconds, **report}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()

    from tagscope.domain import MediaInfo, NewItem
    from tagscope.service import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        ws = Workspace.open(root)
        ds = ws.catalog.create_dataset("big")
        media = MediaInfo(1, 1, 1, "JPEG", "x")
        for start in range(0, args.n, 50_000):
            stop = min(start + 50_000, args.n)
            ws.catalog.add_items(
                ds.id, [NewItem(f"/big/{i}.jpg", media) for i in range(start, stop)]
            )
        ids = np.array([it.id for it in ws.catalog.iter_items(ds.id)], dtype=np.int64)
        ws.catalog.engine.dispose()
        path = Path(tmp) / "vectors.npy"
        rng = np.random.default_rng(0)
        out = np.lib.format.open_memmap(path, "w+", np.float32, (args.n, args.dim))
        for start in range(0, args.n, 50_000):
            stop = min(start + 50_000, args.n)
            out[start:stop] = rng.standard_normal((stop - start, args.dim), dtype=np.float32)
        out.flush()
        del out
        np.save(Path(tmp) / "vectors.ids.npy", ids)
        env = {k: v for k, v in os.environ.items() if k != "TAGSCOPE_DATABASE_URL"}
        t0 = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", _CHILD, str(root), str(path)],
            env=env,
            capture_output=True,
            check=True,
        )
        wall = time.perf_counter() - t0
        child = json.loads(run.stdout.decode().strip().splitlines()[-1])
        file_mb = path.stat().st_size / 2**20
    print(
        json.dumps(
            {
                "bench": "vectors_import",
                "n": args.n,
                "dim": args.dim,
                "file_mb": round(file_mb, 1),
                "rss_before_import_mb": round(child["before_kb"] / 1024, 1),
                "peak_rss_mb": round(child["peak_kb"] / 1024, 1),
                "import_peak_mb": round((child["peak_kb"] - child["before_kb"]) / 1024, 1),
                "import_s": round(child["s"], 2),
                "child_wall_s": round(wall, 2),
                "n_imported": child["n_imported"],
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
