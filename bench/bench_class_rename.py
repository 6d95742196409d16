"""Renaming a class at scale: ``--n-items`` items, half of them labelled ``cat`` (a
classification and a box each), the class renamed (every label of it, one change-set) and the
rename undone.

Timed, with the peak RSS growth of each: the rename and its undo. The labels after the undo must
equal those before, bit for bit. Prints ONE JSON line.

    python bench/bench_class_rename.py [--n-items 100000]
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
from tagscope.service import history
from tagscope.service.ontology import update_class
from tagscope.store.label_states import LabelStates


def _labels(i: int) -> tuple[Label, ...]:
    name = "cat" if i % 2 else "dog"
    box = Label(LabelKind.BOX, name, geometry={"bbox": [i % 50, 1, 10, 20]})
    return (Label(LabelKind.CLASSIFICATION, name, is_main=True), box)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=100_000)
    n = parser.parse_args().n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws, ds, ids = synthetic_dataset(Path(tmp), n, labels=_labels)
        every_label = LabelStates(ws.catalog, kinds=None)
        before = every_label.states(ds.id, ids)
        result: dict[str, Any] = {}

        def rename() -> None:
            result["edit"] = update_class(ws, "bench", "cat", new_name="feline")

        rename_s, rename_mib = measured(rename)
        edit = result["edit"]
        undo_s, undo_mib = measured(lambda: history.undo(ws, "bench", edit.change_set))
        after = every_label.states(ds.id, ids)
        print(
            json.dumps(
                {
                    "bench": "class_rename",
                    "n_items": n,
                    "n_labels_renamed": edit.ontology_class.n_labels,
                    "rename_s": rename_s,
                    "rename_peak_rss_growth_mib": rename_mib,
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
