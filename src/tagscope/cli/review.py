"""`tagscope review ...`: the expert review of a submitted label job. `tagscope review DATASET
JOB` shows the tabs and the class-changed table; `review changes` lists changes, `review accept`,
`reject` and `pending` decide a cell (the filters) or chosen changes (--ids), undoable with
`tagscope undo`."""

from __future__ import annotations

import dataclasses
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
    parse_ids,
    print_json,
    print_table,
)

uc = deferred("tagscope.service.review")

app = typer.Typer(
    cls=ShowByDefault,
    help="Review a submitted label job: accept or reject its label changes. "
    "`tagscope review DATASET JOB` shows the class-changed table.",
    no_args_is_help=True,
)
StatusOpt = typer.Option(None, "--status", help="pending, accepted or rejected (a tab).")
ClassOpt = typer.Option(None, "--class", help="The expert's class.")
ChangedOpt = typer.Option(
    None, "--class-changed/--class-unchanged", help="Whether the expert changed the class."
)
ChangeOpt = typer.Option(
    None, "--change", help="unchanged, class_changed, geometry_changed, added or deleted."
)
MinAreaOpt = typer.Option(None, "--min-area", help="Expert label area at least (pixels).")
MaxAreaOpt = typer.Option(None, "--max-area", help="Expert label area at most (pixels).")
MinAdjOpt = typer.Option(None, "--min-adjustment", help="Expert area / prelabel area at least.")
MaxAdjOpt = typer.Option(None, "--max-adjustment", help="Expert area / prelabel area at most.")
IdsOpt = typer.Option(None, "--ids", help="Change ids (1,2,5) instead of filters.")
_COLUMNS = [
    "id",
    "item_id",
    "path",
    "change",
    "expert_class",
    "prelabel_class",
    "iou",
    "expert_area",
    "adjustment",
    "status",
]


def _filters(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@app.command()
@handle_errors
def show(
    dataset: str, job: str, workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt
) -> None:
    """The tabs (changes per status) and the class-changed table."""
    s = uc.summary(open_workspace(workspace), dataset, job)
    table = [dataclasses.asdict(r) for r in s.table]
    if as_json:
        print_json({"tabs": s.tabs, "table": table, "changes": s.changes})
        return
    console.print("  ".join(f"{status}: {n}" for status, n in s.tabs.items()))
    rows = [{**r, "expert_class": r["expert_class"] or "(deleted)"} for r in table]
    columns = ["expert_class", "class_changed", "pending", "accepted", "rejected"]
    print_table(rows, columns, title=f"class changed in {job}")
    console.print("  ".join(f"{kind}: {n}" for kind, n in s.changes.items()))


@app.command()
@handle_errors
def changes(
    dataset: str,
    job: str,
    status: str | None = StatusOpt,
    expert_class: str | None = ClassOpt,
    class_changed: bool | None = ChangedOpt,
    change: str | None = ChangeOpt,
    min_area: float | None = MinAreaOpt,
    max_area: float | None = MaxAreaOpt,
    min_adjustment: float | None = MinAdjOpt,
    max_adjustment: float | None = MaxAdjOpt,
    group_by: str | None = typer.Option(None, "--group-by", help="class or class_changed."),
    limit: int = typer.Option(100, "--limit", help="Changes to show."),
    offset: int = typer.Option(0, "--offset", help="Changes to skip."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the job's label changes matching the filters."""
    page = uc.changes(
        open_workspace(workspace),
        dataset,
        job,
        status=status,
        expert_class=expert_class,
        class_changed=class_changed,
        change=change,
        min_area=min_area,
        max_area=max_area,
        min_adjustment=min_adjustment,
        max_adjustment=max_adjustment,
        group_by=group_by,
        limit=limit,
        offset=offset,
    )
    rows = [dataclasses.asdict(c) for c in page.changes]
    if as_json:
        print_json({"total": page.total, "changes": rows})
        return
    print_table(rows, _COLUMNS, title=f"{len(rows)} of {page.total} change(s) of {job}")


def _decide(decision: str, verb: str) -> Any:
    @handle_errors
    def command(
        dataset: str,
        job: str,
        ids: str | None = IdsOpt,
        status: str | None = StatusOpt,
        expert_class: str | None = ClassOpt,
        class_changed: bool | None = ChangedOpt,
        change: str | None = ChangeOpt,
        min_area: float | None = MinAreaOpt,
        max_area: float | None = MaxAreaOpt,
        min_adjustment: float | None = MinAdjOpt,
        max_adjustment: float | None = MaxAdjOpt,
        workspace: Path | None = WorkspaceOpt,
        as_json: bool = JsonOpt,
    ) -> None:
        filters = _filters(
            status=status,
            expert_class=expert_class,
            class_changed=class_changed,
            change=change,
            min_area=min_area,
            max_area=max_area,
            min_adjustment=min_adjustment,
            max_adjustment=max_adjustment,
        )
        chosen = parse_ids(ids, "change", field="ids") if ids is not None else None
        done = uc.decide(open_workspace(workspace), dataset, job, decision, ids=chosen, **filters)
        if as_json:
            print_json({"change_set": done.change_set, "n_changed": done.n_changed})
            return
        console.print(f"{verb} {done.n_changed} change(s) of {job}")
        if done.change_set is not None:
            console.print(
                f"change-set {done.change_set} (undo: tagscope undo {dataset} {done.change_set})"
            )

    command.__doc__ = (
        f"Mark as {decision} the changes --ids, or every change matching the filters (none: "
        "all the job's changes); one change-set."
    )
    return command


app.command(name="accept")(_decide("accepted", "accepted"))
app.command(name="reject")(_decide("rejected", "rejected"))
app.command(name="pending")(_decide("pending", "moved back to pending"))
