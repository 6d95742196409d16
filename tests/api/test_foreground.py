"""``POST /api/datasets/{name}/items/{item_id}/foreground`` and ``segment_anything`` in
``/api/config``, over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pycocotools import mask as coco_mask

from tagscope.api.app import create_app
from tagscope.domain import MediaInfo, NewItem
from tagscope.domain.geometry import label_area
from tagscope.media.images import read_media_info
from tagscope.service import Workspace, accounts

BEAR = "000000229997.jpg"  # the bear's COCO box (annotation 586905)
BEAR_BOX = [196, 116, 234, 190]


@pytest.fixture()
def served(
    tmp_path: Path, coco_mini: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, Workspace, int]:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    monkeypatch.delenv("TAGSCOPE_SAM_DIR", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    image = tmp_path / BEAR
    shutil.copy(coco_mini / "val2017" / BEAR, image)
    ds = ws.catalog.create_dataset("d")
    ws.catalog.add_items(ds.id, [NewItem(str(image), read_media_info(image))])
    client = TestClient(
        create_app(ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    )
    return client, ws, ws.catalog.item_ids(ds.id)[0]


def _url(item_id: int, dataset: str = "d") -> str:
    return f"/api/datasets/{dataset}/items/{item_id}/foreground"


def test_a_mask_and_its_polygons_save_as_labels(served: tuple[TestClient, Workspace, int]) -> None:
    client, _, item_id = served
    answer = client.post(_url(item_id), json={"rect": BEAR_BOX, "output": "polygon"})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["mask"]["size"] == [427, 640] and found["area"] > 0.4 * 234 * 190
    refined = client.post(
        _url(item_id),
        json={"rect": BEAR_BOX, "mask": found["mask"], "background": [[250, 150, 350, 150]]},
    ).json()
    assert refined["area"] < found["area"] and refined["polygons"] is None
    # What the labeling tool then saves, through the label routes.
    parts = [ring for polygon in found["polygons"] for ring in polygon]
    labels = [
        {"kind": "mask", "name": "bear", "geometry": {"rle": refined["mask"]}},
        {"kind": "polygon", "name": "bear", "geometry": {"polygons": parts}},
    ]
    saved = client.put(f"/api/datasets/d/items/{item_id}/labels", json={"labels": labels})
    assert saved.status_code == 200, saved.text
    stored = {lab["kind"]: lab for lab in saved.json()["labels"]}
    assert stored["mask"]["area"] == refined["area"]
    assert stored["polygon"]["area"] == pytest.approx(
        label_area("polygon", {"polygons": parts}), rel=1e-6
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"rect": [900, 10, 50, 50]}, "rect", "outside the image of item"),
        ({"rect": [10, 10, 0, 50]}, "rect", "empty"),
        ({"rect": BEAR_BOX, "foreground": [[1, 1, 1000, 1]]}, "foreground", "leaves the image"),
        ({"rect": BEAR_BOX, "mask": {"size": [2, 2], "counts": [4]}}, "mask", "2 x 2 pixels"),
        ({"rect": BEAR_BOX, "iterations": 99}, "iterations", "1..20"),
    ],
)
def test_bad_input_is_a_422_naming_it(
    served: tuple[TestClient, Workspace, int], body: dict, field: str, message: str
) -> None:
    client, _, item_id = served
    answer = client.post(_url(item_id), json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and message in answer.json()["message"]


def test_unknown_item_or_a_video_item(served: tuple[TestClient, Workspace, int]) -> None:
    client, ws, item_id = served
    assert client.post(_url(item_id + 99), json={"rect": BEAR_BOX}).status_code == 404
    ds = ws.dataset("d")
    ws.catalog.add_items(
        ds.id, [NewItem("/v/clip.mp4", MediaInfo(10, 100, 100, "mp4", "v"), modality="video")]
    )
    video = max(ws.catalog.item_ids(ds.id))
    answer = client.post(_url(video), json={"rect": BEAR_BOX})
    assert answer.status_code == 422 and "not an image" in answer.json()["message"]


def test_config_says_segment_anything_is_unavailable(
    served: tuple[TestClient, Workspace, int],
) -> None:
    sam = served[0].get("/api/config").json()["segment_anything"]
    assert sam["available"] is False and "TAGSCOPE_SAM_DIR" in sam["how_to"]


def test_a_viewer_may_extract_but_not_others(
    served: tuple[TestClient, Workspace, int], tmp_path: Path
) -> None:
    _, ws, item_id = served
    accounts.add_user(ws, "vera", "viewer-password", role=None)
    accounts.set_role(ws, "vera", "viewer", dataset="d")
    ws.catalog.create_dataset("other")
    accounts.add_user(ws, "olga", "outsider-password", role=None)
    accounts.set_role(ws, "olga", "editor", dataset="other")  # nothing on d
    app = create_app(ws, allowed_hosts=["testserver"], web_dist=tmp_path / "none")
    client = TestClient(app)
    for user, status in (("vera", 200), ("olga", 403)):
        token = accounts.create_token(ws, user, "t", scope="read")[1]
        answer = client.post(
            _url(item_id), json={"rect": BEAR_BOX}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == status, (user, answer.text)


# The SAM tests use a tiny randomly initialised model (tiny_sam_dir): its masks are arbitrary, so
# they check the status, the answer's shape and the plumbing, not the masks' quality.


def test_sam_clicks_answer_a_mask_of_the_image_size(
    served: tuple[TestClient, Workspace, int], tiny_sam_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, item_id = served
    monkeypatch.setenv("TAGSCOPE_SAM_DIR", str(tiny_sam_dir))
    assert client.get("/api/config").json()["segment_anything"]["available"] is True
    body = {"points": [[300, 200], [100, 50]], "point_labels": [1, 0], "method": "sam"}
    answer = client.post(_url(item_id), json=body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    mask = coco_mask.decode({"size": found["mask"]["size"], "counts": found["mask"]["counts"]})
    assert mask.shape == (427, 640) and found["area"] == int(mask.sum())
    assert client.post(_url(item_id), json=body).json() == found  # deterministic


def test_sam_without_a_model_is_a_503_saying_how(
    served: tuple[TestClient, Workspace, int],
) -> None:
    client, _, item_id = served
    body = {"points": [[300, 200]], "point_labels": [1], "method": "sam"}
    answer = client.post(_url(item_id), json=body)
    assert answer.status_code == 503, answer.text
    assert "TAGSCOPE_SAM_DIR" in answer.json()["message"]
    assert "hf download" in answer.json()["message"]


def test_a_folder_that_is_not_sam_is_named(
    served: tuple[TestClient, Workspace, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, item_id = served
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "clip"}')
    monkeypatch.setenv("TAGSCOPE_SAM_DIR", str(folder))
    sam = client.get("/api/config").json()["segment_anything"]
    assert sam["available"] is False and "is not a Segment Anything model" in sam["how_to"]
    body = {"points": [[300, 200]], "point_labels": [1], "method": "sam"}
    answer = client.post(_url(item_id), json=body)
    assert answer.status_code == 503 and f"{folder} is not a Segment" in answer.json()["message"]
