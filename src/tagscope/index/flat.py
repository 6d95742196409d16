"""Exact top-k inner-product search by blocked matrix products: the ``flat`` backend.

The matrix may be float16 (as the vector store keeps it) or float32, in memory or memory-mapped.
It is read in blocks of rows; each block is converted to float32 by torch into a reused buffer
(vectorised F16C code, several times faster than NumPy's ``astype`` here) and multiplied with a
chunk of queries in one GEMM (torch's, on every core). A running top-k per query is merged after
each block, so memory stays bounded by the block and score buffers (about 260 MB at the defaults)
whatever the number of rows. One query at a time, the interactive case, takes one float32
matrix-vector pass instead (float16 rows through the native kernel the tags' scoring uses) and
re-scores the few candidates it finds exactly.

Results are deterministic: equal scores are ordered by row, and a tie at the k-th place keeps the
lowest rows, as a stable sort of all scores would.
"""

from __future__ import annotations

import math
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope._env import usable_cpus
from tagscope._lazy import deferred
from tagscope._mapped import drop_pages
from tagscope.domain import ValidationError

try:
    from tagscope.index import _score_kernel
except ImportError:  # not built (no C compiler, another platform): torch serves
    _score_kernel = None

if TYPE_CHECKING:
    import torch
else:
    torch = deferred("torch")  # loads on the first search, not on import

BLOCK_ROWS = 65536
"""Rows per block. Measured on 1,000,000 x 512 float16, 100 queries (bench/bench_search_1vn.py,
2-core EPYC): 4,096-row blocks took 3x as long (thread-pool and top-k overhead per block),
16,384 to 131,072 the same within noise; 65,536 keeps the float32 block at 128 MB for d = 512."""

SCORE_BYTES = 64 << 20
"""Budget of one (query chunk x block) score matrix; queries beyond it are taken in chunks."""

MAX_CANDIDATES = 65536
"""A single query re-scores at most this many candidates exactly (else it takes the blocked
path)."""

ONE_PASS_ROWS = 16384
"""Rows per call of the native kernel in a single query's pass: 16 MiB of float16 at d = 512,
enough blocks to share among the cores even at 100,000 rows."""

GATHER_BELOW = 0.5
"""With a mask selecting less than this share of rows, only those rows are read (gathered);
above it, every row is scored and the others are set to -inf (reading contiguous blocks)."""


def check_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    """``queries`` as a C-contiguous float32 (n_queries, dim) matrix; one vector is one row."""
    q = np.asarray(queries)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise ValidationError(
            f"queries must be vectors of dimension {dim}, got shape {np.shape(queries)}",
            field="queries",
        )
    if not np.issubdtype(q.dtype, np.number):
        raise ValidationError(f"queries must be numbers, got {q.dtype}", field="queries")
    return np.ascontiguousarray(q, dtype=np.float32)


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValidationError(f"k must be a positive integer, got {k!r}", field="k")
    return int(k)


def check_mask(mask: np.ndarray | None, n: int) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != np.bool_ or m.shape != (n,):
        raise ValidationError(
            f"mask must be a boolean array of one entry per row ({n}), got {m.dtype} {m.shape}",
            field="mask",
        )
    return m


def empty_result(n_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) holding only padding: -inf and -1."""
    return np.full((n_queries, k), -np.inf, np.float32), np.full((n_queries, k), -1, np.int64)


def merge_topk(
    scores: np.ndarray, rows: np.ndarray, new_scores: np.ndarray, new_rows: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two (n, *) candidate lists into the best ``k`` per query, ties by lower row.

    Padding entries (row -1, score -inf) sort last.
    """
    s = np.concatenate([scores, new_scores], axis=1)
    r = np.concatenate([rows, new_rows], axis=1)
    tie_key = np.where(r < 0, np.iinfo(np.int64).max, r)  # padding loses every tie
    order = np.lexsort((tie_key, -s), axis=1)[:, :k]
    return np.take_along_axis(s, order, axis=1), np.take_along_axis(r, order, axis=1)


