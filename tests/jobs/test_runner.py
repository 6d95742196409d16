"""The local job runner records status, progress and errors; make_runner picks a runner."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Job, JobStatus, ValidationError
from tagscope.jobs import LocalRunner, make_runner
from tagscope.service import Workspace
from tagscope.service.background import in_background
from tagscope.store import Catalog


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
    assert job.params == {"x": 1, "runner": "local"}  # which runner computed it


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


def test_map_streams_each_shards_results_in_order(workspace: Workspace) -> None:
    pulled: list[int] = []

    def shards() -> Iterator[int]:
        for n in range(4):
            pulled.append(n)
            yield n

    results = workspace.runner.map(_twice, shards())
    assert (next(results), next(results), pulled) == ((0, "a"), (0, "b"), [0])  # lazily
    assert list(results) == [(n, ab) for n in range(1, 4) for ab in "ab"]


def _twice(n: int) -> Iterator[tuple[int, str]]:
    yield n, "a"
    yield n, "b"


class _Tracing(LocalRunner):
    """A runner of another name that records the shards it maps."""

    name = "tracing"

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self.mapped: list[int] = []

    def map(self, task, shards):  # type: ignore[no-untyped-def]
        shards = list(shards)
        self.mapped.extend(shards)
        return super().map(task, shards)


def test_background_jobs_map_through_the_workspaces_runner(workspace: Workspace) -> None:
    tracing = _Tracing(workspace.catalog)
    ws = in_background(dataclasses.replace(workspace, runner=tracing))

    def work(report):  # type: ignore[no-untyped-def]
        return {"n": len(list(ws.runner.map(_twice, [7])))}

    job = _finished(workspace, ws.runner.run("demo", None, {}, work))
    assert (job.result, job.params["runner"], tracing.mapped) == ({"n": 2}, "tracing", [7])


def test_make_runner_picks_the_runner_named_or_the_environments(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSCOPE_RUNNER", raising=False)
    assert type(make_runner(workspace.catalog)) is LocalRunner
    monkeypatch.setenv("TAGSCOPE_RUNNER", "Local")
    assert make_runner(workspace.catalog).name == "local"
    with pytest.raises(ValidationError, match="unknown runner 'spark'; choose one of local, ray"):
        make_runner(workspace.catalog, "spark")


def test_the_ray_runner_without_ray_says_how_to_install_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ValidationError, match=r"pip install 'tagscope\[ray\]'") as err:
        make_runner(workspace.catalog, "ray")
    assert err.value.field == "runner"
    monkeypatch.setenv("TAGSCOPE_RUNNER", "ray")
    with pytest.raises(ValidationError, match="Ray, which is not installed"):
        Workspace.open(workspace.paths.root)
    monkeypatch.setenv("TAGSCOPE_RUNNER", "local")  # restored after: the option sets it
    result = CliRunner().invoke(app, ["--runner", "ray", "init", "-w", str(workspace.paths.root)])
    assert result.exit_code == 1
    assert "pip install 'tagscope[ray]'" in " ".join(result.output.split())
    assert make_runner(workspace.catalog, "local").name == "local"  # the local one still works
