"""`tagscope import ...`: images from a folder, CSV and JSON label lists, COCO."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
from tagscope.domain import ImportReport

uc = deferred("tagscope.service.imports")

app = typer.Typer(
    help="Import images and labels (a dataset is created when it does not exist).",
    no_args_is_help=True,
)

DatasetArg = typer.Argument(..., help="The dataset to import into (created if needed).")
BaseOpt = typer.Option(
    None, "--base", "-b", help="Folder the listed file names are relative to (default: the list's)."
)
ThumbnailsOpt = typer.Option(
    True, "--thumbnails/--no-thumbnails", help="Make thumbnails now (cached; made once)."
)

# Beyond this many, the problems are counted, not listed (--json lists them all).
_MAX_LISTED = 100


def _run(
    workspace: Path | None,
    dataset: str,
    quiet: bool,
    as_json: bool,
    use_case: Callable[..., ImportReport],
) -> None:
    """Run ``use_case(ws, progress=...)`` under a progress bar and print its report."""
    ws = open_workspace(workspace)
    with progress_bar(f"importing into {dataset}", enabled=not quiet) as report:
        result = use_case(ws, progress=report)
    if as_json:
        print_json(result)
        return
    console.print(
        f"{dataset}: {result.n_added} new items, {result.n_existing} already there, "
        f"{result.n_labels} new labels, {len(result.problems)} problems"
    )
    for problem in result.problems[:_MAX_LISTED]:
        console.print(f"  {problem.source}: {problem.reason}", markup=False, soft_wrap=True)
    if len(result.problems) > _MAX_LISTED:
        console.print(f"  ... and {len(result.problems) - _MAX_LISTED} more (--json lists all)")


@app.command()
@handle_errors
def images(
    dataset: str = DatasetArg,
    folder: Path = typer.Argument(..., help="Folder of images, scanned recursively."),
    labels_from_folders: bool = typer.Option(
        False, "--labels-from-folders", help="The folder holding an image names its class."
    ),
    thumbnails: bool = ThumbnailsOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import every image under a folder; files already in the dataset are skipped."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: uc.import_images(
            ws,
            dataset,
            folder,
            labels_from_folders=labels_from_folders,
            thumbnails=thumbnails,
            progress=progress,
        ),
    )


@app.command()
@handle_errors
def csv(
    dataset: str = DatasetArg,
    file: Path = typer.Argument(..., help="CSV rows: file name, then its labels (first: main)."),
    base: Path | None = BaseOpt,
    thumbnails: bool = ThumbnailsOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import the files a CSV list names, with their classification labels."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: uc.import_csv(
            ws, dataset, file, base=base, thumbnails=thumbnails, progress=progress
        ),
    )


@app.command("json")
@handle_errors
def json_(
    dataset: str = DatasetArg,
    file: Path = typer.Argument(
        ...,
        help='A JSON list of {"name", "mainClassificationLabel", "classificationLabels"}.',
    ),
    base: Path | None = BaseOpt,
    thumbnails: bool = ThumbnailsOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import the files a JSON list names, with their classification labels."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: uc.import_json(
            ws, dataset, file, base=base, thumbnails=thumbnails, progress=progress
        ),
    )


@app.command()
@handle_errors
def coco(
    dataset: str = DatasetArg,
    annotations: Path = typer.Argument(..., help="A COCO instances file (instances_*.json)."),
    images: Path = typer.Option(
        ..., "--images", "-i", help="Folder the images' file_name are relative to."
    ),
    captions: Path | None = typer.Option(
        None, "--captions", "-c", help="A COCO captions file: captions become the items' text."
    ),
    thumbnails: bool = ThumbnailsOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import the images of a COCO file with their boxes, polygons, masks and captions."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: uc.import_coco(
            ws,
            dataset,
            annotations,
            images=images,
            captions=captions,
            thumbnails=thumbnails,
            progress=progress,
        ),
    )
