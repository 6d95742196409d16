"""Detector training speed: seconds per training step of ``Detector`` at each size.

Trains each size (small / medium / large: YOLOS-tiny / -small / -base configurations, random
weights) on one coco-mini image at ``--image-size`` (default 512) with batch size 1 for
``--steps`` steps (default 3; the first, which warms up, is not counted), through the public
``fit`` (decoding, preprocessing, Hungarian-matching loss, backward, AdamW). Reports the median
seconds of the timed steps per size, the parameter counts, and the machine. Prints ONE JSON line.

    python bench/bench_detector.py [--image-size 512] [--steps 3] [--sizes small,medium,large]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from _machine import cpu_info
from tagscope.train.detector import Detector

ROOT = Path(__file__).resolve().parents[1]


def coco_image(shared: Path) -> tuple[Path, dict]:
    """The first coco-mini validation image and its boxes."""
    root = shared / "data" / "coco-mini"
    source = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in source["categories"]}
    image = source["images"][0]
    anns = [a for a in source["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]]
    target = {
        "boxes": [a["bbox"] for a in anns],
        "classes": [names[a["category_id"]] for a in anns],
    }
    return root / "val2017" / image["file_name"], target


def time_steps(size: str, image: Path, target: dict, image_size: int, steps: int) -> dict:
    """Seconds of each training step (one image, one epoch each), via the on_epoch callback."""
    marks: list[float] = []
    start = time.perf_counter()
    detector = Detector(
        size=size, image_size=image_size, batch_size=1, max_epochs=steps, patience=steps + 1
    )
    detector.fit([image], [target], on_epoch=lambda row: marks.append(time.perf_counter()))
    seconds = [b - a for a, b in zip([start, *marks], marks, strict=False)][1:]
    n_params = sum(p.numel() for p in detector.model_.parameters())
    return {"seconds_per_step": statistics.median(seconds), "parameters": n_params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    image, target = coco_image(args.shared)
    results = {
        size: time_steps(size, image, target, args.image_size, max(2, args.steps))
        for size in args.sizes.split(",")
    }
    print(
        json.dumps(
            {
                "bench": "detector_train_step",
                "image_size": args.image_size,
                "batch_size": 1,
                "device": "cuda" if torch.cuda.is_available() else "cpu",
                "torch_threads": torch.get_num_threads(),
                "sizes": results,
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
