"""``/api/items/{item_id}/media`` and ``/thumbnail``: files of known items only.

The client names an item id, never a path: the file is the one the catalog recorded for that item,
so there is nothing to traverse. A file that is no longer the one imported (moved, resized,
touched, or a symbolic link swapped in) is a ``404`` saying only "missing" or "changed"; the
server's log (``tagscope.media``) says how. Answers carry an ``ETag`` (the content hash) and
``Cache-Control``; a matching ``If-None-Match`` gets ``304 Not Modified``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from tagscope.api.dependencies import WorkspaceDep
from tagscope.service import browse

router = APIRouter(prefix="/api/items", tags=["media"])

# Thumbnails and media of an item never change under the same content hash (the URL carries it).
CACHE_CONTROL = "private, max-age=86400"


def _send(request: Request, file: browse.MediaFile) -> Response:
    etag = f'"{file.etag}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return FileResponse(file.path, media_type=file.media_type, headers=headers)


@router.get("/{item_id}/media", response_class=FileResponse)
def get_media(item_id: int, request: Request, ws: WorkspaceDep) -> Response:
    return _send(request, browse.get_media_file(ws, item_id))


@router.get("/{item_id}/thumbnail", response_class=FileResponse)
def get_thumbnail(item_id: int, request: Request, ws: WorkspaceDep) -> Response:
    return _send(request, browse.get_thumbnail_file(ws, item_id))
