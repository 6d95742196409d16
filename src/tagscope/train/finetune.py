"""Fine-tuning a CLIP-family image tower together with a fitted classifier head.

The head (:class:`~tagscope.train.heads.HeadClassifier`) was trained on frozen embeddings; here
the tower that makes them (the vision model and its projection: the L2-normalised
``get_image_features`` output, exactly what :class:`~tagscope.embed.clip.ClipEmbedder` embeds)
and the head's network are trained end to end on the head's own loss (cross-entropy for
single-label, the classes' binary cross-entropies for multi-label) with AdamW: a small learning
rate for the pretrained tower and :data:`HEAD_LR_FACTOR` times it for the head. Early stopping
watches the validation loss (without validation images, the training loss) and both keep their
best epoch's weights.

The result is a CLIP folder (``save_pretrained`` of the model with the tuned vision weights and
its processor) that ``ClipEmbedder.from_pretrained`` loads like any other, so the app's
predictions and the offline bundle (``train.export.export_classifier``) use the tuned tower
unchanged, and ``head.pt`` beside it (:meth:`HeadClassifier.save`).

Images are decoded at full size as the app decodes them (``bundle.preprocess.decode_rgb``: EXIF
transpose, RGB) and prepared by the model's own image processor, one batch at a time (memory
holds one batch of pixels, not the data set). On CUDA the forward passes run under
``torch.autocast`` (bfloat16 where supported, else float16 with a gradient scaler); the weights
stay float32 and are saved so.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed._loading import (
    _quiet,
    folder_hint,
    load_pretrained,
    local_folder,
    resolve_device,
)
from tagscope.embed.clip import _features
from tagscope.train.detection_io import decode_image
from tagscope.train.heads import HeadClassifier, _Head, mean_average_precision
from tagscope.train.validation import TrainingDataError

__all__ = ["HEAD_LR_FACTOR", "fine_tune_tower"]

HEAD_LR_FACTOR = 10.0
"""The head's learning rate is this many times the tower's: its weights start fitted, but on
vectors that now move, and it has far fewer of them than the tower."""
_MIN_DELTA = 1e-4  # an epoch improves the watched loss when it lowers it by more than this
_TOWER_PREFIXES = ("vision_model.", "visual_projection.")


def fine_tune_tower(
    clip_folder: str | Path,
    head: HeadClassifier,
    images: Sequence[str | Path],
    y: Any,
    *,
    val_images: Sequence[str | Path] = (),
    y_val: Any = None,
    out: Path,
    learning_rate: float = 1e-5,
    max_epochs: int = 3,
    batch_size: int = 16,
    patience: int = 2,
    time_limit: float | None = None,
    random_state: int = 0,
    device: str | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> HeadClassifier:
    """Fine-tune the image tower of ``clip_folder`` and ``head`` end to end; write both to ``out``.

    Parameters
    ----------
    clip_folder : str or path
        A saved CLIP-family model (``AutoModel`` / ``AutoProcessor``, local files only): the
        model of the space ``head`` was fitted in.
    head : HeadClassifier
        Fitted on this model's image embeddings (``n_features_in_`` = its projection size). It
        is not modified: the result is a tuned copy.
    images : sequence of paths
        Training image files.
    y : array-like
        Single-label: class labels (n,), each one of ``head.classes_``. Multi-label: a 0/1
        indicator (n, k), k = ``len(head.classes_)``.
    val_images, y_val : optional
        Validation files and targets (same kinds): the loss early stopping watches (without
        them, the training loss).
    out : path
        The folder written: the tuned CLIP model (loadable by ``ClipEmbedder.from_pretrained``)
        and ``head.pt``.
    learning_rate : float, default=1e-5
        AdamW's step size for the tower; the head's is :data:`HEAD_LR_FACTOR` times it.
    max_epochs, batch_size, patience : int
        Passes over the images at most; images per step; epochs without improvement of the
        watched loss (by more than 1e-4) before stopping.
    time_limit : float, optional
        Seconds of fine-tuning at most (this call's), checked before each batch.
    random_state : int, default=0
        Seed of each epoch's shuffle.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``; default ``"cuda"`` when torch sees a GPU, else
        ``"cpu"`` (one torch cannot use is a ValidationError).
    on_epoch : callable, optional
        Called with each new ``history_`` row.
    should_stop : callable, optional
        Polled before each batch; True stops (the best weights are kept).

    Returns
    -------
    HeadClassifier
        A copy of ``head`` with the tuned ``module_`` (best epoch), ``history_`` continued by
        one row per fine-tuning epoch (``epoch`` numbered on from the head's, ``train_loss`` and
        ``train_metric`` the mean over the epoch's batches, ``val_loss`` and ``val_metric``
        measured after it, ``seconds`` cumulative), ``best_epoch_`` and ``stop_reason_``
        ({"early_stopping", "time_limit", "max_epochs", "stopped"}). An epoch cut short by a
        stop is measured and recorded like a full one; a stop before the first batch returns
        the head's weights and writes the untuned model.

    Raises
    ------
    ModelUnavailableError
        ``clip_folder`` is missing or not a CLIP-family model with an image processor.
    ValidationError
        Targets of the wrong length or kind, an unreadable image (named), a head of another
        dimension than the tower's, an unfitted head or a bad parameter.
    """
    _check_parameters(learning_rate, max_epochs, batch_size, patience, time_limit)
    if not hasattr(head, "module_"):
        raise ValidationError(
            "the head is not fitted: fit it on the embeddings first", field="head"
        )
    targets = _targets(head, images, y, field="y")
    val = None
    if len(val_images) or y_val is not None:
        if y_val is None or not len(val_images):
            raise ValidationError("val_images and y_val come together", field="y_val")
        val = (list(val_images), _targets(head, val_images, y_val, field="y_val"))
    model, processor = _load_clip(clip_folder)
    dim = _projection_dim(model)
    if dim != head.n_features_in_:
        raise ValidationError(
            f"the head takes {head.n_features_in_}-d vectors but {clip_folder} embeds images in "
            f"{dim} dimensions: not the model of the head's space",
            field="head",
        )
    for path in [*images, *(val[0] if val else ())]:
        _decode(path)  # every file is readable before minutes of training are spent
    device = resolve_device(device) if device else "cuda" if torch.cuda.is_available() else "cpu"
    run = _Run(model, processor.image_processor, head, device, learning_rate, batch_size)
    state = run.train(
        list(images), targets, val, max_epochs, patience, time_limit, random_state,
        on_epoch, should_stop,
    )  # fmt: skip
    return _write(model, processor, head, run, state, Path(out))


def _check_parameters(
    learning_rate: float, max_epochs: int, batch_size: int, patience: int, time_limit: Any
) -> None:
    if not learning_rate > 0:
        raise ValidationError(
            f"learning_rate must be > 0, got {learning_rate}", field="learning_rate"
        )
    for name, value in (("max_epochs", max_epochs), ("batch_size", batch_size)):
        if value < 1:
            raise ValidationError(f"{name} must be >= 1, got {value}", field=name)
    if patience < 1:
        raise ValidationError(f"patience must be >= 1, got {patience}", field="patience")
    if time_limit is not None and not time_limit > 0:
        raise ValidationError(f"time_limit must be > 0, got {time_limit}", field="time_limit")


def _targets(head: HeadClassifier, images: Sequence, y: Any, *, field: str) -> torch.Tensor:
    """``y`` as the head's loss takes it: class codes (long) or a float 0/1 indicator."""
    y = np.asarray(y)
    if not len(images):
        where = "images" if field == "y" else "val_images"
        raise TrainingDataError(f"no {where} to fine-tune on", field=where)
    if len(y) != len(images):
        raise TrainingDataError(f"{field} has {len(y)} rows for {len(images)} images", field=field)
    k = len(head.classes_)
    if head.multi_label:
        if y.ndim != 2 or y.shape[1] != k or not np.isin(y, [0, 1]).all():
            raise TrainingDataError(
                f"{field} must be a 0/1 indicator with the head's {k} columns, got shape {y.shape}",
                field=field,
            )
        return torch.from_numpy(y.astype(np.float32))
    if y.ndim != 1:
        raise TrainingDataError(f"{field} must hold one class label per image", field=field)
    unknown = np.setdiff1d(y, head.classes_)
    if len(unknown):
        raise TrainingDataError(
            f"{field} holds classes the head does not have: {unknown[:5].tolist()}", field=field
        )
    return torch.from_numpy(np.searchsorted(head.classes_, y)).long()


def _load_clip(clip_folder: str | Path) -> tuple[Any, Any]:
    """The model (float32, as saved) and its processor; ModelUnavailableError otherwise."""
    from transformers import AutoModel, AutoProcessor

    name = str(clip_folder)
    folder = local_folder(name)
    if folder is None:
        raise ModelUnavailableError(f"model folder {name!r} does not exist")

    def load(src: str, local_only: bool) -> tuple[Any, Any]:
        processor = AutoProcessor.from_pretrained(src, local_files_only=local_only)
        net = AutoModel.from_pretrained(src, local_files_only=local_only, dtype=torch.float32)
        return net, processor

    model, processor = load_pretrained(
        "CLIP", str(folder), load, how_to=folder_hint(name, "--model")
    )
    tower = [n for n, _ in model.named_parameters() if n.startswith(_TOWER_PREFIXES)]
    if not hasattr(model, "get_image_features") or not tower:
        raise ModelUnavailableError(
            f"model {name!r} ({type(model).__name__}) is not a CLIP-family image-text model "
            "(it has no get_image_features / vision_model)"
        )
    if not hasattr(processor, "image_processor"):
        raise ModelUnavailableError(f"model {name!r} has no image processor")
    return model, processor


def _projection_dim(model: Any) -> int:
    """The embedding size, as ``ClipEmbedder`` reads it."""
    config = model.config
    return int(getattr(config, "projection_dim", None) or config.text_config.hidden_size)


def _decode(path: str | Path) -> Image.Image:
    try:
        return decode_image(path)
    except (ValueError, OSError) as e:  # ImageError is a ValueError; a directory, no access
        raise ValidationError(f"cannot read image {path}: {e}", field="images") from None


class _Run:
    """The model pair being tuned: tower + head, the optimiser, the forward and the epochs."""

    def __init__(
        self,
        model: Any,
        image_processor: Any,
        head: HeadClassifier,
        device: str,
        learning_rate: float,
        batch_size: int,
    ) -> None:
        self.model = model.to(device)
        self.image_processor = image_processor
        self.device = device
        self.batch_size = batch_size
        self.multi_label = head.multi_label
        self.head: _Head = copy.deepcopy(head.module_).float().to(device)
        self.tower = {n: p for n, p in model.named_parameters() if n.startswith(_TOWER_PREFIXES)}
        for p in model.parameters():
            p.requires_grad_(False)
        for p in self.tower.values():
            p.requires_grad_(True)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": list(self.tower.values()), "lr": learning_rate},
                {"params": list(self.head.parameters()), "lr": learning_rate * HEAD_LR_FACTOR},
            ]
        )
        cuda = device.startswith("cuda")
        bf16 = cuda and torch.cuda.is_bf16_supported()
        self.autocast_dtype = (torch.bfloat16 if bf16 else torch.float16) if cuda else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=cuda and not bf16)
        self.history: list[dict] = list(head.history_)

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unit image embeddings (float32), as ``ClipEmbedder.encode_images`` computes them."""
        feats = _features(self.model.get_image_features(pixel_values=pixels))
        return nn.functional.normalize(feats.float(), dim=-1)

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            feats = self.embed(pixels)
        return self.head.logits(feats)  # the head in float32, as it predicts

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The head's loss (HeadClassifier's): per-item cross-entropy, or the classes' BCEs
        summed and averaged over the items."""
        if self.multi_label:
            bce = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="sum")
            return bce / len(target)
        return nn.functional.cross_entropy(logits, target)

    def pixels(self, paths: Sequence[str | Path]) -> torch.Tensor:
        inputs = self.image_processor([_decode(p) for p in paths], return_tensors="pt")
        return inputs["pixel_values"].to(self.device, torch.float32)

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast("cuda", dtype=self.autocast_dtype)

    def train(
        self,
        images: list,
        targets: torch.Tensor,
        val: tuple[list, torch.Tensor] | None,
        max_epochs: int,
        patience: int,
        time_limit: float | None,
        random_state: int,
        on_epoch: Callable[[dict], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> dict[str, Any]:
        first = int(self.history[-1]["epoch"]) if self.history else 0
        seconds0 = float(self.history[-1]["seconds"]) if self.history else 0.0
        state: dict[str, Any] = {
            "best_loss": float("inf"),
            "best_epoch": None,
            "best": None,
            "bad_epochs": 0,
            "stop_reason": None,
            "last": None,
        }
        shuffle = torch.Generator()
        spent = 0.0
        for epoch in range(first + 1, first + max_epochs + 1):
            started = time.perf_counter()
            shuffle.manual_seed(random_state * 1_000_003 + epoch)
            order = torch.randperm(len(images), generator=shuffle).split(self.batch_size)
            self.model.train()
            self.head.train()
            losses, scored = [], []
            for rows in order:
                if should_stop is not None and should_stop():
                    state["stop_reason"] = "stopped"
                elif time_limit is not None and spent + time.perf_counter() - started >= time_limit:
                    state["stop_reason"] = "time_limit"
                if state["stop_reason"]:
                    break
                loss, logits = self._step([images[i] for i in rows], targets[rows])
                losses.append((loss, len(rows)))
                scored.append((logits, targets[rows]))
            if not losses:  # stopped before this epoch's first batch
                break
            row = self._measure(epoch, losses, scored, val)
            spent += time.perf_counter() - started
            row["seconds"] = seconds0 + spent
            watched = row["val_loss"] if val is not None else row["train_loss"]
            self._end_epoch(state, row, watched, patience)
            if on_epoch is not None:
                on_epoch(row)
            if state["stop_reason"]:
                break
        state["stop_reason"] = state["stop_reason"] or "max_epochs"
        return state

    def _step(self, paths: list, target: torch.Tensor) -> tuple[float, torch.Tensor]:
        target = target.to(self.device)
        logits = self.logits(self.pixels(paths))
        loss = self.loss(logits, target)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach()), logits.detach().cpu()

    @torch.no_grad()
    def _measure(
        self,
        epoch: int,
        losses: list[tuple[float, int]],
        scored: list[tuple[torch.Tensor, torch.Tensor]],
        val: tuple[list, torch.Tensor] | None,
    ) -> dict[str, Any]:
        """The epoch's row: training loss and metric over its batches, validation after it."""
        n = sum(size for _, size in losses)
        logits = torch.cat([s for s, _ in scored])
        target = torch.cat([t for _, t in scored])
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": sum(loss * size for loss, size in losses) / n,
            "val_loss": None,
            "train_metric": self._metric(logits, target),
            "val_metric": None,
        }
        if val is not None:
            self.model.eval()
            self.head.eval()
            paths, val_target = val
            val_logits = torch.cat(
                [
                    self.logits(self.pixels(paths[i : i + self.batch_size])).cpu()
                    for i in range(0, len(paths), self.batch_size)
                ]
            )
            row["val_loss"] = float(self.loss(val_logits, val_target))
            row["val_metric"] = self._metric(val_logits, val_target)
        return row

    def _metric(self, logits: torch.Tensor, target: torch.Tensor) -> float | None:
        """Accuracy (single-label) or macro average precision (multi-label), as the head's."""
        if self.multi_label:
            return mean_average_precision(target.numpy(), logits.float().numpy())
        return float((logits.argmax(dim=1) == target).float().mean())

    def _end_epoch(self, state: dict[str, Any], row: dict, watched: float, patience: int) -> None:
        self.history.append(row)
        state["last"] = copy.deepcopy(self.head.state_dict())
        if watched < state["best_loss"] - _MIN_DELTA or state["best_epoch"] is None:
            state["best_loss"] = watched
            state["best_epoch"] = row["epoch"]
            state["best"] = (
                {n: p.detach().to("cpu", copy=True) for n, p in self.tower.items()},
                copy.deepcopy(state["last"]),
            )
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
            if state["bad_epochs"] >= patience and not state["stop_reason"]:
                state["stop_reason"] = "early_stopping"


def _write(
    model: Any, processor: Any, head: HeadClassifier, run: _Run, state: dict, out: Path
) -> HeadClassifier:
    """Restore the best epoch's weights, save the CLIP folder and ``head.pt``; the tuned head."""
    tuned = copy.deepcopy(head)
    module = run.head
    if state["best"] is not None:
        tower, head_weights = state["best"]
        with torch.no_grad():
            for name, p in run.tower.items():
                p.copy_(tower[name])
        module.load_state_dict(head_weights)
        tuned.best_epoch_ = state["best_epoch"]
        tuned.last_weights_ = {k: v.cpu() for k, v in state["last"].items()}
    else:  # stopped before the first batch: the head and tower as they were
        module.load_state_dict(head.module_.state_dict())
    tuned.module_ = module.cpu().eval()
    tuned.history_ = run.history
    tuned.stop_reason_ = state["stop_reason"]
    for p in model.parameters():
        p.requires_grad_(True)
    out.mkdir(parents=True, exist_ok=True)
    with _quiet():  # no "Writing model shards" bar
        model.cpu().eval().save_pretrained(out)
        processor.save_pretrained(out)
    tuned.save(out / "head.pt")
    return tuned
