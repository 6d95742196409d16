"""Import speed: items per second of ``import_images`` on 10,000 generated 256x256 JPEG files.

Each item gets its size, dimensions (header only), format and SHA-256 content hash, and is
inserted into a fresh SQLite workspace; measured without thumbnails and, in another fresh
workspace, with them (at most 256 px: these upright RGB JPEGs are their own thumbnails and are
copied into the cache; larger images would be decoded at reduced scale and encoded again). A
third figure is the re-import of the same folder (nothing new: no file is read again).

The files (random RGB noise, JPEG quality 85: the worst case for reading and hashing) are
generated once and cached under ``$TMPDIR/tagscope-bench-import``; they are read once before
timing so every run starts from a warm page cache. Besides items per second of wall time it
reports items per CPU-second of the process (all threads): on a machine shared with other work,
wall time measures the neighbours too, CPU time does not. Prints ONE JSON line. Goal: 3,000
items/s without thumbnails on a 2-core machine (FiftyOne 1.22 ``Dataset.from_images_dir`` plus
``compute_metadata`` does about 1,500 items/s on such a folder there).

    python bench/bench_import.py [--n-files 10000] [--repeat 1]
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

from tagscope.service import Workspace
from tagscope.service.imports import import_images

SIDE = 256


def generate(folder: Path, n_files: int) -> Path:
    """Write ``n_files`` random JPEG files in 100 sub-folders (once; reused while complete)."""
    done = folder / f".complete-{n_files}"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    for i in range(n_files):
        path = folder / f"{i % 100:02d}" / f"img-{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
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


def timed_import(folder: Path, *, thumbnails: bool) -> tuple[float, float, float]:
    """Wall and CPU seconds of a first import into a fresh workspace, and wall seconds of
    importing the folder again."""
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
        ws.catalog.engine.dispose()
    return first, cpu, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each; the best is kept.")
    args = parser.parse_args()
    os.environ.pop("TAGSCOPE_DATABASE_URL", None)  # always the embedded SQLite catalog

    cache = Path(tempfile.gettempdir()) / "tagscope-bench-import" / f"jpeg-{SIDE}"
    folder = generate(cache, args.n_files)
    n, size = warm(folder)
    load_before = os.getloadavg()[0]
    plain = min(timed_import(folder, thumbnails=False) for _ in range(args.repeat))
    thumbs = min(timed_import(folder, thumbnails=True) for _ in range(args.repeat))
    print(
        json.dumps(
            {
                "bench": "import",
                "n_files": n,
                "mean_file_kb": round(size / n / 1024, 1),
                "items_per_s": round(n / plain[0]),
                "items_per_s_thumbnails": round(n / thumbs[0]),
                "reimport_items_per_s": round(n / plain[2]),
                "items_per_cpu_s": round(n / plain[1]),
                "items_per_cpu_s_thumbnails": round(n / thumbs[1]),
                "goal_items_per_s": 3000,
                "cpus": os.cpu_count(),
                "load_avg_1m_before": round(load_before, 2),
                "load_avg_1m_after": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
