"""A 10,000,000-item workspace on one machine: create it, score 20 tags, SQL, grid, search.

Every step goes through the paths a user's workspace uses and runs in a child process of its own,
so each reports its own time and peak memory: ``peak_rss_mib`` (the kernel's high-water mark of
the resident set, ``ru_maxrss``) and ``peak_anon_mib`` (the largest anonymous resident memory
sampled every 20 ms from /proc: what cannot be dropped; the rest of the RSS is pages of
memory-mapped files, which the kernel reclaims when it needs them).

- ``items``: the catalog's bulk insert (``Catalog.add_items``, batches of 10,000) of synthetic
  items: each item's path, size, dimensions, format and content hash, but no media file and no
  thumbnail (a grid page carries thumbnail URLs, not their bytes);
- ``vectors``: 512-d clustered unit vectors (a mixture of Gaussians around 1,000 centres, as
  bench/_vectors.py makes them) appended to the space's ``VectorStore`` in batches, then
  ``load()`` (compaction into ``vectors.npy``, float16: 10 GB at 10M);
- ``score``: a tag group of 20 tags (fitted weights given, each pointing at a cluster) published
  through ``tag_scoring.publish_group``: the ``score_tags`` job writing 200M score rows;
- ``sql``: a group-by over the 200M score rows through ``run_sql`` (first run, then warm);
- ``grid``: ``browse.list_items`` pages of 100 with a tag filter matching 20% of the items
  (scrolling by cursor, and the filter's first page again and again), p50/p95; and first pages
  sorted by the tag's score (every item, and the filter's);
- ``index``: the ANN index build (``open_index``, cached beside the vectors);
- ``search``: ``search.search_similar`` by item (top-10) from a cold start (the vectors file
  out of the page cache, as after a restart): the first query (it loads the index), the queries
  while the index's vectors are read back into the page cache, then p50/p95 once they are;
  recall@10 against exact search (``FlatIndex``) over the same rows; exact single-query latency.

Prints ONE JSON line (the CPU included). Goals: no step out of memory, peak RSS of each <= 8 GB,
grid p95 < 150 ms, SQL group-by < 5 s, one ANN query < 20 ms at recall@10 >= 0.95.

    python bench/bench_10m.py [--n-items 10000000] [--root /tmp/bench10m] [--steps ...] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from _machine import cpu_info
from _stats import latency
from _vectors import clustered_batches, unit_centres

DATASET, SPACE, GROUP = "bench10m", "clip", "bench"
DIM, N_TAGS, N_CLUSTERS, NOISE = 512, 20, 1000, 0.8
BATCH = 10_000
VECTOR_BATCH = 100_000
STEPS = ("items", "vectors", "score", "sql", "index", "search", "grid")
GOAL_RSS_MIB = 8 * 1024


def _centres(seed: int = 0) -> np.ndarray:
    return unit_centres(N_CLUSTERS, DIM, np.random.default_rng(seed))


def _workspace(root: Path):
    from tagscope.service import Workspace

    return Workspace.open(root / "ws")


def _content_hash(i: int) -> str:
    """A SHA-256 hex digest, as an imported file's (random-looking: stores as real ones do)."""
    return hashlib.sha256(i.to_bytes(8, "little")).hexdigest()


# -- steps (each in a child process) ---------------------------------------------------------
def step_items(root: Path, n: int) -> dict:
    from tagscope.domain import MediaInfo, NewItem

    if (root / "ws").exists():
        shutil.rmtree(root / "ws")
    ws = _workspace(root)
    ds = ws.catalog.create_dataset(DATASET, "10M benchmark")
    for start in range(0, n, BATCH):
        ws.catalog.add_items(
            ds.id,
            [
                NewItem(
                    f"/bench/{i // 10_000:04d}/{i:08d}.jpg",
                    MediaInfo(20_000 + i % 5000, 640, 480, "JPEG", _content_hash(i)),
                    split="train" if i % 5 else "validation",
                )
                for i in range(start, min(start + BATCH, n))
            ],
        )
    return {"n_items": ws.catalog.count_items(ds.id)}


def step_vectors(root: Path, n: int) -> dict:
    ws = _workspace(root)
    ds = ws.dataset(DATASET)
    ws.catalog.ensure_space(ds.id, SPACE, "clip", "bench-synthetic", DIM)
    store = ws.vectors(ds, SPACE)
    ids = np.asarray(ws.catalog.item_ids(ds.id), np.int64)
    centres, rng = _centres(), np.random.default_rng(1)
    t0 = time.perf_counter()
    start = 0
    for x in clustered_batches(centres, len(ids), rng, noise=NOISE, step=VECTOR_BATCH):
        store.append(ids[start : start + len(x)], x)
        start += len(x)
    append_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    got_ids, vectors = store.load()  # compacts the chunks into vectors.npy
    return {
        "append_s": round(append_s, 1),
        "compact_s": round(time.perf_counter() - t0, 1),
        "shape": list(vectors.shape),
        "dtype": str(vectors.dtype),
        "gb_on_disk": round(vectors.nbytes / 1e9, 2),
        "ids_match": bool(np.array_equal(got_ids, ids)),
    }


