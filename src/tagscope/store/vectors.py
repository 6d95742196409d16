"""Vector files: one matrix per (dataset, embedding space), next to its row-id map.

Writers append batches as chunk files (each written to a temporary name, then renamed, so a
killed run leaves only whole chunks). Readers compact the chunks into ``vectors.npy`` and
``ids.npy`` and memory-map them. Vectors are stored as float16 by default: half the memory and
disk of float32, with cosine scores accurate to ~1e-3 for unit vectors.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tagscope._mapped import drop_pages
from tagscope.domain import ValidationError


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


WRITE_ROWS = 65536
"""Rows gathered and written at a time by a compaction: 64 MiB of float16 at d = 512."""


def _save_rows(path: Path, parts: list[np.ndarray], rows: np.ndarray, dtype: np.dtype) -> None:
    """Write rows ``rows`` of the parts stacked (``np.concatenate(parts)[rows]``) to ``path``
    atomically, a block at a time: memory stays at one block whatever the size (a 10M x 512
    space is 10 GB), where stacking the parts would hold two copies of the matrix."""
    offsets = np.cumsum([0] + [len(p) for p in parts])
    d = parts[0].shape[1]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (len(rows), d)})
        for start in range(0, len(rows), WRITE_ROWS):
            block = rows[start : start + WRITE_ROWS]
            which = np.searchsorted(offsets, block, side="right") - 1
            out = np.empty((len(block), d), dtype)
            for i in np.unique(which):
                sel = which == i
                part = parts[i]
                local = block[sel] - offsets[i]
                out[sel] = part[local]
                drop_pages(part, int(local.min()), int(local.max()) + 1)
            f.write(out.data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


_IDS: dict[str, tuple[tuple[int, int, int], np.ndarray]] = {}
_IDS_KEPT = 8


def _read_ids(path: Path) -> np.ndarray:
    """``ids.npy``, read once per version of the file (80 MB at 10M items: 30 ms a search),
    read-only since callers share it."""
    st = os.stat(path)
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _IDS.get(str(path))
    if hit is not None and hit[0] == key:
        return hit[1]
    ids = np.load(path)
    ids.flags.writeable = False
    _IDS.pop(str(path), None)
    _IDS[str(path)] = (key, ids)
    while len(_IDS) > _IDS_KEPT:
        _IDS.pop(next(iter(_IDS)))
    return ids


class VectorStore:
    """The vectors of one (dataset, space): append in chunks, read as one memory-mapped matrix."""

    def __init__(self, folder: str | os.PathLike[str], *, dtype: str = "float16") -> None:
        self.folder = Path(folder)
        self.dtype = np.dtype(dtype)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _chunks(self) -> list[tuple[Path, Path]]:
        """Complete chunks in write order: a chunk counts once its ids file exists."""
        if not self.folder.exists():
            return []
        ids = sorted(self.folder.glob("chunk-*.ids.npy"))
        return [(p.with_name(p.name.replace(".ids.npy", ".vec.npy")), p) for p in ids]

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, d) for item ``ids`` (n,); a later vector for an id replaces it."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(ids) != len(vectors):
            raise ValidationError(
                f"expected {len(ids)} vectors as an (n, d) matrix, got shape {vectors.shape}",
                field="vectors",
            )
        dim = self.dim
        if dim is not None and vectors.shape[1] != dim:
            raise ValidationError(
                f"vectors have dimension {vectors.shape[1]}, this space holds {dim}",
                field="vectors",
            )
        if len(ids) == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        # Nanosecond stamp + random suffix: sortable in write order, unique across processes.
        stem = f"chunk-{uuid.uuid1().time:020d}-{uuid.uuid4().hex[:8]}"
        _save_atomic(self.folder / f"{stem}.vec.npy", vectors.astype(self.dtype, copy=False))
        _save_atomic(self.folder / f"{stem}.ids.npy", ids)

    @property
    def dim(self) -> int | None:
        main = self.folder / "vectors.npy"
        if main.exists():
            return int(np.load(main, mmap_mode="r").shape[1])
        chunks = self._chunks()
        if chunks:
            return int(np.load(chunks[0][0], mmap_mode="r").shape[1])
        return None

    def ids(self) -> np.ndarray:
        """Item ids that have a vector, without loading the vectors."""
        parts = []
        main = self.folder / "ids.npy"
        if main.exists():
            parts.append(np.load(main))
        parts += [np.load(p) for _, p in self._chunks()]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (ids, vectors): ids sorted ascending, vectors memory-mapped, row i for ids[i]."""
        if self._chunks():
            self.compact()
        main = self.folder / "vectors.npy"
        if not main.exists():
            return np.empty(0, np.int64), np.empty((0, 0), self.dtype)
        return _read_ids(self.folder / "ids.npy"), np.load(main, mmap_mode="r")

    def compact(self) -> None:
        """Merge chunk files into the main matrix (last vector per id wins)."""
        with self._lock():
            chunks = self._chunks()
            if not chunks:
                return
            ids_parts, vec_parts = [], []
            main = self.folder / "vectors.npy"
            if main.exists():
                ids_parts.append(np.load(self.folder / "ids.npy"))
                vec_parts.append(np.load(main, mmap_mode="r"))
            for vec_path, ids_path in chunks:
                ids_parts.append(np.load(ids_path))
                vec_parts.append(np.load(vec_path, mmap_mode="r"))
            all_ids = np.concatenate(ids_parts)
            # Keep the last occurrence of each id: unique over the reversed array.
            _, first_in_reversed = np.unique(all_ids[::-1], return_index=True)
            keep = len(all_ids) - 1 - first_in_reversed
            _save_rows(main, vec_parts, keep, self.dtype)
            _save_atomic(self.folder / "ids.npy", all_ids[keep])
            for vec_path, ids_path in chunks:
                ids_path.unlink()
                vec_path.unlink(missing_ok=True)

    def remove(self, ids: np.ndarray) -> None:
        """Drop the vectors of ``ids`` (e.g. deleted items), and their rows of every sidecar."""
        for side in self._sidecars():  # first: a row there always has its vector here
            side.remove(ids)
        self.compact()
        with self._lock():
            main = self.folder / "vectors.npy"
            if not main.exists():
                return
            cur = np.load(self.folder / "ids.npy")
            keep = np.flatnonzero(~np.isin(cur, ids))
            _save_rows(main, [np.load(main, mmap_mode="r")], keep, self.dtype)
            _save_atomic(self.folder / "ids.npy", cur[keep])

    def sidecar(self, name: str, *, dtype: str) -> VectorStore:
        """Another per-item matrix of this space (e.g. the pHash variants) in subfolder
        ``name``: its rows are keyed by the same item ids, it goes with the space's folder, and
        :meth:`remove` drops its rows too."""
        return VectorStore(self.folder / name, dtype=dtype)

    def _sidecars(self) -> list[VectorStore]:
        """The sidecars that hold rows, each with the dtype it holds."""
        found = []
        for sub in sorted(self.folder.iterdir()) if self.folder.exists() else []:
            side = VectorStore(sub)
            main = sub / "vectors.npy"
            chunks = side._chunks() if sub.is_dir() else []
            if main.exists() or chunks:
                side.dtype = np.load(main if main.exists() else chunks[0][0], mmap_mode="r").dtype
                found.append(side)
        return found

    def __len__(self) -> int:
        return len(self.ids())
