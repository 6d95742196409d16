"""The SQL engine's limits against the queries of issue 8, each in a fresh process: how much memory
the process reached (peak RSS) and how long it took until the query was stopped.

- ``list``: ``SELECT list(range) FROM range(300000000)`` (grew past 14 GB before the limits);
- ``strings``: ``string_agg`` of 100,000 strings of 100 KB (a 10 GB string);
- ``one_value``: one string of 1 GB, built by one call (a limit no interrupt can reach: the
  known gap, reported, not a goal);
- ``stream``: a result that streams for ever, stopped at the 1 s time limit while fetching;
- ``wide``: a SELECT of 20,000 columns (refused on its parse tree).

Goal: every query but ``one_value`` stopped with its limit's error, peak memory near
``--memory-limit`` (1GB by default: small enough for a shared machine), and ``stream`` stopped
within 0.25 s of its limit.

Prints ONE JSON line.

    python bench/bench_sql_limits.py [--memory-limit 1GB]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import cpu_info

QUERIES = {
    "list": ("SELECT list(range) FROM range(300000000)", {}),
    "strings": (
        "SELECT length(string_agg(repeat('x', 100000), '')) FROM range(100000)",
        {},
    ),
    "one_value": ("SELECT length(repeat('x', 1000000000))", {}),
    "stream": (
        "SELECT range % 2 = 0 AS even FROM range(1000000000000)",
        {"max_rows": 10**12, "max_bytes": 10**12, "timeout_s": 1.0},
    ),
    "wide": (
        "SELECT " + ", ".join(f"range + {i} AS c{i}" for i in range(20000)) + " FROM range(9)",
        {},
    ),
}


def run_one(name: str, memory_limit: str) -> dict[str, object]:
    """In this process: run query ``name`` on an empty workspace's engine."""
    from tagscope.domain import SqlError
    from tagscope.store import Catalog
    from tagscope.store.scores import ScoreTables
    from tagscope.store.sql import SqlEngine

    root = Path(tempfile.mkdtemp(prefix="bench-sql-limits-"))
    engine = SqlEngine(
        Catalog.connect(f"sqlite:///{root / 'catalog.db'}"),
        ScoreTables(root / "scores"),
        memory_limit=memory_limit,
        timeout_s=30,
    )
    sql, options = QUERIES[name]
    with engine.session() as session:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            session.execute(sql, **options)
            outcome = "ran to the end"
        except SqlError as exc:
            outcome = str(exc).split(":")[0]
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "stopped_by": outcome,
        "s": round(seconds, 3),
        "peak_rss_mb": round(peak / 1024),
        "rss_before_mb": round(base / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.memory_limit)))
        return
    results = {}
    for name in QUERIES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", name, "--memory-limit", args.memory_limit],
            capture_output=True,
            text=True,
            check=True,
        )
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        json.dumps(
            {"bench": "sql_limits", "memory_limit": args.memory_limit, **results, **cpu_info()}
        )
    )


if __name__ == "__main__":
    main()
