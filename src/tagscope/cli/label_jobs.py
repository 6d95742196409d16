"""`tagscope label-jobs ...`: auto jobs (prelabels from a tag or from predictions) and manual
jobs (people label a collection seeing the prelabels, then submit it for review)."""

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

uc = deferred("tagscope.service.label_jobs")

app = typer.Typer(
    help="Label jobs: pre-label a collection (auto) or have people label it (manual), submit.",
    no_args_is_help=True,
)
_COLUMNS = ["name", "kind", "status", "collection", "n_items", "n_done", "changes"]
_ITEM_COLUMNS = ["item_id", "assignee", "done", "prelabels", "expert", "path"]


def _row(job: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "kind": str(job.kind),
        "status": str(job.status),
        "collection": job.collection,
        "params": job.params,
        "assignees": list(job.assignees),
        "created_by": job.created_by,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "n_items": job.n_items,
        "n_done": job.n_done,
        "changes": job.changes,
    }


def _counts(changes: dict[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(changes.items())) or "-"


@app.command("list")
@handle_errors
def list_(dataset: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the dataset's label jobs, newest first."""
    rows = [_row(j) for j in uc.list_jobs(open_workspace(workspace), dataset)]
    if as_json:
        print_json(rows)
        return
    shown = [{**r, "changes": _counts(r["changes"])} for r in rows]
    print_table(shown, _COLUMNS, title=f"label jobs of {dataset}")


@app.command()
@handle_errors
def create(
    dataset: str,
    name: str,
    collection: str = typer.Option(..., "--collection", "-c", help="The collection's title."),
    assignees: list[str] = typer.Option(
        [], "--assignee", "-a", help="Manual: a user id the items are given to (repeat)."
    ),
    tag: str | None = typer.Option(None, "--tag", help="Auto: pre-label from this tag."),
    group: str | None = typer.Option(None, "--group", help="Auto: the tag's group."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Auto: instead of the tag's threshold."
    ),
    predictions: bool = typer.Option(
        False, "--from-predictions", help="Auto: copy the items' prediction labels."
    ),
    model: str | None = typer.Option(
        None, "--model", help="Auto, with --from-predictions: only this model's predictions."
    ),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Create a job: auto with --tag/--group or --from-predictions (prelabels written now, one
    change-set `tagscope undo` removes), else manual."""
    ws = open_workspace(workspace)
    if tag is not None or group is not None or predictions:
        job = uc.create_auto_job(
            ws,
            dataset,
            name,
            collection,
            tag=tag,
            group=group,
            threshold=threshold,
            source_labels=uc.PREDICTIONS if predictions else None,
            model=model,
        )
        console.print(
            f"created auto label job {job.name!r}: {job.params['n_prelabels']} prelabel(s) on "
            f"{job.n_items} item(s), change-set {job.params['change_set']}"
        )
        return
    job = uc.create_manual_job(ws, dataset, name, collection, assignees)
    given = f", given to {', '.join(job.assignees)}" if job.assignees else ""
    console.print(f"created manual label job {job.name!r} of {job.n_items} item(s){given}")


@app.command()
@handle_errors
def show(
    dataset: str, name: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """Show a job with its counts (items, items done, label changes per kind)."""
    row = _row(uc.get_job(open_workspace(workspace), dataset, name))
    if as_json:
        print_json(row)
        return
    print_table([{**row, "changes": _counts(row["changes"])}], _COLUMNS, title=f"label job {name}")
    console.print(f"params: {row['params']}")


@app.command()
@handle_errors
def items(
    dataset: str,
    name: str,
    assignee: str | None = typer.Option(None, "--assignee", help="Only this person's items."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List a job's items with their prelabels and expert labels."""
    found = uc.job_items(open_workspace(workspace), dataset, name, assignee)
    if as_json:
        print_json(found)
        return
    rows = [
        {
            "item_id": i.item_id,
            "assignee": i.assignee,
            "done": i.done_at is not None,
            "prelabels": len(i.prelabels),
            "expert": len(i.expert),
            "path": i.path,
        }
        for i in found
    ]
    print_table(rows, _ITEM_COLUMNS, title=f"items of label job {name}")


@app.command()
@handle_errors
def done(
    dataset: str,
    name: str,
    ids: str = IdsArg,
    undo: bool = typer.Option(False, "--not", help="Mark them not done."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Mark items of an open manual job done."""
    n = uc.mark_done(open_workspace(workspace), dataset, name, parse_ids(ids), done=not undo)
    console.print(f"marked {n} item(s) {'not ' if undo else ''}done")


@app.command()
@handle_errors
def submit(
    dataset: str,
    name: str,
    iou: float = typer.Option(0.5, "--iou", help="The least IoU of a matched pair, in (0, 1]."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Submit a manual job: match expert labels to prelabels into label changes for review."""
    job = uc.submit_job(open_workspace(workspace), dataset, name, iou)
    if as_json:
        print_json(_row(job))
        return
    console.print(f"submitted label job {job.name!r}: {_counts(job.changes)}")


@app.command()
@handle_errors
def delete(dataset: str, name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Delete a job with its label changes (its labels stay)."""
    uc.delete_job(open_workspace(workspace), dataset, name)
    console.print(f"deleted label job {name!r}")
