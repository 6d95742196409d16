"""The server's start fills the thumbnails an import deferred; the endpoint serves meanwhile."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.domain import JobStatus
from tagscope.service import Workspace
from tagscope.service.imports import import_images


def test_starting_the_server_fills_deferred_thumbnails_and_the_endpoint_serves(
    tmp_path: Path, coco_mini: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted((coco_mini / "val2017").glob("*.jpg"))[:4]:
        shutil.copy(src, photos)
    ws = Workspace.open(tmp_path / "ws")
    assert import_images(ws, "mine", photos).n_thumbnails_deferred == 4
    ids = ws.catalog.item_ids(ws.dataset("mine").id)
    app = create_app(ws, auth=False, web_dist=tmp_path / "no-web")
    with TestClient(app, base_url="http://localhost") as client:  # runs the start-up
        r = client.get(f"/api/items/{ids[0]}/thumbnail")  # made now if the filler is behind
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert r.content.startswith(b"\xff\xd8\xff")
        deadline = time.monotonic() + 60
        while not (jobs := client.get("/api/jobs", params={"dataset": "mine"}).json()) or (
            jobs[0]["kind"] != "thumbnails" or jobs[0]["status"] not in ("done", "error")
        ):
            assert time.monotonic() < deadline, jobs
            time.sleep(0.05)
        assert jobs[0]["status"] == JobStatus.DONE and jobs[0]["n_done"] == 4, jobs[0]
        assert len(list(ws.paths.thumbnails.rglob("*.jpg"))) == 4
        for item_id in ids:
            assert client.get(f"/api/items/{item_id}/thumbnail").status_code == 200
