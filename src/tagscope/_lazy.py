"""Deferred imports: `import tagscope` and the CLI must not load torch, sklearn, FAISS, SQLAlchemy.

A module names a heavy dependency at the top, as it would with ``import``::

    if TYPE_CHECKING:
        import torch
    else:
        torch = deferred("torch")

and the library is imported on the first attribute access, i.e. when a model, a classifier or an
index is first used. Any layer may use this (it imports nothing of ours).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class deferred:
    """A stand-in for the module ``name`` that imports it on first attribute access.

    Unlike ``importlib.util.LazyLoader`` it never enters ``sys.modules`` half-loaded, so code that
    walks ``sys.modules`` (``inspect.getmodule``, as torch does while importing) cannot trigger it.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"
