"""Dataset use cases."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tagscope.domain import Dataset
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.retry import retrying


def create_dataset(ws: Workspace, name: str, description: str = "") -> Dataset:
    """A new, empty dataset: it sees nothing of a deleted dataset of the same name or id."""
    policy.workspace(ws, Action.DATASET_CREATE)
    ds = ws.catalog.create_dataset(name, description)
    # SQLite reuses the id of the last dataset deleted: files of that one which a crash left
    # behind (deleted only after its commit) must not become this one's.
    _remove_files(_dataset_files(ws, ds.id))
    return ds


def list_datasets(ws: Workspace) -> list[Dataset]:
    """The datasets the caller may read (the others are not listed at all)."""
    found = ws.catalog.list_datasets()
    readable = policy.readable_dataset_ids(ws.identity, (d.id for d in found))
    return found if readable is None else [d for d in found if d.id in readable]


def describe_dataset(ws: Workspace, name: str) -> dict[str, Any]:
    """Counts, labels and embedding spaces of a dataset."""
    ds = policy.dataset(ws, Action.READ, name)
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


@retrying
def delete_dataset(ws: Workspace, name: str) -> None:
    """Delete a dataset and everything that belonged to it: its items, labels, embedding spaces
    and vectors, reviews, examples, collections, history and jobs; the tag groups trained on it,
    with their score files of every dataset; its score files of the groups it applied. Media
    files stay where they are. Files go only once the catalog has committed the deletion. The
    roles users have on it and the tokens tied to it go with it (foreign keys ``ON DELETE
    CASCADE``): none reaches a dataset created later with its name or id."""
    with ws.uow() as uow:
        ds = policy.dataset(ws, Action.DATASET_DELETE, name)
        trained = [g.name for g in uow.tags.list_groups() if g.dataset_id == ds.id]
        files = _dataset_files(ws, ds.id)
        if trained:
            from tagscope.store.scores import ScoreTables  # pyarrow: only where scores exist

            files += [ScoreTables(ws.paths.scores).folder(g) for g in trained]
        uow.catalog.delete_dataset(ds.id)
        uow.remove_after_commit(*files)


def _dataset_files(ws: Workspace, dataset_id: int) -> list[Path]:
    """The folders of a dataset id's vectors, score files (of every group) and maps."""
    files = [ws.paths.vectors / str(dataset_id)]
    if ws.paths.scores.is_dir() and any(ws.paths.scores.iterdir()):
        from tagscope.store.maps import MapStore  # pyarrow: only where scores or maps exist
        from tagscope.store.scores import ScoreTables

        files += ScoreTables(ws.paths.scores).dataset_folders(dataset_id)
        files.append(MapStore(ws.paths.scores).folder(dataset_id))
    return files


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
