"""Choosing the backend for a vector set: exact below a size, FAISS above it.

The FAISS index is built once and cached on disk next to the vectors (``ivf-<stamp>.faiss``,
where the stamp names the vectors file's inode, size and modification time); when the vectors
change (the vector store rewrites ``vectors.npy`` by an atomic rename), the stamp changes and the
index is rebuilt on the next search. Loaded indexes are kept in memory for the process. Once a
compressed index (which re-ranks from the vectors) is open, the vectors file is read into the
page cache in the background (``_mapped.prefetch``), where memory allows: a re-rank of rows from
the disk costs 7x one from the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from tagscope._mapped import prefetch
from tagscope.index.base import VectorIndex
from tagscope.index.faiss_index import FaissIndex
from tagscope.index.flat import FlatIndex

EXACT_MAX_ROWS = 1_000_000
"""Up to this many rows, search is exact (``FlatIndex``); above, FAISS IVF (``FaissIndex``).

Chosen by measurement (bench/bench_index_select.py: clustered 512-d float16 vectors, this 2-core
machine while others ran their tests, load ~8). One exact query, the interactive case, took
73 ms at 100,000 rows, 116 ms at 300,000 and 197 ms at 1,000,000; IVF answered in 0.4-2.5 ms
at recall@10 0.999-1.0, but its build took 8 s, 30 s and 52 s and it holds a second copy of
the vectors in memory. Up to 1M rows exact search stays within ~0.2 s a query, needs no build
and no extra memory, and is exact; beyond, its time grows linearly (about 2 s at 10M) while
IVF's build is paid once and cached. Above ``faiss_index.COMPRESS_ABOVE_BYTES`` the IVF index
holds 4-bit codes and re-ranks its candidates from the vectors (see :mod:`faiss_index`)."""

_LOADED: OrderedDict[str, FaissIndex] = OrderedDict()
_KEEP = 2  # FAISS indexes kept loaded (n * d * 2 bytes each; n * d / 2 when compressed)
_lock = threading.Lock()


def _stamp(vectors: np.ndarray) -> str | None:
    filename = getattr(vectors, "filename", None)
    if filename is None:
        return None
    st = os.stat(filename)
    key = f"{os.path.abspath(filename)}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{vectors.shape}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def open_index(
    vectors: np.ndarray,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    exact_max_rows: int | None = None,
) -> VectorIndex:
    """The index to search ``vectors`` with: exact up to ``exact_max_rows`` rows, else FAISS.

    Parameters
    ----------
    vectors : ndarray of shape (n, d)
        As ``VectorStore.load`` returns them (memory-mapped); an in-memory matrix gets a FAISS
        index built in memory, not cached.
    cache_dir : path, optional
        Where the FAISS index is cached (default: the folder of the memory-mapped file).
    exact_max_rows : int, optional
        Default ``EXACT_MAX_ROWS``.
    """
    if len(vectors) <= (EXACT_MAX_ROWS if exact_max_rows is None else exact_max_rows):
        return FlatIndex(vectors)
    stamp = _stamp(vectors)
    if stamp is None:
        return FaissIndex.build(vectors)
    folder = Path(cache_dir) if cache_dir is not None else Path(vectors.filename).parent
    return _cached(folder / f"ivf-{stamp}.faiss", vectors)


def _cached(path: Path, vectors: np.ndarray) -> FaissIndex:
    key = str(path)
    with _lock:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / ".faiss.lock", "w") as lock:  # one builder across processes
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():
                index = FaissIndex.load(path, vectors)
            else:
                index = FaissIndex.build(vectors)
                index.save(path)
                for old in path.parent.glob("ivf-*.faiss"):
                    if old != path:
                        old.unlink(missing_ok=True)
        if index.reranks:  # its candidates are re-ranked from rows all over the file
            index.warming = prefetch(vectors)
        _LOADED[key] = index
        while len(_LOADED) > _KEEP:
            _LOADED.popitem(last=False)
        return index


def build_index(vectors: np.ndarray, *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Build (or find) the cached FAISS index of memory-mapped ``vectors``; return its path."""
    stamp = _stamp(vectors)
    if stamp is None:
        raise ValueError("only memory-mapped vectors (VectorStore.load) have a cached index")
    folder = Path(cache_dir) if cache_dir is not None else Path(vectors.filename).parent
    path = folder / f"ivf-{stamp}.faiss"
    _cached(path, vectors)
    return path
