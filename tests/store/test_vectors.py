"""Vector files: chunked, atomic appends and compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import ValidationError
from tagscope.store import VectorStore


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
