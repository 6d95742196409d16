"""Reading a user's own vectors from files: NumPy ``.npy`` with an ids file, or Parquet.

Formats (the keys are item ids, or item paths as the catalog stores them):

- ``vectors.npy``: an (n, d) float matrix, with the keys in an ``.npy`` file of n entries:
  integers (item ids) or strings (item paths). By default the keys file sits beside the matrix,
  named ``<stem>.ids.npy`` (``vectors.npy`` → ``vectors.ids.npy``). Keys are kept apart from the
  matrix rather than stored as an extra column, since a float column cannot hold every int64
  id exactly (float32 loses ids above 2**24).
- ``vectors.parquet``: a column ``item_id`` (integers) or ``path`` (strings), and a column
  ``vector`` holding a list of floats per row, all of one length.

Files are opened (:func:`open_vector_file`) and their numbers read in chunks of rows, so a
file of any size costs a bounded amount of memory. Only the file format is checked here; what
the keys and numbers mean is checked by the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tagscope.domain import ValidationError


def _error(path: Path, problem: str) -> ValidationError:
    return ValidationError(f"{path}: {problem}", field="file")


def default_ids_path(path: Path) -> Path:
    """The keys file that goes with a ``.npy`` matrix: ``<stem>.ids.npy`` beside it."""
    return path.with_name(f"{path.stem}.ids.npy")


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise _error(path, "file not found") from None
    except ValueError as exc:  # object arrays (pickles) and broken headers
        raise _error(path, f"not a plain NumPy array file ({exc})") from exc
    except OSError as exc:
        raise _error(path, f"cannot read it as a .npy file ({exc})") from exc


CHUNK_ROWS = 32_768
"""Rows read at a time: 64 MiB of float32 at d = 512, whatever the size of the file."""


@dataclass(frozen=True)
class VectorFile:
    """A vector file opened for reading in chunks: its keys (n,) in memory, its numbers not.

    ``chunks()`` yields (first row, float32 block) pairs of at most ``CHUNK_ROWS`` rows, reading
    the file anew each time it is called, so a caller can check every row and then store them
    without ever holding the whole matrix.
    """

    path: Path
    keys: np.ndarray
    dim: int
    read: Callable[[int], Iterator[np.ndarray]]

    def chunks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        start = 0
        for block in self.read(rows or CHUNK_ROWS):
            yield start, block
            start += len(block)


def _npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) of a .npy file, numbers unread."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise ValueError(f"format version {version} is not supported")
            shape, fortran, dtype = read_header(f)
            return shape, fortran, dtype, f.tell()
    except FileNotFoundError:
        raise _error(path, "file not found") from None
    except ValueError as exc:  # broken headers
        raise _error(path, f"not a plain NumPy array file ({exc})") from exc
    except OSError as exc:
        raise _error(path, f"cannot read it as a .npy file ({exc})") from exc


def _npy_rows(path: Path, shape: tuple[int, ...], fortran: bool, dtype: np.dtype, offset: int):
    """A reader of a C-ordered matrix's rows by plain reads (no memory map, whose pages would
    count against the process), float32."""
    n, d = shape

    def read(rows: int) -> Iterator[np.ndarray]:
        if fortran:  # rows are not contiguous: read through a memory map, a block at a time
            matrix = np.load(path, mmap_mode="r")
            for start in range(0, n, rows):
                yield np.asarray(matrix[start : start + rows], dtype=np.float32)
            return
        with open(path, "rb") as f:
            f.seek(offset)
            for start in range(0, n, rows):
                m = min(rows, n - start)
                block = np.fromfile(f, dtype=dtype, count=m * d)
                if len(block) != m * d:
                    raise _error(path, f"the file ends early, at row {start + len(block) // d}")
                yield block.reshape(m, d).astype(np.float32, copy=False)

    return read


def open_npy(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> VectorFile:
    """Open an (n, d) matrix and read its n keys; the numbers are read by ``chunks()``."""
    path = Path(path)
    ids_file = Path(ids_path) if ids_path is not None else default_ids_path(path)
    shape, fortran, dtype, offset = _npy_header(path)
    if dtype.hasobject:
        raise _error(path, "not a plain NumPy array file (it holds Python objects)")
    if not ids_file.exists():
        raise _error(
            path,
            f"the item ids file {ids_file} is missing: save the ids (integers) or item paths "
            f"(strings), one per row of the matrix, with np.save to {ids_file.name}",
        )
    keys = _load_npy(ids_file)
    if len(shape) != 2:
        raise _error(path, f"expected an (n, d) matrix, got an array of shape {shape}")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise _error(path, f"expected numbers, got dtype {dtype}")
    if keys.ndim != 1:
        raise _error(ids_file, f"expected a 1-d array of ids, got shape {keys.shape}")
    if len(keys) != shape[0]:
        raise _error(ids_file, f"holds {len(keys)} ids for the {shape[0]} rows of {path.name}")
    if not (np.issubdtype(keys.dtype, np.integer) or keys.dtype.kind == "U"):
        raise _error(ids_file, f"expected integer item ids or string paths, got {keys.dtype}")
    return VectorFile(path, keys, int(shape[1]), _npy_rows(path, shape, fortran, dtype, offset))


def read_npy(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read an (n, d) matrix and its n keys; return (keys, vectors as float32)."""
    return _read_whole(open_npy(path, ids_path))


