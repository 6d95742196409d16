"""The FAISS backend: recall against exact search, masks, the on-disk cache and its rebuilds."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import faiss
import numpy as np
import pytest

from tagscope._mapped import cached_share
from tagscope.index import faiss_index, select
from tagscope.index.faiss_index import FaissIndex
from tagscope.index.flat import FlatIndex
from tagscope.index.select import open_index
from tagscope.store import VectorStore


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 200 centres: every query has a real neighbourhood."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, d)).astype(np.float32)
    x = centres[rng.integers(0, 200, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def recall(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(w)) / len(w) for g, w in zip(got, want, strict=True)]))


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, FaissIndex]:
    x = clustered(20_000, 32)
    rng = np.random.default_rng(1)
    q = np.asarray(x[rng.choice(len(x), 50, replace=False)], np.float32)
    q += 0.1 * rng.standard_normal(q.shape).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    index = FaissIndex.build(x)
    index.exact_below = 100  # let FAISS answer every search of these tests
    return x, q, index


def test_recall_at_10_against_exact_search(data: tuple[np.ndarray, np.ndarray, FaissIndex]) -> None:
    x, q, index = data
    scores, rows = index.search(q, 10)
    want_scores, want_rows = FlatIndex(x).search(q, 10)
    assert recall(rows, want_rows) >= 0.95
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    np.testing.assert_allclose(scores[:, 0], want_scores[:, 0], atol=1e-3)
    assert index.index.nlist > 1


def test_mask_is_respected(data: tuple[np.ndarray, np.ndarray, FaissIndex]) -> None:
    x, q, index = data
    mask = np.random.default_rng(2).random(len(x)) < 0.3
    _, rows = index.search(q, 10, mask=mask)
    assert (rows >= 0).all() and mask[rows].all()
    assert recall(rows, FlatIndex(x).search(q, 10, mask=mask)[1]) >= 0.9


def test_small_masks_are_searched_exactly(data: tuple[np.ndarray, np.ndarray, FaissIndex]) -> None:
    x, q, index = data
    mask = np.zeros(len(x), bool)
    mask[::400] = True  # 50 rows: below exact_below
    got = index.search(q, 60, mask=mask)
    want = FlatIndex(x).search(q, 60, mask=mask)
    np.testing.assert_array_equal(got[1], want[1])
    assert (got[1][:, 50:] == -1).all()


def test_save_and_load(tmp_path: Path, data: tuple[np.ndarray, np.ndarray, FaissIndex]) -> None:
    x, q, index = data
    index.save(tmp_path / "ivf.faiss")
    again = FaissIndex.load(tmp_path / "ivf.faiss", x)
    again.exact_below = index.exact_below
    np.testing.assert_array_equal(again.search(q, 5)[1], index.search(q, 5)[1])
    assert not list(tmp_path.glob(".*tmp"))


@pytest.fixture(scope="module")
def compressed_data(data: tuple[np.ndarray, np.ndarray, FaissIndex]) -> FaissIndex:
    index = FaissIndex.build(data[0], compress=True)
    index.exact_below = 100
    return index


def test_compressed_index_keeps_4_bit_fast_scan_pq_codes_and_ranks_by_the_stored_vectors(
    data: tuple[np.ndarray, np.ndarray, FaissIndex], compressed_data: FaissIndex
) -> None:
    x, q, fp16 = data
    index = compressed_data
    assert index.reranks and not fp16.reranks
    assert isinstance(index.index, faiss.IndexIVFPQFastScan) and index.index.by_residual
    assert (index.index.pq.M, index.index.pq.nbits) == (x.shape[1] // 2, 4)
    assert index.index.code_size * 8 == fp16.index.code_size == 2 * x.shape[1]
    scores, rows = index.search(q, 10)
    want_scores, want_rows = FlatIndex(x).search(q, 10)
    assert recall(rows, want_rows) >= 0.95
    # Scores are the stored vectors' exact ones, not the codes' estimates.
    exact = np.einsum("qkd,qd->qk", x[rows].astype(np.float32), q)
    np.testing.assert_allclose(scores, exact, atol=1e-6)
    np.testing.assert_allclose(scores[:, 0], want_scores[:, 0], atol=1e-6)


def test_compressed_index_with_a_mask_and_after_a_reload(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray, FaissIndex], compressed_data: FaissIndex
) -> None:
    x, q, _ = data
    mask = np.random.default_rng(2).random(len(x)) < 0.3
    _, rows = compressed_data.search(q, 10, mask=mask)
    assert (rows >= 0).all() and mask[rows].all()
    assert recall(rows, FlatIndex(x).search(q, 10, mask=mask)[1]) >= 0.9
    compressed_data.save(tmp_path / "ivf.faiss")
    again = FaissIndex.load(tmp_path / "ivf.faiss", x)
    again.exact_below = 100
    assert again.reranks
    np.testing.assert_array_equal(again.search(q, 5)[1], compressed_data.search(q, 5)[1])


@pytest.mark.parametrize(("d", "m"), [(512, 256), (32, 16), (6, 3), (7, 1), (1, 1)])
def test_pq_sub_quantizers_divide_the_dimensions(d: int, m: int) -> None:
    assert faiss_index.pq_subquantizers(d) == m


@pytest.mark.parametrize("compress", [False, True])
def test_a_mask_leaving_out_a_few_rows_is_applied_to_the_results(
    data: tuple[np.ndarray, np.ndarray, FaissIndex], compressed_data: FaissIndex, compress: bool
) -> None:
    """ "More like this item": every row but the item's own, which FAISS would find first."""
    x, _, fp16 = data
    index = compressed_data if compress else fp16
    own = np.array([5, 500, 5000])
    mask = np.ones(len(x), bool)
    mask[own] = False
    q = x[own].astype(np.float32)
    _, rows = index.search(q, 10, mask=mask)
    assert (rows >= 0).all() and mask[rows].all()
    assert recall(rows, FlatIndex(x).search(q, 10, mask=mask)[1]) >= 0.95


