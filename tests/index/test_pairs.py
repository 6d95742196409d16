"""N-vs-N over the upper triangle against brute force: nearest neighbours and top pairs."""

from __future__ import annotations

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.index.pairs import column_argmax, nearest_neighbors, scan_pairs, top_pairs


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


@pytest.mark.parametrize("shape", [(10, 7), (64, 9), (200, 50), (257, 3)])
def test_column_argmax_is_the_first_maximum(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    s = rng.integers(0, 4, shape).astype(np.float32)  # many ties
    s[:, 0] = -np.inf
    best, at = column_argmax(s, group=16)
    np.testing.assert_array_equal(at, s.argmax(axis=0))
    np.testing.assert_array_equal(best, s.max(axis=0))
