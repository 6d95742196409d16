"""What filtering the SQL views by the session's datasets (F-90) costs: the same queries over the
views as they were (no filter) and as they are (filtered on the session's variables), for the
owner (every dataset) and for a session that reads one of the ``--datasets`` datasets.

A DuckDB database like the engine's: ``--n-items`` items in ``_tagscope.items`` spread over the
datasets, and one tag group's visual scores (``--n-tags`` tags) of every item, one Parquet
version per dataset written by ``ScoreTables``. The views are built with the engine's own SQL
(``store.sql``'s row condition and score select); "before" is the same without the condition.
Timed (median and best of ``--repeats``, the three in turn):

- ``scores_group_by``: ``SELECT tag, count(*), avg(score), count_if(decision) FROM dt
  WHERE score > 0.5 GROUP BY tag``;
- ``items_group_by``: ``SELECT dataset_id, split, count(*), avg(width) FROM items GROUP BY ALL``;
- ``join``: the scores of one tag joined with the items, grouped by split;
- ``session_setup``: opening a session's connection and setting its variable (µs).

Prints ONE JSON line.

    python bench/bench_sql_access.py [--n-items 1000000] [--n-tags 4] [--datasets 10]
        [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from _machine import cpu_info
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import _readable, _restrict, _score_select, sql_string

QUERIES = {
    "scores_group_by": "SELECT tag, count(*), avg(score), count_if(decision) FROM {dt} "
    "WHERE score > 0.5 GROUP BY tag",
    "items_group_by": "SELECT dataset_id, split, count(*), avg(width) FROM {items} GROUP BY ALL",
    "join": "SELECT i.split, count(*), avg(s.score) FROM {dt} s JOIN {items} i "
    "ON i.id = s.item_id WHERE s.tag = 'tag_0' GROUP BY ALL",
}


def build(
    root: Path, n_items: int, n_tags: int, n_datasets: int, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
    con.execute("CREATE SCHEMA _tagscope")
    per = n_items // n_datasets
    con.execute(
        "CREATE TABLE _tagscope.items AS SELECT i + 1 AS id, i // ? + 1 AS dataset_id, "
        "'/bench/' || i || '.jpg' AS path, 16 + i % 977 AS width, "
        "CASE WHEN i % 5 = 0 THEN 'validation' ELSE 'train' END AS split FROM range(?) r(i)",
        [per, per * n_datasets],
    )
    scores = ScoreTables(root / "scores")
    tags = [f"tag_{t}" for t in range(n_tags)]
    rng = np.random.default_rng(0)
    for d in range(n_datasets):
        ids = np.arange(d * per + 1, (d + 1) * per + 1, dtype=np.int64)
        scores.write(d + 1, "bench", 1, "visual", ids, tags, rng.random((per, n_tags), "float32"))
    versions = [v for v in scores.scored() if v.group == "bench"]
    files = ", ".join(sql_string(str(p.resolve())) for v in versions for p in v.files)
    items = "SELECT id, dataset_id, path, width, split FROM _tagscope.items"
    con.execute(f"CREATE VIEW items_before AS {items}")
    con.execute(f"CREATE VIEW items_after AS {items} WHERE {_readable('dataset_id')}")
    con.execute(
        "CREATE VIEW dt_before AS SELECT item_id, tag, score, decision, threshold, version "
        f"FROM read_parquet([{files}])"
    )
    con.execute(f"CREATE VIEW dt_after AS {_score_select(versions, {})}")
    return con


def timed(runs: dict[str, tuple[duckdb.DuckDBPyConnection, str]], repeats: int) -> dict:
    """Median and best ms of each (connection, query), run in turn (the machine's load, which
    varies, weighs on every one alike)."""
    times: dict[str, list[float]] = {who: [] for who in runs}
    for con, sql in runs.values():
        con.execute(sql).fetchall()  # warm
    for _ in range(repeats):
        for who, (con, sql) in runs.items():
            start = time.perf_counter()
            con.execute(sql).fetchall()
            times[who].append((time.perf_counter() - start) * 1000)
    return {
        f"{who}_{stat}": round(f(t), 2)
        for who, t in times.items()
        for stat, f in (("median_ms", statistics.median), ("best_ms", min))
    }


def session_us(con: duckdb.DuckDBPyConnection, repeats: int = 200) -> dict[str, float]:
    """Median µs of opening a session's connection and setting its variable, and without."""
    times: dict[str, list[float]] = {"bare": [], "owner": [], "one_dataset": []}
    shown = {"bare": False, "owner": None, "one_dataset": frozenset({1})}
    for _ in range(repeats):
        for who, datasets in shown.items():
            start = time.perf_counter()
            cur = con.cursor()
            if datasets is not False:
                _restrict(cur, datasets)
            cur.close()
            times[who].append((time.perf_counter() - start) * 1e6)
    return {f"{who}_us": round(statistics.median(t), 1) for who, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=1_000_000)
    parser.add_argument("--n-tags", type=int, default=4)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: one a core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        con = build(Path(tmp), args.n_items, args.n_tags, args.datasets, args.threads)
        sessions = {"before": con.cursor(), "owner": con.cursor(), "one_dataset": con.cursor()}
        _restrict(sessions["owner"], None)
        _restrict(sessions["one_dataset"], frozenset({1}))
        figures = {}
        for name, query in QUERIES.items():
            runs = {}
            for who, cur in sessions.items():
                when = "before" if who == "before" else "after"
                runs[who] = (cur, query.format(dt=f"dt_{when}", items=f"items_{when}"))
            figures[name] = timed(runs, args.repeats)
        setup = session_us(con)
        # Rows of the filtered items each connection sees ("before": no variable set).
        rows = {
            who: cur.execute("SELECT count(*) FROM items_after").fetchall()[0][0]
            for who, cur in sessions.items()
        }
    print(
        json.dumps(
            {
                "bench": "sql_access",
                "n_items": args.n_items,
                "n_tags": args.n_tags,
                "datasets": args.datasets,
                "threads": args.threads,
                "score_rows": args.n_items * args.n_tags,
                "items_seen": rows,
                "figures": figures,
                "session_setup": setup,
                "duckdb": duckdb.__version__,
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
