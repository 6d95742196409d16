"""CSV and JSON list exports: what :mod:`tagscope.labels.formats.csv_list` and
:mod:`tagscope.labels.formats.json_list` read back.

Both hold classifications only (other kinds are counted as skipped). A CSV row is ``file name,
main label, other labels...`` under a ``file,labels`` header, so the first item's name is never
read as a header; CSV has no way to say "no main label", so an item whose classifications have
none comes back with its first one as main. A JSON entry is ``{"name",
"mainClassificationLabel", "classificationLabels"}`` and keeps that distinction.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

from tagscope.domain import LabelKind
from tagscope.labels.exports.base import ExportRecord, ExportReport

CSV_NAME = "labels.csv"
JSON_NAME = "labels.json"


def _classifications(labels: Any, report: ExportReport, fmt: str) -> tuple[str | None, list[str]]:
    """The main classification's name (or None) and the others', in the item's order."""
    main: str | None = None
    others: list[str] = []
    for label in labels:
        if label.kind != LabelKind.CLASSIFICATION:
            report.skip(f"{label.kind} labels: {fmt} lists hold classifications only")
        elif label.is_main and main is None:
            main = label.name
        elif label.name not in others:
            others.append(label.name)
    others = [name for name in others if name != main]
    report.n_labels += (main is not None) + len(others)
    return main, others


class CsvWriter:
    """Writes ``labels.csv`` under ``out`` row by row."""

    def __init__(self, out: Path, report: ExportReport) -> None:
        self.path = out / CSV_NAME
        self.report = report
        self.file: IO[str] = self.path.open("w", encoding="utf-8", newline="")
        self.rows = csv.writer(self.file)
        self.rows.writerow(["file", "labels"])

    def add(self, record: ExportRecord) -> None:
        main, others = _classifications(record.labels, self.report, "CSV")
        self.report.n_items += 1
        self.rows.writerow([record.name, *([main] if main else []), *others])

    def close(self) -> None:
        self.file.close()
        self.report.files.append(str(self.path))


class JsonWriter:
    """Writes ``labels.json`` under ``out`` entry by entry (a JSON list, one entry a line)."""

    def __init__(self, out: Path, report: ExportReport) -> None:
        self.path = out / JSON_NAME
        self.report = report
        self.file: IO[str] = self.path.open("w", encoding="utf-8")
        self.file.write("[")
        self.first = True

    def add(self, record: ExportRecord) -> None:
        main, others = _classifications(record.labels, self.report, "JSON")
        self.report.n_items += 1
        entry: dict[str, Any] = {"name": record.name}
        if main is not None:
            entry["mainClassificationLabel"] = main
        if others:
            entry["classificationLabels"] = others
        self.file.write(("\n" if self.first else ",\n") + json.dumps(entry))
        self.first = False

    def close(self) -> None:
        self.file.write("\n]\n")
        self.file.close()
        self.report.files.append(str(self.path))
