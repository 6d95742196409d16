"""Embedders by kind, loaded once per process.

Search embeds a query per request with the model of the space it searches
(``load_embedder(space["kind"], space["model"])``); the model is loaded on the first call and kept
for later ones.
"""

from __future__ import annotations

import threading

from tagscope.domain import ValidationError
from tagscope.embed._loading import local_folder, resolve_device
from tagscope.embed.base import Embedder

KINDS = ("clip", "text", "phash")
"""The kinds of embedding space Tagscope computes."""

IMPORTED = "imported"
"""The kind of a space holding a user's own vectors (no model to embed queries)."""

_cache: dict[tuple[str, str, str], Embedder] = {}
_lock = threading.Lock()


def _model_key(kind: str, model: str | None) -> str:
    """One key per model whatever its spelling: the default by its id, a folder by its
    absolute path."""
    if model is None:
        if kind == "clip":
            from tagscope.embed.clip import DEFAULT_MODEL
        else:
            from tagscope.embed.text import DEFAULT_MODEL
        return DEFAULT_MODEL
    folder = local_folder(model)
    return str(folder) if folder is not None else model


def load_embedder(kind: str, model: str | None = None, *, device: str | None = None) -> Embedder:
    """The embedder of ``kind`` with ``model`` (``None``: the kind's default) on ``device``.

    Parameters
    ----------
    kind : {"clip", "text", "phash"}
    model : str, optional
        A hub id or a local folder (``clip``, ``text``); ``phash`` takes none (or its own name,
        ``"phash-dct-64"``, as recorded with its spaces).
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``; ``None`` or ``"auto"`` picks the GPU
        when there is one.

    Returns
    -------
    Embedder
        Cached: the same (kind, model, device) returns the same object.

    Raises
    ------
    ValidationError
        Unknown kind or device.
    ModelUnavailableError
        The weights are neither in the folder nor in the local cache and cannot be downloaded.
    """
    if kind not in KINDS:
        if kind == IMPORTED:
            raise ValidationError(
                "this space holds imported vectors: there is no model to embed a text or an "
                "image with; search it by item, or import the vectors with the kind and model "
                f"that made them (one of {', '.join(KINDS)})",
                field="kind",
            )
        raise ValidationError(
            f"unknown embedding kind {kind!r}; choose one of {', '.join(KINDS)}", field="kind"
        )
    if kind == "phash":
        from tagscope.embed.phash import MODEL, PHashEmbedder

        if model not in (None, MODEL):
            raise ValidationError(f"the phash space needs no model (got {model!r})", field="model")
        key: tuple[str, str, str] = (kind, MODEL, "cpu")
    else:
        key = (kind, _model_key(kind, model), resolve_device(device))
    with _lock:
        if key in _cache:
            return _cache[key]
        if kind == "phash":
            embedder: Embedder = PHashEmbedder()
        elif kind == "clip":
            from tagscope.embed.clip import ClipEmbedder

            embedder = ClipEmbedder.from_pretrained(key[1], device=key[2])
        else:
            from tagscope.embed.text import TextEmbedder

            embedder = TextEmbedder.from_pretrained(key[1], device=key[2])
        _cache[key] = embedder
        return embedder


def clear_cache() -> None:
    """Forget the loaded models (they are freed once nothing else holds them)."""
    with _lock:
        _cache.clear()
