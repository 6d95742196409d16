"""`tagscope labels ...`: an item's labels; add or delete a ground-truth label (each one
change-set: undo it with `tagscope undo`). `tagscope labels DATASET ITEM_ID` shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    ShowByDefault,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
)
from tagscope.domain import Label, LabelKind, ValidationError

uc = deferred("tagscope.service.labels")

app = typer.Typer(
    cls=ShowByDefault,
    help="An item's labels; add or delete ground-truth ones (undo with `tagscope undo`). "
    "`tagscope labels DATASET ITEM_ID` shows them.",
    no_args_is_help=True,
)
_KEYS = {"polygon": "polygons", "polyline": "lines", "rle": "rle"}  # option -> geometry key
_COLUMNS = ["id", "kind", "name", "source", "is_main", "score", "area", "author", "geometry"]


def _row(label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "kind": str(label.kind),
        "name": label.name,
        "source": str(label.source),
        "is_main": label.is_main,
        "score": label.score,
        "geometry": label.geometry,
        "attributes": label.attributes,
        "class_id": label.class_id,
        "area": label.area,
        "author": label.author,
        "created_at": label.created_at,
        "model": label.model,
    }


def _print(labels: list[Label], title: str) -> None:
    rows = [{**_row(lab), "geometry": _short(lab.geometry)} for lab in labels]
    print_table(rows, _COLUMNS, title=title)


def _short(geometry: dict[str, Any] | None, limit: int = 60) -> str:
    text = "" if geometry is None else json.dumps(geometry)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@app.command()
@handle_errors
def show(
    dataset: str, item_id: int, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Show every label of the item (ground truth, predictions, prelabels)."""
    labels = uc.item_labels(open_workspace(workspace), dataset, item_id)
    if as_json:
        print_json({"item_id": item_id, "labels": [_row(lab) for lab in labels]})
        return
    _print(labels, f"labels of item {item_id}")


@app.command()
@handle_errors
def add(
    dataset: str,
    item_id: int,
    kind: LabelKind = typer.Option(..., "--kind", help="The label's kind."),
    name: str = typer.Option(..., "--name", help="Its class (created when missing)."),
    bbox: str | None = typer.Option(None, "--bbox", help="A box: x,y,width,height in pixels."),
    polygon: str | None = typer.Option(
        None, "--polygon", help="A polygon: JSON list of parts [[x0, y0, x1, y1, ...], ...]."
    ),
    polyline: str | None = typer.Option(
        None, "--polyline", help="A polyline: JSON list of lines [[x0, y0, x1, y1, ...], ...]."
    ),
    rle: str | None = typer.Option(
        None, "--rle", help='A mask: COCO RLE as JSON {"size": [h, w], "counts": ...}.'
    ),
    main: bool = typer.Option(False, "--main", help="The item's main classification."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add a ground-truth label to the item."""
    geometry = _geometry(bbox, polygon, polyline, rle)
    label = Label(kind, name, is_main=main, geometry=geometry)
    _report(uc.add_label(open_workspace(workspace), dataset, item_id, label), dataset, as_json)


@app.command()
@handle_errors
def delete(
    dataset: str, label_id: int, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Delete a ground-truth label."""
    _report(uc.delete_label(open_workspace(workspace), dataset, label_id), dataset, as_json)


def _report(edit: Any, dataset: str, as_json: bool) -> None:
    if as_json:
        labels = [_row(lab) for lab in edit.labels]
        print_json({"item_id": edit.item_id, "change_set": edit.change_set, "labels": labels})
        return
    _print(edit.labels, f"labels of item {edit.item_id}")
    if edit.change_set is not None:
        console.print(
            f"change-set {edit.change_set} (undo: tagscope undo {dataset} {edit.change_set})"
        )


def _geometry(
    bbox: str | None, polygon: str | None, polyline: str | None, rle: str | None
) -> dict[str, Any] | None:
    """The geometry of the one option given (None: a classification)."""
    options = {"bbox": bbox, "polygon": polygon, "polyline": polyline, "rle": rle}
    given = {k: v for k, v in options.items() if v is not None}
    if len(given) > 1:
        raise ValidationError("give one of --bbox, --polygon, --polyline, --rle", field="geometry")
    if not given:
        return None
    [(option, text)] = given.items()
    if option == "bbox":
        try:
            return {"bbox": [float(v) for v in text.split(",")]}
        except ValueError:
            raise ValidationError(
                f"--bbox is x,y,width,height, got {text!r}", field="bbox"
            ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--{option} is not JSON: {exc.msg}", field=option) from None
    return {_KEYS[option]: value}
