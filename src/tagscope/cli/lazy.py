"""Deferred imports for the CLI: `tagscope --help` must not load torch, sklearn and SQLAlchemy.

Each verb module names its use-case module with :func:`deferred` at the top, as it would with
``import``; the module is imported on the first attribute access, i.e. when a verb runs.
"""

from tagscope._lazy import deferred

__all__ = ["deferred"]
