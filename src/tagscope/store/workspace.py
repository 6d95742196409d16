"""Where a workspace keeps its files, and which catalog database it uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "tagscope-data"


@dataclass(frozen=True, slots=True)
class WorkspacePaths:
    """The folders of a workspace; the catalog URL defaults to SQLite inside it."""

    root: Path
    database_url: str

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> WorkspacePaths:
        """Resolve ``root``, else ``$TAGSCOPE_HOME``, else ``./tagscope-data``.

        ``$TAGSCOPE_DATABASE_URL`` (e.g. ``postgresql://user@host/db``) replaces the SQLite file.
        """
        path = Path(root or os.environ.get("TAGSCOPE_HOME") or DEFAULT_HOME).expanduser().resolve()
        url = os.environ.get("TAGSCOPE_DATABASE_URL") or f"sqlite:///{path / 'catalog.db'}"
        return cls(root=path, database_url=url)

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    @property
    def thumbnails(self) -> Path:
        return self.root / "thumbnails"

    @property
    def keyframes(self) -> Path:
        """The JPEG files of videos' keyframes (items of their own: not a cache)."""
        return self.root / "keyframes"

    @property
    def scores(self) -> Path:
        return self.root / "scores"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def cache(self) -> Path:
        """Files derived from the catalog that may be deleted at any time (rebuilt on use)."""
        return self.root / "cache"

    def create(self) -> None:
        for folder in (
            self.root,
            self.vectors,
            self.thumbnails,
            self.scores,
            self.models,
            self.cache,
        ):
            folder.mkdir(parents=True, exist_ok=True)
