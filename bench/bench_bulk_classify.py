"""Bulk classify at scale: ``--n-items`` items, each with a classification, classified again
(``overwrite``) through a static collection of all of them, then undone.

A fresh SQLite workspace gets ``--n-items`` items (no files), each with a ground-truth
classification ``cat`` or ``dog`` (a score and attributes on some, so that undo must put back
more than a name). Timed, with the peak RSS growth of each: the bulk classify and its undo. The
labels after the undo must equal those before, bit for bit. ``--editor`` runs it as an
editor (not the workspace's owner), who may not change items whose review is complete: the
first ``--complete`` items are made so first (a manual job submitted and accepted), and
skipped. Prints ONE JSON line.

    python bench/bench_bulk_classify.py [--n-items 100000] [--editor --complete 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

from _catalog import measured, peak_mib, synthetic_dataset
from _machine import cpu_info
from tagscope.domain import Label, LabelKind
from tagscope.domain.access import Identity, Role
from tagscope.service import collections as uc
from tagscope.service import history, label_jobs, review
from tagscope.service.bulk import bulk_classify
from tagscope.store.label_states import LabelStates


def _label(i: int) -> Label:
    extra = {"score": 0.5 + i % 7 / 16, "attributes": {"n": i}} if i % 3 == 0 else {}
    return Label(LabelKind.CLASSIFICATION, "cat" if i % 2 else "dog", is_main=True, **extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--editor", action="store_true", help="run as an editor, not the owner")
    parser.add_argument("--complete", type=int, default=0, help="items whose review is complete")
    args = parser.parse_args()
    n = args.n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws, ds, ids = synthetic_dataset(Path(tmp), n, labels=lambda i: (_label(i),))
        uc.create_collection(ws, "bench", "all", item_ids=ids)
        if args.complete:
            uc.create_collection(ws, "bench", "reviewed", item_ids=ids[: args.complete])
            label_jobs.create_manual_job(ws, "bench", "reviewed", "reviewed")
            label_jobs.submit_job(ws, "bench", "reviewed")
            review.decide(ws, "bench", "reviewed", "accepted")
        actor = ws
        if args.editor:
            roles = MappingProxyType({ds.id: Role.EDITOR})
            actor = ws.acting_as(Identity("ed", role=None, dataset_roles=roles, user_id=2))
        before = LabelStates(ws.catalog).states(ds.id, ids)
        result: dict[str, Any] = {}

        def classify() -> None:
            result["r"] = bulk_classify(
                actor, "bench", collection="all", label="bird", overwrite=True
            )

        classify_s, classify_mib = measured(classify)
        change_set = result["r"].change_set
        undo_s, undo_mib = measured(lambda: history.undo(ws, "bench", change_set))
        after = LabelStates(ws.catalog).states(ds.id, ids)
        print(
            json.dumps(
                {
                    "bench": "bulk_classify",
                    "n_items": n,
                    "as": "editor" if args.editor else "owner",
                    "n_complete": args.complete,
                    "n_changed": result["r"].n_changed,
                    "skipped": result["r"].skipped,
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
