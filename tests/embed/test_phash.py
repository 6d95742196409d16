"""The perceptual-hash space on real photos: copies stay close, different photos stay apart."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.embed.phash import PHashEmbedder, hamming, phash_bits


@pytest.fixture(scope="module")
def photos(imagenette: Path) -> list[Image.Image]:
    """40 real photos, four of each imagenette class."""
    paths = [
        p for cls in sorted(imagenette.iterdir()) if cls.is_dir() for p in sorted(cls.iterdir())[:4]
    ]
    return [Image.open(p).convert("RGB") for p in paths]


def _degraded_copy(image: Image.Image, scale: float, quality: int) -> Image.Image:
    """Resized, then re-compressed as a JPEG: what a near-duplicate usually is."""
    w, h = image.size
    small = image.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def test_vectors_are_unit_and_cosine_counts_bits(photos: list[Image.Image]) -> None:
    vectors = PHashEmbedder().encode_images(photos)
    assert vectors.shape == (len(photos), 64)
    assert vectors.dtype == np.float32
    assert set(np.unique(vectors)) == {-0.125, 0.125}
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    bits = phash_bits(photos)
    distances = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    np.testing.assert_allclose(vectors @ vectors.T, 1 - 2 * distances / 64, atol=1e-6)


def test_batch_equals_one_by_one(photos: list[Image.Image]) -> None:
    embedder = PHashEmbedder()
    batch = embedder.encode_images(photos[:8])
    single = np.concatenate([embedder.encode_images([im]) for im in photos[:8]])
    np.testing.assert_array_equal(batch, single)


@pytest.mark.parametrize(("scale", "quality"), [(0.5, 70), (0.8, 40), (1.5, 85)])
def test_resized_recompressed_copies_stay_within_a_few_bits(
    photos: list[Image.Image], scale: float, quality: int
) -> None:
    embedder = PHashEmbedder()
    copies = [_degraded_copy(im, scale, quality) for im in photos]
    distances = hamming(embedder.encode_images(photos), embedder.encode_images(copies))
    assert distances.max() <= 6, distances


def test_different_photos_are_far_apart(photos: list[Image.Image]) -> None:
    vectors = PHashEmbedder().encode_images(photos)
    upper = np.triu_indices(len(photos), 1)
    distances = ((1 - vectors @ vectors.T) * 32).round()[upper]
    assert distances.min() >= 12
    assert 24 <= np.median(distances) <= 40


def test_text_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="cannot embed text"):
        PHashEmbedder().encode_texts(["a dog"])


def test_empty_batch() -> None:
    assert PHashEmbedder().encode_images([]).shape == (0, 64)
