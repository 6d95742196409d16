"""1-vs-N exact search: top-10 over 1,000,000 x 512 float16 vectors, 100 queries.

Our ``FlatIndex`` over the memory-mapped float16 matrix (as the vector store keeps it) against
FAISS ``IndexFlatIP`` over a float32 copy of the same vectors, in the same run:

- ``faiss_default_s``: ``IndexFlatIP.search`` as shipped. FAISS 1.15 takes its BLAS path only
  from ``distance_compute_blas_threshold`` (128,000) queries up, so 100 queries run its SIMD
  scan, one query at a time over the whole matrix;
- ``faiss_s``: the faster of the default and FAISS's BLAS path forced (threshold 1), with database
  blocks of 1,024 (its default) or 16,384 rows. ``ratio`` is ours over this best FAISS time.

Each time is the median of ``--repeats`` runs after a warm-up round, ours and FAISS's taking
turns, so that a busy machine slows each alike. ``recall_at_10`` is the
share of FAISS's top-10 rows that ours returns too (exact search on both sides: 1.0 expected).

``single_query`` is the interactive case: ONE query at a time over ``--single-n`` rows (200,000
by default), over the float16 matrix and over a float32 copy, each against the time to read that
matrix once in the same run (``X.view(np.uint64).sum()``, NumPy, one core), the same
interleaved medians. Goal there: ``vs_read`` <= 2 on both.

Prints ONE JSON line. Goals: ratio <= 1.2, recall_at_10 = 1.0, single_query vs_read <= 2.

    python bench/bench_search_1vn.py [--n 1000000] [--dim 512] [--queries 100] [--repeats 3]
        [--single-n 200000] [--single-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import torch

from _vectors import clustered_unit_vectors, perturbed_queries
from tagscope.index.flat import FlatIndex

K = 10


def _faiss_search(index: faiss.Index, q: np.ndarray, blas_bs: int | None) -> np.ndarray:
    """FAISS as shipped (``blas_bs`` None) or with its BLAS path forced, database blocks of
    ``blas_bs`` rows; returns the rows found."""
    threshold = faiss.cvar.distance_compute_blas_threshold
    bs = faiss.cvar.distance_compute_blas_database_bs
    if blas_bs is not None:
        faiss.cvar.distance_compute_blas_threshold = 1
        faiss.cvar.distance_compute_blas_database_bs = blas_bs
    try:
        return index.search(q, K)[1]
    finally:
        faiss.cvar.distance_compute_blas_threshold = threshold
        faiss.cvar.distance_compute_blas_database_bs = bs


def _interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns (a busy machine slows all alike),
    after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(repeats + 1):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            if rep:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _single_query(folder: Path, n: int, dim: int, repeats: int) -> dict[str, object]:
    """One query at a time over float16 and float32 rows, against reading each matrix once."""
    x16 = clustered_unit_vectors(folder / "single.npy", n, dim, seed=2)
    x32 = np.asarray(x16, dtype=np.float32)
    queries = perturbed_queries(x16, 8, seed=3)
    indexes = {"float16": FlatIndex(x16), "float32": FlatIndex(x32)}
    turn = iter(range(1 << 60))  # a different query each call: nothing is cached between calls
    runs: dict[str, Callable[[], object]] = {}
    for name, index in indexes.items():
        runs[f"read_{name}"] = lambda x=index.vectors: x.view(np.uint64).sum()
        runs[f"query_{name}"] = lambda i=index: i.search(queries[next(turn) % len(queries)], K)
    t = _interleaved(runs, repeats)
    result: dict[str, object] = {"n": n, "k": K}
    for name, index in indexes.items():
        want = np.argsort(-(np.asarray(index.vectors, np.float64) @ queries[0]), kind="stable")
        got = index.search(queries[0], K)[1][0]
        result[name] = {
            "query_s": round(t[f"query_{name}"], 4),
            "read_once_s": round(t[f"read_{name}"], 4),
            "vs_read": round(t[f"query_{name}"] / t[f"read_{name}"], 2),
            "exact_top10": bool((got == want[:K]).all()),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single-n", type=int, default=200_000)
    parser.add_argument("--single-only", action="store_true", help="skip the 100-query part")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        single = _single_query(Path(tmp), args.single_n, args.dim, max(args.repeats, 5))
    if args.single_only:
        print(json.dumps({"bench": "search_1vn", "dim": args.dim, "single_query": single}))
        return

    with tempfile.TemporaryDirectory() as tmp:
        x = clustered_unit_vectors(Path(tmp) / "vectors.npy", args.n, args.dim)
        q = perturbed_queries(x, args.queries)
        ours = FlatIndex(x)
        index = faiss.IndexFlatIP(args.dim)
        for start in range(0, args.n, 100_000):  # float32 copy, a slice at a time
            index.add(np.asarray(x[start : start + 100_000], dtype=np.float32))
        default_bs = faiss.cvar.distance_compute_blas_database_bs
        t = _interleaved(
            {
                "ours": lambda: ours.search(q, K),
                "faiss_default": lambda: _faiss_search(index, q, None),
                f"blas_{default_bs}": lambda: _faiss_search(index, q, default_bs),
                "blas_16384": lambda: _faiss_search(index, q, 16384),
            },
            args.repeats,
        )
        _, ours_rows = ours.search(q, K)
        faiss_rows = _faiss_search(index, q, None)

    ours_s, faiss_default_s = t.pop("ours"), t.pop("faiss_default")
    blas = {name.removeprefix("blas_"): s for name, s in t.items()}
    faiss_s = min(faiss_default_s, *blas.values())
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(ours_rows, faiss_rows, strict=True)])
    print(
        json.dumps(
            {
                "bench": "search_1vn",
                "n": args.n,
                "dim": args.dim,
                "n_queries": args.queries,
                "k": K,
                "ours_s": round(ours_s, 3),
                "faiss_s": round(faiss_s, 3),
                "faiss_default_s": round(faiss_default_s, 3),
                "faiss_blas_s": {bs: round(s, 3) for bs, s in blas.items()},
                "ratio": round(ours_s / faiss_s, 3),
                "ratio_vs_faiss_default": round(ours_s / faiss_default_s, 3),
                "recall_at_10": float(recall),
                "threads": torch.get_num_threads(),
                "faiss_version": faiss.__version__,
                "single_query": single,
            }
        )
    )


if __name__ == "__main__":
    main()
