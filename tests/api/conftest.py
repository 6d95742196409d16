"""A real workspace with coco-mini's val2017 images, labels and captions, served by TestClient."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tagscope.api.app import create_app
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.service import Workspace


def _import_coco(ws: Workspace, name: str, images: Path, instances: Path) -> None:
    doc = json.loads(instances.read_text())
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    anns = defaultdict(list)
    for a in doc["annotations"]:
        anns[a["image_id"]].append(
            Label(LabelKind.BOX, cats[a["category_id"]], geometry={"bbox": a["bbox"]})
        )
    ds = ws.catalog.create_dataset(name)
    new = []
    for im in doc["images"]:
        path = images / im["file_name"]
        data = path.read_bytes()
        with Image.open(path) as pil:
            media = MediaInfo(len(data), *pil.size, "jpeg", hashlib.sha256(data).hexdigest())
        new.append(NewItem(str(path), media, labels=tuple(anns[im["id"]])))
    ws.catalog.add_items(ds.id, new)


@pytest.fixture(scope="session")
def api_workspace(tmp_path_factory: pytest.TempPathFactory, coco_mini: Path) -> Workspace:
    ws = Workspace.open(tmp_path_factory.mktemp("api") / "ws")
    _import_coco(
        ws, "coco", coco_mini / "val2017", coco_mini / "annotations" / "instances_val2017.json"
    )
    ws.catalog.ensure_space(ws.dataset("coco").id, "text", "text", "minilm", 384)
    return ws


@pytest.fixture(scope="session")
def client(api_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The API without a web app (``tests/api/test_app.py`` serves one of its own)."""
    no_web = tmp_path_factory.mktemp("no-web") / "dist"
    return TestClient(create_app(api_workspace, web_dist=no_web))
