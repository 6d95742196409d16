"""`tagscope bulk-classify`: one classification on every item of a collection."""

from __future__ import annotations

from pathlib import Path

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
)

uc = deferred("tagscope.service.bulk")


@handle_errors
def bulk_classify(
    dataset: str,
    collection: str,
    label: str = typer.Option(..., "--class", help="The class: a label name."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the classification of items that have one."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only count what would change and what would be skipped."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Classify every item of COLLECTION as the class (its main label); undo with `tagscope
    undo`. Items classified already are skipped unless --overwrite."""
    result = uc.bulk_classify(
        open_workspace(workspace),
        dataset,
        collection=collection,
        label=label,
        overwrite=overwrite,
        dry_run=dry_run,
    )
    if as_json:
        print_json(
            {
                "n_changed": result.n_changed,
                "n_skipped": result.n_skipped,
                "skipped": result.skipped,
                "change_set": result.change_set,
                "dry_run": result.dry_run,
            }
        )
        return
    verb = "would classify" if dry_run else "classified"
    console.print(f"{verb} {result.n_changed} item(s) as {label.strip()!r}")
    for reason, n in sorted(result.skipped.items()):
        console.print(f"skipped {n} item(s): {reason}")
    if result.change_set is not None:
        console.print(
            f"change-set {result.change_set} (undo: tagscope undo {dataset} {result.change_set})"
        )
