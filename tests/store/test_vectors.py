"""Vector files: chunked, atomic appends and compaction."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.store import VectorStore
from tagscope.store import vectors as vectors_module


def test_append_load_and_last_write_wins(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v")
    rng = np.random.default_rng(0)
    first = rng.standard_normal((3, 8)).astype(np.float32)
    store.append(np.array([30, 10, 20]), first)
    store.append(np.array([20]), np.ones((1, 8), np.float32))
    assert list(store.ids()) == [10, 20, 30]
    ids, vectors = store.load()
    assert list(ids) == [10, 20, 30]
    assert vectors.dtype == np.float16
    np.testing.assert_allclose(vectors[0], first[1], rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(vectors[1], np.ones(8))
    np.testing.assert_allclose(vectors[2], first[0], rtol=1e-3, atol=1e-3)
    assert isinstance(vectors, np.memmap)
    assert not list((tmp_path / "v").glob("chunk-*"))  # compacted


def test_unfinished_chunk_is_ignored(tmp_path: Path) -> None:
    """A run killed between the vector file and the ids file leaves no half chunk behind."""
    store = VectorStore(tmp_path / "v")
    store.append(np.array([1]), np.ones((1, 4)))
    np.save(tmp_path / "v" / "chunk-99999999999999999999-dead.vec.npy", np.zeros((5, 4)))
    assert list(store.ids()) == [1]
    assert len(store.load()[0]) == 1


def test_rejects_bad_shapes(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v")
    store.append(np.array([1]), np.ones((1, 4)))
    with pytest.raises(ValidationError, match="dimension 5, this space holds 4"):
        store.append(np.array([2]), np.ones((1, 5)))
    with pytest.raises(ValidationError, match="expected 2 vectors"):
        store.append(np.array([2, 3]), np.ones((1, 4)))


def test_remove(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "v")
    store.append(np.arange(5), np.eye(5))
    store.remove(np.array([1, 3]))
    ids, vectors = store.load()
    assert list(ids) == [0, 2, 4]
    np.testing.assert_array_equal(vectors, np.eye(5)[[0, 2, 4]])


def test_compaction_writes_a_block_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """Chunks and the main matrix are merged block by block (last vector per id wins): the
    memory used stays near one block, never the whole matrix (10 GB at 10M x 512)."""
    monkeypatch.setattr(vectors_module, "WRITE_ROWS", 1000)
    store = VectorStore(tmp_path / "v", dtype="float32")
    rng = np.random.default_rng(0)
    want = {}
    for start in range(0, 20_000, 5_000):  # four chunks, then a main matrix and two more
        x = rng.standard_normal((5_000, 256)).astype(np.float32)
        store.append(np.arange(start, start + 5_000), x)
        want.update(zip(range(start, start + 5_000), x, strict=True))
    store.load()
    again = rng.standard_normal((3_000, 256)).astype(np.float32)
    store.append(np.arange(1_000, 4_000), again)  # replaces some, in the middle
    store.append(np.arange(20_000, 21_000), again[:1_000])  # adds some at the end
    want.update(zip(range(1_000, 4_000), again, strict=True))
    want.update(zip(range(20_000, 21_000), again[:1_000], strict=True))
    tracemalloc.start()
    try:
        ids, vectors = store.load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert list(ids) == sorted(want)
    np.testing.assert_array_equal(vectors, np.stack([want[i] for i in sorted(want)]))
    assert peak < vectors.nbytes / 5  # a 21.5 MB matrix; a block (and its bytes) 2 MB


def test_remove_rewrites_a_block_at_a_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vectors_module, "WRITE_ROWS", 100)
    store = VectorStore(tmp_path / "v")
    x = np.random.default_rng(1).standard_normal((1_000, 8)).astype(np.float16)
    store.append(np.arange(1_000), x)
    store.remove(np.arange(0, 1_000, 3))
    ids, vectors = store.load()
    keep = np.arange(1_000) % 3 != 0
    np.testing.assert_array_equal(ids, np.arange(1_000)[keep])
    np.testing.assert_array_equal(vectors, x[keep])


def test_ids_are_read_once_per_version_of_the_file(tmp_path: Path) -> None:
    """Every search loads the space: its ids (80 MB at 10M items) come from memory until the
    file changes."""
    store = VectorStore(tmp_path / "v")
    store.append(np.arange(10), np.eye(10))
    ids, _ = store.load()
    assert store.load()[0] is ids
    assert not ids.flags.writeable  # shared by every caller
    store.append(np.array([42]), np.ones((1, 10)))
    assert list(store.load()[0]) == [*range(10), 42]


# -- user vector files, read a chunk at a time -----------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32])
def test_a_npy_file_is_read_in_bounded_chunks(tmp_path: Path, order: str, dtype: type) -> None:
    from tagscope.store.vector_files import open_vector_file

    matrix = np.asarray(np.random.default_rng(0).normal(size=(1001, 7)) * 10, dtype=dtype)
    np.save(tmp_path / "v.npy", np.asarray(matrix, order=order))
    np.save(tmp_path / "v.ids.npy", np.arange(1001))
    source = open_vector_file(tmp_path / "v.npy")
    assert source.dim == 7 and len(source.keys) == 1001
    chunks = list(source.chunks(100))
    assert [start for start, _ in chunks] == list(range(0, 1001, 100))
    assert all(len(block) <= 100 and block.dtype == np.float32 for _, block in chunks)
    np.testing.assert_array_equal(np.concatenate([b for _, b in chunks]), matrix.astype(np.float32))


def test_a_parquet_file_is_read_in_batches(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tagscope.store.vector_files import open_vector_file

    rows = np.random.default_rng(1).normal(size=(250, 5)).astype(np.float32)
    vectors = [list(map(float, r)) for r in rows]
    pq.write_table(pa.table({"item_id": np.arange(250), "vector": vectors}), tmp_path / "v.pq")
    source = open_vector_file(tmp_path / "v.pq")
    chunks = list(source.chunks(64))
    assert [start for start, _ in chunks] == [0, 64, 128, 192]
    np.testing.assert_allclose(np.concatenate([b for _, b in chunks]), rows)
    ragged = [*vectors[:200], vectors[200][:4], *vectors[201:]]
    pq.write_table(pa.table({"item_id": np.arange(250), "vector": ragged}), tmp_path / "r.pq")
    with pytest.raises(ValidationError, match="row 0 has 5 numbers, row 200 has 4"):
        list(open_vector_file(tmp_path / "r.pq").chunks(64))


def test_a_truncated_npy_file_names_the_row_it_ends_at(tmp_path: Path) -> None:
    from tagscope.store.vector_files import open_vector_file

    np.save(tmp_path / "v.npy", np.ones((100, 4), np.float32))
    np.save(tmp_path / "v.ids.npy", np.arange(100))
    data = (tmp_path / "v.npy").read_bytes()
    (tmp_path / "v.npy").write_bytes(data[: len(data) - 16 * 40])  # the last 40 rows cut off
    with pytest.raises(ValidationError, match="ends early, at row 60"):
        list(open_vector_file(tmp_path / "v.npy").chunks(50))
