"""Trained models (F-80 to F-83): classifiers and detectors learned from a dataset's labels.

A model's thresholds are data: changing one re-decides its predictions (in the app, in SQL's
``pred_<model>`` view and in a bundle exported afterwards) without retraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tagscope.domain.errors import ValidationError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class ModelKind(StrEnum):
    SINGLE_LABEL = "single-label"
    MULTI_LABEL = "multi-label"
    DETECTOR = "detector"


class ModelStatus(StrEnum):
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


class Checkpoint(StrEnum):
    BEST = "best"  # the weights of the epoch with the lowest validation loss
    LAST = "last"  # the weights of the last epoch trained


def validate_model_name(name: str) -> str:
    """A model's name: a letter, then up to 63 letters, digits, ``_`` or ``-`` (it names the
    ``pred_<model>`` SQL view and a REST path)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"model name {name!r} must start with a letter and hold only letters, digits, "
            "'_' and '-' (at most 64)",
            field="name",
        )
    return name


def model_kind(kind: Any) -> ModelKind:
    try:
        return ModelKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in ModelKind)
        raise ValidationError(
            f"unknown model kind {kind!r}; choose one of {kinds}", field="kind"
        ) from None


def checkpoint_of(checkpoint: Any) -> Checkpoint:
    try:
        return Checkpoint(checkpoint)
    except ValueError:
        raise ValidationError(
            f"unknown checkpoint {checkpoint!r}; choose 'best' or 'last'", field="checkpoint"
        ) from None


@dataclass(frozen=True, slots=True)
class Model:
    """A model of a dataset: what it predicts, how it was trained, and how well it did.

    ``thresholds`` decide its predictions (per class); ``optimized_thresholds`` are those that
    maximise F1 on the validation items, the default. ``history`` is the learning curve: one row
    per epoch (``epoch``, ``train_loss``, ``val_loss``, ``train_metric``, ``val_metric``,
    ``seconds``), growing while the model trains.
    """

    id: int
    dataset_id: int
    dataset: str
    name: str
    kind: ModelKind
    space: str | None
    status: ModelStatus
    classes: tuple[str, ...] = ()
    thresholds: dict[str, float] = field(default_factory=dict)
    optimized_thresholds: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    job_id: int | None = None
    error: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (the REST API's and ``models show --json``'s)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "kind": str(self.kind),
            "space": self.space,
            "status": str(self.status),
            "classes": list(self.classes),
            "thresholds": dict(self.thresholds),
            "optimized_thresholds": dict(self.optimized_thresholds),
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "history": list(self.history),
            "job_id": self.job_id,
            "error": self.error,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "version": self.version,
        }
