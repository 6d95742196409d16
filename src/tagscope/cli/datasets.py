"""`tagscope datasets ...`"""

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
    print_table,
    styled,
)

uc = deferred("tagscope.service.datasets")

app = typer.Typer(help="Create, list, describe and delete datasets.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_(workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the datasets of the workspace."""
    rows = [
        {"id": d.id, "name": d.name, "n_items": d.n_items, "description": d.description}
        for d in uc.list_datasets(open_workspace(workspace))
    ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["id", "name", "n_items", "description"])


@app.command()
@handle_errors
def create(
    name: str,
    description: str = typer.Option("", "--description", "-d"),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Create an empty dataset."""
    ds = uc.create_dataset(open_workspace(workspace), name, description)
    console.print(f"created dataset {ds.name!r} (id {ds.id})")


@app.command()
@handle_errors
def info(name: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """Show a dataset's counts, labels and embedding spaces."""
    info = uc.describe_dataset(open_workspace(workspace), name)
    if as_json:
        print_json(info)
        return
    console.print(styled((info["name"], "bold"), f" (id {info['id']}): {info['n_items']} items"))
    if info["labels"]:
        print_table(
            [{"label": k, "n_items": v} for k, v in info["labels"].items()],
            ["label", "n_items"],
            title="labels",
        )
    if info["spaces"]:
        print_table(info["spaces"], ["name", "kind", "model", "dim", "n_vectors"], title="spaces")


@app.command()
@handle_errors
def delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Delete a dataset with its items, labels and vectors (media files are kept)."""
    if not yes:
        typer.confirm(f"Delete dataset {name!r}?", abort=True)
    uc.delete_dataset(open_workspace(workspace), name)
    console.print(f"deleted dataset {name!r}")
