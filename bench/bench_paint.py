"""Grid paint time: from opening the grid page to its first 100 thumbnails painted, in headless
Chromium, on a dataset of 100,000 items.

Builds (or reuses) the dataset of ``bench_grid.py`` (real tiny JPEG files, labels), builds the web
app when ``src/tagscope/web/dist`` is missing, starts the server in its own process, then opens
``/#/d/grid-bench/grid`` in a fresh browser context per run (empty HTTP cache: nothing of a
previous run is reused by the browser) and measures in the page, with ``performance.now()``
(milliseconds since navigation start):

- ``items_ms``: the grid's first ``/items`` answer arrived (index.html asks for it before the
  app's bundle has loaded);
- ``rendered_ms``: the grid's thumbnails are in the document (their downloads start);
- ``painted_ms``: the first 100 ``<img>`` of the grid are all loaded (``complete`` and
  ``naturalWidth > 0``) and two animation frames have passed since, so they are on screen.

The server is warmed first with one small grid page and one thumbnail far from the first page (its
imports, connections and caches, as a server that has run a while); every run then opens the page
in a fresh browser context. Prints ONE JSON line with the median and max over the runs.
Goal: median < 1.5 s.

    python bench/bench_paint.py [--n-items 100000] [--runs 7] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import free_ports
from bench_grid import DATASET, build_dataset, start_server
from tagscope.service import Workspace

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "src" / "tagscope" / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
N_THUMBS = 100

# Runs in the page from its first script on: watches every frame for the first 100 grid images.
PROBE = """
(() => {
  const N = __N__;
  window.__bench = { items_ms: null, rendered_ms: null, painted_ms: null };
  new MutationObserver((_, obs) => {
    if (document.querySelector('[data-testid="grid"] img')) {
      window.__bench.rendered_ms = performance.now();
      obs.disconnect();
    }
  }).observe(document, { subtree: true, childList: true });
  const origFetch = window.fetch;
  window.fetch = (...args) => origFetch(...args).then((r) => {
    if (window.__bench.items_ms === null && String(args[0]).includes('/items'))
      window.__bench.items_ms = performance.now();
    return r;
  });
  const tick = () => {
    const imgs = document.querySelectorAll('[data-testid="grid"] img');
    let ok = 0;
    for (let i = 0; i < imgs.length && i < N; i++)
      if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
    if (ok >= N) {
      // Loaded; the frame after next has painted them.
      requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__bench.painted_ms = performance.now();
      }));
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
""".replace("__N__", str(N_THUMBS))


def ensure_web_app() -> None:
    if (DIST / "index.html").is_file():
        return
    web = ROOT / "web"
    if not (web / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=web, check=True)
    subprocess.run(["npm", "run", "build"], cwd=web, check=True)


def measure(browser, url: str, viewport: dict[str, int]) -> dict[str, float]:
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.add_init_script(PROBE)
        page.goto(url)
        page.wait_for_function(
            "window.__bench && window.__bench.painted_ms !== null", timeout=60_000
        )
        result = page.evaluate("window.__bench")
        n = page.evaluate("document.querySelectorAll('[data-testid=\"grid\"] img').length")
        assert n >= N_THUMBS, f"only {n} thumbnails on the page"
        return {k: result[k] for k in ("items_ms", "rendered_ms", "painted_ms")}
    finally:
        context.close()


def warm_up(base: str, n_items: int) -> None:
    """One grid page and one thumbnail, far from the page the runs measure."""
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/").raise_for_status()
        page = client.get(
            f"/api/datasets/{DATASET}/items", params={"limit": 1, "offset": n_items - 1}
        )
        page.raise_for_status()
        client.get(page.json()["items"][0]["thumbnail_url"]).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--workspace", type=Path, default=None, help="reused when given")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    ensure_web_app()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="tagscope-bench-paint-"))
    ws = Workspace.open(root)
    t0 = time.perf_counter()
    build_dataset(ws, args.n_items)
    build_s = time.perf_counter() - t0
    n_items = next(d.n_items for d in ws.catalog.list_datasets() if d.name == DATASET)
    ws.catalog.engine.dispose()

    (port,) = free_ports()
    server = start_server(root, port)
    warm_up(f"http://127.0.0.1:{port}", n_items)
    viewport = {"width": args.width, "height": args.height}
    url = f"http://127.0.0.1:{port}/#/d/{DATASET}/grid"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                runs = [measure(browser, url, viewport) for _ in range(max(1, args.runs))]
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(10)
        if args.workspace is None:
            shutil.rmtree(root, ignore_errors=True)

    painted = [r["painted_ms"] for r in runs]
    items = [r["items_ms"] for r in runs]
    rendered = [r["rendered_ms"] for r in runs]
    median = statistics.median(painted)
    print(
        json.dumps(
            {
                "bench": "paint",
                "n_items": n_items,
                "thumbnails": N_THUMBS,
                "browser": "chromium headless, fresh context (empty cache) per run",
                "viewport": f"{args.width}x{args.height}",
                "build_s": round(build_s, 1),
                "items_answer_median_ms": round(statistics.median(items), 1),
                "rendered_median_ms": round(statistics.median(rendered), 1),
                "painted_median_ms": round(median, 1),
                "painted_max_ms": round(max(painted), 1),
                "runs": len(runs),
                "goal_ms": 1500,
                "pass": median < 1500,
            }
        )
    )


if __name__ == "__main__":
    main()
