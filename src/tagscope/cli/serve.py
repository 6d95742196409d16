"""`tagscope serve`: the REST API and the web app on a workspace."""

from __future__ import annotations

from pathlib import Path

import typer

from tagscope.cli.output import WorkspaceOpt, console, handle_errors, open_workspace


@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on."),
    workspace: Path | None = WorkspaceOpt,
) -> None:
    """Serve the REST API (docs at /docs) and the web app on the workspace."""
    import uvicorn

    from tagscope.api.app import create_app

    ws = open_workspace(workspace)
    app = create_app(ws)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    console.print(f"Tagscope on workspace {ws.paths.root}")
    console.print(f"serving at http://{shown}:{port}/  (API docs: http://{shown}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
