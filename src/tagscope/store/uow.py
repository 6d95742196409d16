"""A unit of work: the catalog's repositories sharing one transaction, and files removed only
once it has committed.

>>> with unit_of_work(catalog, actor="alice") as uow:               # doctest: +SKIP
...     uow.tags.add_tag(group_id, Tag("dog"))
...     uow.tags.add_tag(group_id, Tag("cat"))  # a clash here keeps neither
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from tagscope.store.catalog import Catalog
from tagscope.store.change_log import ChangeLog
from tagscope.store.collections import CollectionCatalog
from tagscope.store.tag_catalog import TagCatalog

log = logging.getLogger(__name__)


class UnitOfWork:
    """The repositories of one transaction, and who acts in it (a user id)."""

    def __init__(self, catalog: Catalog, actor: str) -> None:
        self.actor = actor
        self.catalog = catalog
        self.tags = TagCatalog(catalog)
        self.changes = ChangeLog(catalog)
        self.collections = CollectionCatalog(catalog)

    def remove_after_commit(self, *paths: Path) -> None:
        """Delete these files or folders once the unit of work has committed; a rollback keeps
        them, so the catalog never points at a file that is gone."""
        for path in paths:
            self.catalog.after_commit(partial(_remove, Path(path)))


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:  # committed already: an orphan file is harmless, a raise is not
        log.warning("could not remove %s after commit: %s", path, exc)


@contextmanager
def unit_of_work(catalog: Catalog, actor: str) -> Iterator[UnitOfWork]:
    """Open a unit of work: it commits when the block ends, or rolls back on an exception.

    Every repository method called inside the block (through the unit of work or not, in this
    thread) joins its transaction; a nested unit of work joins the outer one. After a repository
    raised, the transaction cannot go on: let the exception leave the block.
    """
    with catalog.transaction():
        yield UnitOfWork(catalog, actor)


__all__ = ["UnitOfWork", "unit_of_work"]
