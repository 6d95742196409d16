"""N-vs-N search: every row's nearest other row, and the most similar pairs of rows.

Exact, by blocked matrix products over the upper triangle of the (n x n) score matrix only: block
(I, J) with I <= J gives the rows of I their best candidates in J (row maxima) and the rows of J
theirs in I (column maxima), so each product is computed once, half the work of a search of
every row against all. Memory is bounded by one (B x B) score block (256 MB at B = 8,192) plus the
float32 rows (kept whole when they fit in ``CACHE_BYTES``, else converted block by block).

With ``variants`` (other vectors of each row: a pHash's flip and crops), a pair scores the best
of its two vectors' product and each row's variants against the other's vector, so the score
matrix stays symmetric and the upper triangle still holds every pair; blocks are then smaller, so
that the (B x V x B) products of the variants fit the same memory.

Self pairs never count; each pair is counted once (row a < row b). Results are deterministic:
of equal scores the lower row wins (a row's nearest neighbour), and pairs are ordered by score,
then rows.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tagscope._lazy import deferred
from tagscope.domain import ValidationError
from tagscope.index.flat import check_k, check_mask, to_float32

if TYPE_CHECKING:
    import torch
else:
    torch = deferred("torch")  # loads on the first pair scan, not on import

BLOCK_ROWS = 8192
"""Rows per block: the (B x B) float32 score block is 256 MB, and its product (69 GFLOP at
d = 512) dwarfs the per-block reductions (row and column maxima: ~5% of the time, measured on
20,000 x 512) and Python work."""

CACHE_BYTES = 1 << 30
"""Float32 rows up to this size are converted once and kept; larger sets convert per block."""

CANDIDATE_CAP = 1 << 20
"""At most this many pair candidates are listed from one block; beyond, ``torch.topk`` keeps the
best k (equal scores at the k-th place may then be chosen arbitrarily)."""


@dataclass(frozen=True, slots=True)
class PairScan:
    """What a pass over every pair found (rows are rows of the matrix; -1 where none).

    Attributes
    ----------
    nearest_scores, nearest_rows : ndarray of shape (n,)
        Each row's best score with another row and that row (-inf, -1 for rows out of the mask
        or without any other row).
    pair_scores, pair_a, pair_b : ndarray of shape (n_pairs,)
        The best pairs, a < b, best first (empty when no pairs were asked for).
    """

    nearest_scores: np.ndarray
    nearest_rows: np.ndarray
    pair_scores: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray


def scan_pairs(
    vectors: np.ndarray,
    *,
    k_pairs: int | None = None,
    min_score: float | None = None,
    mask: np.ndarray | None = None,
    block_rows: int = BLOCK_ROWS,
    variants: np.ndarray | None = None,
    variant_penalty: float = 0.0,
) -> PairScan:
    """Every row's nearest other row and, with ``k_pairs``, the best pairs at ``min_score`` or more.

    Parameters
    ----------
    vectors : ndarray of shape (n, d), float16 or float32
        Unit vectors, in memory or memory-mapped.
    k_pairs : int, optional
        How many of the best pairs to return (``None``: none, only nearest neighbours).
    min_score : float, optional
        Pairs scoring less are left out.
    mask : ndarray of bool, shape (n,), optional
        Only rows where it is true take part, on both sides of a pair.
    variants : ndarray of shape (n, v, d), optional
        More vectors per row: the score of rows a and b is then the maximum of ``x_a . x_b`` and,
        less ``variant_penalty``, of every ``u_ak . x_b`` and ``x_a . u_bk``. Zero vectors stand
        for variants a row lacks.
    variant_penalty : float, default 0
        Subtracted from the scores of variants: a match through a variant must be closer.
    """
    if vectors.ndim != 2:
        raise ValidationError(f"expected an (n, d) matrix, got shape {vectors.shape}")
    n = vectors.shape[0]
    if k_pairs is not None:
        k_pairs = check_k(k_pairs)
    mask = check_mask(mask, n)
    rows = np.arange(n, dtype=np.int64) if mask is None else np.flatnonzero(mask)
    if variants is not None:
        variants = _check_variants(variants, vectors.shape)
        block_rows = max(1, block_rows // math.isqrt(1 + variants.shape[1]))
    return _Scan(
        vectors, rows, k_pairs or 0, min_score, block_rows, variants, float(variant_penalty)
    ).run()


def _check_variants(variants: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if variants.ndim != 3 or variants.shape[::2] != shape:
        raise ValidationError(
            f"variants must be an (n, v, d) array with (n, d) = {shape}, got {variants.shape}",
            field="variants",
        )
    return variants


def column_argmax(s: np.ndarray, group: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Each column's maximum and its first row, for a C-ordered (n, m) ``s``.

    A plain argmax over axis 0 walks memory across rows (10x the time of the matrix product's
    share here); instead, the maximum of each group of ``group`` rows (a contiguous reduction),
    then the first group holding each column's maximum, then the first row in it.
    """
    n, m = s.shape
    n_groups = n // group
    full = n_groups * group
    cols = np.arange(m)
    if n_groups == 0:
        at = s.argmax(axis=0)
        return s[at, cols], at
    grouped = s[:full].reshape(n_groups, group, m)
    group_max = grouped.max(axis=1)
    g = group_max.argmax(axis=0)
    best = group_max[g, cols]
    at = g * group + (grouped[g, :, cols] == best[:, None]).argmax(axis=1)
    if full < n:  # rows after the last whole group come later: they win only when better
        rest_at = s[full:].argmax(axis=0)
        rest = s[full:][rest_at, cols]
        better = rest > best
        best = np.where(better, rest, best)
        at = np.where(better, rest_at + full, at)
    return best, at


