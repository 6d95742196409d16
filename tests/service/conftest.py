"""Fixtures of the service tests: the sample video imported and embedded once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.video_import import import_video


@pytest.fixture(scope="session")
def echo_template(
    shared_dir: Path, tiny_clip_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A workspace with the sample video (``echo``: keyframes every second, its 15 cues),
    embedded in ``clip`` (the tiny random CLIP) and ``text`` (MiniLM). Built once."""
    root = tmp_path_factory.mktemp("echo")
    folder = root / "sample"
    folder.mkdir()
    shutil.copy(shared_dir / "data" / "video" / "echo-hereweare.webm", folder / "echo.webm")
    shutil.copy(shared_dir / "data" / "video" / "mediaelement.srt", folder / "echo.srt")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root / "ws")
        import_video(ws, "echo", folder, keyframes="every:1s", thumbnails="none")
        compute_embeddings(ws, "echo", space="clip", kind="clip", model=str(tiny_clip_dir))
        compute_embeddings(ws, "echo", space="text", kind="text")
        ws.catalog.engine.dispose()
    yield root / "ws"


@pytest.fixture()
def echo(echo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A private copy of :func:`echo_template`, opened."""
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    shutil.copytree(echo_template, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")
