"""Use cases: the only layer that combines packages. Every face calls these."""

from tagscope.service.workspace import Workspace

__all__ = ["Workspace"]
