"""Embedding maps: 2-D coordinates of a dataset's items in one embedding space, and the fitted
model that placed them.

Layout, under the workspace's ``scores/`` folder (the one folder the SQL engine may read)::

    .maps/<dataset id>/<space>/_manifest.json   parameters, sample size, when it was fitted
                               model.pkl        the fitted reducer (pickled), to place new items
                               part-00000.parquet  the fitted sample's coordinates
                               part-00001.parquet  items placed later, one part per chunk

(``.maps`` starts with a dot, so no score group's slug can name it, and the score listing skips
it.) Each part is written once, atomically (a temporary name, then renamed), and never changed:
a killed job leaves whole parts only and resumes with the items no part holds, and items added
later get parts of their own, so earlier coordinates stay as they were, bit for bit.

=========  ========  ==========================
column     type      meaning
=========  ========  ==========================
item_id    int64     catalog item id
x          float32   map coordinate
y          float32   map coordinate
=========  ========  ==========================
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tagscope.domain import NotFoundError, ValidationError

MANIFEST = "_manifest.json"
MODEL = "model.pkl"
FOLDER = ".maps"
_PART_FILE = re.compile(r"^part-(\d{5})\.parquet$")
_SPACE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")

SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("x", pa.float32(), nullable=False),
        pa.field("y", pa.float32(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class MapInfo:
    """A stored map: its folder, manifest and parts."""

    dataset_id: int
    space: str
    path: Path
    manifest: dict[str, Any]

    @property
    def files(self) -> list[Path]:
        """The Parquet parts, in order."""
        return sorted(p for p in self.path.iterdir() if _PART_FILE.match(p.name))


def _check_space(space: str) -> str:
    if not isinstance(space, str) or not _SPACE.match(space) or space.startswith("."):
        raise ValidationError(f"invalid space name {space!r}", field="space")
    return space


def _replace_atomic(path: Path, write: Any) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class MapStore:
    """The maps of a workspace (``scores_root`` is ``WorkspacePaths.scores``)."""

    def __init__(self, scores_root: Path) -> None:
        self.root = Path(scores_root) / FOLDER

    def folder(self, dataset_id: int, space: str | None = None) -> Path:
        """The folder of a dataset's maps, or of its map of ``space``."""
        folder = self.root / str(int(dataset_id))
        return folder if space is None else folder / _check_space(space)

    def maps(self, dataset_id: int | None = None) -> list[MapInfo]:
        """The maps there are (that have a model), of one dataset or of all."""
        if not self.root.is_dir():
            return []
        datasets = [str(int(dataset_id))] if dataset_id is not None else os.listdir(self.root)
        out = []
        for ds in sorted(d for d in datasets if d.isdigit()):
            folder = self.root / ds
            for space in sorted(os.listdir(folder)) if folder.is_dir() else []:
                info = self.find(int(ds), space)
                if info is not None:
                    out.append(info)
        return out

    def info(self, dataset_id: int, space: str) -> MapInfo:
        info = self.find(dataset_id, space)
        if info is None:
            raise NotFoundError(
                f"dataset {dataset_id} has no map of space {space!r}; compute it first "
                "(`tagscope map DATASET --space SPACE`)"
            )
        return info

    def find(self, dataset_id: int, space: str) -> MapInfo | None:
        path = self.folder(dataset_id, space)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            return None
        if not (path / MODEL).exists():
            return None  # a fit under way, or killed before its model was saved
        return MapInfo(int(dataset_id), space, path, manifest)

    # -- writing --------------------------------------------------------------------------
    def start(self, dataset_id: int, space: str, manifest: dict[str, Any]) -> Path:
        """Begin a new map (no model yet): its folder, emptied, with ``manifest``."""
        path = self.folder(dataset_id, space)
        self.remove(dataset_id, space)
        path.mkdir(parents=True)
        _replace_atomic(path / MANIFEST, lambda f: f.write(json.dumps(manifest).encode()))
        return path

    def manifest(self, dataset_id: int, space: str) -> dict[str, Any] | None:
        """The manifest of a map, finished or not, or None."""
        try:
            return json.loads((self.folder(dataset_id, space) / MANIFEST).read_text())
        except FileNotFoundError:
            return None

    def discard_temporary(self, dataset_id: int, space: str) -> None:
        """Remove the temporary files a killed job left (by the job that resumes it)."""
        folder = self.folder(dataset_id, space)
        for stale in folder.glob(".*.tmp") if folder.is_dir() else ():
            stale.unlink(missing_ok=True)

    def save_model(self, dataset_id: int, space: str, model: Any) -> None:
        """Keep the fitted reducer (after :meth:`start`); the map counts as existing from now."""
        path = self.folder(dataset_id, space) / MODEL
        _replace_atomic(path, lambda f: pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL))

    def load_model(self, dataset_id: int, space: str) -> Any:
        # Only files this workspace wrote itself are unpickled: the folder is the server's own.
        with open(self.info(dataset_id, space).path / MODEL, "rb") as f:
            return pickle.load(f)

    def write_part(self, dataset_id: int, space: str, item_ids: Any, xy: Any) -> Path:
        """Add the coordinates ``xy`` (n, 2) of ``item_ids`` (n,) as the next part."""
        ids = np.asarray(item_ids, dtype=np.int64)
        coords = np.asarray(xy, dtype=np.float32)
        if ids.ndim != 1 or coords.shape != (len(ids), 2):
            raise ValidationError(f"expected (n, 2) coordinates for {len(ids)} items")
        if not np.isfinite(coords).all():
            raise ValidationError("map coordinates must be finite")
        folder = self.folder(dataset_id, space)
        done = [int(m.group(1)) for p in folder.iterdir() if (m := _PART_FILE.match(p.name))]
        path = folder / f"part-{max(done, default=-1) + 1:05d}.parquet"
        table = pa.table({"item_id": ids, "x": coords[:, 0], "y": coords[:, 1]}, schema=SCHEMA)
        _replace_atomic(path, lambda f: pq.write_table(table, f, compression="snappy"))
        return path

    def remove(self, dataset_id: int, space: str | None = None) -> None:
        """Delete a map (or every map of a dataset)."""
        shutil.rmtree(self.folder(dataset_id, space), ignore_errors=True)

    # -- reading --------------------------------------------------------------------------
    def placed_ids(self, dataset_id: int, space: str) -> np.ndarray:
        """The item ids the parts hold, sorted (parts only: before the model is saved too)."""
        folder = self.folder(dataset_id, space)
        parts = sorted(p for p in folder.iterdir() if _PART_FILE.match(p.name))
        if not parts:
            return np.empty(0, np.int64)
        ids = pq.read_table(parts, columns=["item_id"]).column("item_id").to_numpy()
        return np.unique(ids)

    def load(self, dataset_id: int, space: str) -> tuple[np.ndarray, np.ndarray]:
        """``(item_ids, xy)``: ids ascending, xy (n, 2) float32, row i for ids[i]."""
        files = self.info(dataset_id, space).files
        if not files:
            return np.empty(0, np.int64), np.empty((0, 2), np.float32)
        table = pq.read_table(files)
        ids = table.column("item_id").to_numpy()
        xy = np.stack([table.column("x").to_numpy(), table.column("y").to_numpy()], axis=1).astype(
            np.float32, copy=False
        )
        order = np.argsort(ids, kind="stable")
        return ids[order], xy[order]


__all__ = ["SCHEMA", "MapInfo", "MapStore"]
