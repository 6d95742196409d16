"""Export use case (SPEC F-03): a dataset's items and labels as COCO, YOLO, CSV, JSON or Parquet.

An export runs as an ``export`` job with progress over the dataset's items, read in batches. It
writes into the folder ``out`` (created; one that exists and is not empty is refused unless
``overwrite``, which replaces the files the export writes and leaves the others). File names
are relative to the export's root, the deepest folder holding every item, which the report
gives: importing the export back (``import coco FILE --images ROOT``, ``import csv|json FILE
--base ROOT``, ``import yolo DATASET OUT --follow-symlinks``) gives the same items and labels,
as far as the format holds them (see the writers in :mod:`tagscope.labels.exports`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal, get_args

from tagscope.domain import Item, Label, LabelSource, ValidationError
from tagscope.jobs.runner import ProgressFn
from tagscope.labels.exports.base import (
    ExportRecord,
    ExportReport,
    ExportWriter,
    common_root,
    relative_name,
)
from tagscope.labels.exports.coco import CocoWriter
from tagscope.labels.exports.lists import CsvWriter, JsonWriter
from tagscope.labels.exports.table import ParquetWriter
from tagscope.labels.exports.yolo import YoloWriter
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.catalog import Catalog
from tagscope.store.exports import path_span
from tagscope.store.grid import labels_of_items
from tagscope.store.result_sets import ResultSetCatalog

__all__ = ["FORMATS", "ExportFormat", "ExportReport", "export_dataset"]

ExportFormat = Literal["coco", "yolo", "csv", "json", "parquet"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)

# Items per batch: one query for their labels and one progress report each.
_BATCH = 1000
# The job record keeps this many problems (the returned report keeps them all).
_MAX_PROBLEMS = 1000


def export_dataset(
    ws: Workspace,
    dataset_name: str,
    fmt: str,
    out: str | os.PathLike[str],
    *,
    source: str | None = LabelSource.GROUND_TRUTH,
    overwrite: bool = False,
    copy_images: bool = False,
    progress: ProgressFn | None = None,
    result_set: str | None = None,
) -> ExportReport:
    """Export every item of a dataset with its labels of one source.

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    fmt : {"coco", "yolo", "csv", "json", "parquet"}
    out : path-like
        The folder to write into.
    source : {"ground_truth", "prediction", "prelabel"} or None, default "ground_truth"
        The labels to export; None exports those of every source (Parquet keeps the source in
        a column; the other formats do not, and import labels back as ground truth).
    overwrite : bool, default False
        Write into an ``out`` that is not empty.
    copy_images : bool, default False
        YOLO only: copy the images into ``images/`` instead of linking them.
    progress : callable, optional
        ``progress(n_done, n_total)`` over the items.
    result_set : str, optional
        Export this result set of the dataset instead (F-73): its items, with its labels as
        ground truth (``source`` is not used).

    Returns
    -------
    ExportReport
        The files written, the root names are relative to, counts, the labels the format
        cannot hold (counted by reason), and the items it could not write (YOLO: no image
        size, a label file name taken, an image that cannot be linked or copied), each with
        its reason.

    Raises
    ------
    ValidationError
        Unknown format or source, or ``out`` is a file or a folder that is not empty.
    NotFoundError
        No dataset has that name, or it has no such result set.
    """
    if fmt not in FORMATS:
        raise ValidationError(
            f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})", field="format"
        )
    wanted = _source(source)
    ds = policy.dataset(ws, Action.READ, dataset_name)
    items, labels_of, n_total = _source_of_items(ws, ds.id, ds.n_items, result_set)
    if result_set is not None:
        wanted = None  # every label of a result set is its ground truth
    folder = _out_folder(Path(out).expanduser(), overwrite=overwrite)
    span = path_span(ws.catalog, ds.id)
    root = common_root(*span) if span else None
    report = ExportReport(format=fmt, out=str(folder), root=root)
    make = _writer(fmt, copy_images)
    params = {"format": fmt, "out": str(folder), "source": wanted, "overwrite": overwrite}
    if result_set is not None:
        params["result_set"] = result_set

    def work(report_progress: ProgressFn) -> dict[str, Any]:
        n_done = 0
        report_progress(0, n_total)
        writer = make(folder, report)
        batch: list[Item] = []
        for item in items:
            batch.append(item)
            if len(batch) == _BATCH:
                _write_batch(labels_of, writer, batch, root, wanted)
                n_done += len(batch)
                report_progress(n_done, max(n_total, n_done))
                batch = []
        _write_batch(labels_of, writer, batch, root, wanted)
        writer.close()
        n_done += len(batch)
        report_progress(n_done, n_done)
        return {
            "files": report.files,
            "root": root,
            "n_items": report.n_items,
            "n_labels": report.n_labels,
            "skipped": report.skipped,
            "n_problems": len(report.problems),
            "problems": [
                {"source": p.source, "reason": p.reason} for p in report.problems[:_MAX_PROBLEMS]
            ],
        }

    ws.runner.run("export", ds.id, params, work, on_progress=progress)
    return report


LabelsOf = Callable[[Sequence[int]], dict[int, list[Label]]]


def _source_of_items(
    ws: Workspace, dataset_id: int, n_items: int, result_set: str | None
) -> tuple[Iterator[Item], LabelsOf, int]:
    """The items to export, where their labels come from, and how many there are: the
    dataset's and its labels table, or a result set's."""
    if result_set is None:
        items = ws.catalog.iter_items(dataset_id, batch_size=_BATCH)
        return items, partial(labels_of_items, ws.catalog), n_items
    store = ResultSetCatalog(ws.catalog)
    found = store.get(dataset_id, result_set)
    ids = store.item_ids(found.id)
    return _items(ws.catalog, ids), partial(store.labels_of_items, found.id), len(ids)


def _items(catalog: Catalog, ids: list[int]) -> Iterator[Item]:
    """The items of ``ids`` in that order, fetched in batches."""
    for i in range(0, len(ids), _BATCH):
        chunk = ids[i : i + _BATCH]
        found = catalog.get_items(chunk)
        yield from (found[j] for j in chunk)


def _source(source: str | None) -> str | None:
    if source is None:
        return None
    try:
        return str(LabelSource(source))
    except ValueError:
        choices = ", ".join(s.value for s in LabelSource)
        raise ValidationError(
            f"unknown label source {source!r} (one of {choices})", field="source"
        ) from None


def _out_folder(folder: Path, *, overwrite: bool) -> Path:
    """The export folder, created; one in the way is refused with the reason."""
    if folder.exists() and not folder.is_dir():
        raise ValidationError(f"{folder} is a file, not a folder", field="out")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValidationError(
            f"{folder} is not empty: choose an empty or new folder, or pass overwrite "
            "(--overwrite) to write over the files of an earlier export",
            field="out",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create {folder}: {exc.strerror}", field="out") from None
    return folder.resolve()


def _writer(fmt: str, copy_images: bool) -> Callable[[Path, ExportReport], ExportWriter]:
    if fmt == "yolo":
        return lambda out, report: YoloWriter(out, report, copy_images=copy_images)
    writers: dict[str, Callable[[Path, ExportReport], ExportWriter]] = {
        "coco": CocoWriter,
        "csv": CsvWriter,
        "json": JsonWriter,
        "parquet": ParquetWriter,
    }
    return writers[fmt]


def _write_batch(
    labels_of: LabelsOf,
    writer: ExportWriter,
    items: list[Item],
    root: str | None,
    source: str | None,
) -> None:
    labels = labels_of([item.id for item in items])
    for item in items:
        chosen = [lab for lab in labels[item.id] if source is None or lab.source == source]
        name = relative_name(item.path, root) if root else item.path
        writer.add(ExportRecord(item, name, chosen))
