"""Reading a user's own vectors from files: NumPy ``.npy`` with an ids file, or Parquet.

Formats (the keys are item ids, or item paths as the catalog stores them):

- ``vectors.npy``: an (n, d) float matrix, with the keys in an ``.npy`` file of n entries:
  integers (item ids) or strings (item paths). By default the keys file sits beside the matrix,
  named ``<stem>.ids.npy`` (``vectors.npy`` → ``vectors.ids.npy``). Keys are kept apart from the
  matrix rather than stored as an extra column, since a float column cannot hold every int64
  id exactly (float32 loses ids above 2**24).
- ``vectors.parquet``: a column ``item_id`` (integers) or ``path`` (strings), and a column
  ``vector`` holding a list of floats per row, all of one length.

Only the file format is checked here; what the keys and numbers mean is checked by the caller.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def read_npy(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read an (n, d) matrix and its n keys; return (keys, vectors as float32)."""
    path = Path(path)
    ids_file = Path(ids_path) if ids_path is not None else default_ids_path(path)
    matrix = _load_npy(path)
    if not ids_file.exists():
        raise _error(
            path,
            f"the item ids file {ids_file} is missing: save the ids (integers) or item paths "
            f"(strings), one per row of the matrix, with np.save to {ids_file.name}",
        )
    keys = _load_npy(ids_file)
    if matrix.ndim != 2:
        raise _error(path, f"expected an (n, d) matrix, got an array of shape {matrix.shape}")
    if not (np.issubdtype(matrix.dtype, np.floating) or np.issubdtype(matrix.dtype, np.integer)):
        raise _error(path, f"expected numbers, got dtype {matrix.dtype}")
    if keys.ndim != 1:
        raise _error(ids_file, f"expected a 1-d array of ids, got shape {keys.shape}")
    if len(keys) != len(matrix):
        raise _error(ids_file, f"holds {len(keys)} ids for the {len(matrix)} rows of {path.name}")
    if not (np.issubdtype(keys.dtype, np.integer) or keys.dtype.kind == "U"):
        raise _error(ids_file, f"expected integer item ids or string paths, got {keys.dtype}")
    return keys, matrix.astype(np.float32)


def read_parquet(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read columns ``item_id`` or ``path``, and ``vector``; return (keys, vectors as float32)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise _error(path, "file not found")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise _error(path, f"cannot read it as Parquet ({exc})") from exc
    names = set(table.column_names)
    key_col = "item_id" if "item_id" in names else "path" if "path" in names else None
    if key_col is None or "vector" not in names:
        raise _error(
            path,
            f"expected columns 'item_id' (or 'path') and 'vector', found {sorted(names)}",
        )
    keys_arr = table.column(key_col)
    if keys_arr.null_count:
        raise _error(path, f"column {key_col!r} has {keys_arr.null_count} empty values")
    keys = keys_arr.to_numpy()
    if key_col == "item_id" and not np.issubdtype(keys.dtype, np.integer):
        raise _error(path, f"column 'item_id' must hold integers, not {keys_arr.type}")
    if key_col == "path":
        keys = keys.astype(str)
    vec = table.column("vector").combine_chunks()
    if not (pa.types.is_list(vec.type) or pa.types.is_large_list(vec.type)) and not (
        pa.types.is_fixed_size_list(vec.type)
    ):
        raise _error(path, f"column 'vector' must hold lists of numbers, not {vec.type}")
    if vec.null_count:
        raise _error(path, f"column 'vector' has {vec.null_count} empty rows")
    value_type = vec.type.value_type
    if not (pa.types.is_floating(value_type) or pa.types.is_integer(value_type)):
        raise _error(path, f"column 'vector' must hold numbers, not {value_type}")
    if len(vec) == 0:
        return keys, np.zeros((0, 0), np.float32)
    if pa.types.is_fixed_size_list(vec.type):
        lengths = np.full(len(vec), vec.type.list_size)
    else:
        lengths = np.diff(vec.offsets.to_numpy())
    if (lengths != lengths[0]).any():
        bad = int(np.flatnonzero(lengths != lengths[0])[0])
        raise _error(
            path,
            f"vectors differ in length: row 0 has {lengths[0]} numbers, row {bad} has "
            f"{lengths[bad]}",
        )
    flat = vec.flatten().to_numpy(zero_copy_only=False)
    return keys, flat.astype(np.float32).reshape(len(vec), int(lengths[0]))


def read_vector_file(
    path: str | os.PathLike[str], ids_path: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.npy`` (with its ids file) or ``.parquet`` file; return (keys, vectors)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return read_npy(path, ids_path)
    if suffix in {".parquet", ".pq"}:
        if ids_path is not None:
            raise _error(path, "a Parquet file carries its own 'item_id' or 'path' column")
        return read_parquet(path)
    raise _error(path, "unsupported format: give a .npy matrix (with its ids file) or .parquet")
