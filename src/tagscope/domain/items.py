"""Items, labels and geometry: the plain records every layer exchanges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Modality(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    KEYFRAME = "keyframe"
    SHOT = "shot"
    TRANSCRIPT = "transcript"


class LabelKind(StrEnum):
    CLASSIFICATION = "classification"
    BOX = "box"
    POLYGON = "polygon"
    POLYLINE = "polyline"
    MASK = "mask"


class LabelSource(StrEnum):
    GROUND_TRUTH = "ground_truth"
    PREDICTION = "prediction"
    PRELABEL = "prelabel"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What reading a media file tells about it."""

    size: int
    width: int
    height: int
    format: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Label:
    """One label of one item.

    ``geometry`` depends on ``kind``: ``None`` for a classification, ``{"bbox": [x, y, w, h]}`` for
    a box, ``{"polygons": [[x0, y0, x1, y1, ...], ...]}`` for a polygon (several parts; holes are
    parts inside parts), ``{"lines": [[x0, y0, x1, y1, ...], ...]}`` for a polyline, ``{"rle":
    {"size": [h, w], "counts": ...}}`` for a mask, all in pixels.

    The catalog fills in what it stores about a label: its ``id``, its ontology class, who made
    it and when, the ``model`` of a prediction or prelabel and its ``area`` in pixels. They take
    no part in comparing labels (a label read back equals the one written).
    """

    kind: LabelKind
    name: str
    source: LabelSource = LabelSource.GROUND_TRUTH
    is_main: bool = False
    score: float | None = None
    geometry: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    id: int | None = field(default=None, compare=False)
    class_id: int | None = field(default=None, compare=False)
    author: str | None = field(default=None, compare=False)
    created_at: datetime | None = field(default=None, compare=False)
    model: str | None = field(default=None, compare=False)
    area: float | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Item:
    """A media item of a dataset as the catalog stores it."""

    id: int
    dataset_id: int
    path: str
    modality: Modality
    media: MediaInfo | None
    text: str | None = None
    split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    thumbnail: str | None = None
    # The file's modification time when imported (None: imported before it was recorded).
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item about to be imported: a path, what was read of it, and its labels.

    ``media`` is None for an item with no file of its own (a video's shot or transcript cue).
    """

    path: str
    media: MediaInfo | None
    modality: Modality = Modality.IMAGE
    text: str | None = None
    split: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: tuple[Label, ...] = ()
    mtime_ns: int | None = None
