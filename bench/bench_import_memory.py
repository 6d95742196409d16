"""Peak memory of importing one 12000x12000 PNG (an RGB gradient, small on disk).

Each import runs in a fresh child process on a fresh workspace, and the child reports its peak
resident memory (``ru_maxrss``); a child importing an empty folder gives the baseline (Python,
the catalog, the imports), so ``import_mb`` is what the picture itself costs. Measured with the
default pixel limit (the image is refused, from its header alone) and with the limit raised above
its size (``TAGSCOPE_MAX_IMAGE_PIXELS``), with and without thumbnails. The PNG is written row by
row with zlib (a few MB of memory) and cached under ``$TMPDIR/tagscope-bench-import-memory``.
Prints ONE JSON line. Goal: every import of the picture under 300 MB peak.

    python bench/bench_import_memory.py [--side 12000]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

from _machine import cpu_info

CHILD = """
import json, resource, sys, tempfile
from tagscope.service import Workspace
from tagscope.service.imports import import_images

folder, thumbnails = sys.argv[1], sys.argv[2] == "1"
with tempfile.TemporaryDirectory(prefix="tagscope-bench-ws-") as root:
    report = import_images(Workspace.open(root), "big", folder, thumbnails=thumbnails)
    print(json.dumps({
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "n_added": report.n_added,
        "problems": [p.reason for p in report.problems],
    }))
"""


def write_png(path: Path, side: int) -> Path:
    """An RGB gradient PNG of ``side`` x ``side``, written one row at a time (once)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ramp = (np.arange(side) * 256 // side).astype(np.uint8)
    compress = zlib.compressobj(9)
    parts, previous = [], None
    for y in range(side):
        shade = np.full(side, y * 256 // side, np.uint8)
        row = np.stack([ramp, shade, 255 - ramp], axis=1).ravel()
        # PNG filter 2 ("up": the difference to the row above) makes most rows zeros.
        line = b"\0" + row.tobytes() if previous is None else b"\2" + (row - previous).tobytes()
        parts.append(compress.compress(line))
        previous = row
    parts.append(compress.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    partial = path.with_suffix(".tmp")
    partial.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )
    partial.replace(path)
    return path


def child_import(folder: Path, *, thumbnails: bool, max_pixels: int | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TAGSCOPE_DATABASE_URL"}
    env.pop("TAGSCOPE_MAX_IMAGE_PIXELS", None)
    if max_pixels is not None:
        env["TAGSCOPE_MAX_IMAGE_PIXELS"] = str(max_pixels)
    args = [sys.executable, "-c", CHILD, str(folder), "1" if thumbnails else "0"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=12_000)
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "tagscope-bench-import-memory"
    png = write_png(cache / f"big-{args.side}" / "big.png", args.side)
    empty = cache / "empty"
    empty.mkdir(exist_ok=True)

    base = child_import(empty, thumbnails=True, max_pixels=None)["rss_mb"]
    raised = args.side * args.side + 1
    runs = {
        "default_limit": child_import(png.parent, thumbnails=True, max_pixels=None),
        "raised_limit_thumbnails": child_import(png.parent, thumbnails=True, max_pixels=raised),
        "raised_limit_no_thumbnails": child_import(png.parent, thumbnails=False, max_pixels=raised),
    }
    result = {
        "bench": "import_memory",
        "image": f"{args.side}x{args.side} RGB PNG",
        "file_kb": round(png.stat().st_size / 1024),
        "baseline_rss_mb": round(base),
        **{
            name: {
                "peak_rss_mb": round(run["rss_mb"]),
                "import_mb": round(run["rss_mb"] - base),
                "n_added": run["n_added"],
                "problems": run["problems"],
            }
            for name, run in runs.items()
        },
        "goal_peak_rss_mb": 300,
        **cpu_info(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
