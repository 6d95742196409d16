"""Domain errors to HTTP: every error answer is JSON ``{"status", "message", "field"}``.

| error | status |
| --- | --- |
| :class:`~tagscope.domain.NotFoundError` | 404 |
| :class:`~tagscope.domain.AlreadyExistsError` | 409 |
| :class:`~tagscope.domain.tags.ReadOnlyGroupError` (editing an applied group) | 403 |
| :class:`~tagscope.domain.ValidationError` (``field`` names the input) | 422 |
| :class:`~tagscope.domain.SqlError` (refused, failed or timed-out SQL) | 400 |
| :class:`~tagscope.domain.ModelUnavailableError` | 503 |
| any other :class:`~tagscope.domain.TagscopeError` | 400 |
| request validation (FastAPI), with the offending parameter as ``field`` | 422 |
| anything else (a bug): logged with its traceback | 500 |
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tagscope.domain import (
    AlreadyExistsError,
    ModelUnavailableError,
    NotFoundError,
    SqlError,
    TagscopeError,
    ValidationError,
)
from tagscope.domain.tags import ReadOnlyGroupError


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"status": status, "message": message, "field": field}


def error_response(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, field), status_code=status)


def status_of(exc: TagscopeError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AlreadyExistsError):
        return 409
    if isinstance(exc, ReadOnlyGroupError):
        return 403
    if isinstance(exc, SqlError):
        return 400
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, ModelUnavailableError):
        return 503
    return 400


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TagscopeError)
    return error_response(status_of(exc), str(exc), getattr(exc, "field", None))


async def _request_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    # loc is e.g. ("path", "item_id") or ("body", "name"); the last string part is the field.
    names = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body", "form")]
    field = names[-1] if names else None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    if field:
        message = f"{field}: {message}"
    return error_response(422, message, field)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback after this answer; the client gets no internals.
    return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TagscopeError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
