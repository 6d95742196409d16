"""The local job runner: runs work in this process, recording status and progress in the catalog.

A job's work is a function taking a progress callback ``report(n_done, n_total)`` and returning
a JSON-able result. Work is written to be resumable (it skips what an earlier, killed run
finished), so running the same job again after a kill continues where it stopped.

Work that is a map over shards (embedding a dataset's items batch by batch, scoring a tag group
part by part) computes through ``runner.map(task, shards)`` and commits each result itself, in
shard order: this runner computes in this process; :class:`~tagscope.jobs.ray_runner.RayRunner`
computes the shards as tasks on a Ray cluster, while the job's driver still does every commit.

A job that fails records its error message in the catalog (``Job.error``: what ``GET
/api/jobs/{id}`` shows); one running in the background also logs it with its traceback on the
``tagscope.jobs`` logger, since no caller is there to see the exception.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tagscope.domain import Job, JobStatus, TagscopeError
from tagscope.store import Catalog

log = logging.getLogger("tagscope.jobs")

ProgressFn = Callable[[int, int], None]
Work = Callable[[ProgressFn], dict[str, Any]]
S = TypeVar("S")
R = TypeVar("R")

# Progress is written to the catalog at most this often (seconds): cheap for SQLite under load.
_REPORT_EVERY = 0.5


class LocalRunner:
    """Runs jobs in this process (``run``) or in a background thread (``submit``), and computes
    their map steps in this process (``map``)."""

    name: str = "local"
    """Recorded in each job's params (``"runner"``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def map(self, task: Callable[[S], Iterable[R]], shards: Iterable[S]) -> Iterator[R]:
        """The results of ``task`` over each shard, streamed in shard order.

        ``task`` must be picklable (a module-level function or a frozen dataclass with
        ``__call__``) and shards small picklable values, so that another runner can compute
        them elsewhere; ``task`` commits nothing: whoever iterates the results does.
        """
        for shard in shards:
            yield from task(shard)

    def run(
        self,
        kind: str,
        dataset_id: int | None,
        params: dict[str, Any],
        work: Work,
        *,
        on_progress: ProgressFn | None = None,
    ) -> Job:
        """Run ``work`` now; return the finished job. Errors are recorded, then re-raised."""
        job = self.catalog.create_job(kind, dataset_id, {**params, "runner": self.name})
        self._execute(job.id, work, on_progress)
        return self.catalog.get_job(job.id)

    def submit(self, kind: str, dataset_id: int | None, params: dict[str, Any], work: Work) -> Job:
        """Start ``work`` in a background thread; return the queued job at once."""
        job = self.catalog.create_job(kind, dataset_id, {**params, "runner": self.name})

        def target() -> None:
            try:
                self._execute(job.id, work, None)
            except Exception:
                log.exception("job %d (%s) failed", job.id, kind)

        threading.Thread(target=target, name=f"tagscope-job-{job.id}", daemon=True).start()
        return job

    def _execute(self, job_id: int, work: Work, on_progress: ProgressFn | None) -> None:
        last = 0.0

        def report(n_done: int, n_total: int) -> None:
            nonlocal last
            if on_progress is not None:
                on_progress(n_done, n_total)
            now = time.monotonic()
            if now - last >= _REPORT_EVERY or n_done >= n_total:
                last = now
                self.catalog.update_job(job_id, n_done=n_done, n_total=n_total)

        self.catalog.update_job(job_id, status=JobStatus.RUNNING)
        try:
            result = work(report)
        except BaseException as exc:
            self.catalog.update_job(job_id, status=JobStatus.ERROR, error=error_message(exc))
            raise
        self.catalog.update_job(job_id, status=JobStatus.DONE, result=result)


def error_message(exc: BaseException) -> str:
    """The job's error as its status shows it: a Tagscope error's own message; any other
    exception (a bug, a full disk) with its type, which its message alone often lacks."""
    if isinstance(exc, TagscopeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
