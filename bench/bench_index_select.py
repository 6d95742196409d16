"""Where exact search stops being fast enough: the measurement behind ``EXACT_MAX_ROWS``.

For each size, over clustered 512-d float16 unit vectors (memory-mapped, as stored):

- ``flat_1q_ms``: one query through ``FlatIndex`` (the interactive case: a text or an item),
  median of ``--queries`` queries;
- ``flat_100q_s``: 100 queries at once (what a batch of prompts costs);
- ``ivf_build_s``, ``ivf_1q_ms``, ``ivf_recall_at_10``: the FAISS IVF backend (``FaissIndex``)
  built over the same vectors, one query at a time, recall against the exact top-10.

Prints ONE JSON line, one entry per size.

    python bench/bench_index_select.py [--sizes 100000,300000,1000000] [--queries 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _vectors import clustered_unit_vectors, perturbed_queries
from tagscope.index.faiss_index import FaissIndex
from tagscope.index.flat import FlatIndex


def _median_ms(fn, queries: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    fn(queries[0])  # warm-up
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def measure(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    flat = FlatIndex(x)
    out = {"n": len(x), "flat_1q_ms": _median_ms(lambda v: flat.search(v, 10), q)}
    t0 = time.perf_counter()
    _, exact = flat.search(q, 10)
    out["flat_100q_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ivf = FaissIndex.build(x)
    out["ivf_build_s"] = time.perf_counter() - t0
    ivf.exact_below = 0
    out["ivf_1q_ms"] = _median_ms(lambda v: ivf.search(v, 10), q)
    _, approx = ivf.search(q, 10)
    out["ivf_recall_at_10"] = float(
        np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx, exact, strict=True)])
    )
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        x = clustered_unit_vectors(Path(tmp) / "vectors.npy", max(sizes), args.dim)
        q = perturbed_queries(x[: min(sizes)], args.queries)
        rows = [measure(x[:n], q) for n in sizes]
    print(json.dumps({"bench": "index_select", "dim": args.dim, "sizes": rows}))


if __name__ == "__main__":
    main()
