"""Use cases: the only layer that combines packages. Every face calls these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagscope.service.workspace import Workspace

__all__ = ["Workspace"]


def __getattr__(name: str) -> Any:
    # Lazy: importing one use-case module (the CLI does, per verb) must not load the catalog.
    if name == "Workspace":
        from tagscope.service.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'tagscope.service' has no attribute {name!r}")
