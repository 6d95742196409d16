"""The public Python API: ``import tagscope as ts; ws = ts.open(); ds = ws.dataset("x")``."""

from tagscope.sdk.view import View
from tagscope.sdk.workspace import Dataset, Workspace, open

__all__ = ["Dataset", "View", "Workspace", "open"]
