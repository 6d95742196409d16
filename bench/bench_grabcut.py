"""GrabCut foreground extraction: seconds per call on a COCO photo (640 x 427, the rectangle of the
bear's box) and on a 4,000 x 3,000 picture (cut at 1,024 a side, the mask brought back to full
size), rectangle only and refined with strokes and the previous mask. One JSON line.

Run: ``python bench/bench_grabcut.py [--coco ../shared/data/coco-mini] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from _machine import cpu_info
from tagscope.media.grabcut import MAX_SIDE, foreground, mask_to_polygons
from tagscope.media.images import load_rgb

ROOT = Path(__file__).resolve().parents[1]


def _best(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(min(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--coco", type=Path, default=ROOT.parent / "shared/data/coco-mini")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    photo = np.asarray(load_rgb(args.coco / "val2017" / "000000229997.jpg"))
    box = (196.0, 116.0, 234.0, 190.0)
    first = foreground(photo, box)
    strokes = ([[300.0, 200.0, 320.0, 220.0]], [[200.0, 120.0, 420.0, 120.0]])
    rng = np.random.default_rng(0)
    large = rng.integers(0, 60, (3000, 4000, 3), dtype=np.uint8)
    large[800:2200, 1000:3000] += 150
    large_box = (800.0, 600.0, 2400.0, 1800.0)
    large_first = foreground(large, large_box)
    print(
        json.dumps(
            {
                "bench": "grabcut",
                "max_side": MAX_SIDE,
                "photo_640x427_rect_s": _best(lambda: foreground(photo, box), args.repeat),
                "photo_640x427_refine_s": _best(
                    lambda: foreground(photo, box, *strokes, init_mask=first), args.repeat
                ),
                "photo_polygons_s": _best(lambda: mask_to_polygons(first), args.repeat),
                "large_4000x3000_rect_s": _best(lambda: foreground(large, large_box), args.repeat),
                "large_4000x3000_refine_s": _best(
                    lambda: foreground(large, large_box, *strokes, init_mask=large_first),
                    args.repeat,
                ),
                "large_polygons_s": _best(lambda: mask_to_polygons(large_first), args.repeat),
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
