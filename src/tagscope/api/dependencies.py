"""Injected dependencies of the routers (FastAPI "Dependencies with yield").

The app holds one open :class:`~tagscope.service.Workspace` (its catalog engine pools
connections, so handlers running in the thread pool share it safely); handlers receive it through
:func:`get_workspace` and never reach for a global.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from tagscope.service import Workspace


def get_workspace(request: Request) -> Iterator[Workspace]:
    """The workspace the app was created on."""
    yield request.app.state.workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]
