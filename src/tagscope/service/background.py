"""Use cases that start long work as a background job and answer at once (for the REST API).

The use cases of other modules run their jobs to the end (``ws.runner.run``), which suits the CLI
and the SDK. Here the same use cases get a workspace whose runner *submits* the job to a
background thread instead: checks and model loading still happen before the call returns (so bad
input fails at once), and the caller gets the queued job, whose status and progress
``jobs.get_job`` then reports.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tagscope.domain import Job, ModelUnavailableError, ValidationError
from tagscope.jobs import LocalRunner, ProgressFn, Work
from tagscope.jobs.runner import R, S
from tagscope.service import embeddings, ground_truth, policy, tag_scoring, thumbnails
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace

log = logging.getLogger(__name__)


class _SubmittingRunner(LocalRunner):
    """A runner whose ``run`` starts the work in a background thread and returns the job; its
    work maps through the workspace's own runner (local or Ray)."""

    def __init__(self, runner: LocalRunner) -> None:
        super().__init__(runner.catalog)
        self.runner, self.name = runner, runner.name

    def map(self, task: Callable[[S], Iterable[R]], shards: Iterable[S]) -> Iterator[R]:
        return self.runner.map(task, shards)

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
    return dataclasses.replace(ws, runner=_SubmittingRunner(ws.runner))


def start_embeddings(
    ws: Workspace,
    dataset: str,
    *,
    space: str | None = None,
    kind: str | None = None,
    model: str | None = None,
    batch_size: int | None = None,
) -> Job:
    """Start :func:`tagscope.service.embeddings.compute_embeddings` as a background job.

    ``model`` is one the server offers (:func:`~tagscope.service.embeddings.served_model`): a
    client names no path of the server's disk, and learns nothing of it from the errors (nor of
    the models offered, unless it may embed: the permission is checked first).
    """
    policy.dataset(ws, Action.DATASET_EDIT, dataset)
    served = embeddings.served_model(ws, model)
    try:
        return embeddings.compute_embeddings(
            in_background(ws), dataset, space=space, kind=kind, model=served, batch_size=batch_size
        )
    except ModelUnavailableError as exc:
        if model is None:  # the server's own default: its message says how to provide it
            raise
        # The same answer as for a path (see served_model); the reason goes to the server's log.
        log.warning("model %r asked for by a client is not available: %s", model, exc)
        raise ValidationError(embeddings.model_unavailable(ws, model), field="model") from exc


def start_publish(ws: Workspace, dataset: str, group: str, *, visibility: str | None = None) -> Job:
    """Commit a group (fitting its tags now) and start scoring its training dataset."""
    return tag_scoring.publish_group(in_background(ws), dataset, group, visibility=visibility)


def start_apply(ws: Workspace, dataset: str, group: str) -> Job:
    """Apply a shareable group to ``dataset`` and start scoring it."""
    return tag_scoring.apply_group(in_background(ws), dataset, group)


def start_judge(ws: Workspace, dataset: str, group: str, tag: str, *, n: int) -> Job:
    """Start :func:`tagscope.service.ground_truth.judge_tag` (LLM verdicts on a sample)."""
    return ground_truth.judge_tag(in_background(ws), dataset, group, tag, n=n)


def start_thumbnails(ws: Workspace, dataset: str) -> Job:
    """Start :func:`tagscope.service.thumbnails.fill_thumbnails` as a background job."""
    return thumbnails.fill_thumbnails(in_background(ws), dataset)
