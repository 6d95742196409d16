"""Fixtures shared by every test package: real sample data and fresh workspaces."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tagscope.service import Workspace

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download a model

SHARED = Path(os.environ.get("TAGSCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"sample data folder {SHARED} not found (set TAGSCOPE_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def coco_mini(shared_dir: Path) -> Path:
    return shared_dir / "data" / "coco-mini"


@pytest.fixture(scope="session")
def imagenette(shared_dir: Path) -> Path:
    return shared_dir / "data" / "imagenette-dev"


@pytest.fixture()
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A fresh SQLite workspace in a temporary folder."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    return Workspace.open(tmp_path / "ws")


PG_URL = os.environ.get("TAGSCOPE_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database: SQLite in a temporary folder, or a new PostgreSQL
    database on the server of ``$TAGSCOPE_TEST_DATABASE_URL`` (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    if not PG_URL:
        pytest.skip("TAGSCOPE_TEST_DATABASE_URL is not set (.ci/run starts PostgreSQL)")
    name = f"tagscope_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
