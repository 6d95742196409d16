"""`tagscope import ...`: images from a folder, CSV and JSON label lists, COCO, YOLO.

Exit status: 0 when everything was imported, 1 when the import could not run (a source file
missing or malformed: nothing changed), 2 for a usage error, 3 when it ran with problems (files
or records left out, each listed with its reason; ``--json`` lists them all).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
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

# Exit status of an import that ran but left files or records out (each is in the report).
EXIT_PROBLEMS = 3
EXIT_CODES = (
    "Exit status: 0 all imported; 1 the import could not run (nothing changed); "
    f"2 usage error; {EXIT_PROBLEMS} imported with problems (each file or record left out is "
    "listed with its reason, all of them with --json)."
)

app = typer.Typer(
    help="Import images and labels (a dataset is created when it does not exist).",
    epilog=EXIT_CODES,
    no_args_is_help=True,
)

DatasetArg = typer.Argument(..., help="The dataset to import into (created if needed).")
BaseOpt = typer.Option(
    None,
    "--base",
    "-b",
    help="Folder the listed file names are relative to and stay inside (default: the list's).",
)


class ThumbnailChoice(StrEnum):
    """``--thumbnails``: see :mod:`tagscope.service.thumbnails`."""

    defer = "defer"
    now = "now"
    none = "none"


ThumbnailsOpt = typer.Option(
    None,
    "--thumbnails",
    help="defer (default): only those that need no decoding now, the rest by `tagscope "
    "thumbnails DATASET` or in the background by `tagscope serve`; now: every one during the "
    "import (several times slower on photos); none: each made on its first view.",
    show_default=False,
)
NoThumbnailsOpt = typer.Option(False, "--no-thumbnails", help="The same as --thumbnails none.")
FollowOpt = typer.Option(
    False,
    "--follow-symlinks",
    help="Follow symbolic links leading out of the folder (to image files); without it they "
    "are reported and never opened.",
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
    """Run ``use_case(ws, progress=...)`` under a progress bar and print its report; exit with
    :data:`EXIT_PROBLEMS` when it has problems."""
    ws = open_workspace(workspace)
    with progress_bar(f"importing into {dataset}", enabled=not quiet) as report:
        result = use_case(ws, progress=report)
    if as_json:
        print_json(result)
    else:
        _print_report(dataset, result)
    if result.problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _thumbnails(mode: ThumbnailChoice | None, no_thumbnails: bool) -> str:
    """The import's thumbnail mode from ``--thumbnails`` and ``--no-thumbnails``."""
    if no_thumbnails and mode is not None and mode != ThumbnailChoice.none:
        raise typer.BadParameter(f"--no-thumbnails contradicts --thumbnails {mode.value}")
    if no_thumbnails:
        return "none"
    return mode.value if mode is not None else uc.DEFAULT_MODE


def _print_report(dataset: str, result: ImportReport) -> None:
    console.print(
        f"{dataset}: {result.n_added} new items, {result.n_existing} already there, "
        f"{result.n_labels} new labels, {len(result.problems)} problems"
    )
    if result.n_thumbnails_deferred:
        console.print(
            f"  {result.n_thumbnails_deferred} thumbnails left to make: `tagscope thumbnails "
            f"{dataset}` makes them (`tagscope serve` does in the background)",
            markup=False,
            soft_wrap=True,
        )
    for problem in result.problems[:_MAX_LISTED]:
        console.print(f"  {problem.source}: {problem.reason}", markup=False, soft_wrap=True)
    if len(result.problems) > _MAX_LISTED:
        console.print(f"  ... and {len(result.problems) - _MAX_LISTED} more (--json lists all)")


@app.command(epilog=EXIT_CODES)
@handle_errors
def images(
    dataset: str = DatasetArg,
    folder: Path = typer.Argument(..., help="Folder of images, scanned recursively."),
    labels_from_folders: bool = typer.Option(
        False, "--labels-from-folders", help="The folder holding an image names its class."
    ),
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
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
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
    )


@app.command(epilog=EXIT_CODES)
@handle_errors
def csv(
    dataset: str = DatasetArg,
    file: Path = typer.Argument(..., help="CSV rows: file name, then its labels (first: main)."),
    base: Path | None = BaseOpt,
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
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
            ws,
            dataset,
            file,
            base=base,
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
    )


@app.command("json", epilog=EXIT_CODES)
@handle_errors
def json_(
    dataset: str = DatasetArg,
    file: Path = typer.Argument(
        ...,
        help='A JSON list of {"name", "mainClassificationLabel", "classificationLabels"}.',
    ),
    base: Path | None = BaseOpt,
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
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
            ws,
            dataset,
            file,
            base=base,
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
    )


@app.command(epilog=EXIT_CODES)
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
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
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
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
    )


@app.command(epilog=EXIT_CODES)
@handle_errors
def yolo(
    dataset: str = DatasetArg,
    root: Path = typer.Argument(
        ...,
        help="A YOLO folder: images/, labels/*.txt (split sub-folders alike), data.yaml or "
        "classes.txt.",
    ),
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import a YOLO (Ultralytics) folder with its boxes and polygons; bad lines are listed by
    file and line."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: uc.import_yolo(
            ws,
            dataset,
            root,
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
    )
