"""Fixtures of the bundle tests: real photos as uploaded bytes, a head trained on a tiny CLIP's
embeddings of real images, and its exported bundle."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ("church", "golf_ball", "parachute")


@pytest.fixture(scope="session")
def photos(imagenette: Path, coco_mini: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of real photos in the layouts a server receives: colour and greyscale
    JPEGs, an EXIF-rotated JPEG, a PNG with alpha, a palette PNG with a transparent colour."""
    val = coco_mini / "val2017"
    picked = [
        *sorted((imagenette / "garbage_truck").iterdir())[:2],
        imagenette / "church" / "ILSVRC2012_val_00003351.JPEG",  # greyscale (L)
        val / "000000431848.jpg",  # greyscale, 378 x 640
        *sorted(val.glob("*.jpg"))[:3],
    ]
    files = [(p.name, p.read_bytes()) for p in picked]
    base = Image.open(picked[-1]).convert("RGB")
    alpha = Image.linear_gradient("L").resize(base.size)
    rgba = base.copy()
    rgba.putalpha(alpha)
    files.append(("alpha.png", _encoded(rgba, "PNG")))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    files.append(("rotated.jpg", _encoded(base, "JPEG", exif=exif.tobytes())))
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    files.append(("palette.png", _encoded(palette, "PNG", transparency=0)))
    return files


def _encoded(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_dir: Path):
    from tagscope.embed.clip import ClipEmbedder

    return ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu")


@pytest.fixture(scope="session")
def imagenette_vectors(imagenette: Path, tiny_clip) -> tuple[np.ndarray, np.ndarray]:
    """The tiny CLIP's vectors of 8 images of each of :data:`CLASSES`, and their labels."""
    from tagscope.media.images import load_rgb

    paths = [p for c in CLASSES for p in sorted((imagenette / c).iterdir())[:8]]
    labels = np.array([p.parent.name for p in paths])
    return tiny_clip.encode_images([load_rgb(p) for p in paths]), labels


@pytest.fixture(scope="session")
def single_label_head(imagenette_vectors):
    from tagscope.train import HeadClassifier

    X, y = imagenette_vectors
    return HeadClassifier(max_epochs=40, random_state=0).fit(X, y)


def manifest_of(classes, kind: str, thresholds: dict[str, float]) -> dict:
    """A manifest as the service passes it: ``classes`` in the order of the head's outputs."""
    return {
        "dataset": "imagenette",
        "model": "m1",
        "kind": kind,
        "classes": [str(c) for c in classes],
        "thresholds": thresholds,
        "checkpoint": "best",
        "space": "clip",
    }


@pytest.fixture(scope="session")
def single_label_bundle(
    single_label_head, tiny_clip, tiny_clip_dir: Path, photos, tmp_path_factory
) -> Path:
    from tagscope.media.images import load_rgb
    from tagscope.train.export import export_classifier

    # One threshold between the photos' best scores: "predicted" is empty for some, not all.
    proba = single_label_head.predict_proba(
        tiny_clip.encode_images([load_rgb(data) for _, data in photos])
    )
    best = np.sort(proba.max(axis=1))
    middle = len(best) // 2
    threshold = float(best[middle - 1] + best[middle]) / 2
    thresholds = dict.fromkeys(map(str, single_label_head.classes_), threshold)
    out = tmp_path_factory.mktemp("bundle") / "imagenette-m1"
    manifest = manifest_of(single_label_head.classes_, "single-label", thresholds)
    return export_classifier(single_label_head, tiny_clip_dir, out, manifest=manifest)


TINY_YOLOS = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "num_detection_tokens": 10,
}


@pytest.fixture(scope="session")
def coco_boxes(coco_mini: Path) -> tuple[list[Path], list[dict]]:
    """Four coco-mini images and their (non-crowd) boxes."""
    import json

    source = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in source["categories"]}
    images = source["images"][:4]
    targets = []
    for im in images:
        anns = [a for a in source["annotations"] if a["image_id"] == im["id"] and not a["iscrowd"]]
        targets.append(
            {"boxes": [a["bbox"] for a in anns], "classes": [names[a["category_id"]] for a in anns]}
        )
    return [coco_mini / "val2017" / im["file_name"] for im in images], targets


@pytest.fixture(scope="session")
def tiny_detector(coco_boxes):
    """A tiny random YOLOS trained one epoch: plumbing only."""
    from tagscope.train.detector import Detector

    paths, targets = coco_boxes
    detector = Detector(architecture=TINY_YOLOS, image_size=64, max_epochs=1, batch_size=4)
    return detector.fit(paths, targets)


@pytest.fixture(scope="session")
def detector_bundle(tiny_detector, coco_boxes, tmp_path_factory) -> Path:
    from tagscope.train.export import export_detector

    classes = list(tiny_detector.classes_)
    thresholds = {c: 0.0 for c in classes}
    # The top class of one image is never kept: the thresholds filter some boxes, not all.
    thresholds[tiny_detector.predict(coco_boxes[0][:1], min_score=0.0)[0][0]["class"]] = 1.0
    manifest = {**manifest_of(classes, "detector", thresholds), "min_score": 0.0}
    out = tmp_path_factory.mktemp("bundle") / "coco-detector"
    return export_detector(tiny_detector, out, manifest=manifest)
