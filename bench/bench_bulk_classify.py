"""Bulk classify at scale: ``--n-items`` items, each with a classification, classified again
(``overwrite``) through a static collection of all of them, then undone.

A fresh SQLite workspace gets ``--n-items`` items (no files), each with a ground-truth
classification ``cat`` or ``dog`` (a score and attributes on some, so that undo must put back
more than a name). Timed, with the peak RSS growth of each: the bulk classify and its undo. The
labels after the undo must equal those before, bit for bit. Prints ONE JSON line.

    python bench/bench_bulk_classify.py [--n-items 100000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from _catalog import measured, peak_mib, synthetic_dataset
from _machine import cpu_info
from tagscope.domain import Label, LabelKind
from tagscope.service import collections as uc
from tagscope.service import history
from tagscope.service.bulk import bulk_classify
from tagscope.store.label_states import LabelStates


def _label(i: int) -> Label:
    extra = {"score": 0.5 + i % 7 / 16, "attributes": {"n": i}} if i % 3 == 0 else {}
    return Label(LabelKind.CLASSIFICATION, "cat" if i % 2 else "dog", is_main=True, **extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=100_000)
    n = parser.parse_args().n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws, ds, ids = synthetic_dataset(Path(tmp), n, labels=lambda i: (_label(i),))
        uc.create_collection(ws, "bench", "all", item_ids=ids)
        before = LabelStates(ws.catalog).states(ds.id, ids)
        result: dict[str, Any] = {}

        def classify() -> None:
            result["r"] = bulk_classify(ws, "bench", collection="all", label="bird", overwrite=True)

        classify_s, classify_mib = measured(classify)
        change_set = result["r"].change_set
        undo_s, undo_mib = measured(lambda: history.undo(ws, "bench", change_set))
        after = LabelStates(ws.catalog).states(ds.id, ids)
        print(
            json.dumps(
                {
                    "bench": "bulk_classify",
                    "n_items": n,
                    "n_changed": result["r"].n_changed,
                    "classify_s": classify_s,
                    "classify_peak_rss_growth_mib": classify_mib,
                    "undo_s": undo_s,
                    "undo_peak_rss_growth_mib": undo_mib,
                    "peak_rss_mib": round(peak_mib(), 1),
                    "labels_restored_exactly": after == before,
                    **cpu_info(),
                }
            )
        )


if __name__ == "__main__":
    main()
