"""Submitting a manual label job at scale: ``--n-items`` items with ``--boxes`` expert boxes
each, and as many prelabels (every third shifted, every seventh of another class, one dropped
and one extra per item), matched by IoU with the Hungarian method into label changes.

A fresh SQLite workspace gets the items (no files) and their labels; timed, with the peak RSS
growth: creating the manual job and submitting it (matching and writing the label changes in
one transaction). Prints ONE JSON line.

    python bench/bench_label_jobs.py [--n-items 10000] [--boxes 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from _catalog import measured, peak_mib, synthetic_dataset
from _machine import cpu_info
from tagscope.domain import Label, LabelKind, LabelSource
from tagscope.service import collections as uc
from tagscope.service import label_jobs as lj


def _labels(i: int, boxes: int) -> tuple[Label, ...]:
    out = []
    for k in range(boxes):
        x = 50.0 * k
        out.append(Label(LabelKind.BOX, "car", geometry={"bbox": [x, 0.0, 40.0, 30.0]}))
        if k == i % boxes:
            continue  # dropped: an expert box without prelabel
        shift = 4.0 if k % 3 == 0 else 0.0
        name = "truck" if k % 7 == 0 else "car"
        out.append(
            Label(
                LabelKind.BOX, name, LabelSource.PRELABEL, geometry={"bbox": [x + shift, 0, 40, 30]}
            )
        )
    extra = {"bbox": [0.0, 500.0, 10.0, 10.0]}  # far from every box: deleted
    out.append(Label(LabelKind.BOX, "car", LabelSource.PRELABEL, geometry=extra))
    return tuple(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=10_000)
    parser.add_argument("--boxes", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, _, ids = synthetic_dataset(
            Path(tmp), args.n_items, labels=lambda i: _labels(i, args.boxes)
        )
        uc.create_collection(ws, "bench", "all", item_ids=ids)
        result: dict[str, Any] = {}
        create_s, create_mib = measured(lambda: lj.create_manual_job(ws, "bench", "j", "all"))

        def submit() -> None:
            result["job"] = lj.submit_job(ws, "bench", "j")

        submit_s, submit_mib = measured(submit)
        changes = result["job"].changes
        print(
            json.dumps(
                {
                    "bench": "label_job_submit",
                    "n_items": args.n_items,
                    "n_expert_boxes": args.n_items * args.boxes,
                    "n_label_changes": sum(changes.values()),
                    "changes": changes,
                    "create_job_s": create_s,
                    "create_peak_rss_growth_mib": create_mib,
                    "submit_s": submit_s,
                    "submit_peak_rss_growth_mib": submit_mib,
                    "peak_rss_mib": round(peak_mib(), 1),
                    **cpu_info(),
                }
            )
        )


if __name__ == "__main__":
    main()
