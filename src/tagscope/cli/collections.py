"""`tagscope collections ...`: static (item ids) and dynamic (a saved grid filter) collections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    IdsArg,
    JsonOpt,
    WorkspaceOpt,
    console,
    handle_errors,
    open_workspace,
    parse_ids,
    print_json,
    print_table,
)

uc = deferred("tagscope.service.collections")

app = typer.Typer(
    help="Collections: named sets of a dataset's items, static or dynamic (a saved filter).",
    no_args_is_help=True,
)
_COLUMNS = ["id", "title", "kind", "n_items", "filter", "description"]


def _row(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "kind": str(c.kind),
        "n_items": c.n_items,
        "filter": c.filter,
        "description": c.description,
        "created_at": c.created_at,
    }


@app.command()
@handle_errors
def create(
    dataset: str,
    title: str,
    where: str | None = typer.Option(
        None, "--where", help="A grid filter: a dynamic collection, evaluated when read."
    ),
    items: str | None = typer.Option(
        None, "--items", help="Item ids (1,2,5): a static collection."
    ),
    description: str = typer.Option("", "--description", help="What the collection is for."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Create a collection from a filter (--where) or from item ids (--items)."""
    ids = parse_ids(items) if items is not None else None
    made = uc.create_collection(
        open_workspace(workspace),
        dataset,
        title,
        where=where,
        item_ids=ids,
        description=description,
    )
    console.print(f"created {made.kind} collection {made.title!r} ({made.n_items} items)")


@app.command("list")
@handle_errors
def list_(dataset: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the dataset's collections (a dynamic one's n_items is counted by `show`)."""
    rows = [_row(c) for c in uc.list_collections(open_workspace(workspace), dataset)]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, _COLUMNS, title=f"collections of {dataset}")


@app.command()
@handle_errors
def show(
    dataset: str, title: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Show a collection and its item ids (a dynamic one evaluated now)."""
    ws = open_workspace(workspace)
    ids = uc.collection_item_ids(ws, dataset, title)
    row = {**_row(uc.get_collection(ws, dataset, title)), "n_items": len(ids), "item_ids": ids}
    if as_json:
        print_json(row)
        return
    print_table([row], _COLUMNS, title=f"collection {row['title']}")
    console.print("items: " + (", ".join(map(str, row["item_ids"])) or "none"))


@app.command()
@handle_errors
def freeze(dataset: str, title: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Turn a dynamic collection into a static one of the items its filter matches now."""
    frozen = uc.freeze(open_workspace(workspace), dataset, title)
    console.print(f"froze collection {frozen.title!r}: {frozen.n_items} items")


@app.command()
@handle_errors
def delete(dataset: str, title: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a collection (its items stay in the dataset; `tagscope undo` brings it back)."""
    uc.delete_collection(open_workspace(workspace), dataset, title)
    console.print(f"deleted collection {title!r}")


@app.command()
@handle_errors
def add(dataset: str, title: str, ids: str = IdsArg, workspace: Path | None = WorkspaceOpt) -> None:
    """Add items to a static collection."""
    done = uc.add_items(open_workspace(workspace), dataset, title, parse_ids(ids))
    console.print(f"collection {done.title!r} has {done.n_items} item(s)")


@app.command()
@handle_errors
def remove(
    dataset: str, title: str, ids: str = IdsArg, workspace: Path | None = WorkspaceOpt
) -> None:
    """Remove items from a static collection."""
    done = uc.remove_items(open_workspace(workspace), dataset, title, parse_ids(ids))
    console.print(f"collection {done.title!r} has {done.n_items} item(s)")
