"""`tagscope users ...`: the accounts of a workspace served to several people (F-90).

Run on the workspace folder, these act as its owner (every right); ``tagscope serve`` then asks
the accounts made here to log in.
"""

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
from tagscope.domain.access import parse_role, validate_user_name

uc = deferred("tagscope.service.accounts")

app = typer.Typer(
    help="User accounts: roles (workspace-wide or per dataset), passwords, disabling.",
    no_args_is_help=True,
)
_NONE = "none"  # the role word for "no role"
_ROLES = "viewer, annotator, reviewer, editor, admin or none"
_COLUMNS = ["name", "role", "dataset_roles", "disabled", "created_at"]
PasswordStdinOpt = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin (scripts)."
)


def read_password(from_stdin: bool) -> str:
    """The password: the first line of stdin, or asked twice without echo."""
    if from_stdin:
        return typer.get_text_stream("stdin").readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _role(word: str | None) -> str | None:
    return None if word is None or word.lower() == _NONE else word


def _row(user: Any) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value if user.role else None,
        "dataset_roles": {d: r.value for d, r in user.dataset_roles.items()},
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


def _table_row(user: Any) -> dict[str, Any]:
    row = _row(user)
    row["role"] = row["role"] or _NONE
    row["dataset_roles"] = ", ".join(f"{d}: {r}" for d, r in row["dataset_roles"].items())
    row["disabled"] = "disabled" if user.disabled else ""
    return row


@app.command()
@handle_errors
def add(
    name: str,
    role: str = typer.Option("viewer", "--role", help=f"Workspace-wide role: {_ROLES}."),
    password_stdin: bool = PasswordStdinOpt,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Add a user (asks for its password twice, or reads it from stdin)."""
    ws = open_workspace(workspace)
    validate_user_name(name)  # before the password is asked
    if _role(role) is not None:
        parse_role(role)
    user = uc.add_user(ws, name, read_password(password_stdin), role=_role(role))
    console.print(f"added user {user.name} ({user.role.value if user.role else 'no role'})")


@app.command("list")
@handle_errors
def list_(workspace: Path | None = WorkspaceOpt, as_json: bool = JsonOpt) -> None:
    """List the users, their roles (per dataset too) and whether they are disabled."""
    users = uc.list_users(open_workspace(workspace))
    if as_json:
        print_json([_row(u) for u in users])
    else:
        print_table([_table_row(u) for u in users], _COLUMNS, title="users")


@app.command("set-role")
@handle_errors
def set_role(
    name: str,
    role: str = typer.Argument(..., help=f"{_ROLES} (with --dataset, none removes the role)."),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Set the role on this dataset only (overrides the other)."
    ),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Set a user's workspace-wide role, or its role on one dataset."""
    user = uc.set_role(open_workspace(workspace), name, _role(role), dataset=dataset)
    if dataset is None:
        console.print(f"{user.name} is now {user.role.value if user.role else 'without a role'}")
    elif dataset in user.dataset_roles:
        console.print(f"{user.name} is now {user.dataset_roles[dataset].value} on {dataset}")
    else:
        console.print(f"{user.name} has no role of its own on {dataset} now")


@app.command()
@handle_errors
def disable(name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Disable a user: its sessions end, its tokens are refused, it cannot log in."""
    uc.disable_user(open_workspace(workspace), name)
    console.print(f"disabled user {name}")


@app.command()
@handle_errors
def enable(name: str, workspace: Path | None = WorkspaceOpt) -> None:
    """Enable a disabled user again."""
    uc.disable_user(open_workspace(workspace), name, disabled=False)
    console.print(f"enabled user {name}")


@app.command("reset-password")
@handle_errors
def reset_password(
    name: str, password_stdin: bool = PasswordStdinOpt, workspace: Path | None = WorkspaceOpt
) -> None:
    """Give a user a new password (asked twice, or read from stdin); its sessions end."""
    ws = open_workspace(workspace)
    uc.get_user(ws, name)  # an unknown name fails before the password is asked
    uc.reset_password(ws, name, read_password(password_stdin))
    console.print(f"new password set for {name}; its sessions have ended")
