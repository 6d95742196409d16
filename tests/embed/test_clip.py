"""The clip path end to end with a tiny random CLIP (real tokenizer, real photos)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ModelUnavailableError
from tagscope.embed.clip import ClipEmbedder
from tagscope.media.images import load_rgb


@pytest.fixture(scope="module")
def clip(tiny_clip_dir: Path) -> ClipEmbedder:
    return ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def photos(coco_mini: Path) -> list[Image.Image]:
    return [load_rgb(p) for p in sorted((coco_mini / "val2017").glob("*.jpg"))[:10]]


def test_loads_from_a_folder_and_records_it(clip: ClipEmbedder, tiny_clip_dir: Path) -> None:
    assert clip.kind == "clip"
    assert clip.input == "image"
    assert clip.model == str(tiny_clip_dir.resolve())
    assert clip.dim == 16
    assert clip.device == "cpu"


def test_real_tokenizer_ids(clip: ClipEmbedder) -> None:
    ids = clip.processor_.tokenizer("a photo of a dog").input_ids
    assert ids == [49406, 320, 1125, 539, 320, 1929, 49407]


def test_images_and_texts_share_one_space(clip: ClipEmbedder, photos: list[Image.Image]) -> None:
    images = clip.encode_images(photos)
    texts = clip.encode_texts(["a photo of a dog", "a plane on a runway", "a cat"])
    assert images.shape == (len(photos), 16)
    assert texts.shape == (3, 16)
    assert images.dtype == texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    assert (images @ texts.T).shape == (len(photos), 3)
    # Different photos give different vectors (the pixels really reach the model).
    assert len({tuple(np.round(v, 4)) for v in images}) == len(photos)


def test_deterministic_and_independent_of_batching(
    clip: ClipEmbedder, tiny_clip_dir: Path, photos: list[Image.Image]
) -> None:
    first = clip.encode_images(photos)
    np.testing.assert_array_equal(first, clip.encode_images(photos))
    other = ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu", batch_size=10)
    np.testing.assert_allclose(other.encode_images(photos), first, atol=1e-5)
    texts = ["a dog", "two dogs on a sofa in a living room", "x"]
    np.testing.assert_allclose(
        other.encode_texts(texts),
        np.concatenate([clip.encode_texts([t]) for t in texts]),
        atol=1e-5,
    )


def test_long_text_is_truncated_to_the_context(clip: ClipEmbedder) -> None:
    vectors = clip.encode_texts(["a dog " * 200, "a dog"])
    assert vectors.shape == (2, 16)
    assert np.isfinite(vectors).all()


def test_greyscale_and_odd_sizes(clip: ClipEmbedder) -> None:
    images = [
        Image.new("RGB", (1, 1), "red"),
        Image.new("RGB", (500, 20), "blue"),
        Image.new("L", (64, 64), 128).convert("RGB"),
    ]
    assert clip.encode_images(images).shape == (3, 16)


def test_empty_inputs(clip: ClipEmbedder) -> None:
    assert clip.encode_images([]).shape == (0, 16)
    assert clip.encode_texts([]).shape == (0, 16)


def test_offline_without_weights_says_how_to_provide_a_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError) as err:
        ClipEmbedder.from_pretrained("openai/clip-vit-base-patch32", device="cpu")
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "'openai/clip-vit-base-patch32'" in message
    assert "HF_HUB_OFFLINE" in message
    assert "local folder" in message
    assert "--model /path/to/clip-vit-base-patch32" in message
    assert "cache" in message


def test_unreachable_hub_fails_fast_without_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads allowed but no network: one quick probe, not half a minute of retries."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="cannot be reached"):
        ClipEmbedder.from_pretrained("openai/clip-vit-base-patch32", device="cpu")
    assert time.monotonic() - start < 10


def test_missing_or_incomplete_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        ClipEmbedder.from_pretrained(str(tmp_path / "no-such-model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="could not load the CLIP model from folder"):
        ClipEmbedder.from_pretrained(str(tmp_path / "empty"))


def test_a_text_model_is_not_a_clip_model() -> None:
    from tagscope.embed.text import bundled_model_dir

    folder = bundled_model_dir()
    assert folder is not None
    with pytest.raises(ModelUnavailableError, match="not a CLIP-family"):
        ClipEmbedder.from_pretrained(str(folder), device="cpu")


def test_siglip_family_through_the_same_path(shared_dir: Path, tmp_path: Path) -> None:
    """A SigLIP model (no projection_dim; text padded to full length) loads and embeds."""
    import torch
    from transformers import (
        CLIPImageProcessorPil,
        CLIPProcessor,
        CLIPTokenizer,
        SiglipConfig,
        SiglipModel,
    )

    tower = {"hidden_size": 24, "intermediate_size": 37, "num_hidden_layers": 1}
    config = SiglipConfig(
        text_config={**tower, "num_attention_heads": 2, "vocab_size": 49408},
        vision_config={**tower, "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(0)
    SiglipModel(config).save_pretrained(tmp_path)
    tokenizer = CLIPTokenizer.from_pretrained(shared_dir / "models" / "clip-tokenizer")
    images = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(tmp_path)

    siglip = ClipEmbedder.from_pretrained(str(tmp_path), device="cpu")
    assert type(siglip.model_).__name__ == "SiglipModel"
    assert (siglip.dim, siglip.pad_to_max) == (24, True)
    texts = siglip.encode_texts(["a dog", "a much longer sentence about a dog on a beach"])
    assert texts.shape == (2, 24)
    # Padded to full length: a text's vector does not depend on its batch neighbours.
    np.testing.assert_allclose(siglip.encode_texts(["a dog"])[0], texts[0], atol=1e-5)
    assert siglip.encode_images([Image.new("RGB", (50, 40), "red")]).shape == (1, 24)
