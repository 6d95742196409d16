"""Video ingest speed against a bare PyAV decode of the same file, and shot detection accuracy
against PySceneDetect's own pipeline, in one run.

Files: the sample webm (``../shared/data/video``, 480x270 VP8) and a generated H.264 video
(640x360 unless ``--size``) of real photos (``../shared/data/imagenette-dev``): stills and slow
pans cut together at known frames, one dissolve. For each file, frames per second of:

- ``bare``: a PyAV decode loop (the same threads as the import), nothing else;
- ``scan``: :func:`tagscope.media.video.scan_video` (decode, shots, keyframes as JPEG);
- ``ingest``: :func:`tagscope.service.video_import.import_video` (hash, scan, keyframe
  thumbnails, catalog rows), in a fresh workspace.

On the generated video, shot detection F1 (a cut found within one frame of a true one; the
dissolve's cut anywhere inside it) and seconds, for ours and for ``scenedetect.detect(path,
AdaptiveDetector())`` (PySceneDetect's defaults, OpenCV decoding); ours is a ``scene`` scan,
writing its keyframes. Prints ONE JSON line.

    python bench/bench_video_import.py [--keyframes every:1s] [--repeat 3] [--size 640x360]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from _machine import cpu_info
from tagscope.media.video import KeyframePolicy, scan_video
from tagscope.service import Workspace
from tagscope.service.video_import import import_video

SHARED = Path(os.environ.get("TAGSCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SIZE = (640, 360)
FPS = 25
DISSOLVE = 12  # frames


def _photos(n: int) -> list[np.ndarray]:
    files = sorted((SHARED / "data" / "imagenette-dev").rglob("*.JPEG"))[:n]
    return [np.asarray(Image.open(f).convert("RGB").resize((800, 450))) for f in files]


def make_video(path: Path, size: tuple[int, int] = SIZE) -> tuple[int, list[tuple[int, int]]]:
    """Write the generated video; its frame count and true cuts as (first, last) frame ranges
    (a hard cut's range is one frame, the dissolve's its whole length)."""
    w, h = size
    photos = [np.asarray(Image.fromarray(p).resize((w * 5 // 4, h * 5 // 4))) for p in _photos(8)]
    dy, dx = h // 8, w // 8

    def still(p: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda i: p[dy : dy + h, dx : dx + w]

    def pan(p: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda i: p[dy : dy + h, i * w // 320 : i * w // 320 + w]  # 2 px a frame at 640

    shots = [(still(photos[i]) if i % 2 else pan(photos[i]), 50 + 10 * i) for i in range(8)]
    frames: list[Callable[[], np.ndarray]] = []
    cuts: list[tuple[int, int]] = []
    for k, (shot, n) in enumerate(shots):
        if k == 4:  # a dissolve from the last frame of shot 3 into shot 4
            last = shots[3][0](shots[3][1] - 1)
            start = len(frames)
            for j in range(DISSOLVE):
                a = (j + 1) / (DISSOLVE + 1)
                frames.append(lambda a=a, last=last, s=shot: _mix(last, s(0), a))
            cuts.append((start, start + DISSOLVE))
        elif k:
            cuts.append((len(frames), len(frames)))
        frames.extend((lambda i=i, s=shot: s(i)) for i in range(n))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for pts, make in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(make()), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return len(frames), cuts


def _mix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (a * (1 - t) + b * t).astype(np.uint8)


def f1(found: list[int], truth: list[tuple[int, int]]) -> dict[str, float]:
    """Each true cut matches at most one found cut within one frame of its range."""
    left = list(found)
    hits = 0
    for lo, hi in truth:
        match = next((c for c in left if lo - 1 <= c <= hi + 1), None)
        if match is not None:
            left.remove(match)
            hits += 1
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth) if truth else 0.0
    score = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"f1": round(score, 3), "precision": round(precision, 3), "recall": round(recall, 3)}


def bare_decode(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = min(2, os.cpu_count() or 1)
        return sum(1 for _ in container.decode(stream))


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def measure(path: Path, policy: KeyframePolicy, repeat: int, tmp: Path) -> dict[str, object]:
    t_bare, n = best_of(repeat, lambda: bare_decode(path))
    t_scan, scan = best_of(repeat, lambda: scan_video(path, tmp / "kf", policy=policy))

    folder = tmp / f"in-{path.stem}"
    folder.mkdir()
    os.symlink(path, folder / path.name)
    # Fresh workspaces, opened (catalog created) before the clock starts.
    spaces = iter([Workspace.open(tmp / f"ws-{path.stem}-{i}") for i in range(repeat)])

    def ingest() -> object:
        ws = next(spaces)
        return import_video(
            ws, "bench", folder, keyframes=str(policy), thumbnails="now", follow_symlinks=True
        )

    t_ingest, report = best_of(repeat, ingest)
    assert isinstance(n, int)
    return {
        "file": path.name,
        "frames": n,
        "shots": len(scan.shots),  # type: ignore[union-attr]
        "keyframes": report.n_keyframes,  # type: ignore[union-attr]
        "bare_fps": round(n / t_bare),
        "scan_fps": round(n / t_scan),
        "ingest_fps": round(n / t_ingest),
        "scan_vs_bare": round(t_bare / t_scan, 2),
        "ingest_vs_bare": round(t_bare / t_ingest, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keyframes", default="every:1s")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="640x360", help="of the generated video, WxH")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    policy = KeyframePolicy.parse(args.keyframes)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        generated = tmp / "cuts.mp4"
        n_frames, truth = make_video(generated, (size[0], size[1]))
        sample = (SHARED / "data" / "video" / "echo-hereweare.webm").resolve()
        files = [measure(p, policy, args.repeat, tmp) for p in (sample, generated)]

        t_ours, scan = best_of(
            args.repeat, lambda: scan_video(generated, tmp / "kf2", policy=KeyframePolicy(None))
        )
        ours = [s.start_frame for s in scan.shots[1:]]  # type: ignore[union-attr]

        from scenedetect import AdaptiveDetector, detect

        t_theirs, scenes = best_of(args.repeat, lambda: detect(str(generated), AdaptiveDetector()))
        theirs = [start.frame_num for start, _ in scenes[1:]]  # type: ignore[index]
    print(
        json.dumps(
            {
                "bench": "video_import",
                "keyframes": str(policy),
                "generated_size": args.size,
                "files": files,
                "shots": {
                    "frames": n_frames,
                    "true_cuts": len(truth),
                    "ours": {**f1(ours, truth), "seconds": round(t_ours, 3), "cuts": ours},
                    "pyscenedetect": {
                        **f1(theirs, truth),
                        "seconds": round(t_theirs, 3),
                        "cuts": theirs,
                    },
                    "truth": truth,
                },
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
