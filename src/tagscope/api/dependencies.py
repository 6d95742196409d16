"""Injected dependencies of the routers (FastAPI "Dependencies with yield").

The app holds one open :class:`~tagscope.service.Workspace` (its catalog engine pools
connections, so handlers running in the thread pool share it safely); handlers receive it through
:func:`get_workspace` and never reach for a global.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request

from tagscope.service import Workspace
from tagscope.service.policy import Action


def get_workspace(request: Request) -> Iterator[Workspace]:
    """The workspace the app was created on."""
    yield request.app.state.workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def needs(action: Action) -> dict[str, Any]:
    """A route's ``openapi_extra`` naming the policy action its use case checks (shown in the
    OpenAPI schema as ``x-tagscope-action``; the access matrix test reads it). The check itself
    is the service layer's."""
    return {"x-tagscope-action": action.value}
