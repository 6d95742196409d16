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
    """A COCO-style sample: image folder, instances file (may be None) and captions file."""

    name: str
    images: Path
    annotations: Path | None
    captions: Path | None


def coco_mini(data: Path = SHARED_DATA) -> CocoSample | None:
    """The shared coco-mini subset (val2017 with instances and captions), if this checkout has it."""
    root = data / "coco-mini"
    if not (root / "annotations" / "instances_val2017.json").exists():
        return None
    ann = root / "annotations"
    return CocoSample(
        "coco-mini", root / "val2017", ann / "instances_val2017.json", ann / "captions_val2017.json"
    )


def write_skimage_sample(folder: Path) -> CocoSample:
    """Write scikit-image's photos as JPEG files with a COCO captions file; return the sample."""
    import skimage.data

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries, captions = [], []
    for i, (name, caption) in enumerate(SKIMAGE_CAPTIONS.items(), start=1):
        pixels = np.asarray(getattr(skimage.data, name)())
        path = images / f"{name}.jpg"
        if not path.exists():
            Image.fromarray(pixels).convert("RGB").save(path, quality=92)
        with Image.open(path) as im:
            width, height = im.size
        entries.append({"id": i, "file_name": path.name, "width": width, "height": height})
        captions.append({"id": i, "image_id": i, "caption": caption})
    doc = {"images": entries, "annotations": [], "categories": []}
    ann = folder / "instances.json"
    ann.write_text(json.dumps(doc))
    cap = folder / "captions.json"
    cap.write_text(json.dumps({"images": entries, "annotations": captions}))
    return CocoSample("skimage-photos", images, ann, cap)
