"""Classifier heads (``tagscope.train.HeadClassifier``) against scikit-learn's LogisticRegression:
validation mean AP and fit time on the same vectors and the same split (issue 13).

- ``coco``: multi-label on all of coco-mini (159 images) in the ``text`` space (each image's five
  captions, MiniLM), classes = the COCO categories present on >= 4 images, 30% validation
  (``validation_split``, seed 0); LR = OneVsRest(LogisticRegression(max_iter=1000)).
- ``mixture_single`` / ``mixture_multi``: N x 512 unit float32 vectors (default N = 20,000) from a
  seeded Gaussian mixture of 20 overlapping classes sharing a common offset; single-label (LR:
  multinomial LogisticRegression(max_iter=1000)) and multi-label (each class on ~12% of the items,
  at least one per item, the vector the sum of its classes' centres plus noise; LR: OneVsRest);
  20% validation.

On coco the comparison is repeated over 10 seeded splits (``coco_mean_over_splits``, with how
many the head wins); ``coco`` is split seed 0.

The head is fitted as the app fits it (early stopping on the validation loss); ``head_blind``
(coco only) watches its training loss instead, so that like LR it never sees the validation
items. Goal: head AP >= LR AP and head time <= 2x LR time.

Prints ONE JSON line.

    python bench/bench_train_head.py [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier

from _machine import cpu_info
from tagscope.train import HeadClassifier, validation_split

N_COCO_SPLITS = 10  # 48 validation images: one split's mean AP moves by +-0.03


def mixture(n: int, d: int = 512, k: int = 20, *, multi_label: bool, seed: int = 0):
    """(X (n, d) unit float32, y labels (n,) or indicator (n, k)): overlapping classes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)).astype(np.float32) / np.sqrt(d)
    common = rng.standard_normal(d).astype(np.float32) / np.sqrt(d)
    if multi_label:
        y = (rng.random((n, k)) < 0.12).astype(np.int8)
        y[np.arange(n), rng.integers(0, k, n)] = 1
        X = y.astype(np.float32) @ centres
    else:
        y = rng.integers(0, k, n)
        X = centres[y]
    X = X + 2.0 * common + 8.0 * rng.standard_normal((n, d), dtype=np.float32) / np.sqrt(d)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X.astype(np.float32), y


def coco_text() -> tuple[np.ndarray, np.ndarray]:
    from bench_tag_learning import load_coco_text

    X, labels, _ = load_coco_text()
    Y = np.stack([labels[c] for c in sorted(labels)], axis=1).astype(np.int8)
    return np.asarray(X, dtype=np.float32), Y[:, Y.sum(axis=0) >= 4]


def _mean_ap(Y: np.ndarray, P: np.ndarray) -> float:
    cols = [j for j in range(Y.shape[1]) if Y[:, j].any()]
    return float(np.mean([average_precision_score(Y[:, j], P[:, j]) for j in cols]))


def _timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def compare(
    X: np.ndarray, y: np.ndarray, fraction: float, *, blind: bool = False, seed: int = 0
) -> dict:
    multi = y.ndim == 2
    val = validation_split(y, fraction=fraction, random_state=seed)
    tr = ~val
    Yv = y[val] if multi else np.eye(int(y.max()) + 1, dtype=int)[y[val]]
    lr_model = LogisticRegression(max_iter=1000)
    lr, t_lr = _timed(
        lambda: (OneVsRestClassifier(lr_model) if multi else lr_model).fit(X[tr], y[tr])
    )
    head, t_head = _timed(
        lambda: HeadClassifier(multi_label=multi).fit(X[tr], y[tr], X_val=X[val], y_val=y[val])
    )
    out = {
        "n_train": int(tr.sum()),
        "n_val": int(val.sum()),
        "n_features": X.shape[1],
        "n_classes": int(Yv.shape[1]),
        "lr_ap": round(_mean_ap(Yv, lr.predict_proba(X[val])), 4),
        "head_ap": round(_mean_ap(Yv, head.predict_proba(X[val])), 4),
        "lr_s": round(t_lr, 3),
        "head_s": round(t_head, 3),
        "time_ratio_head_lr": round(t_head / t_lr, 3),
        "head_epochs": len(head.history_),
        "head_stop": head.stop_reason_,
    }
    if blind:
        head_b, t_b = _timed(lambda: HeadClassifier(multi_label=multi).fit(X[tr], y[tr]))
        out["head_blind_ap"] = round(_mean_ap(Yv, head_b.predict_proba(X[val])), 4)
        out["head_blind_s"] = round(t_b, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="items of the mixture sets")
    args = parser.parse_args()
    result: dict = {"bench": "train_head", **cpu_info()}
    X, Y = coco_text()
    runs = [compare(X, Y, 0.3, blind=True, seed=seed) for seed in range(N_COCO_SPLITS)]
    result["coco"] = {**runs[0], "split_seed": 0}
    result["coco_mean_over_splits"] = {
        "splits": N_COCO_SPLITS,
        **{
            key: round(float(np.mean([r[key] for r in runs])), 4)
            for key in ("lr_ap", "head_ap", "head_blind_ap", "time_ratio_head_lr")
        },
        "head_wins": sum(r["head_ap"] >= r["lr_ap"] for r in runs),
        "head_blind_wins": sum(r["head_blind_ap"] >= r["lr_ap"] for r in runs),
    }
    for kind in ("single", "multi"):
        X, y = mixture(args.n, multi_label=kind == "multi")
        result[f"mixture_{kind}"] = compare(X, y, 0.2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
