"""``tagscope-predict-server DIR``: an exported model bundle behind the app's prediction route.

``POST /api/predict/{dataset}/{model}`` (and ``.../last``: the same, a bundle holds one
checkpoint) takes image files as the multipart field ``files`` and answers the app's prediction
JSON; ``GET /api/health`` says it is up. Errors answer as the app's do:
``{"status", "message", "field"}``. Only Starlette, uvicorn, python-multipart, ONNX Runtime,
NumPy and Pillow are imported: no torch, no other part of Tagscope.
"""

from __future__ import annotations

import argparse
import hmac
import sys
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tagscope.bundle.predictor import BundleError, BundlePredictor, InputError

MAX_FILES = 64
MAX_FILE_BYTES = 32 << 20


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "message": message, "field": field}, status)


def create_app(
    predictor: BundlePredictor,
    *,
    token: str | None = None,
    max_files: int = MAX_FILES,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Starlette:
    """The server's ASGI app over a loaded bundle.

    Parameters
    ----------
    token : str, optional
        When set, prediction requests need ``Authorization: Bearer <token>`` (else ``401``);
        the health check does not.
    max_files, max_file_bytes
        Limits of one request (``422`` beyond them).
    """

    def authorised(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )

    async def health(request: Request) -> JSONResponse:
        m = predictor.manifest
        return JSONResponse(
            {
                "status": "ok",
                "dataset": m.get("dataset"),
                "model": m.get("model"),
                "kind": predictor.kind,
                "checkpoint": m.get("checkpoint"),
                "classes": predictor.classes,
                # What this process has imported: the bundle's promise that torch is not needed.
                "torch_loaded": "torch" in sys.modules,
                "tagscope_modules": sorted(n for n in sys.modules if n.startswith("tagscope")),
            }
        )

    async def predict(request: Request) -> JSONResponse:
        if not authorised(request):
            return JSONResponse(
                {"status": 401, "message": "a valid bearer token is required", "field": None},
                401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        dataset, model = request.path_params["dataset"], request.path_params["model"]
        if dataset != predictor.dataset:
            return error(
                404,
                f"dataset {dataset!r} not found (this bundle serves {predictor.dataset!r})",
                "dataset",
            )
        if model != predictor.model:
            return error(
                404,
                f"model {model!r} not found in dataset {dataset!r} (this bundle "
                f"serves {predictor.model!r})",
                "model",
            )
        try:
            files = await _read_files(request, max_files, max_file_bytes)
            # ONNX Runtime releases the GIL: other requests are served meanwhile.
            answer = await run_in_threadpool(predictor.predict, files)
        except InputError as exc:
            return error(422, str(exc), "files")
        return JSONResponse(answer)

    routes = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/predict/{dataset}/{model}", predict, methods=["POST"]),
        Route("/api/predict/{dataset}/{model}/last", predict, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


async def _read_files(
    request: Request, max_files: int, max_file_bytes: int
) -> list[tuple[str, bytes]]:
    """The request's ``files`` as (name, bytes); :class:`InputError` for what is refused."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError("request", "send the images as multipart/form-data field 'files'")
    try:
        form = await request.form(max_files=max_files, max_fields=max_files)
    except HTTPException as exc:  # Starlette's multipart limits (max_files) and parse errors
        raise InputError("request", str(exc.detail)) from None
    try:
        uploads = form.getlist("files")
        if not uploads:
            raise InputError("request", "no 'files' field: send the images as field 'files'")
        files = []
        for i, upload in enumerate(uploads):
            if not isinstance(upload, UploadFile):
                raise InputError(f"files[{i}]", "a text field, not a file")
            name = upload.filename or f"files[{i}]"
            if upload.size is not None and upload.size > max_file_bytes:
                raise InputError(
                    name,
                    f"{upload.size / 2**20:.1f} MB, above this server's limit of "
                    f"{max_file_bytes / 2**20:g} MB a file (--max-file-mb)",
                )
            files.append((name, await upload.read()))
        return files
    finally:
        await form.close()  # the spooled temporary files


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, str(exc.detail))


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a bundle: ``tagscope-predict-server DIR [--host] [--port] [--token]``."""
    parser = argparse.ArgumentParser(
        prog="tagscope-predict-server",
        description="Serve an exported Tagscope model bundle (ONNX Runtime, no torch).",
    )
    parser.add_argument("dir", help="the bundle folder (tagscope models export ... --out DIR)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--token", help="require 'Authorization: Bearer TOKEN' to predict")
    parser.add_argument(
        "--max-files", type=int, default=MAX_FILES, help=f"images per request (default {MAX_FILES})"
    )
    parser.add_argument(
        "--max-file-mb",
        type=float,
        default=MAX_FILE_BYTES / 2**20,
        help=f"megabytes per image (default {MAX_FILE_BYTES >> 20})",
    )
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: the cores)")
    args = parser.parse_args(argv)
    try:
        predictor = BundlePredictor(args.dir, threads=args.threads)
    except BundleError as exc:
        parser.exit(2, f"tagscope-predict-server: {exc}\n")
    app = create_app(
        predictor,
        token=args.token,
        max_files=args.max_files,
        max_file_bytes=int(args.max_file_mb * 2**20),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
