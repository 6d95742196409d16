"""The embedding map job at 100,000 items: UMAP fitted on 50,000, the other 50,000 transformed.

Runs the real use case (``service.embedding_map.compute_map``) on a workspace of ``--n``
synthetic items whose 512-d float16 vectors are clustered unit vectors (200 centres, noise as
``_vectors.py``'s: real embeddings have neighbourhoods; uniform noise would make UMAP's
neighbour graph meaningless). Seeded, so single-threaded, as the product runs it.

Figures: ``fit_s`` (sampling, UMAP fit, saving the model and the sample's coordinates: until
the job's first progress report), ``transform_s`` (placing the rest, in parts of 10,000),
``total_s``, ``numba_warm_s`` (numba's compilation, paid once per process, measured first on a
tiny fit and counted in none of the above), the peak RSS of the process (``peak_rss_mib``) and
``model_mib`` (the pickled model on disk). ``same_cluster_10nn``: over 1,000 points, the share of
each one's 10 nearest points on the map that come from its cluster (chance: 1/200).

Prints ONE JSON line.

    python bench/bench_embedding_map.py [--n 100000] [--sample 50000] [--dim 512]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _catalog import peak_mib, synthetic_dataset
from _machine import cpu_info
from tagscope.service import embedding_map as em
from tagscope.store.maps import MODEL, MapStore

N_CLUSTERS = 200


def _warm_numba() -> float:
    """Compile numba's functions once: over 4,096 points UMAP takes NN-descent, so 5,000."""
    start = time.perf_counter()
    x = np.random.default_rng(0).standard_normal((5000, 16)).astype(np.float32)
    em.fit_umap(x, {**em.DEFAULTS, "sample": 5000}).transform(x[:20])
    return time.perf_counter() - start


def _clustered(n: int, d: int, n_clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` float16 unit vectors around ``n_clusters`` random centres, and their cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cluster = rng.integers(0, n_clusters, n)
    x = centres[cluster] + (0.8 / np.sqrt(d)) * rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16), cluster


def _same_cluster(xy: np.ndarray, cluster: np.ndarray, n: int = 1000, k: int = 10) -> float:
    """Over ``n`` points, the share of each one's ``k`` nearest points on the map that are of
    its own cluster."""
    rows = np.random.default_rng(1).choice(len(xy), n, replace=False)
    d = ((xy[rows, None, :] - xy[None, :, :]) ** 2).sum(-1)
    near = np.argsort(d, axis=1)[:, 1 : k + 1]
    return float((cluster[near] == cluster[rows, None]).mean())


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--sample", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=512)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws, ds, ids = synthetic_dataset(root, args.n)
        vectors, cluster = _clustered(args.n, args.dim, N_CLUSTERS)
        ws.catalog.ensure_space(ds.id, "emb", "imported", "bench", args.dim)
        ws.vectors(ds, "emb").append(np.asarray(ids), vectors)
        ws.vectors(ds, "emb").load()  # compacted, as after an import
        warm = _warm_numba()
        reports: list[tuple[float, int]] = []
        peak_before = peak_mib()
        start = time.perf_counter()
        job = em.compute_map(
            ws,
            "bench",
            "emb",
            sample=args.sample,
            on_progress=lambda done, _total: reports.append((time.perf_counter(), done)),
        )
        total = time.perf_counter() - start
        fit = reports[0][0] - start
        got = em.get_map(ws, "bench", "emb")
        model = MapStore(ws.paths.scores).folder(ds.id, "emb") / MODEL
        order = np.searchsorted(got.ids, np.asarray(ids))
        print(
            json.dumps(
                {
                    "bench": "embedding_map",
                    "n": args.n,
                    "sample": args.sample,
                    "dim": args.dim,
                    "n_points": len(got.ids),
                    "fit_s": round(fit, 2),
                    "transform_s": round(total - fit, 2),
                    "total_s": round(total, 2),
                    "numba_warm_s": round(warm, 2),
                    "peak_rss_mib": round(peak_mib(), 1),
                    "peak_rss_growth_mib": round(peak_mib() - peak_before, 1),
                    "model_mib": round(model.stat().st_size / 2**20, 1),
                    "same_cluster_10nn": round(_same_cluster(got.xy[order], cluster), 3),
                    "job": job.result,
                    **cpu_info(),
                }
            )
        )


if __name__ == "__main__":
    main()
