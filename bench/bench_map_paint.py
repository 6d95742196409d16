"""Map paint time: from opening the map page to the first frame with all 100,000 points drawn, in
headless Chromium (WebGL2).

Builds (or reuses) the 100,000-item dataset of ``bench_grid.py``, gives it a small vector space
``bench`` and a stored map of it (clustered 2-D coordinates written with the map store: the
benchmark is about the page, not UMAP; ``bench_embedding_map.py`` times the fit), starts the
server in its own process, then opens ``/#/d/grid-bench/map?space=bench`` in a fresh browser
context per run (empty HTTP cache) and reads, in the page (milliseconds since navigation start):

- ``points_ms``: the ``GET .../maps/bench`` answer fully arrived (resource timing);
- ``painted_ms``: the page's ``map-first-paint`` mark: the animation frame after the one whose
  single draw call drew every point.

The server is warmed first with one request for the map. Prints ONE JSON line with the median
(p50) and max over the runs, and the CPU. Goal: median < 1 s.

    python bench/bench_map_paint.py [--n-items 100000] [--runs 5] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_info
from _servers import free_ports
from bench_grid import DATASET, build_dataset, start_server
from bench_paint import CHROMIUM, CHROMIUM_ARGS, ensure_web_app
from tagscope.service import Workspace
from tagscope.store.maps import MapStore

SPACE = "bench"
DIM = 8


def build_map(ws: Workspace, dataset_id: int) -> None:
    """A vector space ``bench`` (tiny random vectors: the map lists the items with one) and its
    map: 40 Gaussian clusters of points, as UMAP draws them; skipped when it is there."""
    maps = MapStore(ws.paths.scores)
    if maps.find(dataset_id, SPACE) is not None:
        return
    ds = next(d for d in ws.catalog.list_datasets() if d.id == dataset_id)
    ids = np.asarray(ws.catalog.item_ids(dataset_id), np.int64)
    rng = np.random.default_rng(0)
    store = ws.vectors(ds, SPACE)
    if len(store.ids()) == 0:
        store.append(ids, rng.standard_normal((len(ids), DIM)).astype(np.float32))
    centres = rng.uniform(-10, 10, (40, 2))
    xy = centres[rng.integers(0, len(centres), len(ids))] + rng.normal(0, 0.6, (len(ids), 2))
    manifest = {"params": {"bench": True}, "created_at": datetime.now(UTC).isoformat()}
    maps.start(dataset_id, SPACE, manifest)
    maps.save_model(dataset_id, SPACE, {"reducer": None, "ids": ids[:0]})
    maps.write_part(dataset_id, SPACE, ids, xy)


def measure(browser, url: str, viewport: dict[str, int], n_items: int) -> dict[str, float]:
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function(
            "performance.getEntriesByName('map-first-paint').length > 0", timeout=60_000
        )
        n = int(page.get_attribute('[data-testid="map"]', "data-n-points"))
        assert n == n_items, f"{n} points drawn of {n_items}"
        return page.evaluate(
            """(() => {
              const paint = performance.getEntriesByName('map-first-paint')[0].startTime;
              const res = performance.getEntriesByType('resource')
                .find((r) => /\\/maps\\/[^/?]+$/.test(r.name));
              return { painted_ms: paint, points_ms: res ? res.responseEnd : null };
            })()"""
        )
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None, help="reused when given")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    ensure_web_app()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="tagscope-bench-map-"))
    ws = Workspace.open(root)
    t0 = time.perf_counter()
    dataset_id = build_dataset(ws, args.n_items)
    build_map(ws, dataset_id)
    build_s = time.perf_counter() - t0
    n_items = next(d.n_items for d in ws.catalog.list_datasets() if d.name == DATASET)
    ws.catalog.engine.dispose()

    (port,) = free_ports()
    server = start_server(root, port)
    base = f"http://127.0.0.1:{port}"
    httpx.get(f"{base}/api/datasets/{DATASET}/maps/{SPACE}", timeout=60).raise_for_status()
    viewport = {"width": args.width, "height": args.height}
    url = f"{base}/#/d/{DATASET}/map?space={SPACE}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                runs = [measure(browser, url, viewport, n_items) for _ in range(max(1, args.runs))]
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(10)
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)

    painted = [r["painted_ms"] for r in runs]
    fetched = [r["points_ms"] for r in runs if r["points_ms"] is not None]
    median = statistics.median(painted)
    fetched_ms = round(statistics.median(fetched), 1) if fetched else None
    print(
        json.dumps(
            {
                "bench": "map_paint",
                "n_points": n_items,
                "browser": "chromium headless (WebGL2, SwiftShader), fresh context per run",
                "viewport": f"{args.width}x{args.height}",
                "build_s": round(build_s, 1),
                "points_answer_median_ms": fetched_ms,
                "painted_median_ms": round(median, 1),
                "painted_max_ms": round(max(painted), 1),
                "runs": len(runs),
                "goal_ms": 1000,
                "pass": median < 1000,
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
