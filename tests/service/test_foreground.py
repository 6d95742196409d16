"""Foreground extraction on an item of a dataset: the mask as RLE, polygons, and named errors."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from tagscope.domain import ModelUnavailableError, NotFoundError, ValidationError
from tagscope.domain.access import Identity, Role
from tagscope.domain.geometry import polygon_region
from tagscope.labels.geometry import check_rle
from tagscope.service import Workspace
from tagscope.service.defaults import client_config
from tagscope.service.foreground import (
    SAM_DIR_VARIABLE,
    encode_mask,
    extract_foreground,
    segment_anything_status,
)

BEAR = "000000229997.jpg"  # 640 x 427; the bear's COCO box (annotation 586905)
BEAR_BOX = [196.0, 116.0, 234.0, 190.0]


@pytest.fixture()
def item_id(coco_mini: Path, make_dataset: Callable, workspace: Workspace, tmp_path: Path) -> int:
    image = tmp_path / BEAR
    shutil.copy(coco_mini / "val2017" / BEAR, image)
    ds = make_dataset("coco", [image])
    return workspace.catalog.item_ids(ds.id)[0]


def _mask(rle: dict) -> np.ndarray:
    return coco_mask.decode({"size": rle["size"], "counts": rle["counts"]}).astype(bool)


def test_the_mask_is_a_compressed_rle_of_the_image_size(workspace: Workspace, item_id: int) -> None:
    found = extract_foreground(workspace, "coco", item_id, BEAR_BOX)
    assert found.mask["size"] == [427, 640] and isinstance(found.mask["counts"], str)
    assert sum(check_rle(found.mask)[1::2]) == found.area
    mask = _mask(found.mask)
    assert mask.sum() == found.area and found.polygons is None
    assert 0.4 * 234 * 190 < found.area < 234 * 190  # the bear, not its box
    assert not mask[:116].any() and not mask[:, :196].any()  # nothing outside the rectangle


def test_polygons_cover_the_mask(workspace: Workspace, item_id: int) -> None:
    found = extract_foreground(workspace, "coco", item_id, BEAR_BOX, output="polygon")
    assert found.polygons
    parts = [ring for polygon in found.polygons for ring in polygon]
    assert abs(polygon_region(parts).area - found.area) < 0.05 * found.area


def test_a_previous_mask_and_strokes_refine(workspace: Workspace, item_id: int) -> None:
    first = extract_foreground(workspace, "coco", item_id, BEAR_BOX)
    stroke = [250.0, 150.0, 350.0, 150.0]
    again = extract_foreground(
        workspace, "coco", item_id, BEAR_BOX, background=[stroke], brush=6, mask=first.mask
    )
    mask = _mask(again.mask)
    assert not mask[148:153, 250:351].any()  # the background stroke holds
    assert again.area < first.area


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"rect": [0, 0, 0, 40]}, "rect", "empty"),
        ({"rect": [700, 10, 50, 50]}, "rect", "outside the image of item"),
        ({"rect": [1, 2, 3]}, "rect", "4 finite numbers"),
        ({"foreground": [[10, 10, 900, 10]]}, "foreground", "foreground stroke 1 leaves the image"),
        ({"background": [[10, 10, 20]]}, "background", "even number"),
        ({"mask": {"size": [10, 10], "counts": [100]}}, "mask", "10 x 10 pixels, the image 640"),
        ({"mask": {"size": [427, 640], "counts": [5]}}, "mask", "not a valid RLE"),
        ({"output": "svg"}, "output", "mask, polygon"),
        ({"brush": 0}, "brush", "brush"),
        ({"rect": [0, 0, 640, 427]}, "rect", "background stroke"),
    ],
)
def test_bad_input_is_named(
    workspace: Workspace, item_id: int, kwargs: dict, field: str, message: str
) -> None:
    args = {"rect": BEAR_BOX, **kwargs}
    with pytest.raises(ValidationError, match=message) as err:
        extract_foreground(workspace, "coco", item_id, **args)
    assert err.value.field == field


def test_an_item_of_another_dataset_is_not_found(workspace: Workspace, item_id: int) -> None:
    workspace.catalog.create_dataset("other")
    with pytest.raises(NotFoundError, match="dataset 'other' has no item"):
        extract_foreground(workspace, "other", item_id, BEAR_BOX)


def test_a_viewer_may_extract(workspace: Workspace, item_id: int) -> None:
    ds = workspace.dataset("coco")
    viewer = Identity("vera", None, MappingProxyType({ds.id: Role.VIEWER}), user_id=7)
    assert extract_foreground(workspace.acting_as(viewer), "coco", item_id, BEAR_BOX).area > 0


def test_encode_mask_round_trips() -> None:
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    assert (_mask(encode_mask(mask)) == mask).all()


def test_segment_anything_is_unavailable_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SAM_DIR_VARIABLE, raising=False)
    status = segment_anything_status()
    assert status["available"] is False and SAM_DIR_VARIABLE in status["how_to"]
    assert client_config()["segment_anything"] == status
    monkeypatch.setenv(SAM_DIR_VARIABLE, str(tmp_path))
    assert segment_anything_status()["available"] is False  # an empty folder
    (tmp_path / "sam_vit_b.pth").write_bytes(b"weights")
    (tmp_path / "config.json").write_text('{"model_type": "clip"}')
    status = segment_anything_status()  # a model file, but not a SAM model
    assert status["available"] is False
    assert (
        "is not a Segment Anything model" in status["how_to"] and "hf download" in status["how_to"]
    )


# The SAM tests use a tiny randomly initialised model (tiny_sam_dir): its masks are arbitrary, so
# they check shapes, types, determinism and the plumbing, not the masks' quality.


def test_segment_anything_is_available_with_a_sam_folder(
    tiny_sam_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SAM_DIR_VARIABLE, str(tiny_sam_dir))
    status = segment_anything_status()
    assert status == {"available": True, "how_to": f"Segment Anything model folder: {tiny_sam_dir}"}


def test_sam_clicks_give_a_mask_of_the_image_size(
    workspace: Workspace, item_id: int, tiny_sam_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SAM_DIR_VARIABLE, str(tiny_sam_dir))
    clicks = {"points": [[300, 200], [100, 50]], "point_labels": [1, 0], "method": "sam"}
    found = extract_foreground(workspace, "coco", item_id, None, output="polygon", **clicks)
    assert found.mask["size"] == [427, 640] and found.area == _mask(found.mask).sum()
    assert found.polygons is not None
    again = extract_foreground(workspace, "coco", item_id, None, output="polygon", **clicks)
    assert again.mask == found.mask
    boxed = extract_foreground(workspace, "coco", item_id, BEAR_BOX, method="sam")
    assert boxed.mask["size"] == [427, 640]


def test_sam_without_a_model_says_how_to_provide_one(
    workspace: Workspace, item_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SAM_DIR_VARIABLE, raising=False)
    with pytest.raises(ModelUnavailableError, match=SAM_DIR_VARIABLE):
        extract_foreground(
            workspace,
            "coco",
            item_id,
            None,
            [],
            [],
            points=[[1, 1]],
            point_labels=[1],
            method="sam",
        )


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"points": [[1, 1]], "point_labels": []}, "point_labels", "1 points but 0 point_labels"),
        ({"points": [[1, 1]], "point_labels": [2]}, "point_labels", "1 foreground or 0"),
        ({"points": [[700, 1]], "point_labels": [1]}, "points", "point 1 [700, 1] is off"),
        ({"points": [[1]], "point_labels": [1]}, "points", "must be [x, y]"),
        ({"method": "magic"}, "method", "grabcut, sam"),
        ({"method": "sam"}, "points", "at least one click or a rectangle"),
        ({"method": "sam", "background": [[1, 1, 5, 5]]}, "background", "not strokes"),
        ({}, "rect", "GrabCut needs a rectangle"),
    ],
)
def test_bad_clicks_are_named(
    workspace: Workspace,
    item_id: int,
    tiny_sam_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict,
    field: str,
    message: str,
) -> None:
    monkeypatch.setenv(SAM_DIR_VARIABLE, str(tiny_sam_dir))
    with pytest.raises(ValidationError) as err:
        extract_foreground(workspace, "coco", item_id, None, **kwargs)
    assert err.value.field == field and message in str(err.value)


def test_grabcut_takes_clicks_as_one_point_strokes(workspace: Workspace, item_id: int) -> None:
    first = extract_foreground(workspace, "coco", item_id, BEAR_BOX)
    clicked = extract_foreground(
        workspace, "coco", item_id, BEAR_BOX, points=[[300, 200]], point_labels=[0], brush=20
    )
    assert not _mask(clicked.mask)[195:205, 295:305].any() and clicked.area != first.area
