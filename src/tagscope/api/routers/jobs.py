"""``/api/jobs``: status and progress of long work."""

from __future__ import annotations

from fastapi import APIRouter

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Job
from tagscope.service import jobs as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", openapi_extra=needs(Action.READ))
def list_jobs(ws: WorkspaceDep, dataset: str | None = None) -> list[Job]:
    return [Job.from_domain(j) for j in uc.list_jobs(ws, dataset)]


@router.get("/{job_id}", openapi_extra=needs(Action.READ))
def get_job(job_id: Int64, ws: WorkspaceDep) -> Job:
    return Job.from_domain(uc.get_job(ws, job_id))
