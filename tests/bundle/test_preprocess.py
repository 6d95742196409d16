"""The bundle's decoding and CLIP preprocessing equal the app's (``load_rgb`` and transformers'
image processor) on real photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tagscope.bundle.preprocess import ImageError, Preprocessor, decode_rgb
from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb
from tagscope.train.export import preprocess_parameters


def _processors():
    from transformers import CLIPImageProcessorPil

    return {
        "clip-224": CLIPImageProcessorPil(),  # openai/clip-vit-base-patch32's settings
        "tiny-32": CLIPImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        "siglip-square": CLIPImageProcessorPil(  # SigLIP: a square resize, no crop, mean 0.5
            size={"height": 224, "width": 224},
            do_center_crop=False,
            resample=2,
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        ),
        "longest-edge-padded-crop": CLIPImageProcessorPil(
            size={"shortest_edge": 200, "longest_edge": 260},
            crop_size={"height": 256, "width": 256},  # larger than the resize: zero padding
        ),
    }


def test_decode_equals_load_rgb(photos):
    for name, data in photos:
        ours, app = decode_rgb(data), load_rgb(data)
        assert ours.mode == app.mode == "RGB", name
        assert ours.size == app.size, name
        assert np.array_equal(np.asarray(ours), np.asarray(app)), name


def test_decode_applies_exif_orientation(photos):
    jpeg = dict(photos)["rotated.jpg"]
    stored = Image.open(io.BytesIO(jpeg)).size
    assert decode_rgb(jpeg).size == stored[::-1]


@pytest.mark.parametrize("name", list(_processors()))
def test_preprocess_equals_transformers(name, photos):
    processor = _processors()[name]
    ours = Preprocessor(preprocess_parameters(processor))
    images = [decode_rgb(data) for _, data in photos]
    want = processor([load_rgb(data) for _, data in photos], return_tensors="np")["pixel_values"]
    got = ours(images)
    assert got.dtype == np.float32
    assert got.shape == want.shape
    assert float(np.abs(got - want).max()) <= 1e-5


def test_preprocess_converts_non_rgb_as_transformers_does(photos):
    """A PIL image given directly (not from decode_rgb) is converted as the processor does:
    transparency composited onto white."""
    processor = _processors()["clip-224"]
    rgba = Image.open(io.BytesIO(dict(photos)["alpha.png"]))
    assert rgba.mode == "RGBA"
    want = processor([rgba], return_tensors="np")["pixel_values"]
    got = Preprocessor(preprocess_parameters(processor))([rgba])
    assert float(np.abs(got - want).max()) <= 1e-5


def test_decode_errors_say_why_as_the_app_does(photos, monkeypatch):
    jpeg = photos[0][1]
    for data in (b"hello, not an image", jpeg[: len(jpeg) // 2], jpeg[:200]):
        with pytest.raises(MediaError) as app:
            load_rgb(data)
        with pytest.raises(ImageError) as ours:
            decode_rgb(data)
        assert str(ours.value) == str(app.value)
    with pytest.raises(ImageError, match="empty file"):
        decode_rgb(b"")
    for limit in ("10000", "40000"):  # Pillow's own check (above twice ours), then ours
        monkeypatch.setenv("TAGSCOPE_MAX_IMAGE_PIXELS", limit)
        with pytest.raises(MediaError) as app:
            load_rgb(jpeg)
        with pytest.raises(ImageError, match="image too large") as ours:
            decode_rgb(jpeg)
        assert str(ours.value) == str(app.value)


def test_unsupported_resize_is_refused():
    with pytest.raises(ValueError, match="unsupported resize"):
        Preprocessor({"do_resize": True, "size": {"max_height": 10, "max_width": 10}})
