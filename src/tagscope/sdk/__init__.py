"""The public Python API: ``import tagscope as ts; ws = ts.open(); ds = ws.dataset("x")``;
``ts.connect(url)`` for a remote server."""

from tagscope.sdk.remote import RemoteDataset, RemoteWorkspace, connect
from tagscope.sdk.view import View
from tagscope.sdk.workspace import Dataset, Workspace, open

__all__ = ["Dataset", "RemoteDataset", "RemoteWorkspace", "View", "Workspace", "connect", "open"]
