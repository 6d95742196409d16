"""`tagscope serve`: the REST API and the web app on a workspace."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tagscope.api.guards import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from tagscope.cli.output import WorkspaceOpt, console, handle_errors, open_workspace

MB = 1 << 20


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
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Serve the REST API (docs at /docs) and the web app on the workspace."""
    import uvicorn

    from tagscope.api.app import create_app

    ws = open_workspace(workspace)
    app = create_app(
        ws,
        allowed_hosts=[host, *(allowed_host or [])],
        max_body_bytes=int(max_body_mb * MB),
        max_upload_bytes=int(max_upload_mb * MB),
    )
    _log_to_stderr()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    console.print(f"Tagscope on workspace {ws.paths.root}")
    console.print(f"serving at http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    if host in ("0.0.0.0", "::") and not allowed_host:
        console.print("other machines reach it by a name given with --allowed-host NAME")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _log_to_stderr() -> None:
    """Warnings and errors of Tagscope's loggers (a failed background job, with its traceback)
    on stderr, beside uvicorn's own."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tagscope")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
