"""Object detection: a YOLOS detector trained on a dataset's boxes (PyTorch + transformers).

Why YOLOS (``transformers.YolosForObjectDetection``, Apache-2.0): it is a plain ViT whose extra
"detection tokens" become boxes, with DETR's Hungarian-matching loss built in. It needs no timm
or torchvision backbone, takes any image size (its position embeddings are interpolated), and its
forward pass is only matrix products, so it exports to ONNX as is. RT-DETR with transformers'
own ResNet backbone also avoids timm, but its configuration couples the backbone's channels to
the encoder's and its multi-scale deformable attention makes the export less simple.

Sizes are those of the published YOLOS models (hidden size 192 / 384 / 768: ``hustvl/yolos-tiny``,
``-small``, ``-base``); ``pretrained`` loads any such folder and re-initialises its class head for
our classes. Pre- and post-processing are numpy/Pillow code in
:mod:`tagscope.train.detection_io`, shared with the offline bundle.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np
import torch
from PIL import Image
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tagscope._lazy import deferred
from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.train.detection_io import (
    ImageSource,
    boxes_to_network,
    check_target,
    decode_image,
    postprocess,
    prepare_image,
    preprocess_parameters,
)
from tagscope.train.detection_metrics import evaluate_detections

if TYPE_CHECKING:
    import transformers
    from transformers import YolosForObjectDetection
else:
    transformers = deferred("transformers")  # loaded when a detector is built

SIZES = {
    "small": {
        "hidden_size": 192,
        "num_attention_heads": 3,
        "intermediate_size": 768,
        "use_mid_position_embeddings": False,
    },
    "medium": {"hidden_size": 384, "num_attention_heads": 6, "intermediate_size": 1536},
    "large": {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072},
}
STATE_FILE = "detector.json"
# DETR's recipe: gradients clipped to this norm, weight decay 1e-4.
_MAX_GRAD_NORM = 0.1
_WEIGHT_DECAY = 1e-4


def default_time_limit(n_classes: int) -> float:
    """The default training time in seconds by class count (SentiSight's table)."""
    if n_classes < 1:
        raise ValidationError("a detector needs at least one class", field="classes")
    hours = 2 if n_classes <= 2 else 3 if n_classes <= 5 else 6 if n_classes <= 10 else 12
    return hours * 3600.0


@dataclass
class _Example:
    source: ImageSource
    boxes: np.ndarray  # (n, 4) xywh pixels, clipped
    labels: np.ndarray  # (n,) class indices
    truth: dict  # {"boxes", "classes"} for evaluate_detections


@dataclass
class _Progress:
    """What a checkpoint holds besides the weights: enough to resume where training was."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_loss: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    elapsed: float = 0.0
    stop_reason: str | None = None
    best_state: dict | None = None


class Detector(BaseEstimator):
    """Object detector with a scikit-learn-like interface.

    Parameters
    ----------
    size : {"small", "medium", "large"}
        YOLOS-tiny / -small / -base configurations (5.9 M / 27 M / 98 M parameters at
        ``image_size`` 512; position embeddings grow with it).
    architecture : dict, optional
        ``YolosConfig`` overrides (e.g. a tiny configuration for tests).
    pretrained : str, optional
        A local folder of YOLOS weights (``save_pretrained`` layout); its class head is
        re-initialised. None trains from random weights.
    image_size : int
        Side of the square the images are resized and padded to.
    learning_rate, max_epochs, batch_size, random_state
        AdamW's learning rate; training length; images per step; seed of weights and shuffling.
    patience : int
        Epochs without a lower validation loss (train loss without validation) before stopping.
    time_limit : float, optional
        Seconds of training; see :func:`default_time_limit`.

    Attributes
    ----------
    classes_ : list of str
        Sorted class names.
    history_ : list of dict
        Per epoch ``{"epoch", "train_loss", "val_loss", "train_metric" (None), "val_metric"
        (validation mAP@0.5), "seconds" (since training began)}``.
    best_epoch_ : int
    stop_reason_ : {"early_stopping", "time_limit", "max_epochs", "stopped"}
    preprocess_ : dict
        :func:`~tagscope.train.detection_io.preprocess_parameters`, for the bundle.
    model_ : YolosForObjectDetection
        At the best weights, in eval mode.
    """

    def __init__(
        self,
        *,
        size: str = "small",
        architecture: dict | None = None,
        pretrained: str | None = None,
        image_size: int = 512,
        learning_rate: float = 1e-4,
        max_epochs: int = 50,
        batch_size: int = 4,
        patience: int = 5,
        time_limit: float | None = None,
        random_state: int = 0,
    ) -> None:
        self.size = size
        self.architecture = architecture
        self.pretrained = pretrained
        self.image_size = image_size
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.time_limit = time_limit
        self.random_state = random_state

    # --- training -------------------------------------------------------------------------

    def fit(
        self,
        images: Sequence[str | os.PathLike[str]],
        targets: Sequence[dict],
        *,
        val_images: Sequence[str | os.PathLike[str]] = (),
        val_targets: Sequence[dict] = (),
        on_epoch: Callable[[dict], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        checkpoint_path: str | os.PathLike[str] | None = None,
    ) -> Self:
        """Train on images and their boxes.

        Parameters
        ----------
        images, targets
            ``targets[i] = {"boxes": [[x, y, w, h], ...], "classes": [name, ...]}`` in pixels of
            the (EXIF-upright) image ``images[i]``; an image may have no boxes.
        val_images, val_targets
            The validation set: its loss drives early stopping, its mAP@0.5 is the metric.
        on_epoch : callable, optional
            Called with each history row.
        should_stop : callable, optional
            Polled before each step; True stops training, keeping the best weights. A partial
            epoch (at least one step) gets its history row.
        checkpoint_path : path-like, optional
            State saved there after each epoch (atomically); an existing one is resumed.

        Raises
        ------
        ValidationError
            Bad parameters, no boxes at all, an unreadable image, a malformed box or one outside
            its image; the message names the image.
        """
        self._check_params()
        if not any(t.get("classes") for t in targets):
            raise ValidationError("the training images have no boxes at all", field="targets")
        every = [*targets, *val_targets]
        self.classes_ = sorted({c for t in every for c in t.get("classes", [])})
        self.preprocess_ = preprocess_parameters(self.image_size)
        train = self._examples(images, targets, "training")
        val = self._examples(val_images, val_targets, "validation")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            run = _Run(self, self._build_model().to(_device()), train, val)
            if checkpoint_path is not None and Path(checkpoint_path).exists():
                run.resume(checkpoint_path)
            run.train(on_epoch, should_stop, checkpoint_path)
        progress = run.progress
        # The last epoch's weights, for the "last" checkpoint (save(..., checkpoint="last")).
        self.last_weights_ = copy.deepcopy(run.model.state_dict())
        if progress.best_state is not None:
            run.model.load_state_dict(progress.best_state)
        self.model_ = run.model.eval()
        self.history_ = progress.history
        self.best_epoch_ = progress.best_epoch
        self.stop_reason_ = progress.stop_reason
        return self

    def _check_params(self) -> None:
        if self.size not in SIZES:
            raise ValidationError(
                f"unknown detector size {self.size!r} (small, medium, large)", field="size"
            )
        for name in ("image_size", "max_epochs", "batch_size", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValidationError(f"{name} must be at least 1", field=name)
        if not self.learning_rate > 0:
            raise ValidationError("learning_rate must be positive", field="learning_rate")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValidationError("time_limit must be positive", field="time_limit")

    def _examples(self, images: Sequence, targets: Sequence[dict], subset: str) -> list[_Example]:
        """Each image decoded once, here, so that a bad one fails before training starts."""
        if len(images) != len(targets):
            raise ValidationError(
                f"{len(images)} {subset} images but {len(targets)} targets", field="targets"
            )
        index = {name: k for k, name in enumerate(self.classes_)}
        out = []
        for i, (source, target) in enumerate(zip(images, targets, strict=True)):
            name = _name(source, i, subset)
            width, height = _open(source, name).size
            boxes = check_target(target, width, height, name=name)
            names = list(target.get("classes", []))
            labels = np.asarray([index[c] for c in names], dtype=np.int64)
            out.append(_Example(source, boxes, labels, {"boxes": boxes.tolist(), "classes": names}))
        return out

    def _build_model(self) -> YolosForObjectDetection:
        labels = {
            "num_labels": len(self.classes_),
            "id2label": dict(enumerate(self.classes_)),
            "label2id": {c: k for k, c in enumerate(self.classes_)},
        }
        overrides = dict(self.architecture or {})
        unknown = set(overrides) - set(transformers.YolosConfig().to_dict())
        if unknown:
            raise ValidationError(
                f"unknown architecture settings: {', '.join(sorted(unknown))}",
                field="architecture",
            )
        if self.pretrained is None:
            config = transformers.YolosConfig(
                **{**SIZES[self.size], "image_size": [self.image_size] * 2, **overrides, **labels}
            )
            return transformers.YolosForObjectDetection(config)
        try:
            config = transformers.YolosConfig.from_pretrained(
                self.pretrained, local_files_only=True
            )
            for key, value in {**overrides, **labels}.items():
                setattr(config, key, value)
            model = transformers.YolosForObjectDetection.from_pretrained(
                self.pretrained, config=config, local_files_only=True, ignore_mismatched_sizes=True
            )
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(
                f"cannot load detector weights from {self.pretrained}: {exc}"
            ) from None
        # The head is ours even where the folder's had as many classes.
        for layer in model.class_labels_classifier.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
        return model

    # --- prediction and persistence ---------------------------------------------------------

    @torch.no_grad()
    def predict(
        self, images: Sequence[ImageSource], *, min_score: float = 0.05
    ) -> list[list[dict]]:
        """Boxes per image: ``[{"class", "score", "bbox": [x, y, w, h]}, ...]`` best first.

        Boxes are in pixels of the EXIF-upright original image. ``images`` are paths, file
        bytes or decoded PIL images; an unreadable one raises ValidationError naming it.
        """
        check_is_fitted(self, "model_")
        device = next(self.model_.parameters()).device
        out: list[list[dict]] = []
        for start in range(0, len(images), self.batch_size):
            arrays, sizes = [], []
            for i, source in enumerate(images[start : start + self.batch_size], start):
                image = _open(source, _name(source, i, "prediction"))
                pixels, scale = prepare_image(image, self.preprocess_)
                arrays.append(pixels)
                sizes.append((scale, *image.size))
            result = self.model_(pixel_values=torch.from_numpy(np.stack(arrays)).to(device))
            out += _boxes(self, result, sizes, min_score=min_score)
        return out

    def save(self, folder: str | os.PathLike[str], *, checkpoint: str = "best") -> None:
        """Write the weights (``save_pretrained``) and ``detector.json`` to a folder.

        ``checkpoint="last"`` writes the last epoch's weights instead of the best ones (of a
        detector fitted in this process; a loaded one has only the weights it was saved with).
        """
        check_is_fitted(self, "model_")
        if checkpoint not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
        folder = Path(folder)
        if checkpoint == "last":
            if not hasattr(self, "last_weights_"):
                raise ValueError("this detector was loaded, not fitted: it has no last weights")
            best = copy.deepcopy(self.model_.state_dict())
            self.model_.load_state_dict(self.last_weights_)
            try:
                self.model_.save_pretrained(folder)
            finally:
                self.model_.load_state_dict(best)
        else:
            self.model_.save_pretrained(folder)
        state = {
            "params": _json_params(self),
            "classes": self.classes_,
            "preprocess": self.preprocess_,
            "history": self.history_,
            "best_epoch": self.best_epoch_,
            "stop_reason": self.stop_reason_,
        }
        _atomic_write(folder / STATE_FILE, json.dumps(state, indent=1).encode())

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Detector:
        """Read a folder written by :meth:`save`."""
        folder = Path(folder)
        try:
            state = json.loads((folder / STATE_FILE).read_text())
            model = transformers.YolosForObjectDetection.from_pretrained(
                folder, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise ModelUnavailableError(f"cannot load the detector in {folder}: {exc}") from None
        detector = cls(**state["params"])
        detector.classes_ = state["classes"]
        detector.preprocess_ = state["preprocess"]
        detector.history_ = state["history"]
        detector.best_epoch_ = state["best_epoch"]
        detector.stop_reason_ = state["stop_reason"]
        detector.model_ = model.to(_device()).eval()
        return detector


class _Run:
    """One call of ``fit``: the model being trained, its optimizer, shuffling and progress."""

    def __init__(self, detector: Detector, model, train: list[_Example], val: list[_Example]):
        self.detector, self.model, self.train_set, self.val_set = detector, model, train, val
        self.device = next(model.parameters()).device
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=detector.learning_rate, weight_decay=_WEIGHT_DECAY
        )
        self.rng = np.random.default_rng(detector.random_state)
        self.progress = _Progress()

    def resume(self, path: str | os.PathLike[str]) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        detector = self.detector
        if state["classes"] != detector.classes_ or state["params"] != _json_params(detector):
            raise ValidationError(
                f"checkpoint {path} was made for other classes or parameters", field="checkpoint"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.progress = _Progress(**state["progress"])

    def save(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        state = {
            "classes": self.detector.classes_,
            "params": _json_params(self.detector),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "progress": copy.copy(vars(self.progress)),
        }
        torch.save(state, tmp)
        os.replace(tmp, path)

    def train(self, on_epoch, should_stop, checkpoint_path) -> None:
        progress, max_epochs = self.progress, self.detector.max_epochs
        if progress.stop_reason in ("early_stopping", "max_epochs"):
            return  # a finished checkpoint: nothing left to do
        progress.stop_reason = None
        started = time.monotonic() - progress.elapsed
        while progress.epoch < max_epochs and progress.stop_reason is None:
            losses = self._epoch(should_stop, started)
            if not losses:
                break  # stopped before any step of this epoch: the last row stands
            progress.epoch += 1
            val_loss, val_map = self._validate() if self.val_set else (None, None)
            progress.elapsed = time.monotonic() - started
            row = {
                "epoch": progress.epoch,
                "train_loss": float(np.mean(losses)),
                "val_loss": val_loss,
                "train_metric": None,
                "val_metric": val_map,
                "seconds": progress.elapsed,
            }
            progress.history.append(row)
            self._keep_best(row)
            if progress.epoch >= max_epochs and progress.stop_reason is None:
                progress.stop_reason = "max_epochs"
            if checkpoint_path is not None:
                self.save(checkpoint_path)
            if on_epoch is not None:
                on_epoch(dict(row))

    def _epoch(self, should_stop, started: float) -> list[float]:
        """Steps over the shuffled training set until its end or a stop; their losses."""
        detector, progress = self.detector, self.progress
        self.model.train()
        losses: list[float] = []
        order = self.rng.permutation(len(self.train_set))
        for start in range(0, len(order), detector.batch_size):
            if should_stop is not None and should_stop():
                progress.stop_reason = "stopped"
            elif (
                detector.time_limit is not None and time.monotonic() - started > detector.time_limit
            ):
                progress.stop_reason = "time_limit"
            if progress.stop_reason:
                break
            batch = [self.train_set[i] for i in order[start : start + detector.batch_size]]
            pixels, labels, _ = _batch(detector, batch, self.device)
            loss = self.model(pixel_values=pixels, labels=labels).loss
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), _MAX_GRAD_NORM)
            self.optimizer.step()
            losses.append(loss.item())
        return losses

    @torch.no_grad()
    def _validate(self) -> tuple[float, float | None]:
        """Mean loss per validation image, and mAP@0.5 of all the boxes (no score cut)."""
        detector = self.detector
        self.model.eval()
        total, predictions = 0.0, []
        for start in range(0, len(self.val_set), detector.batch_size):
            batch = self.val_set[start : start + detector.batch_size]
            pixels, labels, sizes = _batch(detector, batch, self.device)
            out = self.model(pixel_values=pixels, labels=labels)
            total += out.loss.item() * len(batch)
            predictions += _boxes(detector, out, sizes, min_score=0.0)
        truth = [e.truth for e in self.val_set]
        return total / len(self.val_set), evaluate_detections(
            truth, predictions, detector.classes_
        )["map50"]

    def _keep_best(self, row: dict) -> None:
        progress = self.progress
        loss = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
        if loss < progress.best_loss:
            progress.best_loss, progress.best_epoch, progress.bad_epochs = loss, row["epoch"], 0
            progress.best_state = {
                k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
            }
        else:
            progress.bad_epochs += 1
            if progress.bad_epochs >= self.detector.patience and progress.stop_reason is None:
                progress.stop_reason = "early_stopping"


def _batch(detector: Detector, batch: Sequence[_Example], device):
    """Pixels (B, 3, S, S), the loss's targets, and (scale, width, height) per image."""
    arrays, labels, sizes = [], [], []
    for example in batch:
        image = decode_image(example.source)
        pixels, scale = prepare_image(image, detector.preprocess_)
        arrays.append(pixels)
        sizes.append((scale, *image.size))
        boxes = boxes_to_network(example.boxes, scale, detector.image_size)
        labels.append(
            {
                "class_labels": torch.from_numpy(example.labels).to(device),
                "boxes": torch.from_numpy(boxes).float().to(device),
            }
        )
    return torch.from_numpy(np.stack(arrays)).to(device), labels, sizes


def _boxes(detector: Detector, out, sizes, *, min_score: float) -> list[list[dict]]:
    logits, boxes = out.logits.float().cpu().numpy(), out.pred_boxes.float().cpu().numpy()
    return [
        postprocess(
            logits[j],
            boxes[j],
            scale=scale,
            width=width,
            height=height,
            classes=detector.classes_,
            preprocess=detector.preprocess_,
            min_score=min_score,
        )
        for j, (scale, width, height) in enumerate(sizes)
    ]


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _name(source: ImageSource, index: int, subset: str) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"{subset} image {os.fspath(source)}"
    return f"{subset} image {index}"


def _open(source: ImageSource, name: str) -> Image.Image:
    try:
        return decode_image(source)
    except ValueError as exc:
        raise ValidationError(f"{name}: {exc}", field="images") from None


def _json_params(detector: Detector) -> dict:
    return json.loads(json.dumps(detector.get_params()))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
