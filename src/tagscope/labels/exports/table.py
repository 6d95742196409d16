"""Parquet export: one row per label (see :data:`tagscope.store.exports.LABEL_TABLE`).

``path`` is relative to the export's root. ``bbox``, ``polygons`` and ``lines`` are filled for
boxes, polygons and polylines, ``area`` where the label has one; ``geometry`` holds every label's
geometry as JSON (a mask's RLE as it is stored), and ``attributes`` its attributes. Items without
labels have no row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tagscope.domain import LabelKind
from tagscope.labels.exports.base import ExportRecord, ExportReport
from tagscope.store.exports import LabelTableWriter

FILE_NAME = "labels.parquet"
# Rows per row group: bounded memory on any dataset.
_ROWS = 50_000


class ParquetWriter:
    """Buffers label rows and writes them to ``labels.parquet`` under ``out`` in row groups."""

    def __init__(self, out: Path, report: ExportReport) -> None:
        self.path = out / FILE_NAME
        self.report = report
        self.table = LabelTableWriter(self.path)
        self.rows: list[dict[str, Any]] = []

    def add(self, record: ExportRecord) -> None:
        media = record.item.media
        for label in record.labels:
            geometry = label.geometry or {}
            self.rows.append(
                {
                    "item_id": record.item.id,
                    "path": record.name,
                    "width": media.width if media else None,
                    "height": media.height if media else None,
                    "kind": str(label.kind),
                    "name": label.name,
                    "source": str(label.source),
                    "is_main": label.is_main,
                    "score": label.score,
                    "bbox": geometry.get("bbox") if label.kind == LabelKind.BOX else None,
                    "polygons": geometry.get("polygons")
                    if label.kind == LabelKind.POLYGON
                    else None,
                    "lines": geometry.get("lines") if label.kind == LabelKind.POLYLINE else None,
                    "area": label.area,
                    "geometry": json.dumps(label.geometry) if label.geometry is not None else None,
                    "attributes": json.dumps(label.attributes),
                }
            )
        self.report.n_items += 1
        self.report.n_labels += len(record.labels)
        if len(self.rows) >= _ROWS:
            self._flush()

    def _flush(self) -> None:
        self.table.write(self.rows)
        self.rows = []

    def close(self) -> None:
        self._flush()
        self.table.close()
        self.report.files.append(str(self.path))
