"""Review at scale: a submitted label job of ``--n-items`` items, two label changes each
(written straight into the catalog, as ``submit_job`` writes them).

Timed, with the peak RSS growth of each: the summary (class-changed table), a page of a cell,
accepting the whole pending tab (one change-set over every item), its undo, rejecting a cell,
saving a result set, and the first SQL query of its view ``rs_<name>`` (the copy fetched). The
statuses after the undo must equal those before. Prints ONE JSON line.

    python bench/bench_review.py [--n-items 50000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from _catalog import measured, peak_mib, synthetic_dataset
from _machine import cpu_info
from tagscope.service import history, result_sets, review
from tagscope.service.sql import run_sql
from tagscope.store.label_schema import LabelChangeRow, LabelJobRow

_CLASSES = ("cat", "dog", "bird", "car")
_CHANGES = ("unchanged", "class_changed", "geometry_changed", "added", "deleted")


def _row(job_id: int, item_id: int, i: int) -> dict[str, Any]:
    change = _CHANGES[i % len(_CHANGES)]
    cls = _CLASSES[i % len(_CLASSES)]
    box = {"kind": "box", "name": cls, "geometry": {"bbox": [0, 0, 10 + i % 9, 10]}}
    expert = None if change == "deleted" else {**box, "area": 10.0 * (10 + i % 9)}
    prelabel = None if change == "added" else {**box, "area": 100.0}
    return {
        "job_id": job_id,
        "item_id": item_id,
        "change": change,
        "label_kind": "box",
        "expert_class": expert and cls,
        "prelabel_class": prelabel and cls,
        "expert_area": expert and expert["area"],
        "prelabel_area": prelabel and 100.0,
        "adjustment": expert["area"] / 100.0 if expert and prelabel else None,
        "status": "pending",
        "expert": expert,
        "prelabel": prelabel,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-items", type=int, default=50_000)
    n = parser.parse_args().n_items
    with tempfile.TemporaryDirectory() as tmp:
        ws, ds, ids = synthetic_dataset(Path(tmp), n)
        with ws.catalog.session() as s:
            job = LabelJobRow(
                dataset_id=ds.id, name="j", kind="manual", status="submitted", created_by="b"
            )
            s.add(job)
            s.flush()
            rows = [_row(job.id, item, 2 * k + h) for k, item in enumerate(ids) for h in (0, 1)]
            for i in range(0, len(rows), 5000):
                s.execute(insert(LabelChangeRow), rows[i : i + 5000])

        def statuses() -> list[str]:
            with ws.catalog.session() as s:
                c = LabelChangeRow
                return list(s.scalars(select(c.status).order_by(c.id)))

        out: dict[str, Any] = {}
        before = statuses()
        summary_s, _ = measured(lambda: review.summary(ws, "bench", "j"))
        page_s, _ = measured(
            lambda: review.changes(ws, "bench", "j", expert_class="cat", class_changed=False)
        )

        def accept_all() -> None:
            out["all"] = review.decide(ws, "bench", "j", "accepted", status="pending")

        accept_s, accept_mib = measured(accept_all)
        undo_s, undo_mib = measured(lambda: history.undo(ws, "bench", out["all"].change_set))
        restored = statuses() == before
        cell_s, _ = measured(
            lambda: review.decide(ws, "bench", "j", "rejected", expert_class="dog", change="added")
        )
        review.decide(ws, "bench", "j", "accepted", status="pending")
        save_s, _ = measured(lambda: result_sets.save_result_set(ws, "bench", "all_of_it", "j"))
        query = "SELECT decision, count(*) FROM rs_all_of_it GROUP BY ALL"
        sql_s, _ = measured(lambda: run_sql(ws, query))
        print(
            json.dumps(
                {
                    "bench": "review",
                    "n_items": n,
                    "n_changes": len(rows),
                    "summary_s": summary_s,
                    "cell_page_s": page_s,
                    "accept_all_s": accept_s,
                    "accept_all_peak_rss_growth_mib": accept_mib,
                    "undo_s": undo_s,
                    "undo_peak_rss_growth_mib": undo_mib,
                    "statuses_restored_exactly": restored,
                    "reject_cell_s": cell_s,
                    "save_result_set_s": save_s,
                    "first_rs_query_s": sql_s,
                    "peak_rss_mib": round(peak_mib(), 1),
                    **cpu_info(),
                }
            )
        )


if __name__ == "__main__":
    main()