def test_large_vector_sets_get_compressed_codes_and_capped_cells(
    data: tuple[np.ndarray, np.ndarray, FaissIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    x = data[0]
    assert not faiss_index.compressed(len(x), x.shape[1])  # 20,000 x 32: fp16 codes, as before
    assert faiss_index.compressed(10_000_000, 512)  # 10 GB of fp16 codes: over the budget
    monkeypatch.setattr(faiss_index, "COMPRESS_ABOVE_BYTES", x.nbytes - 1)
    monkeypatch.setattr(faiss_index, "MAX_COMPRESSED_CELLS", 16)
    index = FaissIndex.build(x)
    assert index.reranks and index.index.nlist == 16
    assert index.nprobe == 8 and faiss_index.compressed_nprobe(1024) == 8  # big cells: fewer
    assert data[2].nprobe == faiss_index.default_nprobe(data[2].index.nlist)  # fp16: as before


def test_open_index_chooses_by_size_caches_and_rebuilds(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "space")
    x = clustered(3_000, 16, seed=3)
    store.append(np.arange(1, 3_001), x)
    _, vectors = store.load()
    assert isinstance(open_index(vectors, exact_max_rows=3_000), FlatIndex)

    index = open_index(vectors, exact_max_rows=2_000)
    assert isinstance(index, FaissIndex)
    cached = list(store.folder.glob("ivf-*.faiss"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert open_index(vectors, exact_max_rows=2_000) is index  # loaded once per process
    assert cached[0].stat().st_mtime_ns == stamp  # not rebuilt

    store.append(np.array([5_000]), clustered(1, 16, seed=4))  # the vectors change
    _, vectors = store.load()
    rebuilt = open_index(vectors, exact_max_rows=2_000)
    assert isinstance(rebuilt, FaissIndex) and len(rebuilt) == 3_001
    now = list(store.folder.glob("ivf-*.faiss"))
    assert len(now) == 1 and now[0] != cached[0]
    row = int(np.searchsorted(store.load()[0], 5_000))
    assert rebuilt.search(vectors[row].astype(np.float32), 1)[1][0, 0] == row


def test_a_compressed_index_once_open_reads_its_vectors_back_into_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its candidates are re-ranked from rows all over the vectors file: opened from its cache
    in a process that finds the file out of the page cache (a restart), it reads the file back
    in the background."""
    monkeypatch.setattr(faiss_index, "COMPRESS_ABOVE_BYTES", 0)
    store = VectorStore(tmp_path / "space")
    store.append(np.arange(1, 20_001), clustered(20_000, 32, seed=5))
    _, vectors = store.load()
    assert open_index(vectors, exact_max_rows=2_000).reranks  # built and cached
    monkeypatch.setattr(select, "_LOADED", OrderedDict())  # a new process
    fd = os.open(vectors.filename, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    assert cached_share(vectors) < 0.5
    index = open_index(vectors, exact_max_rows=2_000)
    assert index.warming is not None
    index.warming.join(timeout=60)
    assert cached_share(vectors) == 1.0
    q = np.asarray(vectors[:5], np.float32)
    assert (index.search(q, 1)[1][:, 0] == np.arange(5)).all()


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


def test_a_build_leaves_the_memory_mapped_vectors_out_of_memory(tmp_path: Path) -> None:
    """Adding 10M x 512 float16 rows reads 10 GB of the vector file: the pages read leave the
    process's resident set batch by batch (the index itself is what stays)."""
    np.save(tmp_path / "v.npy", clustered(65_536, 512, seed=5))  # 64 MiB
    vectors = np.load(tmp_path / "v.npy", mmap_mode="r")
    FaissIndex.build(clustered(2_000, 512, seed=6), compress=True)  # FAISS's libraries loaded
    before = _rss_file_kib()
    index = FaissIndex.build(vectors, compress=True)
    assert _rss_file_kib() - before < 16 * 1024
    assert len(index) == len(vectors)
