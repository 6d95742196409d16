"""The perceptual-hash space on real photos: copies stay close, different photos stay apart, and
the variants (flip, crops) find mirror images and crops that the hash of the whole image misses."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.embed.phash import (
    N_VARIANTS,
    VARIANT_PENALTY,
    PHashEmbedder,
    hamming,
    pack_hashes,
    phash_bits,
    phash_variants,
    to_vectors,
    unpack_hashes,
)

FLIP = Image.Transpose.FLIP_LEFT_RIGHT


@pytest.fixture(scope="module")
def photos(imagenette: Path) -> list[Image.Image]:
    """40 real photos, four of each imagenette class."""
    paths = [
        p for cls in sorted(imagenette.iterdir()) if cls.is_dir() for p in sorted(cls.iterdir())[:4]
    ]
    return [Image.open(p).convert("RGB") for p in paths]


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _crop_keeping(image: Image.Image, area: float, rng: np.random.Generator) -> Image.Image:
    """A crop keeping ``area`` of the picture (the same share of each side), at a random place."""
    w, h = image.size
    cw, ch = round(w * area**0.5), round(h * area**0.5)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch))


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


def test_variants_are_the_flip_then_the_crops(photos: list[Image.Image]) -> None:
    variants = phash_variants(photos[:8])
    assert variants.shape == (8, N_VARIANTS, 64) and variants.dtype == bool
    mirrored = phash_bits([im.transpose(FLIP) for im in photos[:8]])
    np.testing.assert_array_equal(variants[:, 0], mirrored)
    vectors = PHashEmbedder().encode_variants(photos[:8])
    np.testing.assert_array_equal(vectors > 0, variants)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=2), 1.0, rtol=1e-6)
    assert phash_variants([]).shape == (0, N_VARIANTS, 64)


def _found(originals: list[Image.Image], copies: list[Image.Image]) -> tuple[int, int]:
    """How many copies score at the default threshold (8 bits) with their original: by the
    whole images' hashes alone, and with the variants (4 bits more for a variant)."""
    whole, copy = phash_bits(originals), phash_bits(copies)
    direct = hamming(whole, copy)
    via = hamming(phash_variants(originals), copy[:, None, :]).min(axis=1)
    penalty = round(VARIANT_PENALTY * 32)
    return int((direct <= 8).sum()), int((np.minimum(direct, via + penalty) <= 8).sum())


def test_variants_find_crops_keeping_90_percent(photos: list[Image.Image]) -> None:
    rng = np.random.default_rng(0)
    originals = photos[::4]
    copies = [_jpeg(_crop_keeping(im, 0.9, rng), 80) for im in originals]
    alone, with_variants = _found(originals, copies)
    assert with_variants >= 9 and with_variants > alone, (alone, with_variants)


def test_variants_find_every_mirror_image(photos: list[Image.Image]) -> None:
    originals = photos[::4]
    alone, with_variants = _found(originals, [_jpeg(im.transpose(FLIP), 80) for im in originals])
    assert (alone, with_variants) == (0, 10)


def test_variants_of_different_photos_stay_apart(photos: list[Image.Image]) -> None:
    """No variant comes within 4 bits of another photo, so none reaches the threshold."""
    whole, variants = phash_bits(photos), phash_variants(photos)
    d = (variants[:, :, None, :] != whole[None, None, :, :]).sum(-1).min(axis=1)
    np.fill_diagonal(d, 64)
    assert d.min() > round(VARIANT_PENALTY * 32), d.min()


def test_hashes_with_variants_pack_what_each_function_computes(photos: list[Image.Image]) -> None:
    """The embedding job's one pass: the image's hash then its variants, packed to 8 bytes
    each, unpacking to exactly what ``phash_bits`` and ``phash_variants`` give."""
    vectors, packed = PHashEmbedder().encode_with_variants(photos[:8])
    assert packed.shape == (8, 1 + N_VARIANTS, 8) and packed.dtype == np.uint8
    np.testing.assert_array_equal(vectors, PHashEmbedder().encode_images(photos[:8]))
    bits = unpack_hashes(packed)
    np.testing.assert_array_equal(bits[:, 0], phash_bits(photos[:8]))
    np.testing.assert_array_equal(bits[:, 1:], phash_variants(photos[:8]))
    np.testing.assert_array_equal(pack_hashes(to_vectors(bits)), packed)
    assert PHashEmbedder().encode_with_variants([])[1].shape == (0, 1 + N_VARIANTS, 8)
