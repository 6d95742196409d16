"""Fixtures shared by every test package: real sample data and fresh workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