def block_topk(scores: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` columns of each row of ``scores`` (n, m), ties by lower column.

    ``torch.topk`` picks among equal scores arbitrarily. Taking k + 1 shows where that matters:
    rows whose k-th and (k+1)-th scores are equal (rare: exact duplicates, or discrete spaces
    such as perceptual hashes) are redone with a stable sort of the columns at or above the k-th
    score; within the k, ``merge_topk`` orders ties. Columns scored -inf (masked out) come back
    as -1.
    """
    m = scores.shape[1]
    vals, cols = torch.topk(scores, min(k + 1, m), dim=1)
    if k < m:
        kth = vals[:, k - 1]
        crowded = (vals[:, k] == kth) & torch.isfinite(kth)
        for q in torch.nonzero(crowded).flatten().tolist():
            cand = torch.nonzero(scores[q] >= kth[q]).flatten()  # ascending columns
            order = torch.sort(scores[q, cand], descending=True, stable=True).indices[:k]
            vals[q, :k], cols[q, :k] = scores[q, cand[order]], cand[order]
    v, c = vals[:, :k].numpy(), cols[:, :k].numpy().astype(np.int64)
    c[~np.isfinite(v)] = -1
    return v, c


def to_float32(part: np.ndarray, out: torch.Tensor) -> torch.Tensor:
    """``part`` (m, d) as a float32 tensor: shared when it is float32, else converted into
    ``out`` (m, d)."""
    with warnings.catch_warnings():  # read-only memmaps: torch warns, and we never write
        warnings.simplefilter("ignore", UserWarning)
        t = torch.from_numpy(np.ascontiguousarray(part))
    if t.dtype == torch.float32:
        return t
    out.copy_(t)
    return out


def _merge_above(
    t: torch.Tensor, rows: np.ndarray, best_s: np.ndarray, best_r: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Merge into the running top-k the scores of ``t`` (rows x queries) above each query's
    k-th best so far: after the first blocks few are (about k * block / rows seen), so this
    skips a full top-k per block. ``rows`` come after every row merged before, so a score equal
    to the k-th best loses its tie and is rightly left out. ``None`` where it does not apply:
    some query has fewer than k results yet, or the candidates are too many."""
    kth = best_s[:, -1]
    if not np.isfinite(kth).all():
        return None
    tn = t.numpy()
    # NumPy, single-threaded, ran these passes 5x faster than torch's on a busy machine.
    lines = np.flatnonzero((tn > kth).any(axis=1))  # rows of t with a hit for some query
    sub = tn[lines]
    at, query = np.nonzero(sub > kth)
    if len(at) > 4 * k * len(kth):
        return None
    if len(at) == 0:
        return best_s, best_r
    n_q = len(kth)
    q_all = np.concatenate([np.repeat(np.arange(n_q), k), query])
    s_all = np.concatenate([best_s.ravel(), sub[at, query]])
    r_all = np.concatenate([best_r.ravel(), rows[lines[at]]])
    order = np.lexsort((r_all, -s_all, q_all))
    q_sorted = q_all[order]
    rank = np.arange(len(order)) - np.searchsorted(q_sorted, q_sorted)  # rank within its query
    keep = order[rank < k]  # every query has k entries or more: exactly k each, in query order
    return s_all[keep].reshape(n_q, k), r_all[keep].reshape(n_q, k)


class FlatIndex:
    """Exact top-k inner-product search over the rows of ``vectors``.

    Parameters
    ----------
    vectors : ndarray of shape (n, d), float16 or float32
        Unit vectors, in memory or memory-mapped; never copied as a whole.
    block_rows : int, default BLOCK_ROWS
        Rows read and converted per block; memory is about ``block_rows * d * 4`` bytes for the
        block plus twice ``SCORE_BYTES`` for the scores.

    Examples
    --------
    >>> x = np.eye(3, dtype=np.float16)
    >>> FlatIndex(x).search(np.array([[1.0, 0.2, 0.0]]), 2)[1]
    array([[0, 1]])
    """

    def __init__(self, vectors: np.ndarray, *, block_rows: int = BLOCK_ROWS) -> None:
        if vectors.ndim != 2:
            raise ValidationError(f"expected an (n, d) matrix, got shape {vectors.shape}")
        self.vectors = vectors
        self.block_rows = block_rows

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def get_embeddings(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows`` as float32, shape (len(rows), d)."""
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def search(
        self, queries: np.ndarray, k: int, *, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, rows), each (n_queries, k), best first; see ``VectorIndex.search``."""
        n, d = self.vectors.shape
        q = check_queries(queries, d)
        k = check_k(k)
        mask = check_mask(mask, n)
        selected = None  # rows to read, when a sparse mask makes gathering them cheaper
        if mask is not None and mask.sum() < GATHER_BELOW * n:
            selected, mask = np.flatnonzero(mask), None
        n_rows = n if selected is None else len(selected)
        if n_rows == 0 or len(q) == 0:
            return empty_result(len(q), k)
        if len(q) == 1:
            found = self._search_one(q[0], k, mask, selected)
            if found is not None:
                return found
        return self._search_blocks(q, k, mask, selected)

    def _rows(self, start: int, stop: int, selected: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """(row numbers, matrix part) of positions start..stop of the rows searched."""
        if selected is None:
            return np.arange(start, stop, dtype=np.int64), self.vectors[start:stop]
        rows = selected[start:stop]
        return rows, self.vectors[rows]

    def _release(self, start: int, stop: int, selected: np.ndarray | None) -> None:
        """Rows start..stop of a whole-matrix pass are read: their pages of a memory-mapped
        file leave the resident set (a 10M x 512 pass would hold 10 GB). The next pass maps
        them again from the page cache: one query over 1M x 512 took 185-285 ms so and 145-400
        ms without, on the busy 2-core machine (within its noise)."""
        if selected is None:
            drop_pages(self.vectors, start, stop)

    def _search_blocks(
        self, q: np.ndarray, k: int, mask: np.ndarray | None, selected: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Blocks converted to float32, one GEMM per (query chunk, block), running top-k."""
        d = self.dim
        best_s, best_r = empty_result(len(q), k)
        n_rows = len(self) if selected is None else len(selected)
        block = min(self.block_rows, n_rows)
        chunk = min(len(q), max(1, SCORE_BYTES // (4 * block)))
        buf = torch.empty(block * d, dtype=torch.float32)
        sbuf = torch.empty(chunk * block, dtype=torch.float32)
        tbuf = torch.empty(chunk * block, dtype=torch.float32)
        qt = torch.from_numpy(q)
        for start in range(0, n_rows, block):
            stop = min(start + block, n_rows)
            m = stop - start
            rows, part = self._rows(start, stop, selected)
            x = to_float32(part, buf[: m * d].view(m, d))
            self._release(start, stop, selected)
            drop = None if mask is None else torch.from_numpy(~mask[start:stop])
            for q0 in range(0, len(q), chunk):
                q1 = min(q0 + chunk, len(q))
                # (rows x queries): MKL's GEMM ran 14% faster this way round than (queries x
                # rows) on 1M x 512, 100 queries (median of 5 interleaved runs).
                t = tbuf[: (q1 - q0) * m].view(m, q1 - q0)
                torch.mm(x, qt[q0:q1].T, out=t)
                if drop is not None:
                    t.masked_fill_(drop[:, None], -torch.inf)
                best = (best_s[q0:q1], best_r[q0:q1])
                merged = _merge_above(t, rows, *best, k)
                if merged is None:  # a query's top-k not full yet, or a crowd of candidates
                    s = sbuf[: (q1 - q0) * m].view(q1 - q0, m)
                    s.copy_(t.T)
                    v, c = block_topk(s, k)
                    r = np.where(c >= 0, rows[np.maximum(c, 0)], -1)
                    merged = merge_topk(*best, v, r, k)
                best_s[q0:q1], best_r[q0:q1] = merged
        return best_s, best_r

    def _search_one(
        self, q: np.ndarray, k: int, mask: np.ndarray | None, selected: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """One query: one matrix-vector pass in float32 (``_one_pass``) picks the candidates,
        float64 re-scores them exactly.

        Every row of the exact top-k scores at least (k-th pass score - 2 ``pass_error``) in
        the pass, so those rows are the candidates. Returns ``None`` (use the blocked path)
        when the candidates are too many (masses of ties) or the pass's scores stray further
        than ``pass_error`` from the exact ones (rows far from unit norm).
        """
        norm = float(np.linalg.norm(q))
        if not math.isfinite(norm) or norm == 0.0:
            return None
        n_rows = len(self) if selected is None else len(selected)
        scores = self._one_pass(q / norm, selected, n_rows)
        if mask is not None:
            scores[~mask] = -np.inf
        # NumPy, one thread: torch's multi-threaded nonzero took 30+ ms of a 60 ms query on a
        # busy 2-core machine.
        kth = float(np.partition(scores, n_rows - min(k, n_rows))[n_rows - min(k, n_rows)])
        error = pass_error(self.dim)
        floor = kth - 2 * error if math.isfinite(kth) else -math.inf
        positions = np.flatnonzero(scores >= floor if math.isfinite(floor) else scores > floor)
        if len(positions) > max(MAX_CANDIDATES, 4 * k):
            return None
        rows = positions if selected is None else selected[positions]
        # In float64, then rounded: equal rows get equal scores wherever they sit (a float32
        # product may round a row differently in a kernel's tail), so ties stay ties.
        exact64 = np.asarray(self.vectors[rows], dtype=np.float64) @ q.astype(np.float64)
        exact = exact64.astype(np.float32)
        if len(rows) and float(np.abs(scores[positions] * norm - exact).max()) > error * norm:
            return None
        v, c = block_topk(
            torch.from_numpy(exact)[None, :], k
        )  # candidates in row order: ties by lower row
        r = np.where(c >= 0, rows[np.maximum(c, 0)], -1)
        return merge_topk(*empty_result(1, k), v, r, k)

    def _one_pass(self, q: np.ndarray, selected: np.ndarray | None, n_rows: int) -> np.ndarray:
        """float32 scores ``x . q`` of the rows searched, reading each row once.

        float16 rows: the native kernel (``_score_kernel``, the tags' scoring kernel with q as
        the one tag: F16C conversion fused with the product), one share of blocks per core.
        torch's float16 ``mv`` took 2x as long as float32 rows here (200,000 x 512) and 6x the
        time to read the matrix; the kernel reads it at about that speed. float32 rows: NumPy's
        matrix-vector product by blocks; float16 rows without the kernel: torch converts each
        block and runs MKL's ``mv``.
        """
        out = np.empty(n_rows, np.float32)
        qt = torch.from_numpy(np.ascontiguousarray(q, dtype=np.float32))
        if self.vectors.dtype == np.float16 and _native_ok():
            w, zero = qt.numpy()[None, :], np.zeros(1, np.float32)

            def score(start: int) -> None:
                stop = min(start + ONE_PASS_ROWS, n_rows)
                part = np.ascontiguousarray(self._rows(start, stop, selected)[1])
                _score_kernel.logits_f16(part, w, zero, out[start:stop], self.dim, False)
                self._release(start, stop, selected)

            starts = range(0, n_rows, ONE_PASS_ROWS)
            if len(starts) == 1:
                score(0)
            else:
                list(_pool().map(score, starts))
            return out
        buf = torch.empty(min(self.block_rows, n_rows) * self.dim, dtype=torch.float32)
        out_t = torch.from_numpy(out)
        for start in range(0, n_rows, self.block_rows):
            stop = min(start + self.block_rows, n_rows)
            _, part = self._rows(start, stop, selected)
            if part.dtype == np.float32:  # NumPy's BLAS ran this 20-30% faster than torch's mv
                np.matmul(part, q, out=out[start:stop])
                continue
            x = to_float32(part, buf[: (stop - start) * self.dim].view(stop - start, self.dim))
            torch.mv(x, qt, out=out_t[start:stop])
            self._release(start, stop, selected)
        return out


def pass_error(dim: int) -> float:
    """Bound on |pass score - exact score| for a unit query and unit rows of ``dim``: float32
    accumulation of ``dim`` products (dim * 2^-24), doubled for rows a little off unit norm
    (float16 rounding)."""
    return dim * 2.0**-23


def _native_ok() -> bool:
    return _score_kernel is not None and bool(_score_kernel.supported())


_pools: list[ThreadPoolExecutor] = []
_pools_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The process's pool of one-pass threads, one per CPU, created on first use."""
    with _pools_lock:
        if not _pools:
            _pools.append(ThreadPoolExecutor(usable_cpus(), thread_name_prefix="tagscope-flat"))
        return _pools[0]
