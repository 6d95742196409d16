"""N-vs-N over the upper triangle against brute force: nearest neighbours and top pairs."""

from __future__ import annotations

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.index.pairs import (
    best_pairs,
    binary_variant_pairs,
    column_argmax,
    nearest_neighbors,
    scan_pairs,
    top_pairs,
)


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_scores(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    if mask is not None:
        s[~mask] = -np.inf
        s[:, ~mask] = -np.inf
    return s


def brute_nearest(x: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    s = brute_scores(x, mask)
    rows = s.argmax(axis=1)  # first maximum: the lower row on ties
    best = s.max(axis=1)
    return best, np.where(np.isfinite(best), rows, -1)


def brute_pairs(
    x: np.ndarray, k: int, min_score: float, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = brute_scores(x, mask)
    a, b = np.triu_indices(len(x), 1)
    v = s[a, b]
    keep = v >= min_score
    a, b, v = a[keep], b[keep], v[keep]
    order = np.lexsort((b, a, -v))[:k]
    return v[order], a[order], b[order]


@pytest.mark.parametrize("block_rows", [16, 100, 1000])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_nearest_neighbors_match_brute_force(block_rows: int, dtype: type) -> None:
    rng = np.random.default_rng(block_rows)
    x = unit(rng, 230, 12).astype(dtype)
    scan = scan_pairs(x, block_rows=block_rows)
    want_scores, want_rows = brute_nearest(x)
    np.testing.assert_array_equal(scan.nearest_rows, want_rows)
    np.testing.assert_allclose(scan.nearest_scores, want_scores, atol=1e-5)
    assert (scan.nearest_rows != np.arange(230)).all()  # never itself


@pytest.mark.parametrize("block_rows", [9, 33, 1000])
@pytest.mark.parametrize("share", [0.2, 0.8])
def test_ties_and_masks(block_rows: int, share: float) -> None:
    """Discrete vectors (pHash-like) with duplicates: the lowest row wins every tie."""
    rng = np.random.default_rng(7)
    x = np.where(rng.random((150, 16)) < 0.5, 0.25, -0.25).astype(np.float16)
    x[100:104] = x[3]
    x[140] = x[20]
    mask = rng.random(150) < share
    mask[[3, 101, 102]] = True
    scan = scan_pairs(x, k_pairs=30, min_score=0.0, mask=mask, block_rows=block_rows)
    want_scores, want_rows = brute_nearest(x, mask)
    np.testing.assert_array_equal(scan.nearest_rows, want_rows)
    np.testing.assert_array_equal(scan.nearest_scores[mask], want_scores[mask])
    assert (scan.nearest_rows[~mask] == -1).all()
    v, a, b = brute_pairs(x, 30, 0.0, mask)
    np.testing.assert_array_equal(scan.pair_a, a)
    np.testing.assert_array_equal(scan.pair_b, b)
    np.testing.assert_array_equal(scan.pair_scores, v)
    assert scan.nearest_rows[101] == 3


@pytest.mark.parametrize("block_rows", [13, 50, 1000])
@pytest.mark.parametrize("k", [1, 10, 10_000])
def test_top_pairs_each_once_above_min_score(block_rows: int, k: int) -> None:
    rng = np.random.default_rng(k)
    x = unit(rng, 120, 6)
    scores, a, b = (
        scan_pairs(x, k_pairs=k, min_score=0.5, block_rows=block_rows).pair_scores,
        *(top_pairs(x, k, min_score=0.5)[1:]),
    )
    v, wa, wb = brute_pairs(x, k, 0.5)
    np.testing.assert_array_equal(a, wa)
    np.testing.assert_array_equal(b, wb)
    np.testing.assert_allclose(scores, v, atol=1e-6)
    assert (a < b).all() and (scores >= 0.5).all()
    assert len({(i, j) for i, j in zip(a, b, strict=True)}) == len(a)


def test_top_pairs_without_min_score_and_candidate_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import tagscope.index.pairs as pairs

    monkeypatch.setattr(pairs, "CANDIDATE_CAP", 10)  # force the top-k path in each block
    rng = np.random.default_rng(11)
    x = unit(rng, 90, 8)
    got = scan_pairs(x, k_pairs=25, block_rows=32)
    v, a, b = brute_pairs(x, 25, -np.inf)
    np.testing.assert_array_equal(got.pair_a, a)
    np.testing.assert_array_equal(got.pair_b, b)
    np.testing.assert_allclose(got.pair_scores, v, atol=1e-6)


def test_blocks_converted_on_demand_when_over_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    import tagscope.index.pairs as pairs

    monkeypatch.setattr(pairs, "CACHE_BYTES", 0)
    rng = np.random.default_rng(12)
    x = unit(rng, 100, 8).astype(np.float16)
    np.testing.assert_array_equal(
        nearest_neighbors(x)[1], scan_pairs(x, block_rows=16).nearest_rows
    )
    np.testing.assert_array_equal(scan_pairs(x, block_rows=16).nearest_rows, brute_nearest(x)[1])


def brute_variant_scores(
    x: np.ndarray, u: np.ndarray, penalty: float, mask: np.ndarray | None
) -> np.ndarray:
    """Pair scores with variants: the best of x_a . x_b and, less the penalty, u_ak . x_b and
    x_a . u_bk."""
    s = brute_scores(x, mask)
    via = np.einsum("akd,bd->abk", u.astype(np.float32), x.astype(np.float32)).max(-1) - penalty
    best = np.maximum(s, np.maximum(via, via.T))
    return np.where(np.isfinite(s), best, -np.inf)


@pytest.mark.parametrize("block_rows", [10, 47, 1000])
@pytest.mark.parametrize("use_mask", [False, True])
def test_variants_score_the_best_of_each_side(block_rows: int, use_mask: bool) -> None:
    """pHash-like vectors where some rows are another row's variant (a flip or crop of it): the
    pair is found through the variant, scored less the penalty, from either side."""
    rng = np.random.default_rng(block_rows)
    n, v, d = 130, 3, 16
    x = np.where(rng.random((n, d)) < 0.5, 0.25, -0.25).astype(np.float16)
    u = np.where(rng.random((n, v, d)) < 0.5, 0.25, -0.25).astype(np.float16)
    u[5, 1] = x[90]  # row 90 is a variant of row 5: only the variant side sees it
    u[120, 2] = x[7]  # and a lower row seen from the higher one
    u[40] = 0  # a row without variants
    mask = rng.random(n) < 0.7 if use_mask else None
    if mask is not None:
        mask[[5, 7, 40, 90, 120]] = True
    scan = scan_pairs(
        x,
        k_pairs=40,
        min_score=0.0,
        mask=mask,
        block_rows=block_rows,
        variants=u,
        variant_penalty=0.125,
    )
    s = brute_variant_scores(x, u, 0.125, mask)
    a, b = np.triu_indices(n, 1)
    keep = s[a, b] >= 0.0
    a, b, sc = a[keep], b[keep], s[a, b][keep]
    order = np.lexsort((b, a, -sc))[:40]
    np.testing.assert_array_equal(scan.pair_a, a[order])
    np.testing.assert_array_equal(scan.pair_b, b[order])
    np.testing.assert_array_equal(scan.pair_scores, sc[order])
    assert {(5, 90), (7, 120)} <= set(zip(scan.pair_a.tolist(), scan.pair_b.tolist(), strict=True))
    assert scan.pair_scores[0] == 1 - 0.125  # the planted variants, less the penalty
    want = np.where(np.isfinite(s.max(1)), s.argmax(1), -1)
    np.testing.assert_array_equal(scan.nearest_rows, want)
    assert scan.nearest_rows[90] == 5 and scan.nearest_rows[7] == 120


def test_without_variants_a_variant_match_is_missed() -> None:
    """What the variants add: the same rows without them do not pair."""
    rng = np.random.default_rng(3)
    x = np.where(rng.random((50, 64)) < 0.5, 0.125, -0.125).astype(np.float16)
    u = np.zeros((50, 2, 64), np.float16)
    u[3, 0] = x[30]
    assert len(scan_pairs(x, k_pairs=5, min_score=0.75).pair_a) == 0
    with_variants = scan_pairs(x, k_pairs=5, min_score=0.75, variants=u, variant_penalty=0.125)
    assert with_variants.pair_a.tolist() == [3] and with_variants.pair_b.tolist() == [30]


@pytest.mark.parametrize("max_bits", [0, 2, 4, 6])
def test_binary_variant_pairs_match_the_dense_scan(
    monkeypatch: pytest.MonkeyPatch, max_bits: int
) -> None:
    """Multi-index hashing finds exactly the pairs the dense scan scores through a variant."""
    import tagscope.index.pairs as pairs

    monkeypatch.setattr(pairs, "VARIANT_CHUNK", 64)  # several chunks of variants
    rng = np.random.default_rng(max_bits)
    n, v, d = 200, 4, 64
    x = np.where(rng.random((n, d)) < 0.5, 0.125, -0.125).astype(np.float16)
    u = np.where(rng.random((n, v, d)) < 0.5, 0.125, -0.125).astype(np.float16)
    for i in range(0, 120, 3):  # variants a few bits from another row, from either side
        near = x[(7 * i + 1) % n].copy()
        near[rng.choice(d, rng.integers(0, 8), replace=False)] *= -1
        u[i, i % v] = near
    u[9] = 0  # a row without variants
    mask = rng.random(n) < 0.8
    a, b, bits = binary_variant_pairs(x, u, max_bits, mask=mask)
    penalty = 0.125
    # The fewest bits between a row's variant and the other row, from either side.
    diff = ((u[:, :, None, :] > 0) != (x[None, None, :, :] > 0)).sum(-1)
    via = np.where((u != 0).any(axis=2)[:, :, None], diff, 99).min(axis=1)
    via = np.minimum(via, via.T)
    via[~mask] = via[:, ~mask] = 99
    ia, ib = np.triu_indices(n, 1)
    want = via[ia, ib] <= max_bits
    assert len(a) > 0
    np.testing.assert_array_equal(a, ia[want])
    np.testing.assert_array_equal(b, ib[want])
    np.testing.assert_array_equal(bits, via[ia, ib][want])
    # With the plain scan's pairs, the same list as the dense scan's at that threshold.
    min_score = 1 - penalty - max_bits / 32
    dense = scan_pairs(
        x, k_pairs=500, min_score=min_score, mask=mask, variants=u, variant_penalty=penalty
    )
    direct = scan_pairs(x, k_pairs=500, min_score=min_score, mask=mask)
    merged = best_pairs(
        np.concatenate([direct.pair_a, a]),
        np.concatenate([direct.pair_b, b]),
        np.concatenate([direct.pair_scores, (1 - bits / 32 - penalty).astype(np.float32)]),
        500,
    )
    np.testing.assert_array_equal(merged[0], dense.pair_scores)
    np.testing.assert_array_equal(merged[1], dense.pair_a)
    np.testing.assert_array_equal(merged[2], dense.pair_b)


def test_degenerate_sizes() -> None:
    for n in (0, 1):
        scan = scan_pairs(np.ones((n, 4), np.float16), k_pairs=5)
        assert len(scan.pair_a) == 0 and (scan.nearest_rows == -1).all()
    scan = scan_pairs(np.eye(2, dtype=np.float16), k_pairs=5)
    assert list(scan.nearest_rows) == [1, 0] and list(scan.pair_a) == [0]


def test_rejects_bad_input() -> None:
    with pytest.raises(ValidationError):
        scan_pairs(np.ones((3, 2)), k_pairs=0)
    with pytest.raises(ValidationError):
        scan_pairs(np.ones((3, 2)), mask=np.ones(2, bool))
    with pytest.raises(ValidationError):
        top_pairs(np.ones(3), 1)
    with pytest.raises(ValidationError, match="variants must be an"):
        scan_pairs(np.ones((3, 2)), variants=np.ones((3, 2)))
    with pytest.raises(ValidationError, match="variants must be an"):
        scan_pairs(np.ones((3, 2)), variants=np.ones((3, 4, 5)))


@pytest.mark.parametrize("shape", [(10, 7), (64, 9), (200, 50), (257, 3)])
def test_column_argmax_is_the_first_maximum(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    s = rng.integers(0, 4, shape).astype(np.float32)  # many ties
    s[:, 0] = -np.inf
    best, at = column_argmax(s, group=16)
    np.testing.assert_array_equal(at, s.argmax(axis=0))
    np.testing.assert_array_equal(best, s.max(axis=0))
