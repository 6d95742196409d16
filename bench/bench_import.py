"""Import speed: items per second of ``import_images`` on generated JPEG files, without
thumbnails, with the default (deferred) thumbnails and with every thumbnail made now, in
alternating runs of the same process.

Each item gets its size, dimensions (header only), format and SHA-256 content hash, and is
inserted into a fresh SQLite workspace. At the default 256x256 the files are upright RGB JPEGs
no larger than a thumbnail, so each is its own (nothing is written; the frame header read while
probing says so); with ``--side 640`` (640x480, COCO's size) every thumbnail must be decoded (at
reduced scale, JPEG draft mode) and encoded: the default import leaves those to the filler
(``tagscope thumbnails``), timed after it as ``fill_items_per_s``; ``thumbnails="now"`` makes
them during the import, on a thread per core. Runs alternate (none, default, now, none, ...) so
all see the same machine load; the best of ``--repeat`` of each is kept. ``thumbnail_ratio`` is
the default import's speed over the plain one's (goal: at least 0.5), ``now_ratio`` that of the
import making every thumbnail. A further figure is the re-import of the same folder (nothing
new: no file is read again).

The files (random RGB noise, JPEG quality 85: the worst case for reading and hashing) are
generated once and cached under ``$TMPDIR/tagscope-bench-import``; they are read once before
timing so every run starts from a warm page cache. Besides items per second of wall time it
reports items per CPU-second of the process (all threads): on a machine shared with other work,
wall time measures the neighbours too, CPU time does not. Prints ONE JSON line. Goal: 3,000
items/s without thumbnails on a 2-core machine (FiftyOne 1.22 ``Dataset.from_images_dir`` plus
``compute_metadata`` does about 1,500 items/s on such a folder there).

    python bench/bench_import.py [--n-files 10000] [--side 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _machine import cpu_info
from tagscope.service import Workspace
from tagscope.service.imports import import_images
from tagscope.service.thumbnails import DEFAULT_MODE, MODES, ThumbnailMode, fill_thumbnails


def generate(folder: Path, n_files: int, side: int) -> Path:
    """Write ``n_files`` random JPEG files in 100 sub-folders (once; reused while complete):
    ``side`` x ``side``, or ``side`` x 3/4 ``side`` above 256."""
    done = folder / f".complete-{n_files}"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    height = side if side <= 256 else side * 3 // 4
    for i in range(n_files):
        path = folder / f"{i % 100:02d}" / f"img-{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (height, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, quality=85)
    done.touch()
    return folder


def warm(folder: Path) -> tuple[int, int]:
    """Read every file once (page cache); return (number of files, total bytes)."""
    n = size = 0
    for path in folder.rglob("*.jpg"):
        size += len(path.read_bytes())
        n += 1
    return n, size


def _cpu_seconds() -> float:
    """CPU time of this process, every thread, user and system."""
    t = os.times()
    return t.user + t.system


def timed_import(folder: Path, *, thumbnails: ThumbnailMode) -> tuple[float, float, float, float]:
    """Wall and CPU seconds of a first import into a fresh workspace, wall seconds of importing
    the folder again, and (after a deferring import) of filling the thumbnails it left."""
    with tempfile.TemporaryDirectory(prefix="tagscope-bench-ws-") as root:
        ws = Workspace.open(root)
        start, cpu = time.perf_counter(), _cpu_seconds()
        report = import_images(ws, "bench", folder, thumbnails=thumbnails)
        first, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        assert report.n_added == ws.dataset("bench").n_items and not report.problems
        start = time.perf_counter()
        again = import_images(ws, "bench", folder, thumbnails=thumbnails)
        second = time.perf_counter() - start
        assert again.n_added == 0
        start = time.perf_counter()
        if thumbnails == "defer":
            result = fill_thumbnails(ws, "bench").result
            assert result["n_made"] == report.n_thumbnails_deferred and not result["problems"]
        fill = time.perf_counter() - start
        ws.catalog.engine.dispose()
    return first, cpu, second, fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-files", type=int, default=10_000)
    parser.add_argument("--side", type=int, default=256, help="Width of the generated JPEGs.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each; the best is kept.")
    args = parser.parse_args()
    os.environ.pop("TAGSCOPE_DATABASE_URL", None)  # always the embedded SQLite catalog

    cache = Path(tempfile.gettempdir()) / "tagscope-bench-import" / f"jpeg-{args.side}"
    folder = generate(cache / str(args.n_files), args.n_files, args.side)
    n, size = warm(folder)
    load_before = os.getloadavg()[0]
    runs: dict[ThumbnailMode, list[tuple[float, float, float, float]]] = {m: [] for m in MODES}
    for _ in range(args.repeat):
        for mode in ("none", "defer", "now"):
            runs[mode].append(timed_import(folder, thumbnails=mode))
    plain, default, now = min(runs["none"]), min(runs[DEFAULT_MODE]), min(runs["now"])
    fill = min(r[3] for r in runs["defer"])
    print(
        json.dumps(
            {
                "bench": "import",
                "n_files": n,
                "side": args.side,
                "mean_file_kb": round(size / n / 1024, 1),
                "default_thumbnails": DEFAULT_MODE,
                "items_per_s": round(n / plain[0]),
                "items_per_s_thumbnails": round(n / default[0]),
                "thumbnail_ratio": round(plain[0] / default[0], 2),
                "goal_thumbnail_ratio": 0.5,
                "items_per_s_thumbnails_now": round(n / now[0]),
                "now_ratio": round(plain[0] / now[0], 2),
                "fill_items_per_s": round(n / fill),
                "runs_s": [round(r[0], 3) for r in runs["none"]],
                "runs_s_thumbnails": [round(r[0], 3) for r in runs[DEFAULT_MODE]],
                "runs_s_thumbnails_now": [round(r[0], 3) for r in runs["now"]],
                "reimport_items_per_s": round(n / plain[2]),
                "items_per_cpu_s": round(n / plain[1]),
                "items_per_cpu_s_thumbnails": round(n / default[1]),
                "items_per_cpu_s_thumbnails_now": round(n / now[1]),
                "goal_items_per_s": 3000,
                "load_avg_1m_before": round(load_before, 2),
                "load_avg_1m_after": round(os.getloadavg()[0], 2),
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
