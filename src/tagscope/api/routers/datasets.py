"""``/api/datasets``: list, create, describe and delete datasets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Dataset, DatasetInfo, Job
from tagscope.service import background, browse, defaults
from tagscope.service import datasets as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


class EmbedRequest(BaseModel):
    space: str | None = Field(None, description="space name; defaults to the kind")
    kind: Literal["clip", "text", "phash"] | None = Field(
        None, description="default: the existing space's kind, else the space name, else clip"
    )
    model: str | None = Field(
        None, description="a model id, or a model folder the server offers; default per kind"
    )
    batch_size: int | None = Field(None, ge=1, le=100_000)


class NewDataset(BaseModel):
    name: str = Field(description="1-128 letters, digits, '_', '.' or '-'")
    description: str = ""


@router.get("", openapi_extra=needs(Action.READ))
def list_datasets(ws: WorkspaceDep) -> list[Dataset]:
    return [Dataset.from_domain(d) for d in uc.list_datasets(ws)]


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=needs(Action.DATASET_CREATE))
def create_dataset(body: NewDataset, ws: WorkspaceDep) -> Dataset:
    return Dataset.from_domain(uc.create_dataset(ws, body.name, body.description))


@router.get("/{name}", openapi_extra=needs(Action.READ))
def describe_dataset(
    name: str,
    ws: WorkspaceDep,
    where: Annotated[
        str | None,
        Query(description="a grid filter (as on /items): count labels over its items only"),
    ] = None,
) -> DatasetInfo:
    info = uc.describe_dataset(ws, name)
    spaces = [{**s, "semantic": defaults.is_semantic(s["kind"])} for s in info["spaces"]]
    default = defaults.default_space(info["spaces"])
    labels = browse.label_counts(ws, name, where) if where else info["labels"]
    return DatasetInfo.model_validate(
        {**info, "labels": labels, "spaces": spaces, "default_space": default}
    )


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Action.DATASET_DELETE)
)
def delete_dataset(name: str, ws: WorkspaceDep) -> Response:
    uc.delete_dataset(ws, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{name}/embed", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.DATASET_EDIT)
)
def embed_dataset(name: str, body: EmbedRequest, ws: WorkspaceDep) -> Job:
    """Start embedding the items without a vector in the space; poll ``/api/jobs/{id}``."""
    job = background.start_embeddings(
        ws, name, space=body.space, kind=body.kind, model=body.model, batch_size=body.batch_size
    )
    return Job.from_domain(job)
