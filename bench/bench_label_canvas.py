"""Labeling tool frame time: one image with 1,000 polygons of 50 vertices each, panned and zoomed
in headless Chromium.

Imports one coco-mini photo into a fresh workspace, stores 1,000 simple polygons of 50 vertices
on it through the label REST API (one PUT), starts the server in its own process, opens the
labeling tool on the item (``/#/d/<ds>/label/<id>``) and, for a few seconds, changes the view in
every animation frame (a pan along a circle and a zoom between the whole image and 6x; the page's
``window.__labeling.setView`` draws the frame at once), measuring in the page:

- ``raf``: the intervals between ``requestAnimationFrame`` callbacks, with Chromium's frame rate
  limit off (``--disable-frame-rate-limit``, ``--disable-gpu-vsync``), so that an interval is the
  time a frame really takes, not a 60 Hz vsync tick;
- ``draw``: the time of one frame's drawing, the canvas flushed (a one-pixel ``getImageData``
  makes the software rasteriser finish the frame's commands).

Prints ONE JSON line with p50 / p95 of each (milliseconds) and the CPU. Goal: raf p95 < 16 ms.

    python bench/bench_label_canvas.py [--seconds 4] [--polygons 1000] [--vertices 50]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import cpu_info
from _servers import free_ports
from _stats import latency
from bench_grid import start_server
from bench_paint import CHROMIUM, CHROMIUM_ARGS, ensure_web_app
from tagscope.service import Workspace

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "coco-mini" / "val2017"
DATASET = "label-bench"

# Each frame: a new view, drawn and flushed; the frame's interval and drawing time recorded.
DRIVE = """
async ([seconds]) => {
  const L = window.__labeling;
  const { w, h } = L.image();
  const fit = L.view();
  const raf = [], draw = [], visible = [];
  let last = null;
  const t0 = performance.now();
  const canvas = document.querySelector('[data-testid="label-canvas"]');
  const ctx = canvas.getContext("2d");
  await new Promise((done) => {
    const frame = (now) => {
      if (last !== null) raf.push(now - last);
      last = now;
      const t = (now - t0) / 1000;
      const zoom = 1 + 2.5 * (1 - Math.cos(t * 1.3));  // 1x .. 6x the fit
      const scale = fit.scale * zoom;
      // the point of the image at the canvas's centre walks a circle around the image's centre
      const cx = w / 2 + (w / 3) * Math.cos(t * 0.9), cy = h / 2 + (h / 3) * Math.sin(t * 0.9);
      const vx = canvas.clientWidth / 2, vy = canvas.clientHeight / 2;
      const s = performance.now();
      visible.push(L.setView({ scale, tx: vx - cx * scale, ty: vy - cy * scale }));
      ctx.getImageData(0, 0, 1, 1);
      draw.push(performance.now() - s);
      if (t < seconds) requestAnimationFrame(frame);
      else done();
    };
    requestAnimationFrame(frame);
  });
  return { raf, draw, visible };
}
"""


def polygons(n: int, vertices: int, w: int, h: int, seed: int = 0) -> list[dict]:
    """``n`` simple star-shaped polygons (angles in order, radii varying) over a w x h image."""
    rng = random.Random(seed)
    labels = []
    for _ in range(n):
        r0 = rng.uniform(8, 40)
        cx, cy = rng.uniform(r0, w - r0), rng.uniform(r0, h - r0)
        ring = []
        for k in range(vertices):
            a = 2 * math.pi * k / vertices
            r = r0 * rng.uniform(0.6, 1.0)
            ring += [round(cx + r * math.cos(a), 2), round(cy + r * math.sin(a), 2)]
        labels.append(
            {"kind": "polygon", "name": f"c{rng.randrange(8)}", "geometry": {"polygons": [ring]}}
        )
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--polygons", type=int, default=1000)
    parser.add_argument("--vertices", type=int, default=50)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--screenshot", type=Path, default=None, help="a PNG of the last frame")
    args = parser.parse_args()

    from tagscope.service.imports import import_images

    ensure_web_app()
    root = Path(tempfile.mkdtemp(prefix="tagscope-bench-label-"))
    folder = root / "photos"
    folder.mkdir()
    photo = sorted(PHOTOS.glob("*.jpg"))[0]
    (folder / photo.name).write_bytes(photo.read_bytes())
    ws = Workspace.open(root / "ws")
    import_images(ws, DATASET, folder)
    item_id = ws.catalog.item_ids(ws.dataset(DATASET).id)[0]
    ws.catalog.engine.dispose()

    (port,) = free_ports()
    server = start_server(root / "ws", port)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            media = client.get(f"/api/items/{item_id}").json()["item"]["media"]
            body = {
                "labels": polygons(args.polygons, args.vertices, media["width"], media["height"])
            }
            client.put(
                f"/api/datasets/{DATASET}/items/{item_id}/labels", json=body
            ).raise_for_status()
        with sync_playwright() as p:
            flags = [*CHROMIUM_ARGS, "--disable-frame-rate-limit", "--disable-gpu-vsync"]
            browser = p.chromium.launch(executable_path=CHROMIUM, args=flags, headless=True)
            try:
                page = browser.new_page(viewport={"width": args.width, "height": args.height})
                page.goto(f"{base}/#/d/{DATASET}/label/{item_id}")
                page.wait_for_function(
                    "window.__labeling && window.__labeling.ready()", timeout=60_000
                )
                n = len(page.evaluate("window.__labeling.state().shapes"))
                assert n == args.polygons, f"{n} shapes on the page, not {args.polygons}"
                page.evaluate(DRIVE, [0.5])  # warm up (JIT, caches)
                result = page.evaluate(DRIVE, [args.seconds])
                if args.screenshot:
                    page.screenshot(path=str(args.screenshot))
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)

    raf = latency([m / 1000 for m in result["raf"]])
    draw = latency([m / 1000 for m in result["draw"]])
    print(
        json.dumps(
            {
                "bench": "label_canvas",
                "polygons": args.polygons,
                "vertices": args.vertices,
                "image": f"{media['width']}x{media['height']}",
                "viewport": f"{args.width}x{args.height}",
                "browser": "chromium headless, --disable-gpu (software canvas), no fps limit",
                "frames": len(result["raf"]),
                "raf_p50_ms": raf["p50_ms"],
                "raf_p95_ms": raf["p95_ms"],
                "draw_p50_ms": draw["p50_ms"],
                "draw_p95_ms": draw["p95_ms"],
                "visible_median": statistics.median(result["visible"]),
                "goal_p95_ms": 16,
                "pass": raf["p95_ms"] < 16,
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
