"""Trained models: their catalog rows (:class:`ModelCatalog`) and their files (:class:`ModelFiles`).

Layout, under the workspace's ``scores/`` folder (the one folder the SQL engine may read)::

    .models/<dataset id>/<model name>/best.pt | best/      the weights of the best epoch
                                      last.pt | last/      the weights of the last epoch
                                      state.pt | state/    the training state (resumes a kill)
                                      statistics.json      per subset (train, validation)
                                      predictions.parquet  the ``pred_<model>`` rows

(``.pt`` files for heads over vectors, folders for detectors.) Every file is written whole under
a temporary name, then renamed, so a reader never sees half of one.

``predictions.parquet``, one row per (item, class) for classifiers and per box for detectors:

=========  ========  =================================================================
column     type      meaning
=========  ========  =================================================================
item_id    int64     catalog item id
class      string    class name
score      float32   probability (classifiers) or box score (detectors)
top        bool      the item's argmax class (single-label); always true otherwise
split      string    ``train`` / ``validation`` (the training items), NULL for the others
truth      bool      whether the item's labels hold the class (NULL: not a training item)
version    int32     the model's version (training run) that wrote the file
bbox       float[]   ``[x, y, w, h]`` in pixels (detectors; NULL for classifiers)
=========  ========  =================================================================

``decision`` is not stored: thresholds are data, and the SQL view decides each row at today's
threshold (``top AND score >= threshold``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tagscope.domain import AlreadyExistsError, NotFoundError
from tagscope.domain.models import Model, ModelKind, ModelStatus
from tagscope.store.catalog import Catalog
from tagscope.store.model_schema import ModelRow
from tagscope.store.schema import DatasetRow

FOLDER = ".models"
PREDICTIONS = "predictions.parquet"
STATISTICS = "statistics.json"
LOCK = ".lock"

SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("class", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("top", pa.bool_(), nullable=False),
        pa.field("split", pa.string()),
        pa.field("truth", pa.bool_()),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("bbox", pa.list_(pa.float32())),
    ]
)


def _now() -> datetime:
    return datetime.now(UTC)


def _model(row: ModelRow, dataset: str) -> Model:
    return Model(
        id=row.id,
        dataset_id=row.dataset_id,
        dataset=dataset,
        name=row.name,
        kind=ModelKind(row.kind),
        space=row.space,
        status=ModelStatus(row.status),
        classes=tuple(row.classes or ()),
        thresholds={k: float(v) for k, v in (row.thresholds or {}).items()},
        optimized_thresholds={k: float(v) for k, v in (row.optimized_thresholds or {}).items()},
        params=dict(row.params or {}),
        metrics=dict(row.metrics or {}),
        history=list(row.history or []),
        job_id=row.job_id,
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


@dataclass(frozen=True, slots=True)
class PredictionTable:
    """A model's ``predictions.parquet`` and what the SQL view needs to decide its rows."""

    dataset_id: int
    model: str
    path: Path
    thresholds: dict[str, float]


class ModelCatalog:
    """Repository of the ``models`` table (each method one transaction, or the open unit of
    work's)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _dataset_name(self, s: Any, dataset_id: int) -> str:
        row = s.get(DatasetRow, dataset_id)
        if row is None:
            raise NotFoundError(f"no dataset with id {dataset_id}")
        return row.name

    def _row(self, s: Any, dataset_id: int, name: str) -> ModelRow:
        stmt = select(ModelRow).where(ModelRow.dataset_id == dataset_id, ModelRow.name == name)
        row = s.scalars(stmt).first()
        if row is None:
            dataset = self._dataset_name(s, dataset_id)
            raise NotFoundError(
                f"dataset {dataset!r} has no model {name!r}; see `tagscope models list {dataset}`"
            )
        return row

    def create(
        self,
        dataset_id: int,
        name: str,
        *,
        kind: ModelKind,
        space: str | None,
        params: dict[str, Any],
        created_by: str | None,
        replace: bool = False,
    ) -> Model:
        """A new model in status ``training``; with ``replace``, an existing one of that name
        starts over as the next version (its files are the caller's to clear)."""
        with self.catalog.session() as s:
            stmt = select(ModelRow).where(ModelRow.dataset_id == dataset_id, ModelRow.name == name)
            row = s.scalars(stmt).first()
            if row is not None and not replace:
                dataset = self._dataset_name(s, dataset_id)
                raise AlreadyExistsError(
                    f"dataset {dataset!r} already has a model {name!r} (status {row.status}); "
                    "train it again with restart (`--restart`) or choose another name"
                )
            version = 1 if row is None else row.version + 1
            if row is None:
                row = ModelRow(dataset_id=dataset_id, name=name)
                s.add(row)
            row.kind, row.space, row.params = str(kind), space, params
            row.status = str(ModelStatus.TRAINING)
            row.classes, row.thresholds, row.optimized_thresholds = [], {}, {}
            row.metrics, row.history, row.error, row.job_id = {}, [], None, None
            row.stop_requested, row.created_by, row.version = False, created_by, version
            row.created_at = row.updated_at = _now()
            try:
                s.flush()
            except IntegrityError:  # a concurrent create of the same name
                raise AlreadyExistsError(f"a model {name!r} is being created already") from None
            return _model(row, self._dataset_name(s, dataset_id))

    def get(self, dataset_id: int, name: str) -> Model:
        with self.catalog.session() as s:
            return _model(self._row(s, dataset_id, name), self._dataset_name(s, dataset_id))

    def list(self, dataset_id: int) -> list[Model]:
        with self.catalog.session() as s:
            dataset = self._dataset_name(s, dataset_id)
            stmt = select(ModelRow).where(ModelRow.dataset_id == dataset_id)
            return [_model(r, dataset) for r in s.scalars(stmt.order_by(ModelRow.name))]

    def update(self, dataset_id: int, name: str, **values: Any) -> Model:
        """Set columns of the model (``status`` may be a :class:`ModelStatus`)."""
        if "status" in values:
            values["status"] = str(values["status"])
        with self.catalog.session() as s:
            row = self._row(s, dataset_id, name)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = _now()
            s.flush()
            return _model(row, self._dataset_name(s, dataset_id))

    def request_stop(self, dataset_id: int, name: str) -> Model:
        return self.update(dataset_id, name, stop_requested=True)

    def stop_requested(self, dataset_id: int, name: str) -> bool:
        with self.catalog.session() as s:
            stmt = select(ModelRow.stop_requested).where(
                ModelRow.dataset_id == dataset_id, ModelRow.name == name
            )
            return bool(s.scalar(stmt))

    def delete(self, dataset_id: int, name: str) -> None:
        with self.catalog.session() as s:
            self._row(s, dataset_id, name)
            s.execute(
                delete(ModelRow).where(ModelRow.dataset_id == dataset_id, ModelRow.name == name)
            )

    def set_thresholds(self, dataset_id: int, name: str, thresholds: dict[str, float]) -> Model:
        with self.catalog.session() as s:
            row = self._row(s, dataset_id, name)
            s.execute(
                update(ModelRow)
                .where(ModelRow.id == row.id)
                .values(thresholds=thresholds, updated_at=_now())
            )
            s.expire(row)
            return _model(row, self._dataset_name(s, dataset_id))

    def thresholds(self) -> dict[tuple[int, str], dict[str, float]]:
        """Every ready model's current thresholds, by (dataset id, name): the SQL views'."""
        with self.catalog.session() as s:
            stmt = select(ModelRow.dataset_id, ModelRow.name, ModelRow.thresholds).where(
                ModelRow.status == str(ModelStatus.READY)
            )
            return {(d, n): dict(t or {}) for d, n, t in s.execute(stmt)}


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp)`` (a file or a folder), then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        if path.is_dir():
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


