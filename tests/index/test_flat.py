"""Exact blocked search against brute force NumPy: masks, ties, k beyond the candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.index.flat import FlatIndex


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(
    x: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by a stable sort of every score: ties by lower row; -inf / -1 beyond candidates."""
    s = q.astype(np.float32) @ np.asarray(x, dtype=np.float32).T
    if mask is not None:
        s[:, ~mask] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(s, order, axis=1)
    rows = np.where(np.isfinite(scores), order, -1)
    pad = k - scores.shape[1]
    if pad > 0:
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
    return scores, rows


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("block_rows", [16, 64, 1000])
@pytest.mark.parametrize("k", [1, 5, 40])
def test_matches_brute_force(dtype: type, block_rows: int, k: int) -> None:
    rng = np.random.default_rng(k + block_rows)
    x = unit(rng, 300, 24).astype(dtype)
    q = unit(rng, 9, 24)
    scores, rows = FlatIndex(x, block_rows=block_rows).search(q, k)
    want_scores, want_rows = brute_force(x, q, k)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-5)
    assert scores.dtype == np.float32 and rows.dtype == np.int64


@pytest.mark.parametrize("share", [0.02, 0.3, 0.9])  # gathered rows, and -inf fills
@pytest.mark.parametrize("block_rows", [16, 1000])
def test_mask_restricts_candidates(share: float, block_rows: int) -> None:
    rng = np.random.default_rng(1)
    x = unit(rng, 500, 16).astype(np.float16)
    q = unit(rng, 4, 16)
    mask = rng.random(500) < share
    scores, rows = FlatIndex(x, block_rows=block_rows).search(q, 20, mask=mask)
    want_scores, want_rows = brute_force(x, q, 20, mask)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    assert mask[rows[rows >= 0]].all()


