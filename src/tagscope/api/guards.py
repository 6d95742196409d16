"""ASGI guards in front of every route: the Host header check and the request body limits.

**Host check** (against DNS rebinding: a web page whose host name the attacker points at
127.0.0.1 would otherwise read and change a local server's data). The server answers only the
host names it knows, ``localhost``, ``127.0.0.1``, ``::1`` and those it is given (``tagscope serve
--host`` and each ``--allowed-host``), on any port; a name given with a port (``example.org:8443``)
allows only that port, and ``*`` allows every name (behind a proxy that checks them itself).
Anything else gets ``400`` saying how to allow it.

**Body limits.** A body declaring a ``Content-Length`` above its limit is refused with ``413``
before it is read; a streamed (chunked) body is counted as it arrives and refused at the limit,
so an upload never spools more than that to the temporary folder. Multipart uploads (the image
search) have one limit, every other body (JSON: searches, SQL, tag edits) a smaller one. A
JSON body with a lone UTF-16 surrogate (``"\\ud800"``: valid JSON, but no text) or a NUL
character (``"\\u0000"``, which PostgreSQL cannot store) is refused with ``422`` naming the field,
before any route sees it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
"""Host names the server always answers."""

MAX_BODY_BYTES = 1 << 20
"""Default limit of a request body other than an upload (``tagscope serve --max-body-mb``)."""

MAX_UPLOAD_BYTES = 32 << 20
"""Default limit of a multipart upload (``tagscope serve --max-upload-mb``)."""

# A JSON \u escape of a UTF-16 surrogate (D800-DFFF) or of NUL: only bodies holding one are
# decoded here.
_BAD_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")
_SURROGATE = (
    "the text holds a lone UTF-16 surrogate (an escape from \\ud800 to \\udfff without its "
    "pair), which is no character"
)
_NUL = "the text holds a NUL character (\\u0000), which no text field may hold"


def split_host(value: str) -> tuple[str, int | None]:
    """``"[::1]:8000"`` -> ``("::1", 8000)``, ``"Example.org."`` -> ``("example.org", None)``;
    ``("", None)`` for what is no host."""
    value = value.strip().lower()
    if value.startswith("["):  # IPv6 literal, RFC 3986: [addr] or [addr]:port
        name, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("" if not rest else "x")
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:  # a name, or a bare IPv6 address (no port can be told apart)
        name, port = value, ""
    if port and not port.isdigit():
        return "", None
    return name.removesuffix("."), int(port) if port else None


async def _send_error(send: Send, status: int, message: str, field: str | None = None) -> None:
    body = json.dumps({"status": status, "message": message, "field": field}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class HostGuard:
    """Answer only requests whose ``Host`` header names this server (see the module's text)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        entries = [*LOCAL_HOSTS, *allowed_hosts]
        self.any_host = "*" in entries
        parsed = [split_host(e) for e in entries if e != "*"]
        self.names = {name for name, port in parsed if name and port is None}
        self.pairs = {(name, port) for name, port in parsed if name and port is not None}
        self.shown = ", ".join(dict.fromkeys(e for e in entries if e))

    def allows(self, host: str | None) -> bool:
        if self.any_host:
            return True
        name, port = split_host(host or "")
        return name in self.names or (name, port) in self.pairs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if self.allows(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            name = split_host(host or "")[0] or "NAME"
            await _send_error(
                send,
                400,
                f"host {host!r} is not one of this server's names ({self.shown}): refused, "
                "as a page of another site could reach this server through that name (DNS "
                f"rebinding). To serve it under that name, start it with `tagscope serve "
                f"--allowed-host {name}`.",
                "host",
            )


class BodyTooLarge(HTTPException):
    """A request body over its limit (raised while the body is read; answered ``413``)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyGuard:
    """Cap every request body and refuse JSON text no field can hold (see the module's text)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = (_header(scope, b"content-type") or "").lower().startswith("multipart/")
        if upload:
            limit, option, what = self.max_upload_bytes, "--max-upload-mb", "uploads"
        else:
            limit, option, what = self.max_body_bytes, "--max-body-mb", "request bodies"
        message = (
            f"the request body is over this server's limit of {_mb(limit)} for {what}: send "
            f"less, or start the server with a larger limit (`tagscope serve {option} N`)"
        )
        declared = _header(scope, b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await _send_error(send, 400, f"invalid Content-Length {declared!r}")
            return
        if declared is not None and int(declared) > limit:
            await _send_error(send, 413, message)
            return
        counted = _counting(receive, limit, message)
        try:
            if not upload:  # small: read here at once, checked, then given to the route
                body = await _read_all(counted)
                bad = _bad_text_field(body)
                if bad is not None:
                    field, reason = bad
                    await _send_error(send, 422, f"{field}: {reason}", field)
                    return
                counted = _replay(body, receive)
            await self.app(scope, counted, send)
        except BodyTooLarge as exc:  # only when read here: the routes answer it themselves
            await _send_error(send, 413, exc.detail)


def _mb(n: int) -> str:
    mb = f"{n / (1 << 20):.3g} MB"  # the unit of `tagscope serve`'s options
    return mb if n >= 1 << 20 else f"{mb} ({n} bytes)"


def _counting(receive: Receive, limit: int, message: str) -> Receive:
    """``receive``, raising :class:`BodyTooLarge` once the body passes ``limit`` bytes."""
    n = 0

    async def counted() -> Message:
        nonlocal n
        msg = await receive()
        if msg["type"] == "http.request":
            n += len(msg.get("body", b""))
            if n > limit:
                raise BodyTooLarge(message)
        return msg

    return counted


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits on the client (for a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _bad_text_field(body: bytes) -> tuple[str, str] | None:
    """The dotted path of the first string of a JSON body holding a lone surrogate or a NUL
    (``"body"`` for the body itself) and the reason, or None; a body that is not JSON is left to
    the route to refuse."""
    if not _BAD_ESCAPE.search(body):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    path = _bad_text_path(data)
    if path is None:
        return None
    field, text = path
    return ".".join(field) or "body", _NUL if "\0" in text else _SURROGATE


def _bad_text_path(value: Any) -> tuple[list[str], str] | None:
    """Where in ``value`` the first bad string is, and that string."""
    if isinstance(value, str):
        return None if _is_text(value) else ([], value)
    items: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and not _is_text(key):
            return [key.encode("utf-8", "backslashreplace").decode().replace("\0", "\\0")], key
        found = _bad_text_path(item)
        if found is not None:
            return [str(key), *found[0]], found[1]
    return None


def _is_text(text: str) -> bool:
    if "\0" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
