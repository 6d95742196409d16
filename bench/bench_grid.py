"""Grid endpoint latency on 100,000 items: p50/p95 of one page of 100, over real HTTP.

Builds (or reuses) a workspace with a dataset of ``--n-items`` items written straight into the
catalog: real tiny JPEG files (hard links to 64 distinct 32x32 images, so the disk holds 64 files)
with their true size, dimensions and content hash, 1-3 classification labels each, and one tag
group's score file for one tag. Then starts ``tagscope``'s app under uvicorn in a separate process
and times ``GET /api/datasets/<name>/items?limit=100`` from one keep-alive client:

- ``unfiltered``: infinite scroll from the top through ``next_cursor`` (what the web app does);
- ``unfiltered_offset``: random pages anywhere in the dataset by ``offset`` (not how the grid
  pages, reported on its own: SQLite steps over ``offset`` rows);
- ``tag_filter``: infinite scroll with a tag-score filter in ``where`` (F-42), as a histogram bar
  of the tag page opens it (``tags_bench.cat >= 0.8 AND tags_bench.cat <= 1.0``: 20% of items);
- ``tag_filter_first_page``: the first page of that filter alone, again and again (the page
  that runs the filter in the SQL engine; the pages after it slice the listing's snapshot).

Every page also carries each item's label chips and tag scores (read from the score file).

Prints ONE JSON line. Goal: p95 < 150 ms for each.

    python bench/bench_grid.py [--n-items 100000] [--requests 200] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from _servers import free_ports, wait_until_up
from _stats import latency
from tagscope.domain import Label, LabelKind, MediaInfo, NewItem
from tagscope.domain.tags import Tag, Visibility
from tagscope.service import Workspace
from tagscope.store.scores import ScoreTables
from tagscope.store.tag_catalog import TagCatalog

DATASET = "grid-bench"
GROUP, TAG = "bench", "cat"
TAG_FILTER = "tags_bench.cat >= 0.8 AND tags_bench.cat <= 1.0"
CLASSES = ["cat", "dog", "car", "tree", "person", "boat", "bird", "house", "road", "sky"]


def _tiny_jpegs(folder: Path, n: int = 64) -> list[tuple[Path, MediaInfo]]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=70)
        data = buf.getvalue()
        path = folder / f"base-{i:02d}.jpg"
        path.write_bytes(data)
        out.append((path, MediaInfo(len(data), 32, 32, "jpeg", hashlib.sha256(data).hexdigest())))
    return out


def build_dataset(ws: Workspace, n_items: int) -> int:
    """Create the dataset of ``n_items`` items (skipped when it is already there)."""
    existing = {d.name: d for d in ws.catalog.list_datasets()}
    if DATASET in existing and existing[DATASET].n_items >= n_items:
        return existing[DATASET].id
    ds = existing.get(DATASET) or ws.catalog.create_dataset(DATASET, "grid benchmark")
    media = ws.paths.root / "bench-media"
    media.mkdir(exist_ok=True)
    bases = _tiny_jpegs(media)
    rng = random.Random(0)
    batch: list[NewItem] = []
    for i in range(n_items):
        base, info = bases[i % len(bases)]
        path = media / f"img-{i:06d}.jpg"
        if not path.exists():
            os.link(base, path)
        labels = tuple(
            Label(LabelKind.CLASSIFICATION, name, is_main=j == 0)
            for j, name in enumerate(rng.sample(CLASSES, rng.randint(1, 3)))
        )
        batch.append(
            NewItem(str(path), info, split=rng.choice(["train", "validation"]), labels=labels)
        )
        if len(batch) == 5000:
            ws.catalog.add_items(ds.id, batch)
            batch = []
    if batch:
        ws.catalog.add_items(ds.id, batch)
    return ds.id


def build_scores(ws: Workspace, dataset_id: int) -> None:
    """A tag group ``bench`` with one tag ``cat`` and a score file of uniform random scores."""
    tables = ScoreTables(ws.paths.scores)
    if tables.latest(dataset_id, GROUP) is not None:
        return
    TagCatalog(ws.catalog).create_group(
        dataset_id, GROUP, space="none", visibility=Visibility.SECRET, tags=[Tag(TAG)]
    )
    ids = np.asarray(ws.catalog.item_ids(dataset_id), np.int64)
    scores = np.random.default_rng(0).random((len(ids), 1), dtype=np.float32)
    tables.write(dataset_id, GROUP, 1, "visual", ids, [TAG], scores)


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from tagscope.api.app import create_app; "
        f"uvicorn.run(create_app({str(root)!r}, auth=False), host='127.0.0.1', port={port}, "
        "log_level='warning', access_log=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    return wait_until_up(proc, f"http://127.0.0.1:{port}/api/datasets")


def _get(client: httpx.Client, params: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = client.get(f"/api/datasets/{DATASET}/items", params=params)
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    return elapsed, r.json()


def scroll(client: httpx.Client, n_requests: int, **params: object) -> tuple[dict, int]:
    """Follow ``next_cursor`` from the top (restarting at the end); return stats and total."""
    times, cursor, total = [], None, 0
    while len(times) < n_requests:
        query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
        elapsed, page = _get(client, query)
        if not page["items"] and cursor:  # past the last page (a total the page divides)
            cursor = None
            continue
        assert page["items"], page
        times.append(elapsed)
        total, cursor = page["total"], page["next_cursor"]
    return latency(times, digits=1), total


def first_pages(client: httpx.Client, n_requests: int, **params: object) -> dict:
    times = []
    for _ in range(n_requests):
        elapsed, page = _get(client, {"limit": 100, **params})
        assert page["items"], page
        times.append(elapsed)
    return latency(times, digits=1)


def random_offsets(client: httpx.Client, n_requests: int, n_items: int) -> dict:
    rng = random.Random(1)
    times = []
    for _ in range(n_requests):
        elapsed, page = _get(client, {"limit": 100, "offset": rng.randrange(0, n_items - 100)})
        assert len(page["items"]) == 100
        times.append(elapsed)
    return latency(times, digits=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workspace", type=Path, default=None, help="reused when given")
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="tagscope-bench-grid-"))
    ws = Workspace.open(root)
    t0 = time.perf_counter()
    build_scores(ws, build_dataset(ws, args.n_items))
    build_s = time.perf_counter() - t0
    ws.catalog.engine.dispose()

    (port,) = free_ports()
    server = start_server(root, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            scroll(client, 10)  # warm up: imports, caches, connection pool
            unfiltered, total = scroll(client, args.requests)
            offsets = random_offsets(client, args.requests, total)
            scroll(client, 5, where=TAG_FILTER)  # warm up: the SQL engine copies the catalog
            filtered, n_matching = scroll(client, args.requests, where=TAG_FILTER)
            first = first_pages(client, max(10, args.requests // 5), where=TAG_FILTER)
    finally:
        server.terminate()
        server.wait(10)
    # The goal's pages: what the grid asks for (scrolling by cursor, a filter's first page).
    p95s = [unfiltered["p95_ms"], filtered["p95_ms"], first["p95_ms"]]
    print(
        json.dumps(
            {
                "bench": "grid",
                "n_items": total,
                "page": 100,
                "transport": "uvicorn http/1.1, one keep-alive client, sequential",
                "build_s": round(build_s, 1),
                "unfiltered": unfiltered,
                "unfiltered_offset": offsets,
                "tag_filter": {"where": TAG_FILTER, "n_matching": n_matching, **filtered},
                "tag_filter_first_page": first,
                "goal_p95_ms": 150,
                "pass": all(p < 150 for p in p95s),
                "pass_random_offset": offsets["p95_ms"] < 150,
            }
        )
    )


if __name__ == "__main__":
    main()
