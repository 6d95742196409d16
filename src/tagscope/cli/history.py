"""`tagscope history` and `tagscope undo`: the change log of a dataset's people's edits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from tagscope.service import Workspace

uc = deferred("tagscope.service.history")

_COLUMNS = ["id", "time", "actor", "action", "target", "n_changes", "status"]


def _since(text: str | None) -> datetime | None:
    """``--since``: an ISO 8601 time; without an offset it is UTC (as the history shows)."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is no ISO 8601 time: e.g. 2026-12-01T10:00 (UTC) or 2026-12-01T10:00+01:00"
        ) from None


UserOpt = typer.Option(None, "--user", help="Only the change-sets of this user (account name).")
SinceOpt = typer.Option(
    None,
    "--since",
    help="Only those made at or after this ISO 8601 time (UTC unless it has an offset).",
)


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
    user: str | None = UserOpt,
    since: str | None = SinceOpt,
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List the dataset's change-sets (reviews, examples, ...): who, when, what, how many."""
    found = uc.history(
        open_workspace(workspace), dataset, limit=limit, actor=user, since=_since(since)
    )
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
    change_id: int | None = typer.Argument(None, help="The change-set (or use --user)."),
    user: str | None = typer.Option(
        None, "--user", help="Undo all of this user's change-sets since --since (admins)."
    ),
    since: str | None = SinceOpt,
    force: bool = typer.Option(
        False, "--force", help="Undo the rest when items were changed since (those stay)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --user: undo without asking first."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Undo a change-set by writing the one that puts every item back (history stays); or, with
    --user and --since, every change-set of that user since then (newest first, all or none)."""
    if (change_id is None) == (user is None):
        raise typer.BadParameter("give a change-set id, or --user NAME --since TIME (not both)")
    ws = open_workspace(workspace)
    if user is not None:
        when = _since(since)
        if when is None:
            raise typer.BadParameter("--user needs --since: undo that user's changes since when?")
        _undo_user(ws, dataset, user, when, force=force, yes=yes)
        return
    result = uc.undo(ws, dataset, change_id, force=force)
    console.print(
        f"undid change-set {change_id} with change-set {result.change_set.id}: "
        f"{result.n_restored} record(s) restored"
    )
    _print_skipped(result.skipped)


def _undo_user(
    ws: Workspace, dataset: str, user: str, since: datetime, *, force: bool, yes: bool
) -> None:
    """List what undoing ``user``'s change-sets since ``since`` would undo; unless ``yes``, ask
    before undoing it."""
    what = f"{user}'s change-set(s) on {dataset} since {since.isoformat()}"
    plan = uc.undo_user_plan(ws, dataset, user, since)
    if not plan:
        console.print(f"nothing to undo: no {what} that is not undone yet")
        return
    print_table([_row(cs) for cs in plan], _COLUMNS, title=f"to undo, newest first: {what}")
    if not yes:
        typer.confirm(f"Undo these {len(plan)} change-set(s)?", abort=True)
    result = uc.undo_user(ws, dataset, user, since, force=force)
    pairs = ", ".join(f"{a} by {b}" for a, b in zip(result.undone, result.change_sets, strict=True))
    console.print(
        f"undid {len(result.undone)} change-set(s) of {user} ({pairs}): "
        f"{result.n_restored} record(s) restored"
    )
    _print_skipped(result.skipped)


def _print_skipped(skipped: tuple[int, ...]) -> None:
    if skipped:
        console.print(f"left as they are (changed since): item(s) {', '.join(map(str, skipped))}")
