"""A real workspace for the API tests: coco-mini's val2017 images imported with their COCO boxes,
polygons and captions, embedded in the ``text`` space (captions, the bundled MiniLM), served by
TestClient. Session-scoped: importing and embedding run once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import import_coco


@pytest.fixture(scope="session")
def api_workspace(tmp_path_factory: pytest.TempPathFactory, coco_mini: Path) -> Workspace:
    ws = Workspace.open(tmp_path_factory.mktemp("api") / "ws")
    ann = coco_mini / "annotations"
    report = import_coco(
        ws,
        "coco",
        ann / "instances_val2017.json",
        images=coco_mini / "val2017",
        captions=ann / "captions_val2017.json",
    )
    assert report.n_added == 79, report.problems
    compute_embeddings(ws, "coco", space="text", kind="text")
    return ws


@pytest.fixture(scope="session")
def client(api_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The API without a web app (``tests/api/test_app.py`` serves one of its own), answering
    TestClient's host name ``testserver``."""
    no_web = tmp_path_factory.mktemp("no-web") / "dist"
    return TestClient(
        create_app(api_workspace, auth=False, web_dist=no_web, allowed_hosts=["testserver"])
    )


@pytest.fixture(scope="session")
def finish_job(client: TestClient) -> Callable[[dict], dict]:
    """``finish_job(job)``: poll ``/api/jobs/{id}`` until the job ends (2 minutes at most)."""

    def finish(job: dict) -> dict:
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
            job = client.get(f"/api/jobs/{job['id']}").json()
        return job

    return finish
