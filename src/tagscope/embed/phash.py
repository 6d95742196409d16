"""A weight-free perceptual hash space for near-duplicates: the DCT pHash as a unit vector.

The hash is the classic DCT pHash (the one ``imagehash.phash`` computes): the image is reduced to
32 x 32 grey levels, its 2-D DCT taken, and each of the 8 x 8 lowest-frequency coefficients gives
one bit, set when the coefficient is above their median. The 64 bits become a vector of
``+1/8`` (bit set) and ``-1/8`` (bit clear), which has unit norm, so the cosine of two hashes is
``1 - 2 * hamming / 64``: a hamming distance of 4 bits is a cosine of 0.875.

Resizing and re-compressing an image moves few bits (typically 0-4); different photos differ in
about half of them (cosine near 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import fft

from tagscope.domain import ValidationError

HASH_SIZE = 8
"""Bits per side of the hash: 8 x 8 = 64 bits."""
_SCALE = 4
"""The image is reduced to ``HASH_SIZE * _SCALE`` = 32 pixels a side before the DCT."""

MODEL = "phash-dct-64"
"""The model name a pHash space records."""


def phash_bits(images: Sequence[Image.Image]) -> np.ndarray:
    """The 64-bit DCT pHash of each image.

    Parameters
    ----------
    images : sequence of PIL images
        Any mode; each is converted to grey levels and resized to 32 x 32 (Lanczos).

    Returns
    -------
    bits : ndarray of bool, shape (n, 64)
        Row-major over the 8 x 8 low-frequency block (bit 0 is the DC term).
    """
    side = HASH_SIZE * _SCALE
    if not images:
        return np.zeros((0, HASH_SIZE * HASH_SIZE), dtype=bool)
    pixels = np.stack(
        [
            np.asarray(im.convert("L").resize((side, side), Image.Resampling.LANCZOS), np.float32)
            for im in images
        ]
    )
    coeffs = fft.dctn(pixels, type=2, axes=(1, 2), workers=1)
    low = coeffs[:, :HASH_SIZE, :HASH_SIZE].reshape(len(images), -1)
    return low > np.median(low, axis=1, keepdims=True)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between pHash vectors (or bit arrays) ``a`` and ``b``, row by row."""
    return np.count_nonzero((np.asarray(a) > 0) != (np.asarray(b) > 0), axis=-1)


class PHashEmbedder:
    """Perceptual hashes of images as unit vectors (64-d); needs no weights.

    Examples
    --------
    >>> from PIL import Image
    >>> e = PHashEmbedder()
    >>> v = e.encode_images([Image.new("RGB", (64, 48), "white")])
    >>> v.shape, float(v[0] @ v[0])
    ((1, 64), 1.0)
    """

    kind = "phash"
    model = MODEL
    dim = HASH_SIZE * HASH_SIZE
    input = "image"
    min_image_side = 256
    """Images may be decoded at a reduced scale keeping this many pixels a side: the hashes then
    match those of the full image (to a bit or two in one image of a few hundred)."""

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Hash ``images``; shape (n, 64), entries ``±1/8`` (unit rows, float32)."""
        bits = phash_bits(images)
        return np.where(bits, np.float32(0.125), np.float32(-0.125)).astype(np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise ValidationError(
            "the phash space holds perceptual hashes of images and cannot embed text; "
            "search it with an item or an image, or use a 'clip' or 'text' space for text queries",
            field="kind",
        )
