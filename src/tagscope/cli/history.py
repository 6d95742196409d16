"""`tagscope history` and `tagscope undo`: the change log of a dataset's people's edits."""

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

uc = deferred("tagscope.service.history")

_COLUMNS = ["id", "time", "actor", "action", "target", "n_changes", "status"]


def _row(cs: Any) -> dict[str, Any]:
    status = ""
    if cs.undone_by is not None:
        status = f"undone by {cs.undone_by}"
    elif cs.undoes is not None:
        status = f"undoes {cs.undoes}"
    return {
        "id": cs.id,
        "time": cs.created_at.isoformat(timespec="seconds"),
        "actor": cs.actor,
        "action": cs.action,
        "target": " / ".join(str(v) for v in cs.target.values()),
        "n_changes": cs.n_changes,
        "status": status,
    }


@handle_errors
def history(
    dataset: str,
    limit: int = typer.Option(100, "--limit", help="How many change-sets, newest first."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the dataset's change-sets (reviews, examples, ...): who, when, what, how many."""
    found = uc.history(open_workspace(workspace), dataset, limit=limit)
    if as_json:
        print_json(
            [
                {
                    "id": cs.id,
                    "created_at": cs.created_at,
                    "actor": cs.actor,
                    "action": cs.action,
                    "params": cs.params,
                    "target": cs.target,
                    "n_changes": cs.n_changes,
                    "undoes": cs.undoes,
                    "undone_by": cs.undone_by,
                }
                for cs in found
            ]
        )
        return
    print_table([_row(cs) for cs in found], _COLUMNS, title=f"history of {dataset}")


@handle_errors
def undo(
    dataset: str,
    change_id: int,
    force: bool = typer.Option(
        False, "--force", help="Undo the rest when items were changed since (those stay)."
    ),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Undo a change-set by writing the one that puts every item back (history stays)."""
    result = uc.undo(open_workspace(workspace), dataset, change_id, force=force)
    console.print(
        f"undid change-set {change_id} with change-set {result.change_set.id}: "
        f"{result.n_restored} record(s) restored"
    )
    if result.skipped:
        ids = ", ".join(map(str, result.skipped))
        console.print(f"left as they are (changed since): item(s) {ids}")
