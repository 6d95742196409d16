"""Use cases that start long work as a background job and answer at once (for the REST API).

The use cases of other modules run their jobs to the end (``ws.runner.run``), which suits the CLI
and the SDK. Here the same use cases get a workspace whose runner *submits* the job to a
background thread instead: checks and model loading still happen before the call returns (so bad
input fails at once), and the caller gets the queued job, whose status and progress
``jobs.get_job`` then reports.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tagscope.domain import Job
from tagscope.jobs import LocalRunner, ProgressFn, Work
from tagscope.service import embeddings, ground_truth, tag_scoring
from tagscope.service.workspace import Workspace


class _SubmittingRunner(LocalRunner):
    """A runner whose ``run`` starts the work in a background thread and returns the job."""

    def run(
        self,
        kind: str,
        dataset_id: int | None,
        params: dict[str, Any],
        work: Work,
        *,
        on_progress: ProgressFn | None = None,
    ) -> Job:
        return self.submit(kind, dataset_id, params, work)


def in_background(ws: Workspace) -> Workspace:
    """The same workspace, whose jobs run in background threads."""
    return dataclasses.replace(ws, runner=_SubmittingRunner(ws.catalog))


def start_embeddings(
    ws: Workspace,
    dataset: str,
    *,
    space: str | None = None,
    kind: str | None = None,
    model: str | None = None,
    batch_size: int | None = None,
) -> Job:
    """Start :func:`tagscope.service.embeddings.compute_embeddings` as a background job."""
    return embeddings.compute_embeddings(
        in_background(ws), dataset, space=space, kind=kind, model=model, batch_size=batch_size
    )


def start_publish(ws: Workspace, dataset: str, group: str, *, visibility: str | None = None) -> Job:
    """Commit a group (fitting its tags now) and start scoring its training dataset."""
    return tag_scoring.publish_group(in_background(ws), dataset, group, visibility=visibility)


def start_apply(ws: Workspace, dataset: str, group: str) -> Job:
    """Apply a shareable group to ``dataset`` and start scoring it."""
    return tag_scoring.apply_group(in_background(ws), dataset, group)


def start_judge(ws: Workspace, dataset: str, group: str, tag: str, *, n: int) -> Job:
    """Start :func:`tagscope.service.ground_truth.judge_tag` (LLM verdicts on a sample)."""
    return ground_truth.judge_tag(in_background(ws), dataset, group, tag, n=n)