def test_k_beyond_candidates_pads_with_minus_one() -> None:
    rng = np.random.default_rng(2)
    x = unit(rng, 6, 8)
    mask = np.array([True, False, True, False, False, True])
    scores, rows = FlatIndex(x, block_rows=4).search(x[:2], 10, mask=mask)
    assert rows.shape == scores.shape == (2, 10)
    assert sorted(rows[0][:3]) == [0, 2, 5]
    assert (rows[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    scores, rows = FlatIndex(x).search(x[:1], 10, mask=np.zeros(6, bool))
    assert (rows == -1).all()


def test_ties_keep_the_lowest_rows_whatever_the_blocks() -> None:
    """Discrete vectors (as pHash gives) tie everywhere; the result is a stable sort's."""
    rng = np.random.default_rng(3)
    x = np.where(rng.random((400, 16)) < 0.5, 0.25, -0.25).astype(np.float16)
    x[50:60] = x[7]  # exact duplicates across blocks
    q = x[[7, 100, 399]].astype(np.float32)
    want_scores, want_rows = brute_force(x, q, 25)
    for block_rows in (3, 8, 64, 400):
        scores, rows = FlatIndex(x, block_rows=block_rows).search(q, 25)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_array_equal(scores, want_scores)
    assert list(want_rows[0][:11]) == [7, *range(50, 60)]


def test_many_queries_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    import tagscope.index.flat as flat

    monkeypatch.setattr(flat, "SCORE_BYTES", 4 * 64 * 5)  # 5 queries per chunk of 64 rows
    rng = np.random.default_rng(4)
    x = unit(rng, 200, 8).astype(np.float16)
    q = unit(rng, 23, 8)
    _, rows = FlatIndex(x, block_rows=64).search(q, 3)
    np.testing.assert_array_equal(rows, brute_force(x, q, 3)[1])


def test_memory_mapped_float16_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = unit(rng, 1000, 32).astype(np.float16)
    np.save(tmp_path / "v.npy", x)
    mm = np.load(tmp_path / "v.npy", mmap_mode="r")
    q = unit(rng, 3, 32)
    np.testing.assert_array_equal(
        FlatIndex(mm, block_rows=128).search(q, 7)[1], brute_force(x, q, 7)[1]
    )
    np.testing.assert_array_equal(FlatIndex(mm).get_embeddings([3, 1]), x[[3, 1]])


def test_single_vector_query_and_empty_matrix() -> None:
    x = np.eye(4, dtype=np.float16)
    scores, rows = FlatIndex(x).search(np.array([0.0, 1.0, 0.0, 0.0]), 2)
    assert rows.shape == (1, 2) and rows[0, 0] == 1 and scores[0, 0] == 1.0
    scores, rows = FlatIndex(np.empty((0, 4), np.float16)).search(np.ones(4), 3)
    assert (rows == -1).all()


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_rejects_bad_k(k: object) -> None:
    with pytest.raises(ValidationError):
        FlatIndex(np.eye(3, dtype=np.float16)).search(np.ones((1, 3)), k)  # type: ignore[arg-type]


def test_rejects_bad_queries_and_masks() -> None:
    index = FlatIndex(np.eye(3, dtype=np.float16))
    with pytest.raises(ValidationError, match="dimension 3"):
        index.search(np.ones((1, 4)), 1)
    with pytest.raises(ValidationError, match="mask"):
        index.search(np.ones((1, 3)), 1, mask=np.ones(2, bool))
    with pytest.raises(ValidationError, match="mask"):
        index.search(np.ones((1, 3)), 1, mask=np.ones(3, int))


@pytest.mark.parametrize("share", [None, 0.1, 0.8])
@pytest.mark.parametrize("k", [1, 10, 600])
def test_single_float16_query_matches_brute_force(share: float | None, k: int) -> None:
    """One query over float16 rows takes the float16 candidates + exact re-scoring path."""
    rng = np.random.default_rng(k)
    x = unit(rng, 500, 32)
    x[100:110] = x[3]  # exact ties at the top
    x = x.astype(np.float16)
    mask = None if share is None else rng.random(500) < share
    for q in (x[3].astype(np.float32), unit(rng, 1, 32)[0]):
        scores, rows = FlatIndex(x, block_rows=128).search(q, k, mask=mask)
        want_scores, want_rows = brute_force(x, q[None], k, mask)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def test_single_query_falls_back_to_float32_when_unsure(monkeypatch: pytest.MonkeyPatch) -> None:
    import tagscope.index.flat as flat

    calls = []
    exact_path = FlatIndex._search_blocks

    def spy(self: FlatIndex, *args: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(args)
        return exact_path(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(FlatIndex, "_search_blocks", spy)
    rng = np.random.default_rng(9)
    q = unit(rng, 1, 16)
    ties = np.where(rng.random((300, 16)) < 0.5, 0.25, -0.25).astype(np.float16)
    FlatIndex(ties).search(q, 5)
    assert not calls  # few candidates: the float16 path answered
    monkeypatch.setattr(flat, "MAX_CANDIDATES", 0)
    ties[50:100] = ties[0]  # 51 rows tie at the top: more candidates than 4 k
    _, rows = FlatIndex(ties).search(ties[0].astype(np.float32), 5)
    assert len(calls) == 1
    np.testing.assert_array_equal(rows, [[0, 50, 51, 52, 53]])
    big = (unit(rng, 300, 16) * 40).astype(np.float16)  # far from unit norm: fp16 errors grow
    _, rows = FlatIndex(big).search(q, 5)
    assert len(calls) == 2
    np.testing.assert_array_equal(rows, brute_force(big, q, 5)[1])


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("share", [None, 0.1, 0.8])  # all rows, gathered rows, -inf fills
def test_one_query_is_one_pass_on_both_dtypes(
    monkeypatch: pytest.MonkeyPatch, dtype: type, share: float | None
) -> None:
    """One query over float16 or float32 rows never takes the blocked many-query path."""
    import tagscope.index.flat as flat

    def blocked(*args: object) -> None:
        raise AssertionError("the single query took the blocked path")

    monkeypatch.setattr(FlatIndex, "_search_blocks", blocked)
    monkeypatch.setattr(flat, "ONE_PASS_ROWS", 64)  # several kernel calls, shared among threads
    rng = np.random.default_rng(7)
    x = unit(rng, 1000, 40)
    x[500:505] = x[3]  # exact ties at the top, across kernel calls
    x = x.astype(dtype)
    mask = None if share is None else rng.random(1000) < share
    for q in (x[3].astype(np.float32), unit(rng, 1, 40)[0]):
        scores, rows = FlatIndex(x, block_rows=128).search(q, 10, mask=mask)
        want_scores, want_rows = brute_force(x, q[None], 10, mask)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def test_one_query_without_the_native_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel was not built, torch's pass gives the same answer."""
    import tagscope.index.flat as flat

    monkeypatch.setattr(flat, "_score_kernel", None)
    rng = np.random.default_rng(8)
    x = unit(rng, 700, 24).astype(np.float16)
    q = unit(rng, 1, 24)[0]
    for mask in (None, rng.random(700) < 0.2):
        scores, rows = FlatIndex(x, block_rows=100).search(q, 7, mask=mask)
        want_scores, want_rows = brute_force(x, q[None], 7, mask)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


@pytest.mark.parametrize("n_queries", [1, 3])
def test_a_pass_over_a_memory_mapped_matrix_leaves_it_out_of_memory(
    tmp_path: Path, n_queries: int
) -> None:
    """One exact search reads the whole matrix (10 GB at 10M x 512): the pages it read leave
    the process's resident set as the pass goes, whether one query or a batch."""
    x = np.random.default_rng(0).standard_normal((65_536, 512)).astype(np.float16)  # 64 MiB
    x /= np.linalg.norm(x.astype(np.float32), axis=1, keepdims=True).astype(np.float16)
    np.save(tmp_path / "v.npy", x)
    q = x[:n_queries].astype(np.float32)
    index = FlatIndex(np.load(tmp_path / "v.npy", mmap_mode="r"), block_rows=8192)
    want = FlatIndex(x, block_rows=8192).search(q, 5)  # loads the kernels' libraries first
    before = _rss_file_kib()
    got = index.search(q, 5)
    assert _rss_file_kib() - before < 16 * 1024
    np.testing.assert_array_equal(got[1], want[1])
