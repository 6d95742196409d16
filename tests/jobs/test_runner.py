"""The local job runner records status, progress and errors."""

from __future__ import annotations

import logging
import time

import pytest

from tagscope.domain import Job, JobStatus, ValidationError
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
    assert (job.status, job.error) == (JobStatus.ERROR, "RuntimeError: disk full")


def _finished(workspace: Workspace, job: Job) -> Job:
    for _ in range(200):
        job = workspace.catalog.get_job(job.id)
        if job.status in (JobStatus.DONE, JobStatus.ERROR):
            break
        time.sleep(0.05)
    return job


def test_background_errors_are_logged_with_traceback_and_recorded(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    def exploding_work(report):  # type: ignore[no-untyped-def]
        report(1, 4)
        raise KeyError("column_x")

    caplog.set_level(logging.ERROR, logger="tagscope.jobs")
    job = _finished(workspace, workspace.runner.submit("demo", None, {}, exploding_work))
    assert (job.status, job.error) == (JobStatus.ERROR, "KeyError: 'column_x'")
    for _ in range(100):  # the thread logs just after it records the error
        if caplog.records:
            break
        time.sleep(0.02)
    (record,) = [r for r in caplog.records if r.name == "tagscope.jobs"]
    assert f"job {job.id} (demo) failed" in record.getMessage()
    assert record.exc_info is not None and "exploding_work" in caplog.text


def test_a_domain_error_is_recorded_as_its_message(workspace: Workspace) -> None:
    def work(report):  # type: ignore[no-untyped-def]
        raise ValidationError("no item has a caption")

    job = _finished(workspace, workspace.runner.submit("demo", None, {}, work))
    assert job.error == "no item has a caption"


def test_submit_runs_in_the_background(workspace: Workspace) -> None:
    job = workspace.runner.submit("demo", None, {}, lambda report: {"ok": True})
    for _ in range(100):
        if workspace.catalog.get_job(job.id).status is JobStatus.DONE:
            break
        time.sleep(0.05)
    assert workspace.catalog.get_job(job.id).result == {"ok": True}
