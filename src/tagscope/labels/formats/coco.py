"""COCO (SPEC F-02): images, categories, boxes, polygon and RLE segmentations, captions.

Each instance annotation gives a ``box`` label (from ``bbox``) and, when it has a segmentation,
a ``polygon`` label (every part of the object) or a ``mask`` label (RLE, compressed or not,
usual for ``iscrowd`` annotations); boxes and polygons are checked, and a self-intersecting
polygon repaired, by :mod:`tagscope.labels.geometry`. Labels are named by their category and
carry the annotation's ``coco_id`` and ``iscrowd`` as attributes. A captions file
(``captions_*.json``) gives each image its own text: its captions, one per line. Images'
``file_name`` stay inside the images folder (see :class:`tagscope.media.paths.ImportFolder`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from tagscope.domain import Label, LabelKind, ValidationError
from tagscope.labels.formats.records import Entry, Parsed, read_json_file
from tagscope.labels.geometry import InvalidGeometry, check_box, check_rle, polygon_parts
from tagscope.media.paths import ImportFolder, UnsafePath


def read_coco(
    annotations: Path,
    *,
    images: Path,
    captions: Path | None = None,
    follow_symlinks: bool = False,
) -> Parsed:
    """Read a COCO instances file (and optionally a captions file) into entries.

    The entries are the images the files list, not every file of ``images``. An unusable
    image (a file name leading out of ``images``, an id listed twice), category or annotation
    (unknown image or category id, an id listed twice, invalid box, polygon or RLE) is reported
    as ``<file>: <what>`` and the rest is still read; the annotations of a refused image are
    left out with it.

    Parameters
    ----------
    annotations : Path
        A COCO instances file (``images``, ``annotations``, ``categories``).
    images : Path
        The folder the images' ``file_name`` are relative to.
    captions : Path, optional
        A COCO captions file; its images may also be missing from ``annotations``.
    follow_symlinks : bool, default False
        Allow symbolic links to image files outside ``images``.

    Raises
    ------
    ValidationError
        A file is missing, is not valid JSON, or is not a COCO object.
    """
    doc = _coco_document(annotations)
    caption_doc = _coco_document(captions) if captions is not None else None
    parsed = Parsed()
    folder = ImportFolder(images, follow_symlinks=follow_symlinks)
    files, refused = _image_files(doc, annotations.name, folder, parsed)
    categories = _category_names(doc, annotations.name, parsed)
    labels: dict[str, list[Label]] = defaultdict(list)
    for i, ann in _annotations(doc, annotations.name, parsed):
        if _of_image(ann, refused):
            continue
        source = f"{annotations.name}: annotation {_ann_id(ann, i)}"
        reason = _reference_problem(ann, files, categories)
        if reason:
            parsed.problem(source, reason)
            continue
        found, reasons = _instance_labels(ann, categories[ann["category_id"]])
        labels[files[ann["image_id"]]].extend(found)
        for reason in reasons:
            parsed.problem(source, reason)
    texts: dict[str, str] = {}
    if caption_doc is not None and captions is not None:
        texts = _caption_texts(caption_doc, captions.name, folder, parsed)
    for path in dict.fromkeys([*files.values(), *texts]):
        parsed.entries.append(Entry(path, tuple(labels[path]), texts.get(path)))
    return parsed


def _coco_document(path: Path) -> dict[str, Any]:
    doc = read_json_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise ValidationError(
            f"{path.name}: not a COCO file (expected an object with an 'images' list)",
            field="path",
        )
    for key in ("annotations", "categories"):
        if not isinstance(doc.get(key, []), list):
            raise ValidationError(f"{path.name}: '{key}' must be a list", field="path")
    return doc


def _ann_id(ann: Any, index: int) -> str:
    if isinstance(ann, dict) and "id" in ann:
        return str(ann["id"])
    return f"#{index}"


def _is_id(value: Any) -> bool:
    """Whether ``value`` can be a COCO id (a number or a string: never a list, which could not
    even be looked up)."""
    return isinstance(value, int | str) and not isinstance(value, bool)


def _of_image(ann: Any, images: Collection[Any]) -> bool:
    """Whether ``ann`` is an annotation of one of ``images`` (ids)."""
    return isinstance(ann, dict) and _is_id(ann.get("image_id")) and ann["image_id"] in images


def _annotations(doc: dict[str, Any], file: str, parsed: Parsed) -> Iterator[tuple[int, Any]]:
    """The annotations with their index, reporting (and leaving out) ids listed twice."""
    seen: set[Any] = set()
    for i, ann in enumerate(doc.get("annotations", [])):
        ann_id = ann.get("id") if isinstance(ann, dict) else None
        if _is_id(ann_id):
            if ann_id in seen:
                parsed.problem(f"{file}: annotation {ann_id}", "annotation id listed twice")
                continue
            seen.add(ann_id)
        yield i, ann


def _image_files(
    doc: dict[str, Any], file: str, folder: ImportFolder, parsed: Parsed
) -> tuple[dict[Any, str], set[Any]]:
    """Image id -> real path, and the ids of images refused for their file name; entries
    without an id or a file name, and repeated ids, are reported."""
    files: dict[Any, str] = {}
    refused: set[Any] = set()
    for i, image in enumerate(doc["images"]):
        if not isinstance(image, dict) or not _is_id(image.get("id")):
            parsed.problem(f"{file}: images[{i}]", "image has no 'id' (a number or a string)")
            continue
        source = f"{file}: image {image['id']}"
        if not isinstance(image.get("file_name"), str) or not image["file_name"]:
            parsed.problem(source, "image has no 'file_name'")
        elif image["id"] in files or image["id"] in refused:
            parsed.problem(source, "image id listed twice")
        else:
            try:
                files[image["id"]] = folder.path_of(image["file_name"])
            except UnsafePath as exc:
                parsed.problem(source, str(exc))
                refused.add(image["id"])
    return files, refused


def _category_names(doc: dict[str, Any], file: str, parsed: Parsed) -> dict[Any, str]:
    names: dict[Any, str] = {}
    for i, cat in enumerate(doc.get("categories", [])):
        if isinstance(cat, dict) and _is_id(cat.get("id")) and isinstance(cat.get("name"), str):
            names[cat["id"]] = cat["name"]
        else:
            parsed.problem(f"{file}: categories[{i}]", "category needs an 'id' and a 'name'")
    return names


def _reference_problem(ann: Any, files: dict[Any, str], categories: dict[Any, str]) -> str | None:
    if not isinstance(ann, dict):
        return "annotation is not an object"
    if not _of_image(ann, files):
        return f"unknown image id {ann.get('image_id')!r}"
    if not _is_id(ann.get("category_id")) or ann["category_id"] not in categories:
        return f"unknown category id {ann.get('category_id')!r}"
    return None


def _instance_labels(ann: dict[str, Any], name: str) -> tuple[list[Label], list[str]]:
    """The box and segmentation labels of one annotation, and why any part was left out."""
    attributes = {"coco_id": ann.get("id"), "iscrowd": bool(ann.get("iscrowd", 0))}
    labels: list[Label] = []
    reasons: list[str] = []
    bbox = ann.get("bbox")
    if bbox is not None:
        if _is_numbers(bbox) and len(bbox) == 4:
            try:
                check_box(bbox)
            except InvalidGeometry as exc:
                reasons.append(f"invalid bbox {bbox!r}: {exc}")
            else:
                geometry = {"bbox": bbox}
                labels.append(Label(LabelKind.BOX, name, geometry=geometry, attributes=attributes))
        else:
            reasons.append(f"invalid bbox {bbox!r}: expected [x, y, width, height]")
    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg:
        try:
            geometry = {"polygons": polygon_parts(seg)}
        except InvalidGeometry as exc:
            reasons.append(f"invalid polygon: {exc}")
        else:
            labels.append(Label(LabelKind.POLYGON, name, geometry=geometry, attributes=attributes))
    elif isinstance(seg, dict):
        reason = _rle_problem(seg)
        if reason:
            reasons.append(f"invalid RLE: {reason}")
        else:
            geometry = {"rle": {"size": seg["size"], "counts": seg["counts"]}}
            labels.append(Label(LabelKind.MASK, name, geometry=geometry, attributes=attributes))
    elif seg not in (None, []):
        reasons.append("invalid segmentation: expected a list of polygons or an RLE object")
    return labels, reasons


def _is_numbers(values: Any) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _rle_problem(rle: dict[str, Any]) -> str | None:
    try:
        check_rle(rle)
    except InvalidGeometry as exc:
        return str(exc)
    return None


def _caption_texts(
    doc: dict[str, Any], file: str, folder: ImportFolder, parsed: Parsed
) -> dict[str, str]:
    """Real path -> its captions, one per line, in annotation id order."""
    files, refused = _image_files(doc, file, folder, parsed)
    captions: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for i, ann in _annotations(doc, file, parsed):
        source = f"{file}: annotation {_ann_id(ann, i)}"
        if _of_image(ann, refused):
            continue
        if not _of_image(ann, files):
            image_id = ann.get("image_id") if isinstance(ann, dict) else None
            parsed.problem(source, f"unknown image id {image_id!r}")
        elif not isinstance(ann.get("caption"), str) or not ann["caption"].strip():
            parsed.problem(source, "annotation has no 'caption' text")
        else:
            order = ann["id"] if isinstance(ann.get("id"), int) else i
            captions[files[ann["image_id"]]].append((order, ann["caption"].strip()))
    return {name: "\n".join(text for _, text in sorted(lines)) for name, lines in captions.items()}
