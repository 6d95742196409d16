"""Tag learning quality on coco-mini captions (``text`` space, MiniLM): issue 3's protocol.

Each item is one COCO image; its vector is the normalised mean of its five captions' MiniLM
embeddings (what the ``text`` space stores). For each of the 8 most frequent COCO categories (by
images containing one, from the instance annotations) and each seed, the tag's prompt is the
category name and:

- (a) ``prompt``: the prompt alone;
- (b) ``prompt_5_5``: the prompt + 5 positive and 5 negative examples;
- (c) ``prompt_10_10``: the prompt + 10 positive and 10 negative examples (a superset of (b));
- ``lr_10_10``: a plain scikit-learn LogisticRegression on the 10 + 10 examples alone;
- (d) ``uncertain_5x4`` vs ``random_5x4``: from the prompt, 5 rounds of 4 labels chosen by
  :func:`select_uncertain` (refit after each round) against 5 rounds of 4 random labels.

Average precision is measured on the items used as examples by no variant compared (the 20 of (c)
for (a)-(c); the labels of both strategies for (d)); ``*_own_rest`` measures each strategy of (d)
on the items it did not label itself (a strategy that labels more positives removes more of them
from its own evaluation set, which lowers its AP there). The whole dataset is the unlabelled
background. Also reported: calibration (F0.5 at the default threshold 0.5 against the best F0.5
over all thresholds) and refit time with 2,000 examples.

Prints ONE JSON line. Goals: (b) and (c) beat (a) on average; (d) uncertain beats random.

    python bench/bench_tag_learning.py [--seeds 10] [--params '{"C": 1.0}']
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, fbeta_score

from tagscope.tags import TagClassifier, select_uncertain

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
COCO = Path(os.environ.get("TAGSCOPE_SHARED", ROOT.parent / "shared")) / "data" / "coco-mini"
N_CATEGORIES = 8


def load_coco_text(coco: Path = COCO) -> tuple[np.ndarray, dict[str, np.ndarray], object]:
    """(item vectors (n, 384), {category: bool (n,)}, encode(texts) -> unit rows).

    Embedded as the ``text`` space does: each caption line alone, the item's vector is the
    normalised mean (``TextEmbedder.encode_documents``).
    """
    from tagscope.embed.registry import load_embedder

    embedder = load_embedder("text", device="cpu")
    captions: dict[tuple[str, int], list[str]] = {}
    present: dict[tuple[str, int], set[str]] = {}
    for split in ("train2017", "val2017"):
        caps = json.loads((coco / "annotations" / f"captions_{split}.json").read_text())
        inst = json.loads((coco / "annotations" / f"instances_{split}.json").read_text())
        names = {c["id"]: c["name"] for c in inst["categories"]}
        for a in caps["annotations"]:
            captions.setdefault((split, a["image_id"]), []).append(a["caption"].strip())
        for a in inst["annotations"]:
            present.setdefault((split, a["image_id"]), set()).add(names[a["category_id"]])
    keys = sorted(captions)
    X = embedder.encode_documents(["\n".join(captions[k]) for k in keys])
    categories = sorted({c for cats in present.values() for c in cats})
    labels = {c: np.array([c in present.get(k, ()) for k in keys]) for c in categories}
    return X, labels, embedder.encode_texts


def _ap(y: np.ndarray, scores: np.ndarray, rest: np.ndarray) -> float:
    return float(average_precision_score(y[rest], scores[rest]))


def _active(clf_params, X, y, prompt, rounds, per_round, strategy, rng) -> np.ndarray:
    labelled = np.empty(0, dtype=np.int64)
    for _ in range(rounds):
        clf = TagClassifier(**clf_params).fit(
            X[labelled], y[labelled].astype(int), prompts_pos=prompt, background=X
        )
        if strategy == "uncertain":
            scores = clf.predict_proba(X)[:, 1]
            pick = select_uncertain(
                scores, X, k=per_round, exclude=labelled, threshold=clf.threshold_
            )
        else:
            pick = rng.choice(np.setdiff1d(np.arange(len(y)), labelled), per_round, replace=False)
        labelled = np.r_[labelled, pick]
    return labelled


def run(params: dict, seeds: int) -> dict:
    X, labels, encode = load_coco_text()
    cats = sorted(labels, key=lambda c: -labels[c].sum())[:N_CATEGORIES]
    P = encode(cats)
    base = {"random_state": 0, **params}
    per: dict[str, dict[str, list[float]]] = {c: {} for c in cats}

    def add(cat: str, key: str, value: float) -> None:
        per[cat].setdefault(key, []).append(value)

    for j, cat in enumerate(cats):
        y = labels[cat]
        prompt = P[j : j + 1]
        prompt_scores = clf_prompt_scores(base, X, prompt)
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            pos = rng.permutation(np.flatnonzero(y))
            neg = rng.permutation(np.flatnonzero(~y))
            used = np.r_[pos[:10], neg[:10]]
            rest = np.setdiff1d(np.arange(len(y)), used)
            for key, k in (("prompt", 0), ("prompt_5_5", 5), ("prompt_10_10", 10)):
                ex = np.r_[pos[:k], neg[:k]].astype(np.int64)
                clf = TagClassifier(**base).fit(
                    X[ex], y[ex].astype(int), prompts_pos=prompt, background=X
                )
                s = clf.predict_proba(X)[:, 1]
                add(cat, key, _ap(y, s, rest))
                best = max(
                    fbeta_score(y[rest], s[rest] >= t, beta=0.5, zero_division=0)
                    for t in np.unique(s)
                )
                add(
                    cat,
                    f"{key}_f05_at_0.5",
                    fbeta_score(y[rest], s[rest] >= 0.5, beta=0.5, zero_division=0),
                )
                add(cat, f"{key}_f05_best", best)
            lr = LogisticRegression().fit(X[used], y[used])
            add(cat, "lr_10_10", _ap(y, lr.decision_function(X), rest))
            add(cat, "cosine_prompt", _ap(y, X @ prompt[0], rest))
            # (d) active learning against random labelling.
            got = {}
            for strategy in ("uncertain", "random"):
                got[strategy] = _active(base, X, y, prompt, 5, 4, strategy, rng)
            rest_d = np.setdiff1d(np.arange(len(y)), np.r_[got["uncertain"], got["random"]])
            for strategy, lab in got.items():
                clf = TagClassifier(**base).fit(
                    X[lab], y[lab].astype(int), prompts_pos=prompt, background=X
                )
                scores = clf.predict_proba(X)[:, 1]
                add(cat, f"{strategy}_5x4", _ap(y, scores, rest_d))
                own = np.setdiff1d(np.arange(len(y)), lab)
                add(cat, f"{strategy}_5x4_own_rest", _ap(y, scores, own))
                add(cat, f"{strategy}_5x4_positives_labelled", float(y[lab].sum()))
            add(cat, "prompt_on_rest_d", _ap(y, prompt_scores, rest_d))
    mean = {
        key: round(float(np.mean([np.mean(per[c][key]) for c in cats])), 4) for key in per[cats[0]]
    }
    return {
        "categories": {c: int(labels[c].sum()) for c in cats},
        "n_items": len(X),
        "seeds": seeds,
        "mean_ap": {k: v for k, v in mean.items() if "f05" not in k},
        "calibration_f05": {k: v for k, v in mean.items() if "f05" in k},
        "per_category_ap": {
            c: {k: round(float(np.mean(v)), 3) for k, v in per[c].items() if "f05" not in k}
            for c in cats
        },
        "goals": {
            "b_beats_a": mean["prompt_5_5"] > mean["prompt"],
            "c_beats_a": mean["prompt_10_10"] > mean["prompt"],
            "uncertain_beats_random": mean["uncertain_5x4"] > mean["random_5x4"],
            "uncertain_beats_random_own_rest": (
                mean["uncertain_5x4_own_rest"] > mean["random_5x4_own_rest"]
            ),
        },
        "refit_ms_2000_examples": refit_ms(X, P[:1], base),
    }


def clf_prompt_scores(params: dict, X: np.ndarray, prompt: np.ndarray) -> np.ndarray:
    return TagClassifier(**params).fit(prompts_pos=prompt, background=X).predict_proba(X)[:, 1]


def refit_ms(X: np.ndarray, prompt: np.ndarray, params: dict, n: int = 2000) -> float:
    """Median time of a fit on ``n`` labelled examples (resampled coco vectors + noise)."""
    rng = np.random.default_rng(0)
    Xn = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.02, (n, X.shape[1])).astype(np.float32)
    y = (Xn @ prompt[0] > np.median(Xn @ prompt[0])).astype(int)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        TagClassifier(**params).fit(Xn, y, prompts_pos=prompt, background=X)
        times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--params", default="{}", help="TagClassifier parameters, as JSON")
    args = parser.parse_args()
    t0 = time.perf_counter()
    result = run(json.loads(args.params), args.seeds)
    result["params"] = json.loads(args.params)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"bench": "tag_learning", **result}))


if __name__ == "__main__":
    main()
