"""YOLO export in the Ultralytics layout: ``images/``, ``labels/*.txt``, ``data.yaml``.

``images/<name>`` mirrors each item's path relative to the export's root; it is a symbolic
link to the item's file (nothing is copied: an export of a large dataset costs no space), or a
copy with ``copy_images``. Importing links back needs ``--follow-symlinks`` (they lead out of
the export folder), and gives the very items exported, since items are keyed by their real
path; copies come back as new items with the same content. ``labels/<name minus suffix>.txt``
holds a line per box (``class cx cy w h``) or polygon part (``class x1 y1 x2 y2 ...``), every
coordinate divided by the image's width or height. ``data.yaml`` gives the export folder
(``path``, absolute, as Ultralytics needs), ``train`` and ``val``, and the classes by index
(``names``), in order of first appearance. Items with a split go under ``images/train``,
``images/val`` or ``images/test`` (and ``labels/`` alike), so that importing the export gives
them their split back; ``train`` and ``val`` name those folders, or ``images`` when no item has
that split.

YOLO has no classifications, masks or polylines (counted as skipped), and one line is one
polygon part: a polygon of several parts comes back as that many polygons.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path, PurePosixPath

from tagscope.domain import Label, LabelKind
from tagscope.labels.exports.base import ExportRecord, ExportReport

DATA_YAML = "data.yaml"
# An item's split -> its folder under images/ and labels/ (the reader maps them back).
_SPLIT_FOLDER = {"train": "train", "validation": "val", "test": "test"}


class YoloWriter:
    """Writes each item's image link (or copy) and label file; ``close`` writes data.yaml."""

    def __init__(self, out: Path, report: ExportReport, *, copy_images: bool = False) -> None:
        self.out = out
        self.report = report
        self.copy_images = copy_images
        self.classes: dict[str, int] = {}
        self.label_files: set[str] = set()
        self.splits: set[str] = set()  # the folders under images/ that items went to

    def add(self, record: ExportRecord) -> None:
        media = record.item.media
        path = record.item.path
        folder = _SPLIT_FOLDER.get(record.item.split or "")
        name = f"{folder}/{record.name}" if folder else record.name
        stem = PurePosixPath(name).with_suffix(".txt").as_posix()
        if media is None or not media.width or not media.height:
            self.report.problem(path, "no image width and height: YOLO coordinates need them")
            return
        if stem in self.label_files:
            self.report.problem(path, f"labels/{stem} is another item's (same name, other suffix)")
            return
        try:
            self._place_image(path, self.out / "images" / name)
        except OSError as exc:
            self.report.problem(path, f"cannot {self._verb} the image: {exc.strerror}")
            return
        self.label_files.add(stem)
        if folder:
            self.splits.add(folder)
        lines = [
            line
            for label in record.labels
            for line in self._lines(label, media.width, media.height)
        ]
        self.report.n_items += 1
        label_file = self.out / "labels" / stem
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")

    def _lines(self, label: Label, width: int, height: int) -> list[str]:
        geometry = label.geometry or {}
        if label.kind == LabelKind.BOX:
            x, y, w, h = geometry["bbox"]
            values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
            parts = [values]
        elif label.kind == LabelKind.POLYGON:
            parts = [
                [v / (width if i % 2 == 0 else height) for i, v in enumerate(part)]
                for part in geometry["polygons"]
            ]
        else:
            self.report.skip(f"{label.kind} labels: YOLO has none")
            return []
        index = self.classes.setdefault(label.name, len(self.classes))
        self.report.n_labels += 1
        return [" ".join([str(index), *(repr(float(v)) for v in part)]) for part in parts]

    @property
    def _verb(self) -> str:
        return "copy" if self.copy_images else "link"

    def _place_image(self, source: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():  # an --overwrite of an earlier export
            target.unlink()
        if self.copy_images:
            shutil.copy2(source, target)
        else:
            os.symlink(source, target)

    def close(self) -> None:
        # JSON strings are YAML double-quoted scalars: any class name is written safely.
        names = "".join(f"  {i}: {json.dumps(name)}\n" for name, i in self.classes.items())
        # Ultralytics reads a relative ``path`` under its own datasets folder: this one's is
        # absolute (moving the export means editing that line); train and val are under it.
        train = "images/train" if "train" in self.splits else "images"
        val = "images/val" if "val" in self.splits else train
        text = f"path: {json.dumps(str(self.out))}\ntrain: {train}\nval: {val}\n" + (
            f"names:\n{names}" if names else "names: {}\n"
        )
        path = self.out / DATA_YAML
        path.write_text(text, encoding="utf-8")
        self.report.files += [str(path), str(self.out / "images"), str(self.out / "labels")]
