"""Image bytes to model input, in PIL and NumPy alone: the bundle's copy of the app's decoding
(``tagscope.media.images.load_rgb`` at full size) and of the CLIP image processor
(``transformers``' PIL backend), step for step, so its pixels equal the app's.

It imports nothing of torch, transformers or the rest of Tagscope: the offline server runs it.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from math import ceil
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS_VARIABLE = "TAGSCOPE_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 100_000_000
# Our own limit (checked on the header, before any pixel is decoded) replaces Pillow's warning.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

EXIF_ORIENTATION = 0x0112
# The transpose that makes each EXIF orientation upright (the app's decoder uses these too).
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The image processor settings a bundle's manifest holds (``preprocess``), with the processor's
# meaning: transformers' ``CLIPImageProcessor`` and its family (SigLIP: a square resize, no crop).
PREPROCESS_KEYS = (
    "do_convert_rgb",
    "do_resize",
    "size",
    "resample",
    "do_center_crop",
    "crop_size",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
)


class ImageError(ValueError):
    """An image the bundle cannot use; the message is the reason (as the app words it)."""


def max_image_pixels() -> int:
    """The most pixels an image may have: ``TAGSCOPE_MAX_IMAGE_PIXELS`` (default 100 million),
    the app's variable, read at each call."""
    value = os.environ.get(MAX_PIXELS_VARIABLE, "").strip().replace("_", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise ImageError(
            f"{MAX_PIXELS_VARIABLE} must be a positive whole number of pixels, not {value!r}"
        )
    return int(value)


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise ImageError(
            f"image too large: {width * height / 1e6:.1f} megapixels ({width}x{height}), above "
            f"the limit of {limit / 1e6:g} (set {MAX_PIXELS_VARIABLE} to raise it)"
        )


def decode_rgb(data: bytes) -> Image.Image:
    """Decode image bytes to upright RGB at full size: EXIF orientation applied, any mode
    converted as ``Image.convert("RGB")`` does (an alpha channel is dropped, not composited).

    Raises
    ------
    ImageError
        Empty, not an image, corrupt, or above :func:`max_image_pixels`.
    """
    if not data:
        raise ImageError("empty file")
    limit = max_image_pixels()
    # Pillow's own bomb check follows ours: it raises only above twice the limit.
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with Image.open(io.BytesIO(data)) as im:
            _check_pixels(*im.size, limit)
            orientation = exif_orientation(im)
            rgb = im.convert("RGB")
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found[1]) / 1e6:.1f} megapixels" if found else "more pixels"
        raise ImageError(
            f"image too large: {pixels}, above the limit of {limit / 1e6:g} "
            f"(set {MAX_PIXELS_VARIABLE} to raise it)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError("not an image (unknown format)") from None
    except Exception as exc:  # Pillow's many exception types for damaged data
        raise ImageError(f"cannot decode the image: {exc}") from None
    method = ORIENTATIONS.get(orientation)
    return rgb.transpose(method) if method is not None else rgb


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1: upright), read without decoding the pixels."""
    # A PNG's getexif() decodes the whole image to look for an eXIf chunk after the pixels.
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        return int(im.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block does not make the picture unusable
        return 1


class Preprocessor:
    """The CLIP image processor from its settings: resize, centre crop, rescale, normalise.

    Parameters
    ----------
    params : mapping
        The manifest's ``preprocess``: :data:`PREPROCESS_KEYS`. ``size`` is
        ``{"shortest_edge": s}`` (optionally with ``"longest_edge"``) or ``{"height", "width"}``;
        ``crop_size`` is ``{"height", "width"}``; ``resample`` is a PIL filter number.

    Examples
    --------
    >>> pre = Preprocessor({"do_resize": True, "size": {"shortest_edge": 224},
    ...     "resample": 3, "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
    ...     "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
    ...     "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]})
    >>> pre([Image.new("RGB", (640, 480))]).shape
    (1, 3, 224, 224)
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        p = self.params
        self.convert_rgb = bool(p.get("do_convert_rgb"))
        self.size = dict(p.get("size") or {}) if p.get("do_resize") else None
        self.crop = dict(p["crop_size"]) if p.get("do_center_crop") else None
        self.scale = float(p["rescale_factor"]) if p.get("do_rescale") else None
        if p.get("do_normalize"):
            self.mean = np.asarray(p["image_mean"], np.float32)
            self.std = np.asarray(p["image_std"], np.float32)
        else:
            self.mean = self.std = None
        self.resample = Image.Resampling(int(p.get("resample", Image.Resampling.BILINEAR)))
        if self.size is not None and not (
            self.size.get("shortest_edge") or (self.size.get("height") and self.size.get("width"))
        ):
            raise ValueError(f"unsupported resize size {self.size!r}")

    def __call__(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Pixel values of RGB images: (n, 3, height, width) float32."""
        return np.stack([self.one(im) for im in images]) if images else self._empty()

    def _empty(self) -> np.ndarray:
        side = self.crop or self.size or {}
        return np.zeros((0, 3, side.get("height", 0), side.get("width", 0)), np.float32)

    def one(self, image: Image.Image) -> np.ndarray:
        """One RGB image's pixel values, (3, height, width) float32."""
        if self.convert_rgb or image.mode != "RGB":
            image = _to_rgb(image)
        if self.size is not None:
            height, width = self._resized(image.height, image.width)
            if (width, height) != image.size:  # the processor's PIL round trip is lossless
                image = image.resize((width, height), resample=self.resample)
        x = np.asarray(image).transpose(2, 0, 1)
        if self.crop is not None:
            x = _center_crop(x, int(self.crop["height"]), int(self.crop["width"]))
        if self.scale is not None:
            # As transformers does: in float64, then float32.
            x = (x.astype(np.float64) * self.scale).astype(np.float32)
        if self.mean is not None:
            x = x.astype(np.float32, copy=False)
            x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        return x.astype(np.float32, copy=False)

    def _resized(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the processor resizes to (transformers' rules, torchvision's)."""
        size = self.size or {}
        short_side, long_side = size.get("shortest_edge"), size.get("longest_edge")
        if not short_side:
            return int(size["height"]), int(size["width"])
        if long_side:
            return _with_aspect_ratio(height, width, int(short_side), int(long_side))
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = int(short_side), int(int(short_side) * long / short)
        return (new_long, new_short) if width <= height else (new_short, new_long)


def _with_aspect_ratio(height: int, width: int, size: int, max_size: int) -> tuple[int, int]:
    """transformers' ``get_size_with_aspect_ratio``: the short side to ``size``, the long one
    at most ``max_size``."""
    raw = None
    small, large = float(min(height, width)), float(max(height, width))
    if large / small * size > max_size:
        raw = max_size * small / large
        size = round(raw)
    if (height <= width and height == size) or (width <= height and width == size):
        return height, width
    if width < height:
        return int((raw if raw is not None else size) * height / width), size
    return size, int((raw if raw is not None else size) * width / height)


def _center_crop(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """transformers' ``center_crop`` of a (c, h, w) array: zero padding where it is smaller."""
    h, w = x.shape[1:]
    top, left = (h - height) // 2, (w - width) // 2
    if top >= 0 and left >= 0:
        return x[:, top : top + height, left : left + width]
    new_h, new_w = max(height, h), max(width, w)
    padded = np.zeros((x.shape[0], new_h, new_w), x.dtype)
    top_pad, left_pad = ceil((new_h - h) / 2), ceil((new_w - w) / 2)
    padded[:, top_pad : top_pad + h, left_pad : left_pad + w] = x
    top, left = top + top_pad, left + left_pad
    return padded[
        :, max(0, top) : min(new_h, top + height), max(0, left) : min(new_w, left + width)
    ]


def _to_rgb(image: Image.Image) -> Image.Image:
    """transformers' ``convert_to_rgb``: transparency composited onto white.

    An RGB image may carry a transparent colour too (``info["transparency"]``, kept by
    ``convert("RGB")`` from a palette PNG): its pixels become white, as the processor makes them.
    """
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


# The detector preprocessing this reader replicates (``tagscope.train.detection_io``).
_DETECTOR_LAYOUT = {
    "resize": "longer_side",
    "resample": "bilinear",
    "pad": "bottom_right",
    "layout": "NCHW",
    "channels": "RGB",
}


def check_detector_preprocess(params: Mapping[str, Any]) -> None:
    """Refuse a detector manifest's ``preprocess`` this reader does not replicate."""
    other = {k: params.get(k) for k, v in _DETECTOR_LAYOUT.items() if params.get(k) != v}
    if other:
        raise ValueError(
            f"unsupported detector preprocessing {other} (this reader knows {_DETECTOR_LAYOUT})"
        )


def prepare_detector_image(
    image: Image.Image, params: Mapping[str, Any]
) -> tuple[np.ndarray, float]:
    """One RGB image as the detector's input, as the trained detector prepares it: the longer
    side resized to ``image_size`` (bilinear), normalised, pasted at the top left of the square.

    Returns
    -------
    pixels : ndarray of shape (3, S, S), float32
    scale : float
        Square pixels per original pixel.
    """
    size = int(params["image_size"])
    width, height = image.size
    scale = size / max(width, height)
    new_w = min(size, max(1, round(width * scale)))
    new_h = min(size, max(1, round(height * scale)))
    resized = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) * np.float32(params["rescale"])
    mean = np.asarray(params["mean"], dtype=np.float32)
    std = np.asarray(params["std"], dtype=np.float32)
    pixels = np.full((3, size, size), params["pad_value"], dtype=np.float32)
    pixels[:, :new_h, :new_w] = ((array - mean) / std).transpose(2, 0, 1)
    return pixels, scale
