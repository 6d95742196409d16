"""``POST /api/predict/{dataset}/{model}`` (and ``/last``): a classifier trained over coco-mini's
images in a ``clip`` space (the tiny random CLIP) predicts uploaded image files, as
``tagscope models predict --json`` does; API tokens, roles, bad files, the upload limit; a tiny
detector's boxes."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tagscope.api.app import create_app
from tagscope.cli.main import app as cli
from tagscope.service import Workspace, accounts
from tagscope.service.collections import create_collection
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.models import train_model

URL = "/api/predict/coco/m"
PASSWORD = "predict-password"


@pytest.fixture(scope="module")
def clip_ws(
    coco_text_template: Path, tiny_clip_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """coco-mini's ``coco`` embedded in ``clip`` too, model ``m`` (multi-label) trained on it;
    users ``vera``, viewer of coco, and ``nora``, editor of coco-train only."""
    root = tmp_path_factory.mktemp("predict") / "ws"
    shutil.copytree(coco_text_template, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root)
        compute_embeddings(ws, "coco", space="clip", kind="clip", model=str(tiny_clip_dir))
        train_model(ws, "coco", "m", kind="multi-label", space="clip", max_epochs=5)
        for user, role, dataset in (("vera", "viewer", "coco"), ("nora", "editor", "coco-train")):
            accounts.add_user(ws, user, PASSWORD, role=None)
            accounts.set_role(ws, user, role, dataset=dataset)
        yield ws


@pytest.fixture(scope="module")
def images(coco_mini: Path) -> list[Path]:
    return sorted((coco_mini / "val2017").glob("*.jpg"))[:3]


def _client(ws: Workspace, tmp_path: Path, **kw: Any) -> TestClient:
    app = create_app(ws, allowed_hosts=["testserver"], web_dist=tmp_path / "none", **kw)
    return TestClient(app)


def _token(ws: Workspace, user: str, **kw: Any) -> dict[str, str]:
    secret = accounts.create_token(ws, user, uuid.uuid4().hex[:8], **kw)[1]
    return {"Authorization": f"Bearer {secret}"}


def _files(paths: list[Path]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def test_rest_predictions_equal_the_cli_and_last_works(
    clip_ws: Workspace, images: list[Path], tmp_path: Path
) -> None:
    client = _client(clip_ws, tmp_path, auth=False)
    answer = client.post(URL, files=_files(images))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["dataset"], got["model"], got["kind"], got["checkpoint"]) == (
        "coco",
        "m",
        "multi-label",
        "best",
    )
    assert [p["file"] for p in got["predictions"]] == [p.name for p in images]
    thresholds = client.get("/api/datasets/coco/models/m").json()["thresholds"]
    for p in got["predictions"]:
        assert set(p["scores"]) == set(thresholds)
        assert all(0.0 <= s <= 1.0 for s in p["scores"].values())
        assert p["predicted"] == [c for c, s in p["scores"].items() if s >= thresholds[c]]

    args = ["models", "predict", "coco", "m", *map(str, images), "--json"]
    out = CliRunner().invoke(cli, [*args, "-w", str(clip_ws.paths.root)])
    assert out.exit_code == 0, out.output
    by_cli = json.loads(out.stdout)
    _same_predictions(by_cli, got)

    last = client.post(URL + "/last", files=_files(images[:1]))
    assert last.status_code == 200, last.text
    assert last.json()["checkpoint"] == "last"
    assert [p["file"] for p in last.json()["predictions"]] == [images[0].name]


def _same_predictions(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert {k: v for k, v in a.items() if k != "predictions"} == {
        k: v for k, v in b.items() if k != "predictions"
    }
    for x, y in zip(a["predictions"], b["predictions"], strict=True):
        assert (x["file"], x["predicted"]) == (y["file"], y["predicted"])
        assert x["scores"] == pytest.approx(y["scores"], abs=1e-6)


def test_tokens_and_roles(clip_ws: Workspace, images: list[Path], tmp_path: Path) -> None:
    client = _client(clip_ws, tmp_path)
    assert client.post(URL, files=_files(images[:1])).status_code == 401
    viewer = _token(clip_ws, "vera", scope="read")
    assert client.post(URL, files=_files(images[:1]), headers=viewer).status_code == 200
    refused = client.post(
        "/api/datasets/coco/models",
        json={"name": "v", "kind": "multi-label", "space": "clip"},
        headers=viewer,
    )
    assert refused.status_code == 403 and "models.train" in refused.json()["message"]
    stranger = client.post(URL, files=_files(images[:1]), headers=_token(clip_ws, "nora"))
    assert stranger.status_code == 403, stranger.text

    item = clip_ws.catalog.item_ids(clip_ws.dataset("coco").id)[0]
    items_url = "/api/datasets/coco/models/m/predict"
    read = client.post(items_url, json={"item_ids": [item]}, headers=viewer)
    assert read.status_code == 200 and read.json()["change_set"] is None
    write = client.post(items_url, json={"item_ids": [item], "write_labels": True}, headers=viewer)
    assert write.status_code == 403 and "labels.edit" in write.json()["message"]


def test_bad_files_are_named(clip_ws: Workspace, images: list[Path], tmp_path: Path) -> None:
    client = _client(clip_ws, tmp_path, auth=False)
    files = [*_files(images[:1]), ("files", ("notes.txt", b"not an image", "text/plain"))]
    answer = client.post(URL, files=files)
    assert answer.status_code == 422, answer.text
    assert "notes.txt" in answer.json()["message"]
    assert client.post(URL, data={"x": "1"}).status_code == 422  # no files at all
    assert client.post("/api/predict/coco/nope", files=_files(images[:1])).status_code == 404


def test_uploads_over_the_limit_are_refused(
    clip_ws: Workspace, images: list[Path], tmp_path: Path
) -> None:
    client = _client(clip_ws, tmp_path, auth=False, max_upload_bytes=1000)
    answer = client.post(URL, files=_files(images[:1]))
    assert answer.status_code == 413 and "--max-upload-mb" in answer.json()["message"]


def test_a_detector_answers_boxes(clip_ws: Workspace, images: list[Path], tmp_path: Path) -> None:
    ids = sorted(clip_ws.catalog.item_ids(clip_ws.dataset("coco").id))[:10]
    create_collection(clip_ws, "coco", "ten", item_ids=ids)
    tiny = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
    tiny |= {"intermediate_size": 64, "num_detection_tokens": 10}
    train_model(
        clip_ws, "coco", "det", kind="detector", collection="ten", architecture=tiny, max_epochs=2
    )
    client = _client(clip_ws, tmp_path, auth=False)
    for url in ("/api/predict/coco/det", "/api/predict/coco/det/last"):
        answer = client.post(url, files=_files(images[:2]))
        assert answer.status_code == 200, answer.text
        got = answer.json()
        checkpoint = "last" if url.endswith("/last") else "best"
        assert (got["kind"], got["checkpoint"]) == ("detector", checkpoint)
        thresholds = client.get("/api/datasets/coco/models/det").json()["thresholds"]
        for p in got["predictions"]:
            assert "scores" not in p and isinstance(p["boxes"], list)
            assert all(b["score"] >= thresholds[b["class"]] for b in p["boxes"])
            assert all(len(b["bbox"]) == 4 for b in p["boxes"])
            assert p["predicted"] == sorted({b["class"] for b in p["boxes"]})
