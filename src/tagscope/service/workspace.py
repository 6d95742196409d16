"""Opening a workspace: the object every use case receives."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tagscope.domain import Dataset
from tagscope.jobs import LocalRunner
from tagscope.store import Catalog, VectorStore, WorkspacePaths


@dataclass(frozen=True)
class Workspace:
    """A workspace: its folders, its catalog and its job runner."""

    paths: WorkspacePaths
    catalog: Catalog
    runner: LocalRunner

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """Open (creating if needed) the workspace at ``root`` (see ``WorkspacePaths.resolve``)."""
        paths = WorkspacePaths.resolve(root)
        paths.create()
        catalog = Catalog.connect(paths.database_url)
        return cls(paths=paths, catalog=catalog, runner=LocalRunner(catalog))

    def dataset(self, name: str) -> Dataset:
        return self.catalog.get_dataset(name)

    def vectors(self, dataset: Dataset, space: str) -> VectorStore:
        return VectorStore(self.paths.vectors / str(dataset.id) / space)
