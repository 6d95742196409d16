"""Video ingest speed against a bare PyAV decode of the same file, and shot detection accuracy
against PySceneDetect's own command line defaults, in one run.

Files: the sample webm (``../shared/data/video``, 480x270 VP8) and a generated H.264 video
(1280x720 unless ``--size``) of real photos (``../shared/data/imagenette-dev``): stills and slow
pans cut together at known frames, one dissolve and one fade through black. For each file,
frames per second of:

- ``bare``: ``for frame in container.decode(stream)`` with the import's decoder threads;
- ``detect``: :func:`tagscope.media.video.scan_video` with ``scene`` keyframes (decode, shot
  detection, one JPEG keyframe per shot);
- ``scan``: ``scan_video`` with ``--keyframes`` (default a JPEG keyframe a second);
- ``ingest``: :func:`tagscope.service.video_import.import_video` (hash, scan, keyframe
  thumbnails now, catalog rows), in a fresh workspace.

And a folder of both files twice, imported at once (``folder``): the import scans
``VIDEOS_AT_ONCE`` videos side by side; against bare decode loops of its files one after
another, the same loops as many at a time as the import scans, and the import one video at a
time (as before it scanned side by side).

On the generated video, shot detection F1 (a cut found within one frame of a true one; the
dissolve's and the fade's cut anywhere inside them) and seconds, for ours (the ``detect`` scan)
and for PySceneDetect's command line defaults: ``scenedetect -i FILE list-scenes`` runs
``detect-adaptive`` (threshold 3, min-content-val 15, frame window 2) with min-scene-len 0.6 s,
the OpenCV backend and automatic downscaling; timed in-process through the same API the command
line uses (the command itself is run once, to check it finds the same cuts). ``detect-content``
(its other common choice, threshold 27) is given too. Prints ONE JSON line.

    pip install -e ".[bench]"   # PySceneDetect, for the comparison only
    python bench/bench_video_import.py [--keyframes every:1s] [--repeat 3] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from _machine import cpu_info
from tagscope.media.video import DECODE_THREADS, KeyframePolicy, decoder_threads, scan_video
from tagscope.service import Workspace, video_import
from tagscope.service.video_import import VIDEOS_AT_ONCE, import_video

SCENE = KeyframePolicy(None)
SHARED = Path(os.environ.get("TAGSCOPE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SIZE = (1280, 720)
FPS = 25
DISSOLVE = 12  # frames
FADE = 10  # frames out to black, as many in, with FADE // 2 black ones between


def _photos(n: int) -> list[np.ndarray]:
    files = sorted((SHARED / "data" / "imagenette-dev").rglob("*.JPEG"))[:n]
    return [np.asarray(Image.open(f).convert("RGB").resize((800, 450))) for f in files]


def make_video(path: Path, size: tuple[int, int] = SIZE) -> tuple[int, list[tuple[int, int]]]:
    """Write the generated video; its frame count and true cuts as (first, last) frame ranges
    (a hard cut's range is one frame, the dissolve's and the fade's their whole length)."""
    w, h = size
    photos = [np.asarray(Image.fromarray(p).resize((w * 5 // 4, h * 5 // 4))) for p in _photos(8)]
    dy, dx = h // 8, w // 8

    def still(p: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda i: p[dy : dy + h, dx : dx + w]

    def pan(p: np.ndarray) -> Callable[[int], np.ndarray]:
        return lambda i: p[dy : dy + h, i * w // 320 : i * w // 320 + w]  # 2 px a frame at 640

    shots = [(still(photos[i]) if i % 2 else pan(photos[i]), 50 + 10 * i) for i in range(8)]
    black = np.zeros((h, w, 3), np.uint8)
    frames: list[Callable[[], np.ndarray]] = []
    cuts: list[tuple[int, int]] = []
    for k, (shot, n) in enumerate(shots):
        start = len(frames)
        if k == 4:  # a dissolve from the last frame of shot 3 into shot 4
            last = shots[3][0](shots[3][1] - 1)
            for j in range(DISSOLVE):
                a = (j + 1) / (DISSOLVE + 1)
                frames.append(lambda a=a, last=last, s=shot: _mix(last, s(0), a))
            cuts.append((start, len(frames)))
        elif k == 6:  # a fade from the last frame of shot 5 to black, and from black into 6
            last = shots[5][0](shots[5][1] - 1)
            for j in range(FADE):
                frames.append(lambda a=(j + 1) / FADE, last=last: _mix(last, black, a))
            frames.extend([lambda: black] * (FADE // 2))
            for j in range(FADE):
                frames.append(lambda a=(j + 1) / (FADE + 1), s=shot: _mix(black, s(0), a))
            cuts.append((start, len(frames)))
        elif k:
            cuts.append((start, start))
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


def bare_decode(path: Path, threads: int = DECODE_THREADS) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        return sum(1 for _ in container.decode(stream))


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def measure(path: Path, policy: KeyframePolicy, repeat: int, tmp: Path) -> dict[str, object]:
    """Best wall and CPU seconds of each way of reading ``path``, the ways taken in turn in
    each round (a load from elsewhere on the machine falls on all of them alike)."""
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

    ways: dict[str, Callable[[], object]] = {
        "bare": lambda: bare_decode(path),
        "detect": lambda: scan_video(path, tmp / "kd", policy=SCENE),
        "scan": lambda: scan_video(path, tmp / "kf", policy=policy),
        "ingest": ingest,
    }
    wall = dict.fromkeys(ways, float("inf"))
    cpu = dict.fromkeys(ways, float("inf"))
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, way in ways.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            results[name] = way()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    n = results["bare"]
    assert isinstance(n, int)
    out: dict[str, object] = {
        "file": path.name,
        "frames": n,
        "shots": len(results["scan"].shots),  # type: ignore[attr-defined]
        "keyframes": results["ingest"].n_keyframes,  # type: ignore[attr-defined]
    }
    out |= {f"{name}_fps": round(n / wall[name]) for name in ways}
    out |= {f"{name}_vs_bare": round(wall["bare"] / wall[name], 2) for name in list(ways)[1:]}
    out["cpu_seconds"] = {name: round(cpu[name], 3) for name in ways}
    return out


def measure_folder(files: list[Path], policy: KeyframePolicy, repeat: int, tmp: Path) -> dict:
    """A folder of ``files`` (each twice) imported at once: frames per second against bare
    decode loops of the same files one after another (each with the import's decoder threads)
    and :data:`VIDEOS_AT_ONCE` at a time (as many as the import scans side by side, with as
    many decoder threads each), and against the import scanning one video at a time."""
    folder = tmp / "in-folder"
    folder.mkdir()
    copies = [folder / f"{i}-{f.name}" for i in range(2) for f in files]
    for copy, original in zip(copies, files * 2, strict=True):
        shutil.copyfile(original, copy)  # not links: the import takes a real path once
    spaces = iter([Workspace.open(tmp / f"ws-folder-{i}") for i in range(2 * repeat)])

    def ingest(at_once: int) -> int:
        video_import.VIDEOS_AT_ONCE = at_once
        report = import_video(
            next(spaces), "bench", folder, keyframes=str(policy), thumbnails="now"
        )
        return report.n_frames

    def side_by_side() -> int:
        threads = decoder_threads(VIDEOS_AT_ONCE)
        with ThreadPoolExecutor(VIDEOS_AT_ONCE) as pool:
            return sum(pool.map(lambda f: bare_decode(f, threads), copies))

    ways: dict[str, Callable[[], int]] = {
        "bare_one_by_one": lambda: sum(bare_decode(f) for f in copies),
        "bare_side_by_side": side_by_side,
        "ingest": lambda: ingest(VIDEOS_AT_ONCE),
        "ingest_one_at_a_time": lambda: ingest(1),
    }
    wall = dict.fromkeys(ways, float("inf"))
    frames: dict[str, int] = {}
    for _ in range(repeat):
        for name, way in ways.items():
            start = time.perf_counter()
            frames[name] = way()
            wall[name] = min(wall[name], time.perf_counter() - start)
    video_import.VIDEOS_AT_ONCE = VIDEOS_AT_ONCE
    n = frames["bare_one_by_one"]
    assert all(v == n for v in frames.values()), frames
    out: dict[str, object] = {"videos": len(copies), "frames": n, "at_once": VIDEOS_AT_ONCE}
    out |= {f"{name}_fps": round(n / wall[name]) for name in ways}
    for anchor in ("bare_one_by_one", "bare_side_by_side", "ingest_one_at_a_time"):
        out[f"ingest_vs_{anchor}"] = round(wall[anchor] / wall["ingest"], 2)
    return out


def pyscenedetect(path: Path, detector: str) -> list[int]:
    """The cuts of PySceneDetect's command line defaults for ``detector``, in-process: what
    ``scenedetect -i FILE <detector> list-scenes`` sets up (0.6 s min-scene-len, OpenCV,
    automatic downscaling by linear interpolation)."""
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    video = open_video(str(path), backend="opencv")
    min_len = round(0.6 * video.frame_rate)
    manager = SceneManager()
    manager.auto_downscale = True
    make = AdaptiveDetector if detector == "detect-adaptive" else ContentDetector
    manager.add_detector(make(min_scene_len=min_len))
    manager.detect_scenes(video)
    return [start.frame_num for start, _ in manager.get_scene_list()[1:]]


def pyscenedetect_cli(path: Path, out: Path) -> list[int]:
    """The cuts of ``scenedetect -i FILE list-scenes`` itself (its default detector)."""
    cli = Path(sys.executable).with_name("scenedetect")
    subprocess.run(
        [str(cli), "-q", "-i", str(path), "-o", str(out), "list-scenes", "-s", "-f", "cli.csv"],
        check=True,
    )
    with (out / "cli.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [int(r["Start Frame"]) - 1 for r in rows[1:]]  # the file counts from 1


def shot_detection(path: Path, truth: list[tuple[int, int]], repeat: int, tmp: Path) -> dict:
    t_ours, scan = best_of(repeat, lambda: scan_video(path, tmp / "kf2", policy=SCENE))
    ours = [s.start_frame for s in scan.shots[1:]]  # type: ignore[union-attr]
    result: dict[str, object] = {
        "ours": {**f1(ours, truth), "seconds": round(t_ours, 3), "cuts": ours}
    }
    for detector in ("detect-adaptive", "detect-content"):
        t, cuts = best_of(repeat, lambda d=detector: pyscenedetect(path, d))
        result[f"pyscenedetect_{detector}"] = {
            **f1(cuts, truth),  # type: ignore[arg-type]
            "seconds": round(t, 3),
            "cuts": cuts,
        }
    default = result["pyscenedetect_detect-adaptive"]
    cli = pyscenedetect_cli(path, tmp / "cli")
    result["pyscenedetect_cli_default_same_cuts"] = cli == default["cuts"]  # type: ignore[index]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keyframes", default="every:1s")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="1280x720", help="of the generated video, WxH")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    policy = KeyframePolicy.parse(args.keyframes)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        generated = tmp / "cuts.mp4"
        n_frames, truth = make_video(generated, (width, height))
        sample = (SHARED / "data" / "video" / "echo-hereweare.webm").resolve()
        files = [measure(p, policy, args.repeat, tmp) for p in (sample, generated)]
        folder = measure_folder([sample, generated], policy, args.repeat, tmp)
        shots = shot_detection(generated, truth, args.repeat, tmp)
    print(
        json.dumps(
            {
                "bench": "video_import",
                "keyframes": str(policy),
                "generated_size": args.size,
                "files": files,
                "folder": folder,
                "shots": {"frames": n_frames, "true_cuts": truth, **shots},
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
