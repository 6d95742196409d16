"""Offline bundle throughput: predictions per second of an exported classifier (ONNX Runtime,
in process and over HTTP) against the in-app torch path, on the same images in the same run.

Builds a CLIP with random weights and ViT-B/32's image tower (hidden 768, 12 layers, patch 32,
224 pixels, 512-d projection; a small text tower, unused here), a single-label head over its
512-d space (10 classes), and exports both with ``export_classifier``. Then times, alternately,
``--repeats`` times each, on ``--n-images`` real images of imagenette-dev sent as file bytes:

- ``app``: ``load_rgb`` of each file, ``ClipEmbedder.encode_images`` (batch 32), the head's
  ``predict_proba`` (what the app's prediction of uploaded images runs);
- ``bundle``: ``BundlePredictor.predict(files)`` (decode, the PIL/NumPy preprocessing, the two
  ONNX graphs, batch 32, the prediction JSON);
- ``http``: one ``POST /api/predict/{dataset}/{model}`` of all the files to
  ``tagscope-predict-server`` started in a subprocess (multipart upload, JSON answer included).

Reports images per second (best wall time of the repeats: the machine is shared) and the ratios
to the app, and the CPU seconds each path used (this process's and the server's, all threads),
which vary less than wall time on a shared machine. Prints ONE JSON line. Goal: bundle / app >= 1.

    python bench/bench_bundle.py [--n-images 64] [--repeats 3] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np
import torch

from _machine import cpu_info
from _servers import free_ports, wait_until_up
from tagscope.bundle import BundlePredictor
from tagscope.embed.clip import ClipEmbedder
from tagscope.media.images import load_rgb
from tagscope.train import HeadClassifier
from tagscope.train.export import export_classifier

ROOT = Path(__file__).resolve().parents[1]
CLASSES = [f"class_{i}" for i in range(10)]


def vit_b32_clip(folder: Path, shared: Path) -> None:
    """Save a random CLIP with ViT-B/32's image tower and the real CLIP tokenizer."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    config = CLIPConfig(
        vision_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 224,
            "patch_size": 32,
        },
        text_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 49408,
        },
        projection_dim=512,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tokenizer = CLIPTokenizer.from_pretrained(shared / "models" / "clip-tokenizer")
    CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tokenizer).save_pretrained(
        folder
    )


def random_head(dim: int) -> HeadClassifier:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.array(CLASSES)[rng.integers(0, len(CLASSES), 500)]
    return HeadClassifier(max_epochs=5).fit(X, y)


def start_server(bundle: Path, port: int) -> subprocess.Popen:
    command = Path(sys.executable).with_name("tagscope-predict-server")
    proc = subprocess.Popen(
        [str(command), str(bundle), "--port", str(port), "--max-files", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return wait_until_up(proc, f"http://127.0.0.1:{port}/api/health")


def cpu_seconds(server_pid: int) -> float:
    """CPU time of this process and the server's, all threads (the machine being shared, it
    varies less than wall time)."""
    fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
    server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return time.process_time() + server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()

    images = sorted((args.shared / "data" / "imagenette-dev").glob("*/*.JPEG"))
    step = max(1, len(images) // args.n_images)
    files = [(p.name, p.read_bytes()) for p in images[::step][: args.n_images]]

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, bundle_dir = Path(tmp) / "clip", Path(tmp) / "bundle"
        vit_b32_clip(model_dir, args.shared)
        clip = ClipEmbedder.from_pretrained(str(model_dir), device="cpu")
        head = random_head(clip.dim)
        thresholds = dict.fromkeys(CLASSES, 0.15)
        manifest = {
            "dataset": "bench",
            "model": "m1",
            "kind": "single-label",
            "classes": CLASSES,
            "thresholds": thresholds,
            "checkpoint": "best",
        }
        started = time.perf_counter()
        export_classifier(head, model_dir, bundle_dir, manifest=manifest)
        export_s = time.perf_counter() - started
        bundle = BundlePredictor(bundle_dir)
        (port,) = free_ports()
        server = start_server(bundle_dir, port)
        url = f"http://127.0.0.1:{port}/api/predict/bench/m1"
        multipart = [("files", (name, data, "image/jpeg")) for name, data in files]
        results: dict[str, np.ndarray] = {}

        def app() -> None:
            results["app"] = head.predict_proba(
                clip.encode_images([load_rgb(data) for _, data in files])
            )

        def in_process() -> None:
            answer = bundle.predict(files)
            results["bundle"] = np.array(
                [[p["scores"][c] for c in CLASSES] for p in answer["predictions"]]
            )

        def http() -> None:
            answer = httpx.post(url, files=multipart, timeout=600).raise_for_status().json()
            results["http"] = np.array(
                [[p["scores"][c] for c in CLASSES] for p in answer["predictions"]]
            )

        runs: dict[str, Callable[[], None]] = {"app": app, "bundle": in_process, "http": http}
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        try:
            for r in range(args.repeats):  # alternate the order: a drifting load favours none
                for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
                    wall, used = time.perf_counter(), cpu_seconds(server.pid)
                    runs[name]()
                    times[name].append(time.perf_counter() - wall)
                    cpu[name].append(cpu_seconds(server.pid) - used)
        finally:
            server.terminate()
            server.wait(10)

    rate = {name: len(files) / min(t) for name, t in times.items()}
    print(
        json.dumps(
            {
                "bench": "bundle",
                "model": "random CLIP, ViT-B/32 image tower (768 x 12, patch 32, 224 px, 512-d)",
                "n_images": len(files),
                "batch_size": 32,
                "repeats": args.repeats,
                "export_s": round(export_s, 1),
                **{f"{name}_s": [round(t, 3) for t in ts] for name, ts in times.items()},
                **{f"{name}_images_per_s": round(r, 1) for name, r in rate.items()},
                "bundle_ratio": round(rate["bundle"] / rate["app"], 3),
                "http_ratio": round(rate["http"] / rate["app"], 3),
                **{f"{name}_cpu_s": round(min(c), 3) for name, c in cpu.items()},
                "bundle_cpu_ratio": round(min(cpu["app"]) / min(cpu["bundle"]), 3),
                "http_cpu_ratio": round(min(cpu["app"]) / min(cpu["http"]), 3),
                "goal_ratio": 1.0,
                "max_abs_diff_bundle_vs_app": float(
                    np.abs(results["bundle"] - results["app"]).max()
                ),
                "max_abs_diff_http_vs_app": float(np.abs(results["http"] - results["app"]).max()),
                "torch_threads": torch.get_num_threads(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                **cpu_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
