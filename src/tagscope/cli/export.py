"""`tagscope export DATASET --format FORMAT --out FOLDER`: a dataset's items and labels as COCO,
YOLO, CSV, JSON or Parquet (see :mod:`tagscope.service.exports`).

Exit status: 0 when every item was written, 1 when the export could not run, 2 for a usage
error, 3 when items were left out (each listed with its reason).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    QuietOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
    progress_bar,
)

if TYPE_CHECKING:
    from tagscope.service.exports import ExportReport

uc = deferred("tagscope.service.exports")


class FormatChoice(StrEnum):
    coco = "coco"
    yolo = "yolo"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class SourceChoice(StrEnum):
    ground_truth = "ground_truth"
    prediction = "prediction"
    prelabel = "prelabel"


# Beyond this many, the items left out are counted, not listed (--json lists them all).
_MAX_LISTED = 100

# How to import each export back: {file} is the written file, {root} the export's root.
_IMPORT_BACK = {
    "coco": "tagscope import coco NEW {file} --images {root}",
    "csv": "tagscope import csv NEW {file} --base {root}",
    "json": "tagscope import json NEW {file} --base {root}",
    "yolo": "tagscope import yolo NEW {out} --follow-symlinks",
}


EXIT_PROBLEMS = 3


@handle_errors
def export(
    dataset: str = typer.Argument(..., help="The dataset to export."),
    fmt: FormatChoice = typer.Option(..., "--format", "-f", help="The format to write."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder to write into (created; must be empty or new)."
    ),
    source: SourceChoice = typer.Option(
        SourceChoice.ground_truth, "--source", help="Which labels to export."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Write into a folder that is not empty (files replaced)."
    ),
    copy_images: bool = typer.Option(
        False, "--copy-images", help="YOLO: copy the images into images/ (default: links)."
    ),
    result_set: str | None = typer.Option(
        None, "--result-set", help="Export this result set's items and labels instead."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Export a dataset's items and labels; file names are relative to the folder holding
    every item (the "root" it prints). Exit status 3: items were left out (each is listed)."""
    ws = open_workspace(workspace)
    with progress_bar(f"exporting {dataset}", enabled=not quiet) as report:
        result = uc.export_dataset(
            ws,
            dataset,
            fmt.value,
            out,
            source=source.value,
            overwrite=overwrite,
            copy_images=copy_images,
            progress=report,
            result_set=result_set,
        )
    if as_json:
        print_json(result)
    else:
        _print_report(dataset, fmt.value, result)
    if result.problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _print_report(dataset: str, fmt: str, result: ExportReport) -> None:
    console.print(
        f"{dataset}: {result.n_items} items, {result.n_labels} labels written to {result.out} "
        f"({fmt}; names relative to {result.root})",
        soft_wrap=True,
    )
    for reason, n in result.skipped.items():
        console.print(f"  skipped {n} {reason}", soft_wrap=True)
    for problem in result.problems[:_MAX_LISTED]:
        console.print(f"  left out {problem.source}: {problem.reason}", soft_wrap=True)
    if len(result.problems) > _MAX_LISTED:
        console.print(f"  ... and {len(result.problems) - _MAX_LISTED} more (--json lists all)")
    back = _IMPORT_BACK.get(fmt)
    if back and result.files:
        line = back.format(file=result.files[0], root=result.root, out=result.out)
        if fmt == "coco" and len(result.files) > 1:
            line += f" --captions {result.files[1]}"
        console.print(f"  import it back with: {line}", soft_wrap=True)
