"""The Ray runner against the local runner on this machine: the same embedding and scoring jobs.

On one workspace (built once under ``$TMPDIR/tagscope-bench-ray``): the phash space of
imagenette-dev (500 photos: decoding dominates), the text space of coco-mini's captions (one
caption an item, the bundled MiniLM), and the scoring of a two-tag group (learned from the
captions) over ``--n-score`` synthetic items with random unit vectors in the same text space,
in parts of 50,000. Each job runs with the local runner and with the Ray runner on a local Ray
of 2 CPUs, then of 1 CPU (worker processes), the vectors or scores removed before each run so
every run does the whole work. Ray's start and each worker's first model load are left out
(one untimed run per cluster); the best of ``--repeat`` is kept, local and Ray runs alternating.

``overhead`` is Ray (2 CPUs) over local (goal <= 1.3x); ``scaling_1_to_2`` is Ray with 1 CPU
over Ray with 2 (2.0 would be perfect). The batch sizes give each job several shards. Prints ONE
JSON line.

    python bench/bench_ray_runner.py [--repeat 3] [--n-score 400000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import ray

from _machine import cpu_info
from tagscope.domain import MediaInfo, NewItem
from tagscope.jobs import LocalRunner
from tagscope.jobs.ray_runner import RayRunner
from tagscope.service import Workspace, tag_scoring
from tagscope.service import tags as uc
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import import_coco, import_images

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
JOBS = {"phash": ("inet", 32), "text": ("captions", 64)}  # dataset, batch size


def build(root: Path, n_score: int) -> None:
    """The workspace: imagenette-dev, coco-mini's captions as items, a scored group, and the
    synthetic dataset it is applied to."""
    if (root / ".complete").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.open(root)
    import_images(ws, "inet", DATA / "imagenette-dev", thumbnails=False)
    ann = DATA / "coco-mini" / "annotations"
    import_coco(
        ws, "coco", ann / "instances_train2017.json", images=ann.parent / "train2017",
        captions=ann / "captions_train2017.json", thumbnails=False,
    )  # fmt: skip
    captions = [
        a["caption"].strip()
        for split in ("val2017", "train2017")
        for a in json.loads((ann / f"captions_{split}.json").read_text())["annotations"]
    ]
    ds = ws.catalog.create_dataset("captions")
    ws.catalog.add_items(
        ds.id,
        [NewItem(f"/c/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{i:040x}"), text=t)
         for i, t in enumerate(captions)],
    )  # fmt: skip
    compute_embeddings(ws, "coco", kind="text")
    uc.create_group(ws, "coco", "pets", "dog\ncat", visibility="shareable")
    uc.publish_group(ws, "coco", "pets")
    space = ws.catalog.get_space(ws.dataset("coco").id, "text")
    big = ws.catalog.create_dataset("big")
    for start in range(0, n_score, 10_000):
        ws.catalog.add_items(
            big.id,
            [NewItem(f"/b/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{i:040x}"))
             for i in range(start, min(start + 10_000, n_score))],
        )  # fmt: skip
    ws.catalog.ensure_space(big.id, "text", space["kind"], space["model"], space["dim"])
    ids = np.asarray(ws.catalog.item_ids(big.id), np.int64)
    rng = np.random.default_rng(0)
    store = ws.vectors(ws.dataset("big"), "text")
    for start in range(0, len(ids), 100_000):
        block = rng.standard_normal((len(ids[start : start + 100_000]), space["dim"]), np.float32)
        store.append(ids[start : start + 100_000], block / np.linalg.norm(block, axis=1)[:, None])
    store.compact()
    (root / ".complete").touch()


def embed_job(ws: Workspace, kind: str) -> Callable[[], None]:
    name, batch = JOBS[kind]

    def run() -> None:
        shutil.rmtree(ws.vectors(ws.dataset(name), kind).folder, ignore_errors=True)
        job = compute_embeddings(ws, name, kind=kind, batch_size=batch)
        assert job.result["n_embedded"] > 0, job.result

    return run


def score_job(ws: Workspace) -> Callable[[], None]:
    def run() -> None:
        tables = tag_scoring.score_tables(ws)
        big = ws.dataset("big")
        for version in tables.versions(big.id, "pets"):
            shutil.rmtree(tables.path(big.id, "pets", version))
        job = tag_scoring.apply_group(ws, "big", "pets")
        assert job.result["n_scored"] == big.n_items, job.result

    return run


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def on_cluster(local: Workspace, num_cpus: int, repeat: int) -> dict[str, dict[str, float]]:
    """Best seconds per job with the local runner and with Ray on ``num_cpus`` CPUs."""
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # fmt: skip
    try:
        on_ray = dataclasses.replace(local, runner=RayRunner(local.catalog))
        jobs = {
            "embed_phash": lambda ws: embed_job(ws, "phash"),
            "embed_text": lambda ws: embed_job(ws, "text"),
            "score": score_job,
        }
        best: dict[str, dict[str, float]] = {}
        for job, make in jobs.items():
            make(on_ray)()  # workers start and load their model: not timed
            for _ in range(repeat):
                for runner, ws in (("local", local), ("ray", on_ray)):
                    seconds = timed(make(ws))
                    prev = best.setdefault(job, {}).get(runner, float("inf"))
                    best[job][runner] = min(prev, seconds)
        return best
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-score", type=int, default=400_000)
    args = parser.parse_args()
    root = Path(tempfile.gettempdir()) / "tagscope-bench-ray" / f"ws-{args.n_score}"
    build(root, args.n_score)
    ws = Workspace.open(root)
    ws = dataclasses.replace(ws, runner=LocalRunner(ws.catalog))
    two = on_cluster(ws, 2, args.repeat)
    one = on_cluster(ws, 1, args.repeat)
    jobs = {}
    for job in two:
        local = min(two[job]["local"], one[job]["local"])
        jobs[job] = {
            "local_s": round(local, 3),
            "ray_2cpu_s": round(two[job]["ray"], 3),
            "ray_1cpu_s": round(one[job]["ray"], 3),
            "overhead": round(two[job]["ray"] / local, 2),
            "scaling_1_to_2": round(one[job]["ray"] / two[job]["ray"], 2),
        }
    n_items = {k: ws.dataset(name).n_items for k, (name, _) in JOBS.items()}
    print(
        json.dumps(
            {
                "bench": "ray_runner",
                **cpu_info(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "ray": ray.__version__,
                "items": {**n_items, "score": ws.dataset("big").n_items},
                "batch_size": {k: b for k, (_, b) in JOBS.items()},
                "jobs": jobs,
                "goals": {"overhead_le_1_3x": all(j["overhead"] <= 1.3 for j in jobs.values())},
            }
        )
    )


if __name__ == "__main__":
    main()
