"""Text embedding throughput: ``compute_embeddings`` in the text space against a bare
``SentenceTransformer.encode`` on the same captions, in the same run, with the same model object.

Builds a workspace with ``--n-items`` items (default 5,000) whose own text is five real COCO
captions each (the captions of ``../shared/data/coco-mini``, repeated and shuffled into items, one
per line as the importer stores them), then times, alternately, ``--repeats`` times each:

- ``bare``: ``model.encode(all_captions, batch_size=64, normalize_embeddings=True)`` on the flat
  list of every caption (the fastest this model runs them: one call, sorted by length);
- ``tagscope``: ``compute_embeddings(ws, dataset, kind="text")`` into a fresh space: reading the
  items from the catalog, splitting lines, encoding, averaging per item, writing vector chunks,
  compacting, and the job's records.

The two alternate (bare, ours, ours, bare, ...) so a drifting load favours neither. Reports
captions per second (best wall time of the repeats, the machine being shared), their ratio, and
the ratio of the best CPU times (less sensitive to other processes). Prints ONE JSON line.
Goal: ratio >= 0.9.

    python bench/bench_text_embed.py [--n-items 5000] [--repeats 2] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from tagscope.domain import MediaInfo, NewItem
from tagscope.embed import load_embedder
from tagscope.service import Workspace
from tagscope.service.embeddings import compute_embeddings

DATASET = "captions"
ROOT = Path(__file__).resolve().parents[1]


def coco_caption_sets(shared: Path) -> list[list[str]]:
    """The captions of every coco-mini image, one list per image."""
    sets: dict[tuple[str, int], list[str]] = {}
    for file in sorted((shared / "data" / "coco-mini" / "annotations").glob("captions_*.json")):
        for ann in json.loads(file.read_text())["annotations"]:
            caption = " ".join(ann["caption"].split())  # a few hold line breaks
            sets.setdefault((file.name, ann["image_id"]), []).append(caption)
    return list(sets.values())


def build(ws: Workspace, n_items: int, shared: Path) -> list[str]:
    """A dataset of ``n_items`` text items, five captions each; return the flat captions."""
    rng = random.Random(0)
    sets = [s[:5] for s in coco_caption_sets(shared) if len(s) >= 5]
    texts = []
    for i in range(n_items):
        captions = list(sets[i % len(sets)])
        rng.shuffle(captions)
        texts.append("\n".join(captions))
    ds = ws.catalog.create_dataset(DATASET)
    media = MediaInfo(size=0, width=0, height=0, format="jpeg", content_hash="")
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(path=f"/bench/item-{i:06d}.jpg", media=media, text=t)
            for i, t in enumerate(texts)
        ],
    )
    return [line for t in texts for line in t.splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        captions = build(ws, args.n_items, args.shared)
        embedder = load_embedder("text", device="cpu")
        model, batch = embedder.model_, embedder.batch_size
        model.encode(captions[:256], batch_size=batch)  # warm up

        bare: list[tuple[float, float]] = []  # (wall, cpu) seconds per pass
        ours: list[tuple[float, float]] = []

        def time_bare() -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            model.encode(captions, batch_size=batch, normalize_embeddings=True)
            bare.append((time.perf_counter() - wall, time.process_time() - cpu))

        def time_ours() -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            job = compute_embeddings(
                ws, DATASET, space=f"text-{len(ours)}", kind="text", device="cpu"
            )
            ours.append((time.perf_counter() - wall, time.process_time() - cpu))
            assert job.result["n_embedded"] == args.n_items, job.result

        # Alternate the order (bare, ours, ours, bare, ...) so a machine whose load drifts
        # favours neither side.
        for r in range(args.repeats):
            for run in (time_bare, time_ours) if r % 2 == 0 else (time_ours, time_bare):
                run()

    bare_rate = len(captions) / min(w for w, _ in bare)
    our_rate = len(captions) / min(w for w, _ in ours)
    cpu_ratio = min(c for _, c in bare) / min(c for _, c in ours)
    print(
        json.dumps(
            {
                "bench": "text_embed",
                "model": embedder.model,
                "n_items": args.n_items,
                "n_captions": len(captions),
                "encode_batch_size": batch,
                "repeats": args.repeats,
                "bare_s": [round(w, 2) for w, _ in bare],
                "tagscope_s": [round(w, 2) for w, _ in ours],
                "bare_captions_per_s": round(bare_rate, 1),
                "tagscope_captions_per_s": round(our_rate, 1),
                "ratio": round(our_rate / bare_rate, 3),
                "cpu_time_ratio": round(cpu_ratio, 3),
                "goal_ratio": 0.9,
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
