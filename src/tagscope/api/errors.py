"""Domain errors to HTTP: every error answer is JSON ``{"status", "message", "field"}``.

| error | status |
| --- | --- |
| :class:`~tagscope.domain.NotFoundError` | 404 |
| :class:`~tagscope.domain.AlreadyExistsError` | 409 |
| :class:`~tagscope.domain.changes.UndoConflictError` (with ``items``) | 409 |
| :class:`~tagscope.domain.AuthenticationError` (no or bad credentials) | 401 |
| :class:`~tagscope.domain.LockedOutError` (too many failed logins; ``Retry-After``) | 429 |
| :class:`~tagscope.domain.PermissionDeniedError` (the role or the token's scope) | 403 |
| :class:`~tagscope.domain.tags.ReadOnlyGroupError` (editing an applied group) | 403 |
| :class:`~tagscope.domain.ValidationError` (``field`` names the input) | 422 |
| :class:`~tagscope.domain.SqlError` (refused, failed or timed-out SQL) | 400 |
| :class:`~tagscope.domain.ModelUnavailableError` | 503 |
| :class:`~tagscope.domain.WriteConflictError` (concurrent writes: try again) | 503 |
| any other :class:`~tagscope.domain.TagscopeError` | 400 |
| request validation (FastAPI), with the offending parameter as ``field`` | 422 |
| ``ValueError`` of the engine packages (bad input they refuse; text that is no UTF-8) | 422 |
| ``OverflowError`` (an integer past 64 bits reaching the catalog or DuckDB) | 422 |
| anything else (a bug): logged with its traceback | 500 |

The Host check (``400``) and the body limits (``413``, lone surrogates ``422``) answer in the same
shape from :mod:`tagscope.api.guards`, before any route runs.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tagscope.domain import (
    AlreadyExistsError,
    AuthenticationError,
    LockedOutError,
    ModelUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SqlError,
    TagscopeError,
    ValidationError,
    WriteConflictError,
)
from tagscope.domain.changes import UndoConflictError
from tagscope.domain.tags import ReadOnlyGroupError

log = logging.getLogger("tagscope.api")

INT64_MAX = 2**63 - 1


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    # A message quoting the input may hold a lone surrogate, which no UTF-8 answer can carry.
    message = message.encode("utf-8", "backslashreplace").decode()
    return {"status": status, "message": message, "field": field}


def error_response(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, field), status_code=status)


def status_of(exc: TagscopeError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AlreadyExistsError | UndoConflictError):
        return 409
    if isinstance(exc, LockedOutError):
        return 429
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, ReadOnlyGroupError | PermissionDeniedError):
        return 403
    if isinstance(exc, SqlError):
        return 400
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, ModelUnavailableError | WriteConflictError):
        return 503
    return 400


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TagscopeError)
    status = status_of(exc)
    body = error_body(status, str(exc), getattr(exc, "field", None))
    if isinstance(exc, UndoConflictError):  # the items that block the undo, for the face to show
        body["items"] = exc.items
        if exc.change_sets:
            body["change_sets"] = exc.change_sets
    headers = {}
    if isinstance(exc, LockedOutError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    elif isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="tagscope"'
    return JSONResponse(body, status_code=status, headers=headers)


async def _value_error(request: Request, exc: Exception) -> JSONResponse:
    # Engine packages refuse bad input with ValueError; their messages are written for people.
    # Logged with the traceback all the same, in case one is a bug.
    log.info("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
    if isinstance(exc, OverflowError):
        message = f"a number is out of range: integers go from {-INT64_MAX - 1} to {INT64_MAX}"
        return error_response(422, message)
    return error_response(422, str(exc))


_LOCATIONS = ("path", "query", "body", "form", "header")


async def _request_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    # loc is e.g. ("path", "item_id") or ("body", "ids", 0); the last name in it is the field.
    names = [p for p in first.get("loc", ()) if isinstance(p, str) and p not in _LOCATIONS]
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
    app.add_exception_handler(ValueError, _value_error)
    app.add_exception_handler(OverflowError, _value_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
