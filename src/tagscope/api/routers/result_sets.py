"""``/api/datasets/{name}/result-sets``: reviewed results of label jobs saved under a name
(F-73); each is the SQL view ``rs_<name>``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.domain.review import MAX_RESULT_SET_NAME
from tagscope.domain.review import ResultSet as DomainResultSet
from tagscope.service import result_sets as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/result-sets", tags=["result sets"])


class ResultSet(BaseModel):
    id: int
    name: str
    job: str | None = Field(description="the label job it was saved from (null: deleted since)")
    description: str
    created_by: str
    created_at: datetime
    n_items: int
    n_labels: int
    view: str = Field(description="its SQL view")
    n_pending: int | None = Field(
        None, description="changes left out because pending (only when just saved)"
    )

    @classmethod
    def from_domain(cls, r: DomainResultSet) -> ResultSet:
        return cls(
            id=r.id,
            name=r.name,
            job=r.job,
            description=r.description,
            created_by=r.created_by,
            created_at=r.created_at,
            n_items=r.n_items,
            n_labels=r.n_labels,
            view=r.view,
            n_pending=r.n_pending,
        )


class NewResultSet(BaseModel):
    name: str = Field(max_length=MAX_RESULT_SET_NAME, description="lowercase letters, digits, _")
    job: str = Field(max_length=128)
    description: str = Field("", max_length=10_000)


@router.get("", openapi_extra=needs(Action.READ))
def list_result_sets(name: str, ws: WorkspaceDep) -> list[ResultSet]:
    """The dataset's result sets by name."""
    return [ResultSet.from_domain(r) for r in uc.list_result_sets(ws, name)]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.RESULT_SETS_EDIT))
def save_result_set(name: str, body: NewResultSet, ws: WorkspaceDep) -> ResultSet:
    """Save the job's reviewed results (accepted: the expert's label, rejected: the prelabel;
    pending ones left out and counted); 409: the name is taken, 422: a bad name or a job not
    submitted."""
    made = uc.save_result_set(ws, name, body.name, body.job, description=body.description)
    return ResultSet.from_domain(made)


@router.delete(
    "/{result_set}",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=needs(Action.RESULT_SETS_EDIT),
)
def delete_result_set(name: str, result_set: str, ws: WorkspaceDep) -> Response:
    uc.delete_result_set(ws, name, result_set)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
