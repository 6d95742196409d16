"""Choosing a workspace's job runner: local, or Ray (``$TAGSCOPE_RUNNER``, ``--runner``)."""

from __future__ import annotations

import os

from tagscope.domain import ValidationError
from tagscope.jobs.runner import LocalRunner
from tagscope.store import Catalog

RUNNER_ENV = "TAGSCOPE_RUNNER"
"""``local`` (the default) or ``ray``."""

RAY_ADDRESS_ENV = "TAGSCOPE_RAY_ADDRESS"
"""The Ray cluster of the ``ray`` runner: ``ray://host:port``, ``host:port``, or unset (a local
Ray started on demand)."""

RUNNERS = ("local", "ray")


def make_runner(
    catalog: Catalog, kind: str | None = None, address: str | None = None
) -> LocalRunner:
    """The runner ``kind`` (default ``$TAGSCOPE_RUNNER``, else ``local``) on ``catalog``.

    Raises
    ------
    ValidationError
        An unknown kind; ``ray`` when Ray is not installed (saying how to install it).
    """
    kind = (kind or os.environ.get(RUNNER_ENV) or "local").strip().lower()
    if kind == "local":
        return LocalRunner(catalog)
    if kind == "ray":
        from tagscope.jobs.ray_runner import RayRunner  # Ray itself loads only here

        return RayRunner(catalog, address or os.environ.get(RAY_ADDRESS_ENV) or None)
    raise ValidationError(
        f"unknown runner {kind!r}; choose one of {', '.join(RUNNERS)}", field="runner"
    )
