"""COCO instances export: what :func:`tagscope.labels.formats.coco.read_coco` reads back.

Every item is an image (``file_name`` relative to the export's root, with its width and height).
The COCO importer makes a box label and a polygon or mask label of one annotation, both with
its ``coco_id``; the exporter joins them back into that one annotation (same item, name and
``coco_id``). A box alone is an annotation without a segmentation, a polygon or mask alone one
without a ``bbox``: a computed ``bbox`` would come back as a box label that was not there.
Classifications and polylines have no place in COCO instances and are counted as skipped.
Items with their own text (captions, one per line) also get ``captions.json``, a COCO captions
file with the same images, which ``--captions`` imports back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tagscope.domain import Label, LabelKind
from tagscope.labels.exports.base import ExportRecord, ExportReport

FILE_NAME = "annotations.json"
CAPTIONS_NAME = "captions.json"


class CocoWriter:
    """Collects images and annotations; ``close`` writes ``annotations.json`` under ``out``."""

    def __init__(self, out: Path, report: ExportReport) -> None:
        self.path = out / FILE_NAME
        self.report = report
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.captions: list[dict[str, Any]] = []
        self.categories: dict[str, int] = {}
        self.used_ids: set[Any] = set()
        self.next_id = 1

    def add(self, record: ExportRecord) -> None:
        image_id = len(self.images) + 1
        media = record.item.media
        self.report.n_items += 1
        self.images.append(
            {
                "id": image_id,
                "file_name": record.name,
                "width": media.width if media else 0,
                "height": media.height if media else 0,
            }
        )
        for labels in self._objects(record.labels):
            self.annotations.append(self._annotation(image_id, labels))
        for line in (record.item.text or "").splitlines():
            if line.strip():
                caption = {"id": len(self.captions) + 1, "image_id": image_id, "caption": line}
                self.captions.append(caption)

    def _objects(self, labels: Any) -> list[list[Label]]:
        """The item's labels grouped into annotations: a box and a segmentation of the same
        name and ``coco_id`` are one object; every other label is one alone."""
        groups: dict[tuple[str, Any], list[Label]] = {}
        alone: list[list[Label]] = []
        for label in labels:
            if label.kind not in (LabelKind.BOX, LabelKind.POLYGON, LabelKind.MASK):
                self.report.skip(f"{label.kind} labels: COCO instances have none")
                continue
            coco_id = label.attributes.get("coco_id")
            group = groups.get((label.name, coco_id)) if coco_id is not None else None
            if group is not None and _fits(group, label):
                group.append(label)
            elif coco_id is not None and (label.name, coco_id) not in groups:
                groups[(label.name, coco_id)] = [label]
            else:
                alone.append([label])
        return [*groups.values(), *alone]

    def _annotation(self, image_id: int, labels: list[Label]) -> dict[str, Any]:
        first = labels[0]
        if first.name not in self.categories:
            self.categories[first.name] = len(self.categories) + 1
        ann: dict[str, Any] = {
            "id": self._id(first.attributes.get("coco_id")),
            "image_id": image_id,
            "category_id": self.categories[first.name],
            "iscrowd": int(bool(first.attributes.get("iscrowd", False))),
        }
        for label in labels:
            geometry = label.geometry or {}
            if label.kind == LabelKind.BOX:
                ann["bbox"] = geometry["bbox"]
            elif label.kind == LabelKind.POLYGON:
                ann["segmentation"] = geometry["polygons"]
            else:
                ann["segmentation"] = geometry["rle"]
            if label.score is not None:
                ann["score"] = label.score
        self.report.n_labels += len(labels)
        return ann

    def _id(self, wanted: Any) -> Any:
        """The label's own ``coco_id`` when no annotation has it yet (it comes back as is),
        else a new one."""
        if wanted is None or wanted in self.used_ids:
            while self.next_id in self.used_ids:
                self.next_id += 1
            wanted = self.next_id
        self.used_ids.add(wanted)
        return wanted

    def close(self) -> None:
        categories = [{"id": i, "name": name} for name, i in self.categories.items()]
        doc = {"images": self.images, "annotations": self.annotations, "categories": categories}
        self.path.write_text(json.dumps(doc), encoding="utf-8")
        self.report.files.append(str(self.path))
        if self.captions:
            path = self.path.with_name(CAPTIONS_NAME)
            doc = {"images": self.images, "annotations": self.captions}
            path.write_text(json.dumps(doc), encoding="utf-8")
            self.report.files.append(str(path))


def _fits(group: list[Label], label: Label) -> bool:
    """Whether ``label`` completes ``group`` into one annotation (one box, one segmentation)."""
    kinds = {g.kind == LabelKind.BOX for g in group}
    return len(group) == 1 and (label.kind == LabelKind.BOX) not in kinds
