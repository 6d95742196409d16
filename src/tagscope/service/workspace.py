"""Opening a workspace: the object every use case receives."""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tagscope.domain import Dataset
from tagscope.domain.access import Identity
from tagscope.jobs import LocalRunner, make_runner
from tagscope.store import Catalog, VectorStore, WorkspacePaths
from tagscope.store.uow import UnitOfWork, unit_of_work

if TYPE_CHECKING:
    from tagscope.store.sql import SqlEngine


def default_actor() -> str:
    """The OS user: who acts through the CLI and the SDK on the workspace folder."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Workspace:
    """A workspace: its folders, its catalog, its job runner and (on first use) its SQL engine.

    ``identity`` is who acts through it: the policy (:mod:`tagscope.service.policy`) decides
    what it may do, and the change log records its name as the actor. Opened on a folder, it is
    the owner (the OS user, every right); a face serving several people makes a copy per caller
    (``ws.acting_as(identity)``).
    """

    paths: WorkspacePaths
    catalog: Catalog
    runner: LocalRunner
    identity: Identity = field(default_factory=lambda: Identity.owner(default_actor()))
    # The SQL engine, made on first use. Init fields (with defaults) so that a copy made with
    # ``dataclasses.replace`` (e.g. service.background's) shares the engine instead of a second
    # copy of the catalog.
    _sql: list[SqlEngine] = field(default_factory=list, repr=False, compare=False)
    _sql_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Workspace:
        """Open (creating if needed) the workspace at ``root`` (see ``WorkspacePaths.resolve``),
        with the runner ``$TAGSCOPE_RUNNER`` names (see :func:`tagscope.jobs.make_runner`)."""
        paths = WorkspacePaths.resolve(root)
        paths.create()
        catalog = Catalog.connect(paths.database_url)
        return cls(paths=paths, catalog=catalog, runner=make_runner(catalog))

    @property
    def actor(self) -> str:
        """The name the change log records for edits made through this workspace."""
        return self.identity.name

    def acting_as(self, identity: Identity) -> Workspace:
        """This workspace (sharing its catalog, runner and SQL engine) acting as ``identity``."""
        return replace(self, identity=identity)

    def dataset(self, name: str) -> Dataset:
        return self.catalog.get_dataset(name)

    @contextmanager
    def uow(self) -> Iterator[UnitOfWork]:
        """A unit of work: ``with ws.uow() as uow:`` gives the catalog's repositories in one
        transaction that commits when the block ends (or rolls back on an exception); files
        given to ``uow.remove_after_commit`` go only after the commit."""
        with unit_of_work(self.catalog, self.actor) as uow:
            yield uow

    def vectors(self, dataset: Dataset | int, space: str) -> VectorStore:
        """The vector store of ``space`` of a dataset (or of a dataset id)."""
        dataset_id = dataset if isinstance(dataset, int) else dataset.id
        return VectorStore(self.paths.vectors / str(dataset_id) / space)

    def sql_engine(self) -> SqlEngine:
        """The workspace's SQL engine, created on first use and shared by every query after.

        It keeps an in-memory DuckDB copy of the catalog that each session refreshes
        incrementally, so one engine per workspace (not per query) is what makes queries fast;
        the copy is saved in ``cache/`` so that the next process starts from it.
        """
        with self._sql_lock:
            if not self._sql:
                # Deferred: DuckDB and Arrow load only for workspaces that run SQL.
                from tagscope.store.scores import ScoreTables
                from tagscope.store.sql import SqlEngine

                snapshot = self.paths.cache / "sql-catalog.duckdb"
                scores = ScoreTables(self.paths.scores)
                self._sql.append(SqlEngine(self.catalog, scores, snapshot=snapshot))
            return self._sql[0]
