"""Tagscope: curate image and video collections with embeddings, tags and SQL.

>>> import tagscope as ts
>>> ws = ts.open("tagscope-data")      # doctest: +SKIP
>>> remote = ts.connect("https://tagscope.example.org")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagscope.sdk import (
        Dataset,
        RemoteDataset,
        RemoteWorkspace,
        View,
        Workspace,
        connect,
        open,
    )

__all__ = ["Dataset", "RemoteDataset", "RemoteWorkspace", "View", "Workspace", "connect", "open"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy: `import tagscope.cli...` must not pay for loading the SDK and its model libraries.
    if name in __all__:
        from tagscope import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'tagscope' has no attribute {name!r}")
