"""A weight-free perceptual hash space for near-duplicates: the DCT pHash as a unit vector.

The hash is the classic DCT pHash (the one ``imagehash.phash`` computes): the image is reduced to
32 x 32 grey levels, its 2-D DCT taken, and each of the 8 x 8 lowest-frequency coefficients gives
one bit, set when the coefficient is above their median. The 64 bits become a vector of
``+1/8`` (bit set) and ``-1/8`` (bit clear), which has unit norm, so the cosine of two hashes is
``1 - 2 * hamming / 64``: a hamming distance of 4 bits is a cosine of 0.875.

Resizing and re-compressing an image moves few bits (typically 0-4); different photos differ in
about half of them (cosine near 0). A mirror image or a crop is another hash, though: a horizontal
flip moves about half the bits, a crop keeping 90% of the picture (at a random place) moves more
than 8 bits in 3 photos of 10. :func:`phash_variants` gives the hashes of an image's flip and
of crops of it (``CROPS``), which the near-duplicate search compares as a maximum; the space's
vector stays the hash of the whole image, and the embedding job stores the variants beside it,
packed (:func:`pack_hashes`: 8 bytes a hash), so the search does not decode the images again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from tagscope._lazy import deferred
from tagscope.domain import ValidationError

if TYPE_CHECKING:
    from scipy import fft
else:
    fft = deferred("scipy.fft")  # loads on the first hash, not on import

HASH_SIZE = 8
"""Bits per side of the hash: 8 x 8 = 64 bits."""
_SCALE = 4
"""The image is reduced to ``HASH_SIZE * _SCALE`` = 32 pixels a side before the DCT."""

MODEL = "phash-dct-64"
"""The model name a pHash space records."""


CROPS = tuple(
    (side, ax, ay) for side in (0.92, 0.96) for ay in (0.0, 0.5, 1.0) for ax in (0.0, 0.5, 1.0)
)
"""The crops :func:`phash_variants` hashes: (share of each side kept, horizontal anchor, vertical
anchor), anchors from 0 (left, top) to 1 (right, bottom): two sizes on a 3 x 3 grid of places.
Measured on 739 real photos (bench/bench_phash_duplicates.py): a crop keeping 90% of the area at
a random place lies within 4 bits of one of them in 99% of the photos (the whole image's hash
is within 8 bits in 71%); one keeping 90% of each side, in 73% (11%)."""

N_VARIANTS = 1 + len(CROPS)
"""Variants per image: the horizontal flip, then each of ``CROPS``."""

_CROP_SOURCE = 96
"""Crops are cut from the grey image reduced (by a whole factor) to at least this many pixels a
side: 3x faster than from a 256-pixel one, and their hashes differ by 0-2 bits (4 in 1 of 500)."""

VARIANT_PENALTY = 4 / 32
"""What a match through a variant (flip or crop) costs, as a cosine: 4 bits, so a variant within
4 bits scores as the whole image within 8. The 19 variants are as many more chances for two
different photos to meet: over those 739 photos the closest variant met another photo at 8 bits,
the closest whole images at 12, so with the penalty both stay 2 steps (of 2 bits: every hash has
32 bits set) below the default threshold of 8 bits. A penalty of 2 bits would find 91% of the
crops keeping 90% of each side, with the closest different photos 1 step below the threshold."""


def _grey(image: Image.Image, box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """``image`` (or its ``box``) in grey levels, 32 x 32 (Lanczos), as float32."""
    side = HASH_SIZE * _SCALE
    grey = image if image.mode == "L" else image.convert("L")
    return np.asarray(grey.resize((side, side), Image.Resampling.LANCZOS, box=box), np.float32)


def _bits(pixels: np.ndarray) -> np.ndarray:
    """The hashes of (n, 32, 32) grey images: (n, 64) bool."""
    coeffs = fft.dctn(pixels, type=2, axes=(1, 2), workers=1)
    low = coeffs[:, :HASH_SIZE, :HASH_SIZE].reshape(len(pixels), -1)
    return low > np.median(low, axis=1, keepdims=True)


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
    if not images:
        return np.zeros((0, HASH_SIZE * HASH_SIZE), dtype=bool)
    return _bits(np.stack([_grey(im) for im in images]))


def phash_variants(images: Sequence[Image.Image]) -> np.ndarray:
    """The hashes of each image's horizontal flip and of its crops ``CROPS``.

    Returns
    -------
    bits : ndarray of bool, shape (n, N_VARIANTS, 64)
        Per image: the flip (the same as ``phash_bits`` of the mirrored image), then one hash
        per crop, in the order of ``CROPS``.
    """
    return phash_with_variants(images)[:, 1:]


def phash_with_variants(images: Sequence[Image.Image]) -> np.ndarray:
    """Each image's hash (``phash_bits``), then its variants (``phash_variants``), from one
    grey conversion: shape (n, 1 + N_VARIANTS, 64), bool."""
    pixels = []
    for im in images:
        grey = im.convert("L")
        whole = _grey(grey)
        pixels += [whole, whole[:, ::-1]]
        small = grey.reduce(max(1, min(grey.size) // _CROP_SOURCE))
        w, h = small.size
        for side, ax, ay in CROPS:
            x, y = (1 - side) * w * ax, (1 - side) * h * ay
            pixels.append(_grey(small, (x, y, x + side * w, y + side * h)))
    if not pixels:
        return np.zeros((0, 1 + N_VARIANTS, HASH_SIZE * HASH_SIZE), dtype=bool)
    return _bits(np.stack(pixels)).reshape(len(images), 1 + N_VARIANTS, -1)


def pack_hashes(bits: np.ndarray) -> np.ndarray:
    """Hashes (..., 64) bool (or vectors: a bit is a positive entry) as 8 bytes each: (..., 8)
    uint8, the stored form of the variants (1/16 of their float16 vectors)."""
    return np.packbits(np.asarray(bits) > 0, axis=-1)


def unpack_hashes(packed: np.ndarray) -> np.ndarray:
    """The bits :func:`pack_hashes` packed: (..., 8) uint8 to (..., 64) bool."""
    return np.unpackbits(np.asarray(packed, np.uint8), axis=-1).astype(bool)


def to_vectors(bits: np.ndarray) -> np.ndarray:
    """Hash bits as the space's unit vectors: ``+1/8`` where set, ``-1/8`` where clear."""
    return np.where(bits, np.float32(0.125), np.float32(-0.125)).astype(np.float32)


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
        return to_vectors(phash_bits(images))

    def encode_variants(self, images: Sequence[Image.Image]) -> np.ndarray:
        """The hashes of each image's flip and crops (:func:`phash_variants`) as vectors:
        shape (n, N_VARIANTS, 64), float32."""
        return to_vectors(phash_variants(images))

    def encode_with_variants(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """``encode_images`` and the packed hashes of each image and its variants from one
        decode, as the embedding job stores them: (vectors (n, 64) float32, packed
        (n, 1 + N_VARIANTS, 8) uint8, the image's own hash first)."""
        bits = phash_with_variants(images)
        return to_vectors(bits[:, 0]), pack_hashes(bits)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise ValidationError(
            "the phash space holds perceptual hashes of images and cannot embed text; "
            "search it with an item or an image, or use a 'clip' or 'text' space for text queries",
            field="kind",
        )