class ModelFiles:
    """The files of one model (``scores_root`` is ``WorkspacePaths.scores``)."""

    def __init__(self, scores_root: Path, dataset_id: int, name: str) -> None:
        self.folder = Path(scores_root) / FOLDER / str(int(dataset_id)) / name

    def path(self, what: str) -> Path:
        """The path of ``best.pt``, ``state/`` and so on (the folder is made on demand)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / what

    def save(self, what: str, write: Callable[[Path], None]) -> Path:
        """Write ``what`` atomically through ``write(tmp_path)``."""
        path = self.path(what)
        _write_atomic(path, write)
        return path

    @contextmanager
    def training_lock(self) -> Iterator[bool]:
        """Hold the model's training lock for the block if no process holds it: yields whether
        it is held (an OS lock: a killed trainer's goes with it)."""
        with open(self.path(LOCK), "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def is_locked(self) -> bool:
        """Whether a process trains the model now."""
        if not (self.folder / LOCK).is_file():
            return False
        with self.training_lock() as held:
            return not held

    def clear_path(self, what: str) -> None:
        """Remove one file or folder of the model, if it is there."""
        path = self.folder / what
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove every file (a model trained again from scratch, or deleted)."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def write_statistics(self, statistics: dict[str, Any]) -> None:
        def write(tmp: Path) -> None:
            tmp.write_text(json.dumps(statistics))

        self.save(STATISTICS, write)

    def statistics(self) -> dict[str, Any] | None:
        path = self.folder / STATISTICS
        return json.loads(path.read_text()) if path.is_file() else None

    def write_predictions(self, columns: dict[str, Any]) -> None:
        """Replace the predictions with ``columns`` (the :data:`SCHEMA`'s): each a sequence
        (None for NULL), or, without a Python object per row, ``(codes, names)`` for a string
        column (code -1: NULL), ``(values, null_mask)``, or None (all NULL)."""
        n = len(columns["item_id"])
        table = pa.table({f.name: _column(columns[f.name], f.type, n) for f in SCHEMA}, SCHEMA)
        self.save(PREDICTIONS, lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def predictions(self, *, training_only: bool = False) -> pa.Table | None:
        """The rows (of the training items only: a filter the reader pushes down, so a model
        of millions of items reads just its training rows)."""
        path = self.folder / PREDICTIONS
        if not path.is_file():
            return None
        return pq.read_table(path, filters=pc.field("split").is_valid() if training_only else None)


def _column(values: Any, type_: pa.DataType, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, type_)
    if isinstance(values, tuple) and type_ == pa.string():
        codes, names = values
        codes = np.asarray(codes, np.int32)
        indices = pa.array(codes, pa.int32(), mask=codes < 0)
        return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string())).cast(type_)
    if isinstance(values, tuple):
        data, mask = values
        return pa.array(data, type_, mask=np.asarray(mask, bool))
    return pa.array(values, type_)


def prediction_tables(catalog: Catalog, scores_root: Path) -> list[PredictionTable]:
    """The ``predictions.parquet`` of every ready model, with its current thresholds."""
    out = []
    for (dataset_id, name), thresholds in sorted(ModelCatalog(catalog).thresholds().items()):
        path = ModelFiles(scores_root, dataset_id, name).folder / PREDICTIONS
        if path.is_file():
            out.append(PredictionTable(dataset_id, name, path, thresholds))
    return out


__all__ = [
    "PREDICTIONS",
    "SCHEMA",
    "ModelCatalog",
    "ModelFiles",
    "PredictionTable",
    "prediction_tables",
]
