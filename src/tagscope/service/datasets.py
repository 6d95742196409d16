"""Dataset use cases."""

from __future__ import annotations

import shutil
from typing import Any

from tagscope.domain import Dataset
from tagscope.service.workspace import Workspace


def create_dataset(ws: Workspace, name: str, description: str = "") -> Dataset:
    return ws.catalog.create_dataset(name, description)


def list_datasets(ws: Workspace) -> list[Dataset]:
    return ws.catalog.list_datasets()


def describe_dataset(ws: Workspace, name: str) -> dict[str, Any]:
    """Counts, labels and embedding spaces of a dataset."""
    ds = ws.dataset(name)
    spaces = [
        {**space, "n_vectors": len(ws.vectors(ds, space["name"]))}
        for space in ws.catalog.list_spaces(ds.id)
    ]
    return {
        "id": ds.id,
        "name": ds.name,
        "description": ds.description,
        "created_at": ds.created_at.isoformat(),
        "n_items": ds.n_items,
        "labels": ws.catalog.label_names(ds.id),
        "spaces": spaces,
    }


def delete_dataset(ws: Workspace, name: str) -> None:
    """Delete a dataset, its items, labels and vectors (media files stay where they are)."""
    ds = ws.dataset(name)
    ws.catalog.delete_dataset(ds.id)
    shutil.rmtree(ws.paths.vectors / str(ds.id), ignore_errors=True)
