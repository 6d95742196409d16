"""Label jobs (F-70, F-71): an auto job pre-labels a collection, a manual one hands it to people
who label it seeing the prelabels; submitting a manual job matches each expert label to its
prelabel into label changes, which a review accepts or rejects."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tagscope.domain.errors import ValidationError

MAX_NAME = 128  # the label_jobs table's name column


class JobKind(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class LabelJobStatus(StrEnum):
    DONE = "done"  # an auto job: its prelabels are written
    OPEN = "open"  # a manual job being labelled
    SUBMITTED = "submitted"  # matched into label changes, under review
    CLOSED = "closed"


class ChangeKind(StrEnum):
    UNCHANGED = "unchanged"
    CLASS_CHANGED = "class_changed"
    GEOMETRY_CHANGED = "geometry_changed"
    ADDED = "added"  # an expert label without prelabel
    DELETED = "deleted"  # a prelabel without expert label


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class LabelJob:
    """A label job with its counts: items, items marked done, label changes per kind."""

    id: int
    dataset_id: int
    name: str
    kind: JobKind
    status: LabelJobStatus
    collection: str | None
    params: dict[str, Any]
    assignees: tuple[str, ...]
    created_by: str
    created_at: datetime
    submitted_at: datetime | None = None
    n_items: int = 0
    n_done: int = 0
    changes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LabelJobItem:
    """An item of a job: its assignee, when it was marked done, and its labels as snapshots
    (``id``, ``kind``, ``name``, ``class_id``, ``source``, ``is_main``, ``score``, ``model``,
    ``geometry``, ``area``, ``attributes``): the prelabels, and the expert (ground-truth) ones."""

    item_id: int
    path: str
    assignee: str | None
    done_at: datetime | None
    prelabels: list[dict[str, Any]]
    expert: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class LabelChange:
    """An expert label matched to its prelabel at submission (either may be missing)."""

    id: int
    job_id: int
    item_id: int
    change: ChangeKind
    label_kind: str
    expert_class: str | None
    prelabel_class: str | None
    iou: float | None
    expert_area: float | None
    prelabel_area: float | None
    adjustment: float | None
    status: ReviewStatus
    expert_label_id: int | None
    prelabel_label_id: int | None
    expert: dict[str, Any] | None
    prelabel: dict[str, Any] | None


def validate_job_name(name: str) -> str:
    """The name without surrounding spaces; refused when empty, too long or multi-line."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME or any(c in clean for c in "\r\n\0/"):
        raise ValidationError(
            f"a label job name is 1..{MAX_NAME} characters on one line, without '/', got {name!r}",
            field="name",
        )
    return clean


def validate_iou(iou: float) -> float:
    """The matching IoU threshold, within (0, 1]."""
    value = float(iou)
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ValidationError(f"iou must be within (0, 1], got {iou}", field="iou")
    return value


__all__ = [
    "MAX_NAME",
    "ChangeKind",
    "JobKind",
    "LabelChange",
    "LabelJob",
    "LabelJobItem",
    "LabelJobStatus",
    "ReviewStatus",
    "validate_iou",
    "validate_job_name",
]
