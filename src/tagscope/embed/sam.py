"""Segment Anything (SAM) through Hugging Face ``transformers``: clicks (and a box) to a mask.

The model comes from a local folder only (``SamModel.save_pretrained`` or ``hf download
facebook/sam-vit-base --local-dir ...``); nothing is ever downloaded. :func:`check_folder` tells
cheaply (config files only, no weights) whether a folder holds one; :func:`load_segmenter` loads
it once per folder.

Examples
--------
>>> sam = load_segmenter("/models/sam-vit-base")  # doctest: +SKIP
>>> sam.segment(image, [(120, 80)], [1]).shape  # doctest: +SKIP
(427, 640)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed._loading import load_pretrained, resolve_device

SAM_MODEL_TYPES = frozenset({"sam"})
_WEIGHTS = (".safetensors", ".bin")
_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
_CACHE: dict[Path, SamSegmenter] = {}
_LOCK = threading.Lock()


def check_folder(folder: str | Path) -> Path:
    """``folder`` resolved when it holds a saved SAM model (its ``config.json`` says so, with
    weights and a processor config beside it); ModelUnavailableError naming what is missing."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ModelUnavailableError(f"Segment Anything model folder {path} does not exist")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelUnavailableError(
            f"{path} is not a Segment Anything model folder: it has no config.json"
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"{config_file} is not readable JSON: {exc}") from None
    config = config if isinstance(config, dict) else {}
    model_type, architectures = config.get("model_type"), config.get("architectures") or []
    if model_type not in SAM_MODEL_TYPES and "SamModel" not in architectures:
        raise ModelUnavailableError(
            f"{path} is not a Segment Anything model: its config.json says model_type "
            f"{model_type!r} (architectures {architectures}), not 'sam'"
        )
    if not any(p.suffix in _WEIGHTS for p in path.iterdir()):
        raise ModelUnavailableError(
            f"the Segment Anything model folder {path} has no weights (model.safetensors)"
        )
    if not any((path / name).is_file() for name in _PROCESSOR_FILES):
        raise ModelUnavailableError(
            f"the Segment Anything model folder {path} has no processor config "
            f"({' or '.join(_PROCESSOR_FILES)}): save the SamProcessor beside the model"
        )
    return path.resolve()


class SamSegmenter:
    """A loaded SAM model and its processor, on ``device``; :meth:`segment` prompts it."""

    def __init__(self, model_: Any, processor_: Any, *, folder: Path, device: str) -> None:
        self.model_ = model_
        self.processor_ = processor_
        self.folder = folder
        self.device = device

    @classmethod
    def from_folder(cls, folder: str | Path, *, device: str | None = None) -> SamSegmenter:
        """Load the model in ``folder`` (checked by :func:`check_folder`) onto ``device``."""
        path = check_folder(folder)
        device = resolve_device(device)

        def loader(source: str, local_files_only: bool) -> tuple[Any, Any]:
            from transformers import SamModel, SamProcessor

            model = SamModel.from_pretrained(source, local_files_only=True)
            processor = SamProcessor.from_pretrained(source, local_files_only=True)
            return model.to(device).eval(), processor

        how_to = "Save a SamModel and its SamProcessor into the folder (save_pretrained)."
        model, processor = load_pretrained("Segment Anything", str(path), loader, how_to=how_to)
        return cls(model, processor, folder=path, device=device)

    def segment(
        self,
        image: np.ndarray,
        points: Sequence[Sequence[float]],
        labels: Sequence[int],
        box: Sequence[float] | None = None,
    ) -> np.ndarray:
        """The boolean mask (``image``'s height x width) of the object the ``points`` (``(x,
        y)`` pixels; ``labels`` 1 foreground, 0 background) and ``box`` (``[x0, y0, x1, y1]``)
        point at: of SAM's candidate masks, the one with the best predicted IoU."""
        import torch

        if len(points) != len(labels):
            raise ValidationError(
                f"{len(points)} points but {len(labels)} point labels", field="point_labels"
            )
        if not points and box is None:
            raise ValidationError("give at least one point or a box", field="points")
        prompts: dict[str, Any] = {}
        if points:
            prompts["input_points"] = [[[[float(x), float(y)] for x, y in points]]]
            prompts["input_labels"] = [[[int(v) for v in labels]]]
        if box is not None:
            prompts["input_boxes"] = [[[float(v) for v in box]]]
        inputs = self.processor_(images=image, return_tensors="pt", **prompts)
        sizes = inputs.pop("original_sizes"), inputs.pop("reshaped_input_sizes")
        with torch.inference_mode():
            out = self.model_(**inputs.to(self.device), multimask_output=True)
        masks = self.processor_.image_processor.post_process_masks(
            out.pred_masks.cpu(), sizes[0], sizes[1]
        )[0][0]
        best = int(out.iou_scores[0, 0].argmax())
        return masks[best].numpy().astype(bool)


def load_segmenter(folder: str | Path) -> SamSegmenter:
    """The segmenter of ``folder``, loaded on first use and kept (one per folder)."""
    path = check_folder(folder)
    with _LOCK:
        if path not in _CACHE:
            _CACHE[path] = SamSegmenter.from_folder(path)
        return _CACHE[path]


__all__ = ["SAM_MODEL_TYPES", "SamSegmenter", "check_folder", "load_segmenter"]
