"""The local job runner records status, progress and errors."""

from __future__ import annotations

import time

import pytest

from tagscope.domain import JobStatus
from tagscope.service import Workspace


def test_run_records_progress_and_result(workspace: Workspace) -> None:
    seen: list[tuple[int, int]] = []

    def work(report):  # type: ignore[no-untyped-def]
        for i in range(1, 4):
            report(i, 3)
        return {"n": 3}

    job = workspace.runner.run(
        "demo", None, {"x": 1}, work, on_progress=lambda d, t: seen.append((d, t))
    )
    assert job.status is JobStatus.DONE
    assert (job.n_done, job.n_total, job.result) == (3, 3, {"n": 3})
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_errors_are_recorded_and_raised(workspace: Workspace) -> None:
    def work(report):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        workspace.runner.run("demo", None, {}, work)
    job = workspace.catalog.list_jobs()[0]
    assert (job.status, job.error) == (JobStatus.ERROR, "disk full")


def test_submit_runs_in_the_background(workspace: Workspace) -> None:
    job = workspace.runner.submit("demo", None, {}, lambda report: {"ok": True})
    for _ in range(100):
        if workspace.catalog.get_job(job.id).status is JobStatus.DONE:
            break
        time.sleep(0.05)
    assert workspace.catalog.get_job(job.id).result == {"ok": True}
