"""detection_io: the torch-free geometry shared by the detector and the offline bundle."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.train import detection_io
from tagscope.train.detection_io import (
    boxes_to_network,
    check_target,
    decode_image,
    postprocess,
    prepare_image,
    preprocess_parameters,
)

PRE = preprocess_parameters(64)
MODULE = detection_io.__file__


def test_prepare_keeps_the_aspect_and_pads_with_zeros() -> None:
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    pixels, scale = prepare_image(image, PRE)
    assert pixels.shape == (3, 64, 64) and pixels.dtype == np.float32
    assert scale == pytest.approx(64 / 200)
    red = (1 - 0.485) / 0.229
    np.testing.assert_allclose(pixels[0, :32, :], red, rtol=1e-6)
    assert np.all(pixels[:, 32:, :] == 0)


def test_boxes_go_to_the_network_and_back_to_original_pixels() -> None:
    boxes = np.array([[10.0, 20.0, 50.0, 30.0], [0.0, 0.0, 200.0, 100.0]])
    scale = 64 / 200
    network = boxes_to_network(boxes, scale, 64)
    np.testing.assert_allclose(network[1], [0.5, 0.25, 1.0, 0.5])
    logits = np.array([[0.0, 5.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, 9.0]])  # last: no object
    out = postprocess(
        logits,
        np.vstack([network, [[0.5, 0.5, 0.1, 0.1]]]),
        scale=scale,
        width=200,
        height=100,
        classes=["cat", "dog"],
        preprocess=PRE,
        min_score=0.5,
    )
    assert [b["class"] for b in out] == ["dog", "cat"]  # best first; "no object" query dropped
    np.testing.assert_allclose(out[0]["bbox"], boxes[0], atol=1e-9)
    np.testing.assert_allclose(out[1]["bbox"], boxes[1], atol=1e-9)
    assert out[0]["score"] > out[1]["score"] > 0.5


def test_check_target_clips_small_overhangs_and_names_bad_boxes() -> None:
    clipped = check_target({"boxes": [[-0.5, 0, 100.5, 10]], "classes": ["a"]}, 100, 50, name="x")
    np.testing.assert_allclose(clipped, [[0, 0, 100, 10]])
    with pytest.raises(ValidationError, match=r"x: box 0 .* outside the 100x50 image"):
        check_target({"boxes": [[0, 0, 10, 60]], "classes": ["a"]}, 100, 50, name="x")
    with pytest.raises(ValidationError, match="x: box 0 has no area"):
        check_target({"boxes": [[5, 5, 0, 3]], "classes": ["a"]}, 100, 50, name="x")
    with pytest.raises(ValidationError, match=r"x: box 0 is not \[x, y, w, h\]"):
        check_target({"boxes": [[5, 5]], "classes": ["a"]}, 100, 50, name="x")


def test_decode_applies_the_exif_orientation(tmp_path) -> None:
    image = Image.new("RGB", (40, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert decode_image(path).size == (20, 40)
    assert decode_image(path.read_bytes()).size == (20, 40)
    with pytest.raises(ValueError, match=r"not an image \(unknown format\)"):
        decode_image(b"garbage")  # the app's own reason (media.load_rgb's)
    with pytest.raises(ValueError, match="file not found"):
        decode_image(tmp_path / "missing.jpg")


def test_imports_no_torch() -> None:
    """The bundle mirrors this module: loaded alone (not through the package), no torch."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('detection_io', {str(MODULE)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
