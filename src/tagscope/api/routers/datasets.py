"""``/api/datasets``: list, create, describe and delete datasets."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep
from tagscope.api.schemas import Dataset, DatasetInfo
from tagscope.service import datasets as uc

router = APIRouter(prefix="/api/datasets", tags=["datasets"])


class NewDataset(BaseModel):
    name: str = Field(description="1-128 letters, digits, '_', '.' or '-'")
    description: str = ""


@router.get("")
def list_datasets(ws: WorkspaceDep) -> list[Dataset]:
    return [Dataset.from_domain(d) for d in uc.list_datasets(ws)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_dataset(body: NewDataset, ws: WorkspaceDep) -> Dataset:
    return Dataset.from_domain(uc.create_dataset(ws, body.name, body.description))


@router.get("/{name}")
def describe_dataset(name: str, ws: WorkspaceDep) -> DatasetInfo:
    return DatasetInfo.model_validate(uc.describe_dataset(ws, name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_dataset(name: str, ws: WorkspaceDep) -> Response:
    uc.delete_dataset(ws, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
