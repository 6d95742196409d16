"""N-vs-N: the nearest other item of every item over 100,000 x 512 float16 vectors.

Ours: ``tagscope.index.pairs.nearest_neighbors`` over the memory-mapped float16 matrix (blocked
products over the upper triangle only). FAISS: ``IndexFlatIP`` over a float32 copy, searched with
every vector as a query, k = 2 (the first hit is the vector itself). FAISS 1.15 takes its BLAS
path only from 128,000 queries up, so for 100,000 queries its default is the SIMD scan, which
would take tens of minutes here: it is timed on ``--faiss-default-queries`` queries and
extrapolated linearly (``faiss_default_s_est``); ``faiss_s`` is the full run with the BLAS path
forced (``distance_compute_blas_threshold`` = 1, database blocks of 16,384 rows), FAISS's fastest
way here.

Each side runs in a fresh subprocess, so that ``peak_rss_mb`` (``VmHWM``: the whole process,
interpreter, torch and the pages of the memory-mapped file included) is its own; tracemalloc
would not see torch's or BLAS's buffers. ``agreement`` is the share of items whose nearest
score is the same on both sides (within 1e-4). Prints ONE JSON line. Goals: ``ours_s`` below
``faiss_s``, ``peak_rss_mb`` below 2,048.

    python bench/bench_pairs_nvn.py [--n 100000] [--dim 512]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _vectors import clustered_unit_vectors


def _peak_rss_mb() -> float:
    """This process's peak resident memory: ``VmHWM`` (reset by exec; ``ru_maxrss`` is not on
    Linux, so a child would report its parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(path: Path, out: Path) -> dict[str, float]:
    import torch

    from tagscope.index.pairs import nearest_neighbors

    x = np.load(path, mmap_mode="r")
    before = _peak_rss_mb()
    t0 = time.perf_counter()
    scores, rows = nearest_neighbors(x)
    seconds = time.perf_counter() - t0
    np.save(out, scores)
    assert (rows != np.arange(len(x))).all()
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": before,
        "threads": torch.get_num_threads(),
    }


def run_faiss(path: Path, out: Path, n_default: int) -> dict[str, float]:
    import faiss

    x = np.load(path, mmap_mode="r")
    n, d = x.shape
    index = faiss.IndexFlatIP(d)
    for start in range(0, n, 10_000):
        index.add(np.asarray(x[start : start + 10_000], dtype=np.float32))
    queries = np.asarray(x, dtype=np.float32)
    t0 = time.perf_counter()
    index.search(queries[:n_default], 2)  # the default path, on a share of the queries
    default_s = (time.perf_counter() - t0) * n / n_default
    faiss.cvar.distance_compute_blas_threshold = 1
    faiss.cvar.distance_compute_blas_database_bs = 16384
    t0 = time.perf_counter()
    scores, rows = index.search(queries, 2)
    seconds = time.perf_counter() - t0
    self_first = rows[:, 0] == np.arange(n)
    np.save(out, np.where(self_first, scores[:, 1], scores[:, 0]))
    return {"seconds": seconds, "default_s_est": default_s, "peak_rss_mb": _peak_rss_mb()}


def _child(role: str, path: Path, out: Path, n_default: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--role", role, "--path", str(path), "--out", str(out)]
    cmd += ["--faiss-default-queries", str(n_default)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--faiss-default-queries", type=int, default=1000)
    parser.add_argument("--role", choices=["ours", "faiss"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "ours":
        print(json.dumps(run_ours(args.path, args.out)))
        return
    if args.role == "faiss":
        print(json.dumps(run_faiss(args.path, args.out, args.faiss_default_queries)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.npy"
        clustered_unit_vectors(path, args.n, args.dim)
        ours = _child("ours", path, Path(tmp) / "ours.npy", args.faiss_default_queries)
        theirs = _child("faiss", path, Path(tmp) / "faiss.npy", args.faiss_default_queries)
        agreement = float(
            np.mean(
                np.abs(np.load(Path(tmp) / "ours.npy") - np.load(Path(tmp) / "faiss.npy")) < 1e-4
            )
        )
    print(
        json.dumps(
            {
                "bench": "pairs_nvn",
                "n": args.n,
                "dim": args.dim,
                "ours_s": round(ours["seconds"], 2),
                "peak_rss_mb": round(ours["peak_rss_mb"]),
                "rss_before_mb": round(ours["rss_before_mb"]),
                "faiss_s": round(theirs["seconds"], 2),
                "faiss_default_s_est": round(theirs["default_s_est"], 1),
                "faiss_peak_rss_mb": round(theirs["peak_rss_mb"]),
                "ratio": round(ours["seconds"] / theirs["seconds"], 3),
                "agreement": agreement,
                "threads": ours["threads"],
            }
        )
    )


if __name__ == "__main__":
    main()