def step_score(root: Path, n: int) -> dict:
    from tagscope.domain.tags import Tag, Visibility
    from tagscope.service import tag_scoring
    from tagscope.store.tag_catalog import TagCatalog

    ws = _workspace(root)
    ds = ws.dataset(DATASET)
    tc = TagCatalog(ws.catalog)
    names = [f"t{i:02d}" for i in range(N_TAGS)]
    grp = tc.create_group(
        ds.id, GROUP, space=SPACE, visibility=Visibility.SECRET, tags=[Tag(t) for t in names]
    )
    # Fitted weights as a logistic head would give: each tag points at one cluster.
    centres = _centres()
    models = {
        t: {"visual": {"coef": (8.0 * centres[i]).tolist(), "intercept": -2.0}}
        for i, t in enumerate(names)
    }
    tc.commit_version(grp.id, models)
    job = tag_scoring.publish_group(ws, DATASET, GROUP)
    return {"job": str(job.status), "n_tags": N_TAGS, "result": job.result}


GROUP_BY = (
    "SELECT tag, count(*) AS n, avg(score) AS mean_score, "
    "sum(CASE WHEN decision THEN 1 ELSE 0 END) AS n_positive "
    f"FROM dt_{GROUP}_visual GROUP BY tag ORDER BY tag"
)


def step_sql(root: Path, n: int) -> dict:
    from tagscope.service.sql import run_sql

    ws = _workspace(root)
    times, result = [], None
    for _ in range(4):
        t0 = time.perf_counter()
        result = run_sql(ws, GROUP_BY, timeout_s=300)
        times.append(time.perf_counter() - t0)
    rows = result.rows if result is not None else []
    return {
        "sql": GROUP_BY,
        "first_s": round(times[0], 2),
        "warm_s": round(min(times[1:]), 2),
        "n_groups": len(rows),
        "n_score_rows": int(sum(r[1] for r in rows)),
    }


def _tag_filter(ws) -> tuple[str, float]:
    """A filter on tag t00 matching the top 20% of the items (its 80th percentile score)."""
    from tagscope.service.sql import run_sql

    q = run_sql(
        ws, f"SELECT quantile_disc(score, 0.8) FROM dt_{GROUP}_visual WHERE tag = 't00'"
    ).rows[0][0]
    return f"tags_{GROUP}.t00 >= {float(q)!r}", float(q)


