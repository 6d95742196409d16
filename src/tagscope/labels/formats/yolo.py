"""YOLO (SPEC F-02): the Ultralytics layout, ``images/`` with ``labels/*.txt`` beside it.

``ROOT/images/<name>.<ext>`` has its labels in ``ROOT/labels/<name>.txt`` (split sub-folders,
``images/train`` with ``labels/train``, follow from the names, and give the items' split:
``train``, ``val``/``valid`` (validation) or ``test``). Each line of a label file is a
box ``class cx cy w h`` or a polygon ``class x1 y1 x2 y2 x3 y3 ...``, in fractions of the image's
width and height (0..1); the import scales them to pixels with the size it reads of the image
(:func:`in_pixels`). The class names come from ``data.yaml`` (``names:`` as a list or an
``{id: name}`` mapping) or else from ``classes.txt`` (one per line, the first is class 0). An
image without a label file has no labels (a background image). A line that cannot be used is
reported as ``labels/<name>.txt:<line>``, a label file without its image as
``labels/<name>.txt``; the rest is read. Boxes and polygons are checked, and a self-intersecting
polygon repaired, by :mod:`tagscope.labels.geometry`.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed, read_source
from tagscope.labels.geometry import InvalidGeometry, check_box, ring_parts
from tagscope.media.images import IMAGE_SUFFIXES
from tagscope.media.paths import NOT_REGULAR, ImportFolder, UnsafePath

_YAML_NAMES = ("data.yaml", "data.yml")
# ``images/<folder>/...`` -> the items' split (Ultralytics names validation ``val`` or ``valid``).
SPLIT_FOLDERS = {
    "train": "train",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "test": "test",
}
_CLASSES_TXT = "classes.txt"


def read_yolo(root: Path, *, follow_symlinks: bool = False) -> Parsed:
    """Read a YOLO dataset folder into entries whose labels are in normalised coordinates.

    Parameters
    ----------
    root : Path
        The dataset folder, holding ``images/``, ``labels/`` and ``data.yaml`` or
        ``classes.txt``; every file read stays inside it.
    follow_symlinks : bool, default False
        Follow symbolic links leading out of ``root`` (to image files, label files, folders).

    Raises
    ------
    ValidationError
        ``root`` or ``root/images`` is not a folder; there are no class names, or ``data.yaml``
        or ``classes.txt`` cannot be read.
    """
    folder = ImportFolder(root, follow_symlinks=follow_symlinks)
    if not os.path.isdir(folder.root):
        raise ValidationError(f"{root} is not a folder", field="root")
    if not os.path.isdir(os.path.join(folder.root, "images")):
        raise ValidationError(f"{root} has no 'images' folder (the YOLO layout)", field="root")
    classes = class_names(folder)
    parsed = Parsed()
    images = _files(folder, "images", parsed)
    labels = _files(folder, "labels", parsed)
    stems: dict[str, list[str]] = defaultdict(list)  # images/<stem>.<ext> -> real paths
    for name, path in images.items():
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in IMAGE_SUFFIXES:
            stems[stem].append(path)
        else:
            parsed.problem(f"images/{name}", f"not an image file type ({suffix or 'no suffix'})")
    found: dict[str, tuple[Label, ...]] = {}
    for name, path in labels.items():
        stem, suffix = os.path.splitext(name)
        if suffix != ".txt":
            continue  # not a label file (a cache, a README)
        if stem not in stems:
            parsed.problem(f"labels/{name}", f"no image for this label file (images/{stem}.*)")
            continue
        found[stem] = tuple(_label_file(path, f"labels/{name}", classes, parsed))
    for stem, paths in sorted(stems.items()):
        split = SPLIT_FOLDERS.get(stem.split("/", 1)[0].lower()) if "/" in stem else None
        parsed.entries.extend(Entry(path, found.get(stem, ()), split=split) for path in paths)
    return parsed


def in_pixels(label: Label, width: int, height: int) -> Label:
    """``label`` with its normalised geometry (as :func:`read_yolo` gives it) in pixels of an
    image ``width`` x ``height``."""
    if label.geometry is None:
        return label
    if "bbox" in label.geometry:
        cx, cy, w, h = label.geometry["bbox"]
        bbox = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
        return replace(label, geometry={"bbox": bbox})
    polygons = [
        [v * (height if i % 2 else width) for i, v in enumerate(part)]
        for part in label.geometry["polygons"]
    ]
    return replace(label, geometry={"polygons": polygons})


def class_names(folder: ImportFolder) -> dict[int, str]:
    """Class id -> name, from ``data.yaml`` (or ``data.yml``) in the folder, else its
    ``classes.txt``.

    Raises
    ------
    ValidationError
        Neither file holds class names, the one read is malformed (the message says where), or
        it is a symbolic link leading out of the folder (without ``follow_symlinks``).
    """
    root = Path(folder.root)
    for name in _YAML_NAMES:
        if (root / name).is_file():
            names = _yaml_names(_inside(folder, root / name))
            if names is not None:
                return names
    if (root / _CLASSES_TXT).is_file():
        return _txt_names(_inside(folder, root / _CLASSES_TXT))
    raise ValidationError(
        f"{root}: no class names (a data.yaml with 'names', or a classes.txt)", field="root"
    )


def _inside(folder: ImportFolder, path: Path) -> Path:
    try:
        return Path(_text_file(folder, str(path), path.name))
    except UnsafePath as exc:
        raise ValidationError(str(exc), field="root") from None


def _text(path: Path) -> str:
    raw = read_source(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{path.name}: line {line} is not UTF-8 text (byte {exc.start})", field="root"
        ) from None


def _yaml_names(path: Path) -> dict[int, str] | None:
    """The ``names`` of a data.yaml, or None when it has none."""
    try:
        doc = yaml.safe_load(_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or "not YAML"
        raise ValidationError(f"{path.name}: invalid YAML{where}: {reason}", field="root") from None
    if not isinstance(doc, dict):
        raise ValidationError(f"{path.name}: expected a mapping with 'names'", field="root")
    if "kpt_shape" in doc:
        raise ValidationError(
            f"{path.name}: a keypoint (pose) dataset; only boxes and polygons are read",
            field="root",
        )
    names = doc.get("names")
    if names is None:
        return None
    if isinstance(names, list):
        names = dict(enumerate(names))
    if not isinstance(names, dict) or not names:
        raise ValidationError(
            f"{path.name}: 'names' must be a list or a mapping of class id to name", field="root"
        )
    classes: dict[int, str] = {}
    for key, name in names.items():
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise ValidationError(
                f"{path.name}: class id {key!r} is not a whole number >= 0", field="root"
            )
        if not isinstance(name, str | int | float) or isinstance(name, bool) or not str(name):
            raise ValidationError(f"{path.name}: class {key} has no name", field="root")
        classes[key] = str(name)
    nc = doc.get("nc")
    if nc is not None and nc != len(classes):
        raise ValidationError(
            f"{path.name}: 'nc' is {nc!r} but 'names' has {len(classes)} classes", field="root"
        )
    return classes


def _txt_names(path: Path) -> dict[int, str]:
    lines = [line.strip() for line in _text(path).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    for number, name in enumerate(lines, start=1):
        if not name:
            raise ValidationError(f"{path.name}:{number}: empty class name", field="root")
    if not lines:
        raise ValidationError(f"{path.name}: no class names", field="root")
    return dict(enumerate(lines))


def _files(folder: ImportFolder, top: str, parsed: Parsed) -> dict[str, str]:
    """Name relative to ``root/top`` (with ``/``) -> real path of every file under it; hidden
    files are skipped, links leading out of the folder (without ``follow_symlinks``) and
    special files are reported. No such folder: none.

    Raises
    ------
    ValidationError
        ``root/top`` is a symbolic link leading out of the folder (without ``follow_symlinks``).
    """
    start = os.path.realpath(os.path.join(folder.root, top))
    if not os.path.isdir(start):
        return {}
    if not folder.inside(start) and not folder.follow_symlinks:
        raise ValidationError(
            f"'{top}' is a symbolic link to {start}, outside {folder.root} "
            "(follow_symlinks (--follow-symlinks) allows it)",
            field="root",
        )
    files: dict[str, str] = {}
    seen = {start}  # real folders walked: a link loop is walked once
    stack = [(start, "")]
    while stack:
        path, prefix = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = sorted(
                    (e for e in it if not e.name.startswith(".")), key=lambda e: e.name
                )
        except OSError as exc:
            parsed.problem(f"{top}/{prefix}", f"cannot list the folder: {exc.strerror}")
            continue
        for entry in entries:
            name = prefix + entry.name
            try:
                real = _real(folder, entry, name)
            except UnsafePath as exc:
                parsed.problem(f"{top}/{name}", str(exc))
                continue
            if os.path.isdir(real):
                if real not in seen:
                    seen.add(real)
                    stack.append((real, name + "/"))
            else:
                files[name] = real
    return dict(sorted(files.items()))


def _real(folder: ImportFolder, entry: os.DirEntry[str], name: str) -> str:
    """The real path of a folder entry, refusing links out of the folder and special files."""
    if entry.is_symlink():
        is_dir = entry.is_dir()
        if is_dir or os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
            return folder.link_target(entry.path, name, folder=is_dir)
        return _text_file(folder, entry.path, name)
    if not (entry.is_dir() or entry.is_file()):
        raise UnsafePath(NOT_REGULAR.format(name=name))
    return entry.path


def _label_file(path: str, source: str, classes: dict[int, str], parsed: Parsed) -> list[Label]:
    """The labels of one label file; each line that cannot be used is reported."""
    try:
        raw = read_source(Path(path))
    except ValidationError as exc:
        parsed.problem(source, str(exc).removeprefix(f"{path}: "))
        return []
    labels = []
    for number, line in enumerate(raw.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
        try:
            label = _label(line.decode().split(), classes) if line.strip() else None
        except UnicodeDecodeError:
            label = "not UTF-8 text"
        if isinstance(label, str):
            parsed.problem(f"{source}:{number}", label)
        elif label is not None:
            labels.append(label)
    return labels


def _label(values: list[str], classes: dict[int, str]) -> Label | str:
    """The label of one line's values (normalised geometry), or why it cannot be used."""
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except ValueError:
            return f"{value[:40]!r} is not a number"
    class_id, coords = numbers[0], numbers[1:]
    if not class_id.is_integer() or int(class_id) not in classes:
        return f"unknown class {values[0][:40]!r} (the classes are {_ids(classes)})"
    if len(coords) % 2:
        return f"odd number of coordinates ({len(coords)})"
    if len(coords) < 4:
        return f"{len(coords)} coordinates: a box needs 4, a polygon at least 6 (3 points)"
    for value, number in zip(values[1:], coords, strict=True):
        if not (math.isfinite(number) and 0 <= number <= 1):
            return f"coordinate {value[:40]} outside 0..1"
    name = classes[int(class_id)]
    try:
        if len(coords) == 4:
            check_box(coords)
            return Label(LabelKind.BOX, name, geometry={"bbox": coords})
        # Checked in fractions of the image: repairs and area ratios are the same in pixels.
        return Label(LabelKind.POLYGON, name, geometry={"polygons": ring_parts(coords)})
    except InvalidGeometry as exc:
        return f"{'box' if len(coords) == 4 else 'polygon'} {exc}"


def _ids(classes: dict[int, Any]) -> str:
    ids = sorted(classes)
    if ids == list(range(len(ids))):
        return f"0..{len(ids) - 1}"
    return ", ".join(map(str, ids))


def _text_file(folder: ImportFolder, path: str, name: str) -> str:
    """The real path of a text file (a label file, data.yaml): one reached by a symbolic link
    is read only inside the folder, unless links may lead out.

    Raises
    ------
    UnsafePath
        A link leads out of the folder (without ``follow_symlinks``) or not to a file.
    """
    target = os.path.realpath(path)
    if target == path:
        return path
    if not os.path.isfile(target):
        raise UnsafePath(f"{name!r} is a symbolic link to {target}, which is not a file")
    if not folder.inside(target) and not folder.follow_symlinks:
        raise UnsafePath(
            f"{name!r} is a symbolic link to {target}, outside the folder "
            "(follow_symlinks (--follow-symlinks) allows it)"
        )
    return target
