"""Sample media for the demo: the shared COCO subset when present, else scikit-image's photos.

scikit-image's wheel carries a few real photographs; the demo writes them out as JPEG files with
one hand-written caption each (as a COCO image list plus a COCO captions file), so text search
works offline through the items' own text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# Repository checkout: <root>/src/tagscope/service/samples.py; shared data lies beside <root>.
SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

SKIMAGE_CAPTIONS = {
    "astronaut": "an astronaut in a white space suit in front of an american flag",
    "chelsea": "a tabby cat with green eyes looking to the side",
    "coffee": "a cup of coffee with a saucer and a spoon on a table",
    "rocket": "a rocket standing on its launch pad under a blue sky",
    "hubble_deep_field": "a telescope photo of distant galaxies in the dark night sky",
    "immunohistochemistry": "a microscope image of stained tissue cells",
    "retina": "a medical photo of the retina of a human eye",
    "camera": "a man with a camera on a tripod standing in a field",
    "moon": "the surface of the moon with craters",
    "coins": "old coins lying on a table",
    "page": "a page of printed text from a book",
    "clock": "a clock on a wall",
    "grass": "a close view of green grass",
    "gravel": "small stones of gravel on the ground",
    "brick": "a wall of bricks",
    "colorwheel": "a colour wheel chart of hues",
    "text": "a photo of printed letters and words",
}


@dataclass(frozen=True, slots=True)
class CocoSample:
    """One COCO split: its image folder, instances file (None: a plain folder) and captions."""

    name: str
    images: Path
    annotations: Path | None
    captions: Path | None


def coco_splits(folder: Path) -> list[CocoSample]:
    """The splits of a COCO folder: ``annotations/instances_<split>.json`` with images in
    ``<split>/`` (or in the folder itself) and captions in ``annotations/captions_<split>.json``."""
    splits = []
    for ann in sorted((folder / "annotations").glob("instances_*.json")):
        split = ann.stem.removeprefix("instances_")
        captions = ann.with_name(f"captions_{split}.json")
        images = folder / split if (folder / split).is_dir() else folder
        splits.append(
            CocoSample(
                f"{folder.name}/{split}", images, ann, captions if captions.exists() else None
            )
        )
    return splits


def default_sample(scratch: Path, data: Path = SHARED_DATA) -> list[CocoSample]:
    """The shared coco-mini subset when this checkout has it, else scikit-image's photos."""
    return coco_splits(data / "coco-mini") or coco_splits(write_skimage_sample(scratch))


def write_skimage_sample(folder: Path) -> Path:
    """Write scikit-image's photos as a COCO folder (``photos/*.jpg``, ``annotations/
    instances_photos.json`` listing them, ``annotations/captions_photos.json``); return it."""
    import skimage.data

    images = folder / "photos"
    images.mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(exist_ok=True)
    entries, captions = [], []
    for i, (name, caption) in enumerate(SKIMAGE_CAPTIONS.items(), start=1):
        path = images / f"{name}.jpg"
        if not path.exists():
            pixels = np.asarray(getattr(skimage.data, name)())
            Image.fromarray(pixels).convert("RGB").save(path, quality=92)
        with Image.open(path) as im:
            width, height = im.size
        entries.append({"id": i, "file_name": path.name, "width": width, "height": height})
        captions.append({"id": i, "image_id": i, "caption": caption})
    doc = {"images": entries, "annotations": [], "categories": []}
    (folder / "annotations" / "instances_photos.json").write_text(json.dumps(doc))
    caps = {"images": entries, "annotations": captions}
    (folder / "annotations" / "captions_photos.json").write_text(json.dumps(caps))
    return folder
