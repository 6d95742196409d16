"""SQL over score tables: a group-by with a filter over 10,000,000 score rows (10 tags x 1,000,000
items), through the sandboxed session (statement check, row limit, time limit). Goal: < 1 s.

Builds (or reuses) a workspace with a catalog of ``--catalog-items`` items (1-2 labels each, via
``Catalog.add_items``) and one tag group's score version of ``--n-items`` x ``--n-tags`` scores,
written in parts by ``ScoreWriter`` (ids 1..n, so the first items join the catalog). Then times:

- ``setup``: a new ``SqlEngine`` and its first session (copying the catalog into DuckDB, views),
  the same for the next process, which starts from the snapshot the first one saved,
  and a second session (nothing changed: state look-ups only);
- ``group_by``: ``SELECT tag, count(*), avg(score), count_if(decision) FROM dt_bench_visual
  WHERE score > 0.5 GROUP BY tag`` (the goal);
- ``join``: the same scores joined with ``items`` and grouped by split;
- ``grid_filter``: ``filter_items`` with ``width > 16 AND tags_bench.tag_3 > 0.9``, a page of 100.

Prints ONE JSON line (median and best of ``--repeats`` runs).

    python bench/bench_sql.py [--n-items 1000000] [--n-tags 10] [--catalog-items 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.store import Catalog, WorkspacePaths
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import SqlEngine

DATASET = "sql-bench"
GROUP = "bench"
PART = 100_000


def build_catalog(catalog: Catalog, n_items: int) -> int:
    existing = {d.name: d for d in catalog.list_datasets()}
    if DATASET in existing and existing[DATASET].n_items >= n_items:
        return existing[DATASET].id
    ds = existing.get(DATASET) or catalog.create_dataset(DATASET, "sql benchmark")
    rng = np.random.default_rng(0)
    classes = ["cat", "dog", "car", "tree", "person"]
    for lo in range(0, n_items, 5000):
        batch = [
            NewItem(
                f"/bench/img-{i:07d}.jpg",
                MediaInfo(1000 + i % 977, 16 + i % 32, 24, "jpeg", f"{i:064x}"),
                split="train" if i % 5 else "validation",
                metadata={"series_name": f"series {i % 7}", "episode": i % 40},
                labels=tuple(
                    Label(LabelKind.CLASSIFICATION, str(name), is_main=j == 0)
                    for j, name in enumerate(rng.choice(classes, 1 + i % 2, replace=False))
                ),
            )
            for i in range(lo, min(lo + 5000, n_items))
        ]
        catalog.add_items(ds.id, batch)
    return ds.id


def build_scores(scores: ScoreTables, dataset_id: int, n_items: int, n_tags: int) -> float:
    """Write version 1 (skipped when there); return the seconds it took."""
    if scores.latest(dataset_id, GROUP) is not None:
        return 0.0
    tags = [f"tag {t}" for t in range(n_tags)]
    n_parts = (n_items + PART - 1) // PART
    t0 = time.perf_counter()
    writer = scores.writer(dataset_id, GROUP, 1, "visual", tags=tags, n_parts=n_parts)
    rng = np.random.default_rng(1)
    for part in writer.missing_parts():
        ids = np.arange(part * PART, min((part + 1) * PART, n_items)) + 1
        writer.write_part(part, ids, rng.random((len(ids), n_tags), dtype=np.float32))
    writer.finalize()
    return time.perf_counter() - t0


def timed(fn: Callable[[], object], repeats: int) -> tuple[dict[str, float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    stats = {
        "median_s": round(statistics.median(times), 3),
        "best_s": round(min(times), 3),
        "runs": repeats,
    }
    return stats, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=1_000_000)
    parser.add_argument("--n-tags", type=int, default=10)
    parser.add_argument("--catalog-items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None, help="reused when given")
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="tagscope-bench-sql-"))
    paths = WorkspacePaths.resolve(root)
    paths.create()
    catalog = Catalog.connect(paths.database_url)
    scores = ScoreTables(paths.scores)

    t0 = time.perf_counter()
    dataset_id = build_catalog(catalog, args.catalog_items)
    catalog_s = time.perf_counter() - t0
    write_s = build_scores(scores, dataset_id, args.n_items, args.n_tags)

    snapshot = paths.cache / "bench-sql-catalog.duckdb"
    snapshot.unlink(missing_ok=True)
    t0 = time.perf_counter()
    engine = SqlEngine(catalog, scores, timeout_s=60, snapshot=snapshot)
    session = engine.session()
    first_session_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    SqlEngine(catalog, scores, snapshot=snapshot).session().close()
    from_snapshot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.session().close()
    next_session_s = time.perf_counter() - t0

    group_by_sql = (
        "SELECT tag, count(*) AS n, avg(score) AS mean, count_if(decision) AS positives "
        "FROM dt_bench_visual WHERE score > 0.5 GROUP BY tag ORDER BY tag"
    )
    join_sql = (
        "SELECT i.split, s.tag, count(*) AS n, avg(s.score) AS mean "
        "FROM dt_bench_visual s JOIN items i ON i.id = s.item_id "
        "WHERE s.score > 0.5 GROUP BY ALL ORDER BY 1, 2"
    )
    n_rows = session.execute("SELECT count(*) FROM dt_bench_visual").rows[0][0]
    group_by, result = timed(lambda: session.execute(group_by_sql), args.repeats)
    assert result.n_rows == args.n_tags and not result.truncated, result
    join, _ = timed(lambda: session.execute(join_sql), args.repeats)
    grid, page = timed(
        lambda: session.filter_items(DATASET, "width > 16 AND tags_bench.tag_3 > 0.9", limit=100),
        args.repeats,
    )
    session.close()
    engine.close()
    print(
        json.dumps(
            {
                "bench": "sql",
                "score_rows": n_rows,
                "n_items_scored": args.n_items,
                "n_tags": args.n_tags,
                "catalog_items": args.catalog_items,
                "cpus": os.cpu_count(),
                "build_catalog_s": round(catalog_s, 1),
                "write_scores_s": round(write_s, 2),
                "setup": {
                    "first_session_s": round(first_session_s, 3),
                    "first_session_from_snapshot_s": round(from_snapshot_s, 3),
                    "next_session_s": round(next_session_s, 4),
                },
                "group_by": group_by,
                "join_items": join,
                "grid_filter": {**grid, "total": page.total},
                "goal_s": 1.0,
                "pass": group_by["median_s"] < 1.0,
            }
        )
    )


if __name__ == "__main__":
    main()
