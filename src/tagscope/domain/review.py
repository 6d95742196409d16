"""Expert review of a submitted label job (F-72) and result sets (F-73): the plain records.

Each row of ``label_changes`` pairs an expert label with its prelabel; review gives it a status
(``pending``, ``accepted``, ``rejected``). A result set saves the reviewed labels under a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from tagscope.domain.errors import ValidationError
from tagscope.domain.label_jobs import ChangeKind, LabelChange, ReviewStatus

STATUSES = tuple(str(s) for s in ReviewStatus)
CHANGES = tuple(str(c) for c in ChangeKind)
GROUP_BY = ("class", "class_changed")
MAX_RESULT_SET_NAME = 60  # "rs_" + name stays within the name column (64)
_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """Which label changes of a job: every field ``None`` matches all.

    ``min_area``/``max_area`` bound the expert label's area, ``min_adjustment``/
    ``max_adjustment`` the adjustment factor (expert area / prelabel area); a bound leaves out
    the changes without that value. ``class_changed`` is ``change == "class_changed"``.
    """

    status: str | None = None
    expert_class: str | None = None
    class_changed: bool | None = None
    change: str | None = None
    min_area: float | None = None
    max_area: float | None = None
    min_adjustment: float | None = None
    max_adjustment: float | None = None

    def __post_init__(self) -> None:
        _one_of(self.status, STATUSES, "status")
        _one_of(self.change, CHANGES, "change")
        for low, high, name in (
            (self.min_area, self.max_area, "area"),
            (self.min_adjustment, self.max_adjustment, "adjustment"),
        ):
            if low is not None and high is not None and low > high:
                raise ValidationError(
                    f"min_{name} {low} is above max_{name} {high}", field=f"min_{name}"
                )

    def as_params(self) -> dict[str, Any]:
        """The fields that are set, for a change-set's params."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if v is not None}


def _one_of(value: str | None, choices: tuple[str, ...], name: str) -> None:
    if value is not None and value not in choices:
        raise ValidationError(f"unknown {name} {value!r} (one of {', '.join(choices)})", field=name)


def check_status(status: str, name: str = "decision") -> str:
    """``status`` when it is a review status, else ``ValidationError``."""
    _one_of(status, STATUSES, name)
    return status


def check_group_by(group_by: str | None) -> str | None:
    _one_of(group_by, GROUP_BY, "group_by")
    return group_by


@dataclass(frozen=True, slots=True)
class ClassChangedRow:
    """A row of the class-changed table: the changes of one expert class (``None``: deleted
    prelabels) that changed class or not, counted per status."""

    expert_class: str | None
    class_changed: bool
    pending: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """The tabs (changes per status), the class-changed table and the changes per kind."""

    tabs: dict[str, int]
    table: list[ClassChangedRow]
    changes: dict[str, int]


@dataclass(frozen=True, slots=True)
class ReviewChange(LabelChange):
    """A label change with its item's path and size; ``expert`` and ``prelabel`` are the
    labels as they were at submission (``None``: added / deleted)."""

    path: str
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class ChangesPage:
    total: int
    changes: list[ReviewChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a decision changed: its change-set (``None`` when nothing changed)."""

    change_set: int | None
    n_changed: int


@dataclass(frozen=True, slots=True)
class ResultSet:
    """A saved result set; ``n_pending`` (changes left out, still pending) is known only when
    it was just saved."""

    id: int
    dataset_id: int
    name: str
    job: str | None
    description: str
    created_by: str
    created_at: datetime
    n_items: int
    n_labels: int
    n_pending: int | None = None

    @property
    def view(self) -> str:
        """Its SQL view."""
        return f"rs_{self.name}"


def validate_result_set_name(name: str) -> str:
    """A result set's name: lowercase letters, digits and underscores (its SQL view is
    ``rs_<name>``), 1..:data:`MAX_RESULT_SET_NAME` characters."""
    if not _NAME.match(name) or len(name) > MAX_RESULT_SET_NAME:
        raise ValidationError(
            f"a result set name is 1..{MAX_RESULT_SET_NAME} lowercase letters, digits or "
            f"underscores (its SQL view is rs_<name>), got {name!r}",
            field="name",
        )
    return name


__all__ = [
    "CHANGES",
    "GROUP_BY",
    "STATUSES",
    "ChangeFilter",
    "ChangesPage",
    "ClassChangedRow",
    "Decision",
    "ResultSet",
    "ReviewChange",
    "ReviewSummary",
    "check_group_by",
    "check_status",
    "validate_result_set_name",
]
