"""`tagscope serve`: the REST API and the web app on a workspace.

With accounts (the default) every request needs a session or an API token; the first serve of a
workspace without an admin refuses a non-loopback ``--host`` (anyone on the network could reach
it, and nobody could sign in to manage it) and, on loopback, says how to create one.
``--no-auth`` is the open local mode of one person: every request acts as the workspace owner.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from tagscope.api.guards import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from tagscope.cli.output import WorkspaceOpt, console, handle_errors, open_workspace
from tagscope.domain import TagscopeError

MB = 1 << 20
ADD_ADMIN = "tagscope users add NAME --role admin"


@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on."),
    # Annotated options: the defaults hold when `tagscope demo --serve` calls this function.
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="Another host name to answer (repeatable; NAME, NAME:PORT, or * for any). "
            "Only localhost, 127.0.0.1, ::1 and --host by default: other names are refused, "
            "against DNS rebinding.",
        ),
    ] = None,
    max_body_mb: Annotated[
        float, typer.Option("--max-body-mb", min=0.001, help="Largest request body (MB).")
    ] = MAX_BODY_BYTES / MB,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", min=0.001, help="Largest upload (MB).")
    ] = MAX_UPLOAD_BYTES / MB,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="No accounts: anyone who reaches the port acts as the workspace owner (one "
            "person on their own machine).",
        ),
    ] = False,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            "--secure-cookies",
            help="Mark the session cookie Secure on plain http too (behind a TLS proxy).",
        ),
    ] = False,
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Serve the REST API (docs at /docs) and the web app on the workspace."""
    import uvicorn

    from tagscope.api.app import create_app
    from tagscope.service import accounts

    ws = open_workspace(workspace)
    has_admin = no_auth or accounts.has_admin(ws)
    if not has_admin and not is_loopback(host):
        raise TagscopeError(
            f"refusing to serve on {host} without an admin account: anyone on the network "
            f"could reach it and nobody could manage it. Create one with `{ADD_ADMIN}` (or "
            "serve on 127.0.0.1)"
        )
    app = create_app(
        ws,
        auth=not no_auth,
        secure_cookies=secure_cookies,
        allowed_hosts=[host, *(allowed_host or [])],
        max_body_bytes=int(max_body_mb * MB),
        max_upload_bytes=int(max_upload_mb * MB),
    )
    _log_to_stderr()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    console.print(f"Tagscope on workspace {ws.paths.root}")
    console.print(f"serving at http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    if no_auth:
        console.print(
            "no accounts (--no-auth): anyone who reaches this port acts as the workspace owner"
        )
    else:
        console.print("accounts: on (sign in to the web app; API clients send a token)")
        if not has_admin:
            console.print(f"no admin account yet: create one with `{ADD_ADMIN}`, then sign in")
    if host in ("0.0.0.0", "::") and not allowed_host:
        console.print("other machines reach it by a name given with --allowed-host NAME")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: whatever it resolves to, others may reach it
        return False


def _log_to_stderr() -> None:
    """Warnings and errors of Tagscope's loggers (a failed background job, with its traceback)
    on stderr, beside uvicorn's own."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tagscope")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
