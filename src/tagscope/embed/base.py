"""The one interface every embedding model implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Embedder(Protocol):
    """An embedding model. Every output row is L2-normalised float32, so a dot product is a cosine.

    Attributes
    ----------
    kind : str
        The family: ``"clip"``, ``"text"`` or ``"phash"``.
    model : str
        The model id or folder the vectors came from (recorded with the space).
    dim : int
        The vector length.
    input : str
        What an item contributes: ``"image"`` (its pixels) or ``"text"`` (its own text).
    """

    kind: str
    model: str
    dim: int
    input: str

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed images; shape (n, dim). Raises ``ValidationError`` where unsupported."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (queries, prompts, items' own text); shape (n, dim)."""
        ...
