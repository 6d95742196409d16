"""Approximate top-k inner-product search with FAISS: the backend for large vector sets.

An inverted-file index (``IndexIVFScalarQuantizer``, fp16 codes): k-means cells over the vectors,
and a query scans the ``nprobe`` cells nearest to it. fp16 codes hold our stored float16 vectors
exactly, at half the memory of float32. IVF rather than HNSW because of what it costs to build on
a laptop: on 100,000 clustered 512-d vectors (2 busy cores) IVF built in 19-25 s, HNSW (M = 32,
efConstruction 40; flat or fp16 storage) in 35-63 s, and HNSW's build grows as n log n where
IVF's grows with n. Queries: IVF (nprobe 16) 0.3-0.7 ms at recall@10 1.0; HNSW 0.3-0.6 ms at
recall@10 0.97 (efSearch 64) to 0.995 (efSearch 128).

A mask (label filter) is passed to FAISS as a bitmap selector; where it leaves fewer than
``EXACT_BELOW`` rows, or FAISS finds fewer than k of them, the exact ``FlatIndex`` answers over
the selected rows instead (that is fast, since they are few).

Above ``COMPRESS_ABOVE_BYTES`` of fp16 codes (2,097,152 rows at d = 512) the codes are 4-bit
product-quantizer codes scanned by FAISS's fast-scan kernels (``IndexIVFPQFastScan``: one
sub-quantizer of 16 centroids per ``PQ_DIMS`` dimensions, residuals from the cell's centre;
128 bytes a vector at d = 512, 1.3 GB at 10M, where fp16 codes would take 10 GB), and each
query's top ``rerank_candidates(k)`` by those codes is re-scored exactly from the memory-mapped
vectors. Fast-scan compares codes by table look-ups in SIMD registers: on 10M clustered 512-d
vectors (1,024 cells, 8 probed, this 2-core Xeon) a query scanned its cells and re-ranked 512
candidates in 4.2 ms (p50) at recall@10 0.984, where 4-bit scalar codes (256 bytes) took
12-15 ms for the scan alone. On 1M of them, 2 dimensions a sub-quantizer re-ranked from 128
candidates gave recall@10 0.993, 4 dimensions (64 bytes) 0.82 and 8 dimensions 0.60. The
k-means cells are capped at ``MAX_COMPRESSED_CELLS``: assigning every row to its cell costs
n x cells dot products, the bulk of a 10M-row build. An index built with 4-bit scalar codes
(before fast-scan) still loads and re-ranks the same way.
"""

from __future__ import annotations

import math
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tagscope._lazy import deferred
from tagscope._mapped import drop_pages, read_rows
from tagscope.domain import ValidationError
from tagscope.index.flat import (
    FlatIndex,
    check_k,
    check_mask,
    check_queries,
    empty_result,
    merge_topk,
)

if TYPE_CHECKING:
    import faiss
else:
    faiss = deferred("faiss")  # loads on the first index build or open, not on import

EXACT_BELOW = 50_000
"""A mask selecting fewer rows than this is searched exactly (a few ms at d = 512)."""

TRAIN_PER_CELL = 64
"""Training rows per k-means cell (FAISS warns below 39)."""

ADD_BATCH = 65536

COMPRESS_ABOVE_BYTES = 2 << 30
"""Vector sets whose fp16 codes would take more memory than this get 4-bit codes and exact
re-ranking (the 8 GB a 10M-item workspace may use, less the catalog, scores and the rest)."""

PQ_DIMS = 2
"""Dimensions per 4-bit sub-quantizer of a compressed index (d / 2 of them: d / 4 bytes). At
10M x 512 (clustered, this 2-core Xeon, load ~3), 1 dimension (256 bytes, as many as 4-bit
scalar codes) gave recall@10 1.0 from 176 candidates in about the same time a query as 2 from
512 (p50 4.5-4.9 ms cached), but took 419 s and 3.9 GB to build where 2 took 190 s and
2.3 GB, and holds 2.6 GB where 2 holds 1.3 GB."""

MAX_COMPRESSED_CELLS = 1024
"""Cells of a compressed index at most (10M rows: ~9,800 a cell, 8 probed)."""

FEW_LEFT_OUT = 64
"""A mask leaving out at most this many rows is applied to the results, not in the scan."""

