"""Job use cases: status and progress of long work (embedding, scoring, imports)."""

from __future__ import annotations

from tagscope.domain import Job
from tagscope.service.workspace import Workspace


def get_job(ws: Workspace, job_id: int) -> Job:
    return ws.catalog.get_job(job_id)


def list_jobs(ws: Workspace, dataset: str | None = None) -> list[Job]:
    """Every job, newest first; only those of ``dataset`` when given."""
    dataset_id = ws.dataset(dataset).id if dataset else None
    return ws.catalog.list_jobs(dataset_id)
