"""Metadata import (SPEC F-40): fields from a CSV or JSON file keyed by file name, merged into the
metadata of the dataset's items, where SQL shows each field as a column of ``items``.

The file names a dataset's own files (videos, images; not keyframes, which live in the
workspace): by base name (``ep1.mp4``) or by the end of their path (``season1/ep1.mp4``) when
base names repeat. A CSV file has a header; its key column is the first named ``file``,
``file_name``, ``filename``, ``name`` or ``path`` (any case), else its first column, and its
values are typed (integers, decimals, ``true``/``false``; an empty cell sets nothing). A JSON
file is an object ``{file name: {field: value}}`` or a list of objects with one of those key
fields. A field name becomes an identifier (``Series Name`` is ``Series_Name``); the names of
``items``' own columns (``path``, ``video_id``...) are refused. A file name matching no item, or
several, is an :class:`ImportProblem`; the others are imported. Importing the same file again
changes nothing.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagscope.domain import ImportProblem, Modality, ValidationError
from tagscope.jobs.runner import ProgressFn
from tagscope.labels.formats.records import read_json_file, read_source
from tagscope.media.transcripts import decode_text
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.sql_catalog import RESERVED_COLUMNS

PathLike = str | os.PathLike[str]
_KEYS = ("file", "file_name", "filename", "name", "path")
_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]+")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_BATCH = 500
# Items whose file the import names: a video's keyframes, shots and cues are reached by video_id.
_OWN_FILES = (Modality.IMAGE, Modality.VIDEO)


@dataclass(slots=True)
class MetadataReport:
    """What a metadata import did: items changed, items that had those values already, the
    fields set, and the records or fields not used."""

    n_updated: int = 0
    n_unchanged: int = 0
    fields: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


def import_metadata(
    ws: Workspace, dataset_name: str, path: PathLike, *, progress: ProgressFn | None = None
) -> MetadataReport:
    """Merge the fields of ``path`` (CSV or JSON, by suffix) into the metadata of the items it
    names, as an ``import`` job.

    Returns
    -------
    MetadataReport

    Raises
    ------
    NotFoundError
        No such dataset.
    PermissionDeniedError
        The caller may not edit the dataset (``dataset.edit``).
    ValidationError
        The file is missing, not CSV or JSON (by its suffix), or malformed.
    """
    ds = policy.dataset(ws, Action.DATASET_EDIT, dataset_name)
    source = Path(path).expanduser()
    report = MetadataReport()
    records = _clean(read_records(source), source, report)

    def work(report_progress: ProgressFn) -> dict[str, Any]:
        _apply(ws, ds.id, records, str(source), report, report_progress)
        return {
            "n_updated": report.n_updated,
            "n_unchanged": report.n_unchanged,
            "fields": report.fields,
            "n_problems": len(report.problems),
            "problems": [{"source": p.source, "reason": p.reason} for p in report.problems],
        }

    params = {"format": "metadata", "source": str(source)}
    ws.runner.run("import", ds.id, params, work, on_progress=progress)
    return report


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """``{file name: {field: value}}`` from a CSV or JSON file (see the module's docstring).

    Raises
    ------
    ValidationError
        Not a ``.csv`` or ``.json`` file, or malformed.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".json":
        return _read_json(path)
    raise ValidationError(f"{path}: metadata must be a .csv or .json file", field="path")


def _read_csv(path: Path) -> dict[str, dict[str, Any]]:
    text, _ = decode_text(read_source(path))
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if not header or len(header) < 2:
        raise ValidationError(
            f"{path}: a header with a file name column and at least one field is needed",
            field="path",
        )
    names = [h.strip() for h in header]
    lower = [n.lower() for n in names]
    key = next((lower.index(k) for k in _KEYS if k in lower), 0)
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        name = row[key].strip() if key < len(row) else ""
        values = {names[i]: _typed(cell) for i, cell in enumerate(row[: len(names)]) if i != key}
        fields = {k: v for k, v in values.items() if v is not None}
        records.setdefault(name, {}).update(fields)
    return records


def _read_json(path: Path) -> dict[str, dict[str, Any]]:
    data = read_json_file(path)
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        return {str(k): dict(v) for k, v in data.items()}
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        records: dict[str, dict[str, Any]] = {}
        for entry in data:
            key = next((k for k in entry if k.lower() in _KEYS), None)
            name = str(entry[key]) if key is not None else ""
            records.setdefault(name, {}).update({k: v for k, v in entry.items() if k != key})
        return records
    raise ValidationError(
        f"{path}: JSON metadata must be an object of objects keyed by file name, or a list of "
        "objects with a 'file' field",
        field="path",
    )


def _typed(cell: str) -> Any:
    value = cell.strip()
    if not value:
        return None
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _clean(
    records: dict[str, dict[str, Any]], source: Path, report: MetadataReport
) -> dict[str, dict[str, Any]]:
    """Records with identifier field names, the names of ``items``' own columns left out."""
    names: dict[str, str] = {}
    for fields in records.values():
        for name in fields:
            if name not in names:
                names[name] = _identifier(name)
    refused = {n for n, ident in names.items() if ident.lower() in RESERVED_COLUMNS}
    for name in sorted(refused):
        report.problems.append(
            ImportProblem(str(source), f"field {name!r} is a column of items already: left out")
        )
    report.fields = sorted({ident for n, ident in names.items() if n not in refused})
    out: dict[str, dict[str, Any]] = {}
    for key, fields in records.items():
        if not key:
            report.problems.append(ImportProblem(str(source), "a record with no file name"))
            continue
        out[key] = {names[n]: v for n, v in fields.items() if n not in refused}
    return out


def _identifier(name: str) -> str:
    ident = _NOT_IDENT.sub("_", name.strip()).strip("_") or "field"
    return f"f_{ident}" if ident[0].isdigit() else ident


def _apply(
    ws: Workspace,
    dataset_id: int,
    records: dict[str, dict[str, Any]],
    source: str,
    report: MetadataReport,
    progress: ProgressFn,
) -> None:
    by_name = _own_files(ws.catalog.iter_items(dataset_id))
    pending: dict[int, dict[str, Any]] = {}
    progress(0, len(records))
    for n_done, (key, fields) in enumerate(records.items(), start=1):
        found = _match(by_name, key)
        if len(found) != 1:
            many = f"{len(found)} items (give more of its path)"
            why = many if found else "no item of the dataset"
            report.problems.append(ImportProblem(f"{source}: {key}", f"names {why}"))
        else:
            item_id, meta = found[0]
            if all(meta.get(k) == v for k, v in fields.items()):
                report.n_unchanged += 1
            else:
                pending[item_id] = fields
        if len(pending) >= _BATCH or n_done == len(records):
            ws.catalog.update_item_metadata(pending)
            report.n_updated += len(pending)
            pending = {}
            progress(n_done, len(records))


def _own_files(items: Iterable[Any]) -> dict[str, list[tuple[str, int, dict[str, Any]]]]:
    """The dataset's own files by base name: (path, item id, metadata)."""
    by_name: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for item in items:
        if item.modality in _OWN_FILES:
            by_name.setdefault(os.path.basename(item.path), []).append(
                (item.path, item.id, item.metadata)
            )
    return by_name


def _match(
    by_name: dict[str, list[tuple[str, int, dict[str, Any]]]], key: str
) -> list[tuple[int, dict[str, Any]]]:
    """The items ``key`` names: the file itself, or one whose path ends with it."""
    name = key.replace("\\", "/").strip("/")
    candidates = by_name.get(name.rsplit("/", 1)[-1], [])
    return [
        (item_id, meta)
        for path, item_id, meta in candidates
        if path == key or path.replace("\\", "/").endswith("/" + name)
    ]