def step_grid(root: Path, n: int, n_pages: int = 100) -> dict:
    from tagscope.service import browse

    ws = _workspace(root)
    where, _ = _tag_filter(ws)

    def timed(**params: object):
        t0 = time.perf_counter()
        page = browse.list_items(ws, DATASET, limit=100, **params)
        return time.perf_counter() - t0, page

    cold, page = timed(where=where)
    n_matching = page.total
    scroll, cursor = [], None
    while len(scroll) < n_pages:
        t, page = timed(where=where, **({"cursor": cursor} if cursor else {}))
        scroll.append(t)
        cursor = page.next_cursor
    first = [timed(where=where)[0] for _ in range(max(10, n_pages // 5))]
    by_score = {"sort": f"tags_{GROUP}.t00", "descending": True}
    sorted_first = [timed(**by_score)[0] for _ in range(max(10, n_pages // 5))]
    sorted_filtered = [timed(where=where, **by_score)[0] for _ in range(max(10, n_pages // 5))]
    plain, cursor = [], None
    while len(plain) < n_pages:
        t, page = timed(**({"cursor": cursor} if cursor else {}))
        plain.append(t)
        cursor = page.next_cursor
    return {
        "where": where,
        "n_matching": n_matching,
        "cold_first_page_ms": round(cold * 1000, 1),
        "tag_filter_scroll": latency(scroll),
        "tag_filter_first_page": latency(first),
        "tag_sort_first_page": latency(sorted_first),
        "tag_filter_and_sort_first_page": latency(sorted_filtered),
        "unfiltered_scroll": latency(plain),
    }


def step_index(root: Path, n: int) -> dict:
    from tagscope.index.select import open_index

    ws = _workspace(root)
    store = ws.vectors(ws.dataset(DATASET), SPACE)
    _, vectors = store.load()
    for old in store.folder.glob("ivf-*.faiss"):
        old.unlink()
    index = open_index(vectors, cache_dir=store.folder)
    inner = getattr(index, "index", None)
    return {
        "backend": type(index).__name__,
        "nlist": getattr(inner, "nlist", None),
        "nprobe": getattr(index, "nprobe", None),
        "code_bytes": getattr(inner, "code_size", None),
        "reranks": getattr(index, "reranks", False),
        "file_mib": sum(p.stat().st_size for p in store.folder.glob("ivf-*.faiss")) >> 20,
    }


def step_search(root: Path, n: int, n_queries: int = 100) -> dict:
    from tagscope._mapped import cached_share
    from tagscope.index.flat import FlatIndex
    from tagscope.index.select import open_index
    from tagscope.service.search import search_similar

    ws = _workspace(root)
    store = ws.vectors(ws.dataset(DATASET), SPACE)
    ids, vectors = store.load()
    # As after a restart: the vectors file out of the page cache (only this file's pages).
    fd = os.open(vectors.filename, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    cold_share = cached_share(vectors)
    rng = np.random.default_rng(2)
    rows = np.sort(rng.choice(len(ids), n_queries, replace=False))
    t0 = time.perf_counter()
    search_similar(ws, DATASET, item_id=int(ids[rows[0]]), space=SPACE, k=10)  # loads the index
    first_s = time.perf_counter() - t0
    # Queries while the vectors are read back into the page cache, then once they are.
    warming = open_index(vectors, cache_dir=store.folder).warming
    others = iter(np.random.default_rng(4).choice(len(ids), 10_000, replace=False))
    while_warming = []
    while warming is not None and warming.is_alive() and len(while_warming) < 10_000:
        t1 = time.perf_counter()
        search_similar(ws, DATASET, item_id=int(ids[next(others)]), space=SPACE, k=10)
        while_warming.append(time.perf_counter() - t1)
    if warming is not None:
        warming.join()
    warm_s = time.perf_counter() - t0
    lat, got = [], []
    for r in rows:
        t0 = time.perf_counter()
        hits = search_similar(ws, DATASET, item_id=int(ids[r]), space=SPACE, k=10)
        lat.append(time.perf_counter() - t0)
        got.append({h.item_id for h in hits})
    # The index alone, as the service asks it (one more hit than k, the query's own item
    # dropped after), for other items: the rows re-ranked above are in the page cache now.
    index, alone = open_index(vectors, cache_dir=store.folder), []
    for r in np.sort(np.random.default_rng(3).choice(len(ids), n_queries, replace=False)):
        t0 = time.perf_counter()
        index.search(np.asarray(vectors[r], np.float32), 11)
        alone.append(time.perf_counter() - t0)
    # Exact answers over the same rows (the query item left out), one pass for all queries.
    flat = FlatIndex(vectors)
    q = np.asarray(vectors[rows], np.float32)
    t0 = time.perf_counter()
    _, exact_rows = flat.search(q, 11)
    exact_batch_s = time.perf_counter() - t0
    want = [{int(ids[x]) for x in er[er != r][:10]} for er, r in zip(exact_rows, rows, strict=True)]
    recall = float(np.mean([len(g & w) / 10 for g, w in zip(got, want, strict=True)]))
    exact = []
    for r in rows[:3]:
        t0 = time.perf_counter()
        flat.search(np.asarray(vectors[r], np.float32), 10)
        exact.append(time.perf_counter() - t0)
    return {
        "vectors_cached_at_start": cold_share,
        "first_query_s": round(first_s, 2),
        "vectors_in_page_cache_after_s": round(warm_s, 1),
        "ann_while_warming": latency(while_warming) if while_warming else None,
        "ann_search_similar": latency(lat),
        "ann_index_one_query": latency(alone),
        "recall_at_10": round(recall, 4),
        "exact_one_query": latency(exact),
        "exact_batch_of_queries_s": round(exact_batch_s, 2),
        "n_queries": n_queries,
    }


# -- measuring a child ------------------------------------------------------------------------
def _anon_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def run_child(step: str, root: Path, n: int) -> None:
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _anon_kib())

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    out = globals()[f"step_{step}"](root, n)
    seconds = time.perf_counter() - t0
    done.set()
    peak[0] = max(peak[0], _anon_kib())
    out.update(
        seconds=round(seconds, 2),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        peak_anon_mib=round(peak[0] / 1024),
    )
    print(json.dumps(out, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=10_000_000)
    parser.add_argument("--root", type=Path, default=Path("/tmp/bench10m"))
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.root, args.n_items)
        return
    args.root.mkdir(parents=True, exist_ok=True)
    report: dict = {"bench": "10m_workspace", "n_items": args.n_items, **cpu_info()}
    for step in args.steps.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", step, "--root", str(args.root),
             "--n-items", str(args.n_items)],
            capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            report[step] = {"failed": proc.returncode, "stderr": proc.stderr[-2000:]}
            print(json.dumps(report), flush=True)
            sys.exit(1)
        report[step] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"# {step}: {json.dumps(report[step])}", file=sys.stderr, flush=True)
    steps = [v for k, v in report.items() if isinstance(v, dict) and "peak_rss_mib" in v]
    grid, search, sql = report.get("grid", {}), report.get("search", {}), report.get("sql", {})
    report["goals"] = {
        "peak_rss_le_8gb": all(s["peak_rss_mib"] <= GOAL_RSS_MIB for s in steps),
        "grid_p95_lt_150ms": grid.get("tag_filter_scroll", {}).get("p95_ms", 1e9) < 150
        and grid.get("tag_filter_first_page", {}).get("p95_ms", 1e9) < 150,
        "sql_group_by_lt_5s": sql.get("warm_s", 1e9) < 5,
        "ann_lt_20ms_at_recall_095": search.get("ann_search_similar", {}).get("p95_ms", 1e9) < 20
        and search.get("recall_at_10", 0) >= 0.95,
    }
    if not args.keep:
        shutil.rmtree(args.root / "ws", ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
