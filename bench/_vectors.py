"""Synthetic embeddings for the search benchmarks: clustered unit vectors, stored like ours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np


def unit_centres(n_clusters: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n_clusters`` random float32 unit vectors: the centres of :func:`clustered_batches`."""
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def clustered_batches(
    centres: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    noise: float = 0.8,
    step: int = 100_000,
) -> Iterator[np.ndarray]:
    """``n`` float32 unit vectors, ``step`` at a time: each a random centre plus Gaussian noise."""
    d = centres.shape[1]
    for start in range(0, n, step):
        m = min(step, n - start)
        x = centres[rng.integers(0, len(centres), m)]
        x += (noise / np.sqrt(d)) * rng.standard_normal((m, d), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield x


def clustered_unit_vectors(
    path: Path, n: int, d: int, *, n_clusters: int = 1000, noise: float = 0.8, seed: int = 0
) -> np.ndarray:
    """Write ``n`` unit vectors around ``n_clusters`` random centres to ``path`` (float16 .npy,
    as the vector store keeps them) and return it memory-mapped, as ``VectorStore.load`` does.

    Clusters give every query a real neighbourhood (scores from ~0.9 down to ~0), so a top-k is
    meaningful and near-ties are as common as in real embeddings.
    """
    rng = np.random.default_rng(seed)
    centres = unit_centres(n_clusters, d, rng)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, d))
    start = 0
    for x in clustered_batches(centres, n, rng, noise=noise):
        out[start : start + len(x)] = x
        start += len(x)
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def perturbed_queries(x: np.ndarray, n: int, *, noise: float = 0.5, seed: int = 1) -> np.ndarray:
    """``n`` float32 unit queries: random rows of ``x`` moved a little (not equal to any row)."""
    rng = np.random.default_rng(seed)
    q = np.asarray(x[np.sort(rng.choice(len(x), n, replace=False))], dtype=np.float32)
    q += (noise / np.sqrt(x.shape[1])) * rng.standard_normal(q.shape, dtype=np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)
