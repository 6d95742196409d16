"""`tagscope tokens ...`: API tokens (``Authorization: Bearer tsk_...``, ``TAGSCOPE_TOKEN``).

A token is printed once, when it is made; the workspace keeps only its digest.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    console,
    err_console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
)
from tagscope.domain import ValidationError

uc = deferred("tagscope.service.accounts")

app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
_COLUMNS = [
    "user",
    "name",
    "scope",
    "dataset",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
]
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_expires(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``90m`` -> a duration; ``never`` -> None."""
    text = text.strip().lower()
    if text == "never":
        return None
    match = re.fullmatch(r"(\d+)\s*([dhm])", text)
    if match is None or int(match[1]) == 0:
        raise ValidationError(
            f"invalid expiry {text!r}: a number of days, hours or minutes (30d, 12h, 90m) or never",
            field="expires",
        )
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def _row(token: Any) -> dict[str, Any]:
    return {
        "user": token.user,
        "name": token.name,
        "scope": token.scope.value,
        "dataset": token.dataset,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


def _table_row(token: Any) -> dict[str, Any]:
    row = {k: f"{v:%Y-%m-%d %H:%M}" if hasattr(v, "year") else v for k, v in _row(token).items()}
    row["dataset"] = row["dataset"] or "all"
    row["expires_at"] = row["expires_at"] or "never"
    row["last_used_at"] = row["last_used_at"] or "never"
    return row


@app.command()
@handle_errors
def create(
    user: str = typer.Option(..., "--user", "-u", help="Whose token it is."),
    name: str = typer.Option(..., "--name", "-n", help="A name to list and revoke it by."),
    expires: str = typer.Option("30d", "--expires", help="30d, 12h, 90m, or never."),
    scope: str = typer.Option(
        "write", "--scope", help="read, write or admin (never more than the user's roles)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="The one dataset it reaches (default: all its user's)."
    ),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Create a token and print it (once: it cannot be shown again)."""
    token, secret = uc.create_token(
        open_workspace(workspace),
        user,
        name,
        expires_in=parse_expires(expires),
        scope=scope,
        dataset=dataset,
    )
    reach = f"dataset {token.dataset}" if token.dataset else "all its datasets"
    until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
    err_console.print(
        f"token {token.name!r} of {token.user}: scope {token.scope}, {reach}, {until}"
    )
    typer.echo(secret)  # alone on stdout: `TOKEN=$(tagscope tokens create ...)`
    err_console.print("Copy it now: it will not be shown again.")


@app.command("list")
@handle_errors
def list_(
    user: str | None = typer.Option(None, "--user", "-u", help="Only this user's tokens."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List tokens (never the tokens themselves): scope, dataset, expiry, last use, revoked."""
    tokens = uc.list_tokens(open_workspace(workspace), user)
    if as_json:
        print_json([_row(t) for t in tokens])
    else:
        print_table([_table_row(t) for t in tokens], _COLUMNS, title="API tokens")


@app.command()
@handle_errors
def revoke(
    user: str = typer.Option(..., "--user", "-u", help="Whose token it is."),
    name: str = typer.Option(..., "--name", "-n", help="The token's name."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Revoke a token for good (it stays listed as revoked)."""
    token = uc.revoke_token(open_workspace(workspace), user, name)
    console.print(f"revoked token {token.name!r} of {token.user}")
