"""`tagscope split`: put items in the train, validation or test split (the validation set)."""

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
from tagscope.domain import ValidationError

uc = deferred("tagscope.service.splits")


@handle_errors
def split(
    dataset: str,
    to: str = typer.Option(
        ..., "--to", help="train, validation or test; 'none' clears the items' split."
    ),
    ids: str | None = typer.Option(None, "--ids", help="Item ids, comma-separated."),
    collection: str | None = typer.Option(None, "--collection", help="A collection's title."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set the split of the items (--ids) or of a collection's items (--collection), one
    change-set; undo with `tagscope undo`."""
    item_ids = None if ids is None else _ids(ids)
    target = None if to.strip().lower() == "none" else to.strip()
    result = uc.set_split(
        open_workspace(workspace), dataset, item_ids, target, collection=collection
    )
    if as_json:
        print_json({"change_set": result.change_set, "n_changed": result.n_changed})
        return
    console.print(f"{result.n_changed} item(s) now in split {target or 'none'}")
    if result.change_set is not None:
        console.print(
            f"change-set {result.change_set} (undo: tagscope undo {dataset} {result.change_set})"
        )


def _ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValidationError(
            f"--ids must be comma-separated integers, not {text!r}", field="ids"
        ) from None
