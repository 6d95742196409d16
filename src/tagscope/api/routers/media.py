"""``/api/items/{item_id}/media`` and ``/thumbnail``: files of known items only.

The client names an item id, never a path: the file is the one the catalog recorded for that item,
so there is nothing to traverse. A file that is no longer the one imported (moved, resized,
touched, or a symbolic link swapped in) is a ``404`` saying only "missing" or "changed"; the
server's log (``tagscope.media``) says how. Answers carry an ``ETag`` (the content hash) and
``Cache-Control``; a matching ``If-None-Match`` gets ``304 Not Modified``.

Media answers HTTP ``Range`` requests (``bytes=0-99``, ``bytes=100-``, ``bytes=-100``, several
ranges), so a browser can seek a video: ``206`` with ``Content-Range``, over the same checked file
(its size is the one the check saw). A range that is malformed or starts past the end is ``416``
with ``Content-Range: bytes */<size>``; an ``If-Range`` that no longer matches gets the whole file.
"""

from __future__ import annotations

import os
import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.errors import error_body
from tagscope.service import browse
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/items", tags=["media"])

# Thumbnails and media of an item never change under the same content hash (the URL carries it).
CACHE_CONTROL = "private, max-age=86400"
# One range of a Range header (RFC 9110 14.1.1): "first-last", "first-" or "-suffix".
_RANGE = re.compile(r"^\s*(?:(\d+)-(\d*)|-(\d+))\s*$")


def _send(request: Request, file: browse.MediaFile, what: str) -> Response:
    """The file (``what`` it is, for a refusal), a ``304``, or ranges of it (see the module)."""
    etag = f'"{file.etag}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    st = os.stat(file.path)
    asked = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if asked is not None and if_range in (None, etag) and not _satisfiable(asked, st.st_size):
        message = f"range {asked!r} of {what} is malformed or past its end ({st.st_size} bytes)"
        body = error_body(416, message, "range")
        headers["Content-Range"] = f"bytes */{st.st_size}"
        return JSONResponse(body, status_code=416, headers=headers)
    # Ranges are Starlette's (206, Content-Range, multipart for several, If-Range); the stat is
    # the one of the checked file, so the size answered is the one checked.
    return FileResponse(file.path, media_type=file.media_type, headers=headers, stat_result=st)


def _satisfiable(header: str, size: int) -> bool:
    """Whether a ``Range`` header is well formed and at least one of its ranges overlaps the
    file (RFC 9110 14.1.2); only byte ranges are known."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return False
    overlaps = False
    for part in spec.split(","):
        m = _RANGE.match(part)
        if m is None:
            return False
        first, last, suffix = m.groups()
        if suffix is not None:
            overlaps |= int(suffix) > 0 and size > 0
        elif last and int(last) < int(first):
            return False
        else:
            overlaps |= int(first) < size
    return overlaps


@router.get("/{item_id}/media", response_class=FileResponse, openapi_extra=needs(Action.READ))
def get_media(item_id: int, request: Request, ws: WorkspaceDep) -> Response:
    return _send(request, browse.get_media_file(ws, item_id), f"the media of item {item_id}")


@router.get("/{item_id}/thumbnail", response_class=FileResponse, openapi_extra=needs(Action.READ))
def get_thumbnail(item_id: int, request: Request, ws: WorkspaceDep) -> Response:
    return _send(
        request, browse.get_thumbnail_file(ws, item_id), f"the thumbnail of item {item_id}"
    )
