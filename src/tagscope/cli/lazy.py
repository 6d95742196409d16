"""Deferred imports for the CLI: `tagscope --help` must not load torch, sklearn and SQLAlchemy.

Each verb module names its use-case module with :func:`deferred` at the top, as it would with
``import``; the module is imported on the first attribute access, i.e. when a verb runs.
"""

from __future__ import annotations

import importlib
from typing import Any


class deferred:
    """A stand-in for the module ``name`` that imports it on first attribute access.

    Unlike ``importlib.util.LazyLoader`` it never enters ``sys.modules`` half-loaded, so code that
    walks ``sys.modules`` (``inspect.getmodule``, as torch does while importing) cannot trigger it.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"
