"""`tagscope thumbnails DATASET`: make the thumbnails an import left to later (resumable).

Exit status: 0 when every item has its thumbnail, 1 when it could not run, 3 when some items
got none (each listed with its reason, the first thousand of them).
"""

from __future__ import annotations

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

uc = deferred("tagscope.service.thumbnails")

EXIT_PROBLEMS = 3


@handle_errors
def thumbnails(
    dataset: str = typer.Argument(..., help="The dataset whose thumbnails to make."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Make the missing thumbnails of a dataset's items, in parallel (resumable: a run goes on
    after the items the last finished one covered)."""
    ws = open_workspace(workspace)
    with progress_bar(f"thumbnails of {dataset}", enabled=not quiet) as report:
        job = uc.fill_thumbnails(ws, dataset, progress=report)
    result: dict[str, Any] = {"job_id": job.id, **job.result}
    if as_json:
        print_json(result)
    else:
        console.print(
            f"{dataset}: {result['n_made']} thumbnails made, {result['n_present']} there already, "
            f"{result['n_problems']} problems, of {result['n_items']} items checked"
        )
        for problem in result["problems"]:
            console.print(
                f"  {problem['source']}: {problem['reason']}", markup=False, soft_wrap=True
            )
    if result["n_problems"]:
        raise typer.Exit(EXIT_PROBLEMS)