class _Scan:
    def __init__(
        self,
        vectors: np.ndarray,
        rows: np.ndarray,
        k_pairs: int,
        min_score: float | None,
        block_rows: int,
        variants: np.ndarray | None = None,
        variant_penalty: float = 0.0,
    ) -> None:
        self.vectors, self.rows, self.k = vectors, rows, k_pairs
        self.variants, self.penalty = variants, variant_penalty
        self.n_var = 0 if variants is None else variants.shape[1]
        self.min_score = -np.inf if min_score is None else float(min_score)
        self.block = max(1, min(block_rows, len(rows)))
        self.starts = list(range(0, len(rows), self.block))
        m = len(rows)
        self.best = np.full(m, -np.inf, np.float32)
        self.best_at = np.full(m, -1, np.int64)
        self.p_scores = np.empty(0, np.float32)
        self.p_a = np.empty(0, np.int64)
        self.p_b = np.empty(0, np.int64)
        fits = m * (1 + self.n_var) * vectors.shape[1] * 4 <= CACHE_BYTES
        self.cache = [self._convert(s) for s in self.starts] if fits else None
        self.tril = None

    def _convert(self, start: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The block's rows as float32 and, with variants, theirs as (rows * v, d)."""
        stop = min(start + self.block, len(self.rows))
        sel = self.rows[start:stop]
        contiguous = len(sel) and sel[-1] - sel[0] == len(sel) - 1
        rows = slice(sel[0], sel[-1] + 1) if contiguous else sel
        x = self._float32(self.vectors[rows])
        if self.variants is None:
            return x, None
        return x, self._float32(self.variants[rows].reshape(len(sel) * self.n_var, -1))

    @staticmethod
    def _float32(part: np.ndarray) -> torch.Tensor:
        out = torch.empty(part.shape, dtype=torch.float32)
        x = to_float32(part, out)
        return x.clone() if x is not out else x  # float32 memmaps: own the data

    def _rows_block(self, bi: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.cache[bi] if self.cache is not None else self._convert(self.starts[bi])

    def run(self) -> PairScan:
        s_buf = torch.empty(self.block * self.block)
        v_buf = torch.empty(self.block * self.block * self.n_var)
        for bi, i0 in enumerate(self.starts):
            xi, ui = self._rows_block(bi)
            for bj in range(bi, len(self.starts)):
                j0 = self.starts[bj]
                xj, uj = (xi, ui) if bj == bi else self._rows_block(bj)
                s = s_buf[: len(xi) * len(xj)].view(len(xi), len(xj))
                torch.mm(xi, xj.T, out=s)
                if ui is not None and uj is not None:
                    self._add_variants(s, v_buf, xi, ui, xj, uj)
                self._block(s, i0, j0, diagonal=bi == bj)
        return self._result()

    def _add_variants(
        self,
        s: torch.Tensor,
        buf: torch.Tensor,
        xi: torch.Tensor,
        ui: torch.Tensor,
        xj: torch.Tensor,
        uj: torch.Tensor,
    ) -> None:
        """``s`` becomes the best of itself and, less the penalty, each side's variants against
        the other side's vectors."""
        ni, nj, v = len(xi), len(xj), self.n_var
        t = buf[: ni * v * nj].view(ni * v, nj)
        torch.mm(ui, xj.T, out=t)
        torch.maximum(s, t.view(ni, v, nj).amax(dim=1).sub_(self.penalty), out=s)
        t = buf[: ni * nj * v].view(ni, nj * v)
        torch.mm(xi, uj.T, out=t)
        torch.maximum(s, t.view(ni, nj, v).amax(dim=2).sub_(self.penalty), out=s)

    def _update(self, vals: np.ndarray, at: np.ndarray, start: int) -> None:
        """Offer candidates (score, position) to positions start.. in increasing position order:
        strictly better wins, so equal scores keep the lower row."""
        cur = self.best[start : start + len(vals)]
        better = vals > cur
        cur[better] = vals[better]
        self.best_at[start : start + len(vals)][better] = at[better]

    def _block(self, s: torch.Tensor, i0: int, j0: int, *, diagonal: bool) -> None:
        if diagonal:
            s.fill_diagonal_(-torch.inf)
        sn = s.numpy()
        row_at = sn.argmax(axis=1)  # NumPy's SIMD argmax; the first maximum on ties
        row_max = sn[np.arange(len(sn)), row_at]
        self._update(row_max, row_at + j0, i0)
        if not diagonal:
            col_max, col_at = column_argmax(sn)
            self._update(col_max, col_at + i0, j0)
        if self.k == 0:
            return
        floor = self.min_score
        if len(self.p_scores) >= self.k:
            floor = max(floor, float(self.p_scores[-1]))
        top = float(row_max.max())
        if top < floor or top == -np.inf:
            return
        if diagonal:  # each pair once: keep a < b
            if self.tril is None or self.tril.shape != s.shape:
                self.tril = torch.ones(s.shape, dtype=torch.bool).tril_()
            s.masked_fill_(self.tril, -torch.inf)
        self._add_pairs(s, floor, i0, j0)

    def _add_pairs(self, s: torch.Tensor, floor: float, i0: int, j0: int) -> None:
        hit = s >= floor if floor > -np.inf else s > floor  # -inf: self, masked, a >= b
        if int(hit.sum()) <= CANDIDATE_CAP:
            ij = torch.nonzero(hit)
            vals = s[ij[:, 0], ij[:, 1]]
        else:
            vals, flat = torch.topk(s.flatten(), self.k)
            ij = torch.stack([flat // s.shape[1], flat % s.shape[1]], dim=1)
            keep = vals >= floor if floor > -np.inf else vals > floor
            vals, ij = vals[keep], ij[keep]
        a = ij[:, 0].numpy().astype(np.int64) + i0
        b = ij[:, 1].numpy().astype(np.int64) + j0
        scores = np.concatenate([self.p_scores, vals.numpy()])
        a, b = np.concatenate([self.p_a, a]), np.concatenate([self.p_b, b])
        order = np.lexsort((b, a, -scores))[: self.k]
        self.p_scores, self.p_a, self.p_b = scores[order], a[order], b[order]

    def _result(self) -> PairScan:
        n = self.vectors.shape[0]
        nearest_scores = np.full(n, -np.inf, np.float32)
        nearest_rows = np.full(n, -1, np.int64)
        best, at = self.best, self.best_at
        found = at >= 0
        nearest_scores[self.rows[found]] = best[found]
        nearest_rows[self.rows[found]] = self.rows[at[found]]
        return PairScan(
            nearest_scores,
            nearest_rows,
            self.p_scores,
            self.rows[self.p_a],
            self.rows[self.p_b],
        )


def nearest_neighbors(
    vectors: np.ndarray, *, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest other row: (scores, rows), each (n,); -inf and -1 where none."""
    scan = scan_pairs(vectors, mask=mask)
    return scan.nearest_scores, scan.nearest_rows


def top_pairs(
    vectors: np.ndarray,
    k: int,
    *,
    min_score: float | None = None,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` most similar pairs at ``min_score`` or more: (scores, a, b), a < b, best first."""
    scan = scan_pairs(vectors, k_pairs=k, min_score=min_score, mask=mask)
    return scan.pair_scores, scan.pair_a, scan.pair_b


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)

VARIANT_CHUNK = 1 << 16
"""Variant rows looked up at a time by :func:`binary_variant_pairs` (bounds its candidates)."""


def binary_variant_pairs(
    vectors: np.ndarray,
    variants: np.ndarray,
    max_bits: int,
    *,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of rows where a variant of one lies within ``max_bits`` bits of the other's vector,
    for binary vectors (an entry's sign is a bit, as in a pHash space).

    Multi-index hashing: the d bits are cut into ``max_bits + 1`` blocks, and two bit strings at
    most ``max_bits`` apart agree on a whole block, so only rows sharing a block's value are
    compared, not every pair (the dense product of :func:`scan_pairs` with ``variants`` scores
    all of them: 10x the time of this at 10,000 random 64-bit rows with 19 variants, 4 bits).

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
    variants : ndarray of shape (n, v, d)
        All-zero variants are none.
    max_bits : int
        The most bits a variant may differ from the other row.
    mask : ndarray of bool, shape (n,), optional
        Only rows where it is true take part, on both sides.

    Returns
    -------
    a, b, bits : ndarray of shape (n_pairs,)
        Rows a < b, each pair once with its fewest bits, ordered by (a, b).
    """
    variants = _check_variants(variants, vectors.shape)
    mask = check_mask(mask, vectors.shape[0])
    rows = np.arange(vectors.shape[0]) if mask is None else np.flatnonzero(mask)
    empty = np.empty(0, np.int64)
    if max_bits < 0 or len(rows) < 2:
        return empty, empty, empty
    x = np.asarray(vectors[rows]) > 0
    var = np.asarray(variants[rows])
    owner, which = np.nonzero((var != 0).any(axis=2))
    u = var[owner, which] > 0
    bounds = np.linspace(0, x.shape[1], min(max_bits + 1, x.shape[1]) + 1).astype(int)
    found = [
        _block_matches(x, u, owner, lo, hi, max_bits, start)
        for lo, hi in itertools.pairwise(bounds)
        for start in range(0, len(u), VARIANT_CHUNK)
    ]
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    bits = np.concatenate([f[2] for f in found])
    order = np.lexsort((bits, b, a))
    a, b, bits = a[order], b[order], bits[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return rows[a[first]], rows[b[first]], bits[first].astype(np.int64)


def _block_matches(
    x: np.ndarray,
    u: np.ndarray,
    owner: np.ndarray,
    lo: int,
    hi: int,
    max_bits: int,
    start: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs (owner row, row) where variants ``start..`` agree with a row on bits lo..hi
    and differ from it in at most ``max_bits`` bits: (a, b, bits), a < b."""
    u, owner = u[start : start + VARIANT_CHUNK], owner[start : start + VARIANT_CHUNK]
    _, inverse = np.unique(
        np.concatenate([np.packbits(x[:, lo:hi], axis=1), np.packbits(u[:, lo:hi], axis=1)]),
        axis=0,
        return_inverse=True,
    )
    kx, ku = inverse.reshape(-1)[: len(x)], inverse.reshape(-1)[len(x) :]
    by_key = np.argsort(kx, kind="stable")
    first = np.searchsorted(kx[by_key], ku, "left")
    counts = np.searchsorted(kx[by_key], ku, "right") - first
    vi = np.repeat(np.arange(len(u)), counts)
    offsets = np.arange(len(vi)) - np.repeat(np.cumsum(counts) - counts, counts)
    xi = by_key[np.repeat(first, counts) + offsets]
    xor = np.packbits(u[vi], axis=1) ^ np.packbits(x[xi], axis=1)
    bits = _POPCOUNT[xor].sum(axis=1, dtype=np.int64)
    keep = (bits <= max_bits) & (owner[vi] != xi)
    a, b = owner[vi][keep], xi[keep]
    return np.minimum(a, b), np.maximum(a, b), bits[keep]


def best_pairs(
    a: np.ndarray, b: np.ndarray, scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs from several searches as one list: each pair (a < b) once with its best score, the
    ``k`` best as (scores, a, b), ordered as :func:`scan_pairs` orders them."""
    by_pair = np.lexsort((-scores, b, a))
    a, b, scores = a[by_pair], b[by_pair], scores[by_pair]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, scores = a[first], b[first], scores[first]
    order = np.lexsort((b, a, -scores))[:k]
    return scores[order], a[order], b[order]