RERANK_MIN = 512
RERANK_PER_K = 16
"""A compressed index re-scores max(RERANK_MIN, RERANK_PER_K * k) candidates a query exactly,
each a read of its row (asked of the disk all at once where they are not in the page cache:
``read_rows``). On 10M clustered 512-d vectors (item queries, 8 of 1,024 cells, fast-scan
codes of 2 dimensions a sub-quantizer, this 2-core Xeon), 128 candidates gave recall@10 0.88,
256 gave 0.95, 512 gave 0.984 and 1,024 gave 0.994, in p50 2.4, 2.9, 4.2 and 5.9 ms a query
(the rows in the page cache) or 3.4, 5.1, 7.9 and 12.4 ms (the vector file out of it)."""


def n_cells(n: int) -> int:
    """IVF cells for ``n`` rows: about 2 sqrt(n) (1M rows: 2,000 cells of ~500 rows)."""
    return max(1, min(n // TRAIN_PER_CELL, int(2 * math.sqrt(n))))


def default_nprobe(nlist: int) -> int:
    """Cells scanned per query: 2% of them, at least 16 (recall@10 >= 0.99 on clustered data)."""
    return min(nlist, max(16, nlist // 50))


def compressed_nprobe(nlist: int) -> int:
    """Cells a compressed index scans per query: 1/128 of them, at least 8. Its cells are big
    (10M rows: 1,024 of ~9,800); on 10M clustered 512-d vectors, item queries, this 2-core Xeon,
    4-bit scalar codes took 27 ms a query (p50) scanning 20 cells, 12 ms scanning 8; fast-scan
    codes (512 candidates re-ranked) took 5.0 ms at 4 cells, 5.2-5.5 ms at 8 and 7.1 ms at 16
    (load ~2.4), at the same recall: the neighbours of these clustered queries lie in the
    nearest few cells, and 8 leave room for real embeddings, whose clusters are less clear."""
    return min(nlist, max(8, nlist // 128))


def compressed(n: int, d: int) -> bool:
    """Whether an index over ``n`` x ``d`` vectors keeps 4-bit codes (see the module)."""
    return n * d * 2 > COMPRESS_ABOVE_BYTES


def pq_subquantizers(d: int) -> int:
    """Sub-quantizers of a compressed index over ``d`` dimensions: about ``d / PQ_DIMS``, a
    divisor of ``d`` (each takes an equal slice of the dimensions)."""
    return next(m for m in range(max(1, d // PQ_DIMS), 0, -1) if d % m == 0)


def rerank_candidates(k: int) -> int:
    return max(RERANK_MIN, RERANK_PER_K * k)


def _gather(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``vectors[rows]`` (ascending rows) as float32, a slice of rows at a time, dropping the
    pages read as it goes: the rows of a sample spread over the whole file, and each page
    fault maps the pages around it too (10M x 512: 5 GB resident for a 65,536-row sample)."""
    out = np.empty((len(rows), vectors.shape[1]), np.float32)
    step = ADD_BATCH // 8
    for start in range(0, len(rows), step):
        part = rows[start : start + step]
        out[start : start + len(part)] = vectors[part]
        drop_pages(vectors, int(part[0]), int(part[-1]) + 1)
    return out


class FaissIndex:
    """FAISS IVF index over the rows of ``vectors`` (kept for exact fallbacks and embeddings).

    Parameters
    ----------
    index : faiss.IndexIVF
        Built over ``vectors`` in row order (FAISS ids are rows).
    vectors : ndarray of shape (n, d)
        The same vectors, float16 or float32, in memory or memory-mapped.
    nprobe : int, optional
        Cells scanned per query (default: :func:`default_nprobe`).
    exact_below : int, default EXACT_BELOW
        Searches with fewer candidate rows than this (after the mask) are exact.
    """

    def __init__(
        self,
        index: faiss.Index,
        vectors: np.ndarray,
        *,
        nprobe: int | None = None,
        exact_below: int = EXACT_BELOW,
    ) -> None:
        if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
            raise ValidationError(
                f"FAISS index holds {index.ntotal} x {index.d} vectors, not {vectors.shape}"
            )
        self.index = index
        self.vectors = vectors
        self.exact_below = exact_below
        # Lossy codes (4-bit PQ) find candidates; the stored vectors rank them.
        self.reranks = faiss.extract_index_ivf(index).code_size < 2 * index.d
        # Reading the vectors into the page cache (``_mapped.prefetch``), once opened to search.
        self.warming: threading.Thread | None = None
        default = compressed_nprobe if self.reranks else default_nprobe
        self.nprobe = nprobe or default(index.nlist)

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, seed: int = 0, compress: bool | None = None
    ) -> FaissIndex:
        """Train the cells on a sample of rows and add every row, a batch at a time.

        ``compress`` (default: :func:`compressed` of the size) chooses 4-bit fast-scan PQ codes
        over fp16.
        """
        n, d = vectors.shape
        if n == 0:
            raise ValidationError("cannot build a FAISS index over no vectors")
        if compress is None:
            compress = compressed(n, d)
        quantizer = faiss.IndexFlatIP(d)
        if compress:
            nlist = min(n_cells(n), MAX_COMPRESSED_CELLS)
            index = faiss.IndexIVFPQFastScan(
                quantizer, d, nlist, pq_subquantizers(d), 4, faiss.METRIC_INNER_PRODUCT
            )
            index.by_residual = True  # codes of the offset from the cell's centre
            index.pq.cp.seed = seed
        else:
            nlist = n_cells(n)
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
        rng = np.random.default_rng(seed)
        n_train = min(n, nlist * TRAIN_PER_CELL)
        sample = np.sort(rng.choice(n, n_train, replace=False))
        index.cp.seed = seed
        index.train(_gather(vectors, sample))
        if compress:  # a faster encoding of the rows added (10M x 512: 74 s rather than 94 s)
            index.pq.sync_transposed_centroids()
        for start in range(0, n, ADD_BATCH):
            stop = min(start + ADD_BATCH, n)
            index.add(np.asarray(vectors[start:stop], dtype=np.float32))
            drop_pages(vectors, start, stop)
        return cls(index, vectors)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (a temporary name, then a rename)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        faiss.write_index(self.index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], vectors: np.ndarray) -> FaissIndex:
        return cls(faiss.read_index(str(path)), vectors)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def get_embeddings(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` as float32, shape (len(rows), d)."""
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def search(
        self, queries: np.ndarray, k: int, *, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, rows), each (n_queries, k), best first; see ``VectorIndex.search``.

        Approximate: a row outside the scanned cells can be missed.
        """
        n = len(self)
        q = check_queries(queries, self.dim)
        k = check_k(k)
        mask = check_mask(mask, n)
        n_candidates = n if mask is None else int(np.count_nonzero(mask))
        if n_candidates < self.exact_below:
            return FlatIndex(self.vectors).search(q, k, mask=mask)
        params = faiss.SearchParametersIVF()
        params.nprobe = self.nprobe
        n_found = min(rerank_candidates(k), n_candidates) if self.reranks else k
        if mask is not None and n - n_candidates <= FEW_LEFT_OUT:
            # A few rows left out (the query's own item): as many more results, the left-out
            # dropped after; no n-bit selector to build and test in every cell.
            n_found += n - n_candidates
        elif mask is not None:
            bitmap = np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            # Fewer candidates per cell: scan proportionally more cells.
            params.nprobe = min(self.index.nlist, math.ceil(self.nprobe * n / n_candidates))
        scores, rows = self.index.search(q, n_found, params=params)
        rows = rows.astype(np.int64)
        if mask is not None and params.sel is None:
            rows[(rows >= 0) & ~mask[rows.clip(0)]] = -1
        if self.reranks:
            scores, rows = self._rerank(q, rows, k)
        scores = np.where(rows >= 0, scores, -np.inf).astype(np.float32)
        short = (rows < 0).any(axis=1) & (min(k, n_candidates) > (rows >= 0).sum(axis=1))
        if short.any():  # FAISS found fewer than k: answer those queries exactly
            scores[short], rows[short] = FlatIndex(self.vectors).search(q[short], k, mask=mask)
        # Ties ordered by row, as the exact backend does.
        return merge_topk(scores, rows, *empty_result(len(q), 0), k)

    def _rerank(self, q: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of each query's candidate ``rows`` by their stored vectors."""
        out_s, out_r = empty_result(len(q), k)
        for i, cand in enumerate(rows):
            cand = np.sort(cand[cand >= 0])  # ascending rows: ties by row
            exact = read_rows(self.vectors, cand) @ q[i]
            top = np.argsort(-exact, kind="stable")[:k]
            out_s[i, : len(top)], out_r[i, : len(top)] = exact[top], cand[top]
        return out_s, out_r
