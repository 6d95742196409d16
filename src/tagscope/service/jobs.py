"""Job use cases: status and progress of long work (embedding, scoring, imports).

A caller sees the jobs of the datasets it may read (those of no dataset: the workspace's admins).
"""

from __future__ import annotations

from tagscope.domain import Job, PermissionDeniedError
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store import grid


def get_job(ws: Workspace, job_id: int) -> Job:
    """The job ``job_id``; ``PermissionDeniedError`` when it is of a dataset the caller may not
    read."""
    job = ws.catalog.get_job(job_id)
    if not policy.job_visible(ws.identity, job.dataset_id):
        raise PermissionDeniedError(_denial(ws, job))
    return job


def _denial(ws: Workspace, job: Job) -> str:
    if job.dataset_id is None:
        return (
            f"{ws.identity.name} may not read job {job.id}: a job of no dataset is seen by the "
            "workspace's admins only"
        )
    dataset = ws.dataset(grid.dataset_name(ws.catalog, job.dataset_id))
    return policy.denial(ws.identity, Action.READ, dataset)


def list_jobs(ws: Workspace, dataset: str | None = None) -> list[Job]:
    """The jobs the caller may see, newest first; only those of ``dataset`` when given."""
    dataset_id = policy.dataset(ws, Action.READ, dataset).id if dataset else None
    return [
        j for j in ws.catalog.list_jobs(dataset_id) if policy.job_visible(ws.identity, j.dataset_id)
    ]
