"""`tagscope map DATASET --space S`: the embedding map (UMAP), computed or extended."""

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

uc = deferred("tagscope.service.embedding_map")


@handle_errors
def map_dataset(
    dataset: str = typer.Argument(..., help="The dataset to map."),
    space: str = typer.Option(..., "--space", "-s", help="The embedding space to map."),
    sample: int | None = typer.Option(
        None, "--sample", "-n", help="Items UMAP is fitted on (at most 50,000; default 50,000)."
    ),
    n_neighbors: int | None = typer.Option(None, "--neighbors", help="UMAP's (default 15)."),
    min_dist: float | None = typer.Option(None, "--min-dist", help="UMAP's (default 0.1)."),
    seed: int | None = typer.Option(None, "--seed", help="Seeds the sample and UMAP (0)."),
    refit: bool = typer.Option(
        False, "--refit", help="Fit a new model: every item moves (default: place new items)."
    ),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Compute the 2-D map of a space, or place the items added since (resumable)."""
    ws = open_workspace(workspace)
    with progress_bar(f"mapping {dataset} ({space})", enabled=not quiet) as report:
        job = uc.compute_map(
            ws,
            dataset,
            space,
            sample=sample,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            seed=seed,
            refit=refit,
            on_progress=report,
        )
    result: dict[str, Any] = {"job_id": job.id, **job.result}
    if as_json:
        print_json(result)
        return
    fitted = f"fitted on {result['n_fit']} items" if result["fitted"] else "model kept"
    console.print(
        f"map of {result['space']!r}: {result['n_points']} points ({fitted}; "
        f"{result['n_placed']} placed with transform)"
    )
