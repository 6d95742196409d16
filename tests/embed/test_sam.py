"""Segment Anything from a local folder: the folder check, loading once, and the mask's shape.

The model is a tiny randomly initialised SAM (``tiny_sam_dir``): its masks are arbitrary, so these
tests check types, shapes, determinism and the plumbing, never the masks' quality.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed.sam import SamSegmenter, check_folder, load_segmenter


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (50, 80, 3), dtype=np.uint8)


def test_segment_gives_a_bool_mask_of_the_image_size_deterministically(
    tiny_sam_dir: Path, image: np.ndarray
) -> None:
    sam = load_segmenter(tiny_sam_dir)
    assert load_segmenter(str(tiny_sam_dir)) is sam  # loaded once per folder
    mask = sam.segment(image, [(10, 20), (60, 30)], [1, 0])
    assert mask.dtype == bool and mask.shape == (50, 80)
    assert (sam.segment(image, [(10, 20), (60, 30)], [1, 0]) == mask).all()
    boxed = sam.segment(image, [(10, 20)], [1], box=[5, 5, 40, 45])
    assert boxed.shape == (50, 80)
    assert sam.segment(image, [], [], box=[5, 5, 40, 45]).shape == (50, 80)


def test_bad_prompts_are_named(tiny_sam_dir: Path, image: np.ndarray) -> None:
    sam = load_segmenter(tiny_sam_dir)
    with pytest.raises(ValidationError, match="2 points but 1 point labels") as err:
        sam.segment(image, [(1, 1), (2, 2)], [1])
    assert err.value.field == "point_labels"
    with pytest.raises(ValidationError, match="at least one point or a box"):
        sam.segment(image, [], [])


def test_check_folder_names_what_is_missing(tiny_sam_dir: Path, tmp_path: Path) -> None:
    assert check_folder(tiny_sam_dir) == tiny_sam_dir.resolve()
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        check_folder(tmp_path / "nowhere")
    with pytest.raises(ModelUnavailableError, match=r"has no config\.json"):
        check_folder(tmp_path)
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "config.json").write_text(json.dumps({"model_type": "clip"}))
    not_sam = r"clip is not a Segment Anything model.*'clip'"
    with pytest.raises(ModelUnavailableError, match=not_sam):
        check_folder(clip)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_sam_dir, partial)
    (partial / "processor_config.json").unlink()
    with pytest.raises(ModelUnavailableError, match="no processor config"):
        check_folder(partial)
    (partial / "model.safetensors").unlink()
    with pytest.raises(ModelUnavailableError, match="no weights"):
        check_folder(partial)


def test_unloadable_weights_name_the_folder(tiny_sam_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_sam_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelUnavailableError, match=re.escape(f"from folder {broken.resolve()}")):
        SamSegmenter.from_folder(broken, device="cpu")
