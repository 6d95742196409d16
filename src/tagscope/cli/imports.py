"""`tagscope import ...`: images from a folder, CSV and JSON label lists, COCO, YOLO; videos
with their transcripts; metadata fields keyed by file name.

Exit status: 0 when everything was imported, 1 when the import could not run (a source file
missing or malformed: nothing changed), 2 for a usage error, 3 when it ran with problems (files
or records left out, each listed with its reason; ``--json`` lists them all).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

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
from tagscope.domain import ImportProblem, ImportReport

uc = deferred("tagscope.service.imports")
video_uc = deferred("tagscope.service.video_import")
metadata_uc = deferred("tagscope.service.metadata_import")

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
    use_case: Callable[..., Any],
    print_report: Callable[[str, Any], None] | None = None,
) -> None:
    """Run ``use_case(ws, progress=...)`` under a progress bar and print its report (by
    ``print_report``, default :func:`_print_report`); exit with :data:`EXIT_PROBLEMS` when it
    has problems."""
    ws = open_workspace(workspace)
    with progress_bar(f"importing into {dataset}", enabled=not quiet) as report:
        result = use_case(ws, progress=report)
    if as_json:
        print_json(result)
    else:
        (print_report or _print_report)(dataset, result)
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
    _print_problems(result.problems)


def _print_problems(problems: list[ImportProblem]) -> None:
    for problem in problems[:_MAX_LISTED]:
        console.print(f"  {problem.source}: {problem.reason}", markup=False, soft_wrap=True)
    if len(problems) > _MAX_LISTED:
        console.print(f"  ... and {len(problems) - _MAX_LISTED} more (--json lists all)")


@app.command(epilog=EXIT_CODES)
@handle_errors
def images(
    dataset: str = DatasetArg,
    folder: str = typer.Argument(
        ..., help="Folder of images, scanned recursively: a path, file:// or fsspec URI."
    ),
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


@app.command(epilog=EXIT_CODES)
@handle_errors
def video(
    dataset: str = DatasetArg,
    folder: str = typer.Argument(
        ..., help="Folder of videos (mp4, webm, mkv, mov), recursively: a path or URI."
    ),
    keyframes: str = typer.Option(
        "every:1s",
        "--keyframes",
        "-k",
        help="every:<n>s (or ms): a keyframe at that rate; scene: one per shot (the sharpest "
        "frame of its middle).",
    ),
    transcripts: Path | None = typer.Option(
        None,
        "--transcripts",
        "-t",
        help="Folder of the transcripts (<video stem>.srt or .vtt); default: next to each video.",
    ),
    thumbnails: ThumbnailChoice | None = ThumbnailsOpt,
    no_thumbnails: bool = NoThumbnailsOpt,
    follow_symlinks: bool = FollowOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Import every video under a folder: each becomes a video item, its shots (from scene
    changes), its keyframes (JPEG) and its transcript cues; videos already there are skipped, an
    interrupted import goes on where it stopped. Progress counts seconds of video."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: video_uc.import_video(
            ws,
            dataset,
            folder,
            keyframes=keyframes,
            transcripts=transcripts,
            thumbnails=_thumbnails(thumbnails, no_thumbnails),
            follow_symlinks=follow_symlinks,
            progress=progress,
        ),
        _print_video_report,
    )


def _print_video_report(dataset: str, result: Any) -> None:
    console.print(
        f"{dataset}: {result.n_videos} new videos ({result.n_shots} shots, "
        f"{result.n_keyframes} keyframes, {result.n_cues} transcript cues), "
        f"{result.n_existing} already there, {len(result.problems)} problems",
        soft_wrap=True,
    )
    _print_problems(result.problems)


@app.command(epilog=EXIT_CODES)
@handle_errors
def metadata(
    dataset: str = typer.Argument(..., help="The dataset whose items get the fields."),
    file: Path = typer.Argument(
        ...,
        help="A CSV (a header; a file/file_name/name/path column, else the first) or a JSON "
        "file ({file name: {field: value}} or a list of objects with a 'file' field).",
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Merge metadata fields keyed by file name (e.g. series_name, episode_name) into the
    dataset's videos and images; in SQL each field is a column of items."""
    _run(
        workspace,
        dataset,
        quiet,
        as_json,
        lambda ws, progress: metadata_uc.import_metadata(ws, dataset, file, progress=progress),
        _print_metadata_report,
    )


def _print_metadata_report(dataset: str, result: Any) -> None:
    console.print(
        f"{dataset}: {result.n_updated} items updated, {result.n_unchanged} unchanged, "
        f"fields {', '.join(result.fields) or '(none)'}, {len(result.problems)} problems",
        markup=False,
        soft_wrap=True,
    )
    _print_problems(result.problems)