def _read_whole(source: VectorFile) -> tuple[np.ndarray, np.ndarray]:
    blocks = [block for _, block in source.chunks()]
    empty = np.zeros((0, source.dim), np.float32)
    return source.keys, np.concatenate(blocks) if blocks else empty


def open_parquet(path: str | os.PathLike[str]) -> VectorFile:
    """Open columns ``item_id`` or ``path``, and ``vector``; the vectors are read by
    ``chunks()``, a batch of rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise _error(path, "file not found")
    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        key_col = "item_id" if "item_id" in names else "path" if "path" in names else None
        if key_col is None or "vector" not in names:
            raise _error(
                path,
                f"expected columns 'item_id' (or 'path') and 'vector', found {sorted(names)}",
            )
        keys_arr = pf.read(columns=[key_col]).column(key_col)
    except (pa.ArrowException, OSError) as exc:
        raise _error(path, f"cannot read it as Parquet ({exc})") from exc
    if keys_arr.null_count:
        raise _error(path, f"column {key_col!r} has {keys_arr.null_count} empty values")
    keys = keys_arr.to_numpy()
    if key_col == "item_id" and not np.issubdtype(keys.dtype, np.integer):
        raise _error(path, f"column 'item_id' must hold integers, not {keys_arr.type}")
    if key_col == "path":
        keys = keys.astype(str)
    vec_type = pf.schema_arrow.field("vector").type
    if not (pa.types.is_list(vec_type) or pa.types.is_large_list(vec_type)) and not (
        pa.types.is_fixed_size_list(vec_type)
    ):
        raise _error(path, f"column 'vector' must hold lists of numbers, not {vec_type}")
    value_type = vec_type.value_type
    if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        raise _error(path, f"column 'vector' must hold numbers, not {value_type}")
    dim = 0
    if len(keys):
        first = next(pf.iter_batches(batch_size=1, columns=["vector"])).column(0)
        dim = len(first[0]) if first.null_count == 0 else 0

    def read(rows: int) -> Iterator[np.ndarray]:
        start = 0
        for batch in pf.iter_batches(batch_size=rows, columns=["vector"]):
            yield _parquet_block(path, batch.column(0), start, dim)
            start += batch.num_rows

    return VectorFile(path, keys, dim, read)


def _parquet_block(path: Path, vec: Any, start: int, dim: int) -> np.ndarray:
    """One batch of the ``vector`` column as float32 (m, dim); rows of another length or empty
    rows are errors naming the row."""
    import pyarrow as pa

    if vec.null_count:
        raise _error(
            path, f"column 'vector' has empty rows (first: row {start + _first_null(vec)})"
        )
    if pa.types.is_fixed_size_list(vec.type):
        lengths = np.full(len(vec), vec.type.list_size)
    else:
        lengths = np.diff(vec.offsets.to_numpy())
    if (lengths != dim).any():
        bad = int(np.flatnonzero(lengths != dim)[0])
        raise _error(
            path,
            f"vectors differ in length: row 0 has {dim} numbers, row {start + bad} has "
            f"{lengths[bad]}",
        )
    flat = vec.flatten().to_numpy(zero_copy_only=False)
    return flat.astype(np.float32).reshape(len(vec), dim)


def _first_null(vec: Any) -> int:
    return int(np.flatnonzero(vec.is_null().to_numpy(zero_copy_only=False))[0])


def read_parquet(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read columns ``item_id`` or ``path``, and ``vector``; return (keys, vectors as float32)."""
    return _read_whole(open_parquet(path))


def open_vector_file(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> VectorFile:
    """Open a ``.npy`` (with its ids file) or ``.parquet`` file for reading in chunks."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return open_npy(path, ids_path)
    if suffix in {".parquet", ".pq"}:
        if ids_path is not None:
            raise _error(path, "a Parquet file carries its own 'item_id' or 'path' column")
        return open_parquet(path)
    raise _error(path, "unsupported format: give a .npy matrix (with its ids file) or .parquet")


def read_vector_file(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.npy`` (with its ids file) or ``.parquet`` file whole; return (keys, vectors)."""
    return _read_whole(open_vector_file(path, ids_path))
