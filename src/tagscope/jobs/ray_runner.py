"""The Ray runner: a job's map steps run as Ray tasks on a cluster (or a local Ray).

Only the computing moves: each shard is a Ray task (retried when its worker is lost, since it
commits nothing), and its results come back to the job's driver, which commits them in shard
order through the same code as the local runner. Status and progress are the local runner's
(the driver's catalog), so the CLI, the API and the web app read a Ray job as any other.

Ray is imported only when a ``RayRunner`` first maps (``pip install 'tagscope[ray]'``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tagscope.domain import ValidationError
from tagscope.jobs.runner import LocalRunner, R, S
from tagscope.store import Catalog

INSTALL_HINT = "pip install 'tagscope[ray]'"

MAX_RETRIES = 3
"""Times a shard is run again after its worker died (a node lost, a process killed)."""

_INIT_LOCK = threading.Lock()  # one ray.init per process, whichever job thread maps first


def import_ray() -> Any:
    """The ``ray`` module, or a ValidationError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ValidationError(
            f"the Ray runner needs Ray, which is not installed: {INSTALL_HINT}", field="runner"
        ) from exc
    return ray


def _run_shard(task: Callable[[Any], Iterable[Any]], shard: Any) -> list[Any]:
    """A Ray task: one shard's results, whole (a retried shard never yields half twice)."""
    return list(task(shard))


class RayRunner(LocalRunner):
    """Runs jobs as :class:`LocalRunner` does and their ``map`` steps as Ray tasks.

    Parameters
    ----------
    catalog : Catalog
    address : str, optional
        ``None`` or ``"local"``: a local Ray started on demand (unless this process has joined
        one already); ``"ray://host:port"``: a cluster through Ray Client; ``"host:port"`` (or
        ``"auto"``): join that cluster's GCS from a process on one of its nodes.
    num_cpus : int, optional
        CPUs of a local Ray started on demand (default: the machine's).
    """

    name = "ray"

    def __init__(
        self, catalog: Catalog, address: str | None = None, *, num_cpus: int | None = None
    ) -> None:
        super().__init__(catalog)
        self.address = None if address in (None, "", "local") else address
        self.num_cpus = num_cpus
        import_ray()  # fail now, with the hint, rather than in the middle of a job
        self._remote: Any = None

    def _ray(self) -> Any:
        ray = import_ray()
        with _INIT_LOCK:
            if not ray.is_initialized():
                try:
                    ray.init(**self._init_args())
                except ConnectionError as exc:
                    raise ValidationError(
                        f"cannot join the Ray cluster at {self.address}: {exc}. A cluster with "
                        "token authentication (the default of `ray start`) needs "
                        "RAY_AUTH_MODE=token and its token (RAY_AUTH_TOKEN or "
                        "~/.ray/auth_token) here too",
                        field="ray_address",
                    ) from exc
            if self._remote is None:
                self._remote = ray.remote(max_retries=MAX_RETRIES)(_run_shard)
        return ray

    def _init_args(self) -> dict[str, Any]:
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address is not None:
            return {"address": self.address, **quiet}
        return {
            "num_cpus": self.num_cpus or os.cpu_count() or 1,
            "include_dashboard": False,
            **quiet,
        }

    def window(self) -> int:
        """Shards in flight at once: about two per CPU of the cluster, so that every worker
        has the next shard waiting while the driver commits results in order."""
        cpus = int(self._ray().cluster_resources().get("CPU", 1))
        return max(2, 2 * cpus)

    def map(self, task: Callable[[S], Iterable[R]], shards: Iterable[S]) -> Iterator[R]:
        ray = self._ray()
        task_ref = ray.put(task)  # shipped once, not with every shard
        window = self.window()
        pending: deque[Any] = deque()
        try:
            for shard in shards:
                pending.append(self._remote.remote(task_ref, shard))
                if len(pending) >= window:
                    yield from _result(ray, pending.popleft())
            while pending:
                yield from _result(ray, pending.popleft())
        finally:
            for ref in pending:  # the consumer stopped (an error, a closed generator)
                ray.cancel(ref)


def _result(ray: Any, ref: Any) -> list[Any]:
    """A shard's results; a task's own error raised as itself (its message, as the local
    runner's job records it), not wrapped in Ray's traceback."""
    try:
        return ray.get(ref)  # type: ignore[no-any-return]
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, Exception):
            raise exc.cause from None
        raise
