"""CLIP-family image-text models (CLIP, SigLIP, ...) through Hugging Face ``transformers``."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from tagscope.domain import ModelUnavailableError
from tagscope.embed._loading import folder_hint, load_pretrained, local_folder, resolve_device

DEFAULT_MODEL = "openai/clip-vit-base-patch32"
"""The model a ``clip`` space uses when none is named."""

# Models whose text tower was trained on text padded to its full length (padding matters).
_PAD_TO_MAX = {"siglip", "siglip2"}


def _features(output: Any) -> Any:
    """The projected embeddings from ``get_*_features``: a tensor in transformers 4, an output
    object whose ``pooler_output`` holds them in transformers 5."""
    return output if hasattr(output, "norm") else output.pooler_output


def _accepted(fn: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Keep the processor outputs that ``fn`` takes by name (drops e.g. ``token_type_ids``)."""
    names = inspect.signature(fn).parameters
    return {k: v for k, v in inputs.items() if k in names}


class ClipEmbedder:
    """Images and texts in one space, with any CLIP-family model.

    Parameters
    ----------
    model_ : transformers model
        Loaded, in eval mode, on ``device``; has ``get_image_features`` and ``get_text_features``.
    processor_ : transformers processor
        Its ``image_processor`` and ``tokenizer`` prepare the inputs.
    model : str
        The hub id or absolute folder the weights came from (recorded with the space).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    batch_size : int, default=32
        Images or texts per forward pass; longer inputs are split.

    Use :meth:`from_pretrained` to load one.

    Examples
    --------
    >>> clip = ClipEmbedder.from_pretrained("/models/clip-vit-base-patch32")  # doctest: +SKIP
    >>> clip.encode_texts(["a dog on a beach"]).shape  # doctest: +SKIP
    (1, 512)
    """

    kind = "clip"
    input = "image"

    def __init__(
        self, model_: Any, processor_: Any, *, model: str, device: str, batch_size: int = 32
    ) -> None:
        self.model_ = model_
        self.processor_ = processor_
        self.model = model
        self.device = device
        self.batch_size = batch_size
        config = model_.config
        self.dim = int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)
        text_config = getattr(config, "text_config", config)
        self.max_text_tokens = int(getattr(text_config, "max_position_embeddings", 77))
        self.pad_to_max = getattr(config, "model_type", "") in _PAD_TO_MAX

    @classmethod
    def from_pretrained(
        cls, model: str | None = None, *, device: str | None = None, batch_size: int = 32
    ) -> ClipEmbedder:
        """Load ``model`` (hub id or folder; default :data:`DEFAULT_MODEL`) onto ``device``.

        The folder or the local Hugging Face cache is tried first; a download happens only when
        downloads are allowed and the hub answers. Otherwise a :class:`ModelUnavailableError`
        says which model is missing and how to provide a local folder.
        """
        import torch
        from transformers import AutoModel, AutoProcessor

        name = model or DEFAULT_MODEL
        folder = local_folder(name)
        source = str(folder) if folder is not None else name
        device = resolve_device(device)
        dtype = torch.float16 if device.startswith("cuda") else torch.float32

        def load(src: str, local_only: bool) -> tuple[Any, Any]:
            processor = AutoProcessor.from_pretrained(src, local_files_only=local_only)
            net = AutoModel.from_pretrained(src, local_files_only=local_only, dtype=dtype)
            return net, processor

        net, processor = load_pretrained("CLIP", source, load, how_to=folder_hint(name, "--model"))
        if not (hasattr(net, "get_image_features") and hasattr(net, "get_text_features")):
            raise ModelUnavailableError(
                f"model {source!r} ({type(net).__name__}) is not a CLIP-family image-text model "
                "(it has no get_image_features / get_text_features)"
            )
        if not (hasattr(processor, "image_processor") and hasattr(processor, "tokenizer")):
            raise ModelUnavailableError(
                f"model {source!r} has no image processor and tokenizer "
                f"(processor_config.json / preprocessor_config.json, tokenizer files)"
            )
        net.eval().to(device)
        return cls(net, processor, model=source, device=device, batch_size=batch_size)

    @property
    def min_image_side(self) -> int:
        """Images may be decoded at a reduced scale keeping this many pixels a side: twice the
        side the model looks at, so the processor's resize sees nearly the full image."""
        ip = self.processor_.image_processor
        size = getattr(ip, "crop_size", None) or getattr(ip, "size", None) or {}
        sides = [v for k, v in dict(size).items() if k in {"height", "width", "shortest_edge"}]
        return 2 * int(max(sides)) if sides else 448

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Embed RGB images; shape (n, dim), unit rows, float32."""
        out = []
        for i in range(0, len(images), self.batch_size):
            inputs = self.processor_.image_processor(
                list(images[i : i + self.batch_size]), return_tensors="pt"
            )
            out.append(self._forward(self.model_.get_image_features, dict(inputs)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (truncated to the model's context); shape (n, dim), unit rows, float32."""
        out = []
        for i in range(0, len(texts), self.batch_size):
            inputs = self.processor_.tokenizer(
                list(texts[i : i + self.batch_size]),
                padding="max_length" if self.pad_to_max else True,
                truncation=True,
                max_length=self.max_text_tokens,
                return_tensors="pt",
            )
            out.append(self._forward(self.model_.get_text_features, dict(inputs)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _forward(self, fn: Any, inputs: dict[str, Any]) -> np.ndarray:
        import torch

        dtype = self.model_.dtype
        batch = {
            k: v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)
            for k, v in _accepted(fn, inputs).items()
        }
        with torch.inference_mode():
            feats = _features(fn(**batch)).float()
            feats = torch.nn.functional.normalize(feats, dim=-1)
        return feats.cpu().numpy()
