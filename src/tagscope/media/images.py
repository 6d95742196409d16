"""Reading images: decoding to RGB for models (probing and hashing live beside this)."""

from __future__ import annotations

import os

from PIL import Image, ImageOps


def load_rgb(path: str | os.PathLike[str]) -> Image.Image:
    """Decode an image file to RGB, applying its EXIF orientation."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")
