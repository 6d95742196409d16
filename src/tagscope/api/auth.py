"""Who calls: the identity of each request, and the guards of the web app's session (F-90).

A request is authenticated by, in this order:

1. ``Authorization: Bearer tsk_...``: an API token (the SDK, the CLI against a server, scripts);
2. the cookie ``tagscope_session``: the web app's session, set by ``POST /api/auth/login``
   (HttpOnly, SameSite=Strict, Path=/, Secure on https or with ``--secure-cookies``). A
   state-changing request (POST, PUT, PATCH, DELETE) it authenticates must also carry the header
   ``X-CSRF-Token`` (the ``csrf_token`` of ``GET /api/auth/me``, derived from the session), else
   403: another site's page can make the browser send the cookie, but cannot read the token.

Neither: 401. Routes that take the workspace (:data:`tagscope.api.dependencies.WorkspaceDep`)
receive it acting as that identity; on an app made with ``auth=False`` (``tagscope serve
--no-auth``) every request is the workspace's owner, and nobody logs in.

Logging in checks, besides the password, that the request comes from this server's own pages
when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``): a login form on
another site must not sign the browser into an account of its choosing (login CSRF).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from tagscope.domain import AuthenticationError, PermissionDeniedError
from tagscope.domain.access import Identity
from tagscope.service import accounts
from tagscope.service.accounts import AuthSettings

SESSION_COOKIE = "tagscope_session"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})  # none: typed in, or a bookmark


@dataclass(frozen=True)
class AuthConfig:
    """How an app authenticates: ``enabled`` False is the open local mode (everyone is the
    owner); ``secure_cookies`` marks the session cookie Secure even on plain http (behind a
    TLS proxy that does not say so)."""

    enabled: bool = True
    settings: AuthSettings = field(default_factory=AuthSettings)
    secure_cookies: bool = False


def auth_config(request: Request) -> AuthConfig:
    return request.app.state.auth


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header; 401 for any
    other kind of Authorization (never quoted: it may be a secret)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("the Authorization header must be 'Bearer <API token>'")
    return token


def session_secret(request: Request) -> str | None:
    """The session the request is authenticated by: its cookie, unless a token comes first."""
    if not auth_config(request).enabled or "authorization" in request.headers:
        return None
    return request.cookies.get(SESSION_COOKIE) or None


def request_identity(request: Request) -> Identity:
    """The caller (see the module's docstring); AuthenticationError (401) without valid
    credentials, PermissionDeniedError (403) for a cookie-authenticated change without its
    CSRF token."""
    ws = request.app.state.workspace
    if not auth_config(request).enabled:
        return ws.identity
    token = bearer_token(request)
    if token is not None:
        return accounts.identity_for_token(ws, token)
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise AuthenticationError(
            "sign in first: log in (POST /api/auth/login) or send 'Authorization: Bearer "
            "<API token>' (tagscope tokens create)"
        )
    identity = accounts.identity_for_session(ws, secret)
    if request.method in _UNSAFE_METHODS:
        check_csrf(request, secret)
    return identity


IdentityDep = Annotated[Identity, Depends(request_identity)]


def check_csrf(request: Request, secret: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "").encode()
    if not hmac.compare_digest(sent, accounts.csrf_token(secret).encode()):
        raise PermissionDeniedError(
            f"CSRF token missing or wrong: send the header {CSRF_HEADER} with the csrf_token "
            "of GET /api/auth/me"
        )


def check_same_origin(request: Request) -> None:
    """Refuse a login sent from another site's page, when the browser tells: by
    ``Sec-Fetch-Site`` (the browser's own view, whatever a proxy does to the Host header), else,
    for older browsers, by ``Origin`` against the Host. Other clients send neither."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in _SAME_SITE_FETCHES:
            raise PermissionDeniedError(
                f"login refused: the request comes from another site (Sec-Fetch-Site: {site})"
            )
        return
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        raise PermissionDeniedError(
            f"login refused: the request comes from another site (Origin: {origin}, this "
            f"server: {host})"
        )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(request: Request) -> bool:
    return auth_config(request).secure_cookies or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, secret: str, ttl: timedelta) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(ttl.total_seconds()),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=_secure(request), httponly=True, samesite="strict"
    )
