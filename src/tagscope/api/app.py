"""The REST API and the web app's server: ``create_app(workspace)``.

Every route lives under ``/api`` (OpenAPI UI at ``/docs``, schema at ``/openapi.json``); the built
web app (``tagscope/web/dist``) is served at ``/`` with ``index.html`` for every other path (the
single-page app routes on the client). Errors are JSON ``{"status", "message", "field"}``
(``field``: the offending input, or null): 404 unknown id or name, 409 name taken, 422 invalid
input, 400 refused SQL or bad request. Long work answers ``202`` with a job; poll
``GET /api/jobs/{job_id}`` for ``status`` (queued / running / done / error) and ``progress``.

Routes
------
=======  ===========================================  =============================================
method   path                                         what
=======  ===========================================  =============================================
GET      /api/datasets                                datasets with item counts
POST     /api/datasets                                create ``{name, description}`` -> 201
GET      /api/datasets/{name}                         counts, labels (name -> n items), spaces
DELETE   /api/datasets/{name}                         delete (media files stay) -> 204
GET      /api/datasets/{name}/items                   grid page: ``where`` (SQL filter, F-42),
                                                      ``sort`` (id|path|size|width|height|format|
                                                      split), ``order`` (asc|desc), ``limit``
                                                      (1..500, default 100), ``offset`` or
                                                      ``cursor`` (the previous ``next_cursor``)
                                                      -> {items, total, next_cursor}; each item has
                                                      thumbnail_url, media_url, labels (chips),
                                                      scores ("group/tag" -> score)
GET      /api/items/{item_id}                         detail: item, dataset, labels with geometry,
                                                      every tag score
GET      /api/items/{item_id}/thumbnail               thumbnail (ETag, Cache-Control, 304)
GET      /api/items/{item_id}/media                   original media file (ETag, Cache-Control)
GET      /api/jobs?dataset=                           jobs, newest first
GET      /api/jobs/{job_id}                           status, n_done, n_total, progress, result
=======  ===========================================  =============================================
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from tagscope.api.errors import install_error_handlers
from tagscope.api.routers import datasets, items, jobs, media, tags
from tagscope.service import Workspace

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"


def create_app(
    workspace: Workspace | str | os.PathLike[str] | None = None,
    *,
    web_dist: str | os.PathLike[str] | None = None,
) -> FastAPI:
    """The FastAPI app over ``workspace`` (an open one, a folder, or the default one).

    ``web_dist`` is the built web app to serve (default ``tagscope/web/dist``, when built).
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    app = FastAPI(
        title="Tagscope",
        version="0.1.0",
        description="Curate image and video data: browse, search, tag, evaluate, query with SQL.",
    )
    app.state.workspace = ws
    install_error_handlers(app)
    for module in (datasets, items, media, jobs, tags):
        app.include_router(module.router)
    _serve_web_app(app, Path(web_dist) if web_dist else WEB_DIST)
    return app


def _serve_web_app(app: FastAPI, dist: Path) -> None:
    """Serve the files of ``dist``, and ``index.html`` for any other non-API path."""
    root = dist.resolve()
    index = root / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    def web_app(path: str) -> FileResponse:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, f"no API route /{path}")
        if not index.is_file():
            raise HTTPException(404, "the web app is not built (see the README's setup)")
        target = (root / path).resolve()
        # Only files inside dist; anything else (including ../ escapes) gets the app's shell.
        if path and target.is_relative_to(root) and target.is_file():
            cache = (
                "public, max-age=31536000, immutable" if "/assets/" in f"/{path}" else "no-cache"
            )
            return FileResponse(target, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
