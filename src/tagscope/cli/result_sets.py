"""`tagscope result-sets ...`: the reviewed results of label jobs saved under a name; each is
the SQL view `rs_<name>` and exports with `tagscope export --result-set NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
)

uc = deferred("tagscope.service.result_sets")

app = typer.Typer(
    help="Result sets: a label job's reviewed results saved under a name (SQL view rs_<name>).",
    no_args_is_help=True,
)
_COLUMNS = ["name", "job", "n_items", "n_labels", "view", "created_by", "description"]


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "job": r.job,
        "description": r.description,
        "created_by": r.created_by,
        "created_at": r.created_at,
        "n_items": r.n_items,
        "n_labels": r.n_labels,
        "view": r.view,
        "n_pending": r.n_pending,
    }


@app.command(name="list")
@handle_errors
def list_(dataset: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """The dataset's result sets."""
    rows = [_row(r) for r in uc.list_result_sets(open_workspace(workspace), dataset)]
    if as_json:
        print_json(rows)
        return
    print_table(rows, _COLUMNS, title=f"result sets of {dataset}")


@app.command()
@handle_errors
def save(
    dataset: str,
    name: str,
    job: str = typer.Option(..., "--job", help="The submitted label job whose review to save."),
    description: str = typer.Option("", "--description", help="What the result set is."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Save the job's reviewed results as NAME: accepted changes keep the expert's label,
    rejected ones the prelabel; pending ones are left out (and counted)."""
    made = uc.save_result_set(open_workspace(workspace), dataset, name, job, description)
    if as_json:
        print_json(_row(made))
        return
    console.print(
        f"saved result set {made.name!r}: {made.n_labels} label(s) of {made.n_items} item(s), "
        f"SQL view {made.view}"
    )
    if made.n_pending:
        console.print(f"left out {made.n_pending} change(s) still pending")


@app.command()
@handle_errors
def delete(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a result set (the job and its review stay)."""
    uc.delete_result_set(open_workspace(workspace), dataset, name)
    console.print(f"deleted result set {name!r}")
