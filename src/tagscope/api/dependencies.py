"""Injected dependencies of the routers (FastAPI "Dependencies with yield").

The app holds one open :class:`~tagscope.service.Workspace` (its catalog engine pools
connections, so handlers running in the thread pool share it safely); handlers receive it through
:func:`get_workspace`, acting as the request's caller (:func:`tagscope.api.auth.request_identity`:
a token, a session cookie, or the owner on a ``--no-auth`` server), and never reach for a global.
A route taking :data:`WorkspaceDep` therefore needs credentials (401 without); the service layer
decides what the caller may do there.

Every route names, in its ``openapi_extra``, what access it needs (``x-tagscope-action`` in the
OpenAPI schema; the access matrix test reads it, so a route without one fails that test):

- a :class:`~tagscope.service.policy.Action` value: the policy action its use case checks (on
  the dataset of its path; routes without one, e.g. ``GET /api/datasets``, list only what the
  caller may read);
- ``"public"``: no policy action; anyone may call it (log in and out, the client configuration,
  and who am I, which answers 401 to a caller without credentials);
- ``"self"``: a caller's own account (their API tokens: from a session, or a token of scope
  admin; :func:`tagscope.service.policy.account`); another user's needs ``users.manage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request

from tagscope.api.auth import IdentityDep
from tagscope.service import Workspace
from tagscope.service.policy import Action


class Access(StrEnum):
    """Markers of routes no policy action covers."""

    PUBLIC = "public"
    SELF = "self"


ACTION_KEY = "x-tagscope-action"


def get_workspace(request: Request, identity: IdentityDep) -> Iterator[Workspace]:
    """The app's workspace, acting as the request's caller."""
    ws: Workspace = request.app.state.workspace
    yield ws if identity is ws.identity else ws.acting_as(identity)


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def get_app_workspace(request: Request) -> Iterator[Workspace]:
    """The app's workspace as opened, for the routes that authenticate by themselves (log in)."""
    yield request.app.state.workspace


AppWorkspaceDep = Annotated[Workspace, Depends(get_app_workspace)]


def needs(action: Action | Access) -> dict[str, Any]:
    """A route's ``openapi_extra`` naming the policy action its use case checks (shown in the
    OpenAPI schema as ``x-tagscope-action``; the access matrix test reads it). The check itself
    is the service layer's."""
    return {ACTION_KEY: action.value}
