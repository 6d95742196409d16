"""Threshold curves agree with scikit-learn's metrics on the same scores and labels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, fbeta_score, precision_score, recall_score

from tagscope.tags.metrics import (
    METRICS,
    metrics_at,
    recommend_threshold,
    threshold_curves,
)


def _sklearn(y, scores, t, w=None):
    pred = scores >= t
    kw = {"sample_weight": w}
    return {
        "precision": precision_score(y, pred, zero_division=0, **kw),
        "recall": recall_score(y, pred, zero_division=0, **kw),
        "f1": f1_score(y, pred, zero_division=0, **kw),
        "f0.5": fbeta_score(y, pred, beta=0.5, zero_division=0, **kw),
        "accuracy": accuracy_score(y, pred, **kw),
    }


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("thresholds", [101, "unique", 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_curves_agree_with_sklearn(seed, thresholds, weighted):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.random(n) < rng.uniform(0.05, 0.6)
    y[0] = True  # at least one positive
    scores = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    scores[: n // 4] = np.round(scores[: n // 4], 1)  # ties, and scores on the threshold grid
    w = rng.uniform(0.1, 3.0, n) if weighted else None
    curves = threshold_curves(y, scores, thresholds=thresholds, sample_weight=w)
    for i, t in enumerate(curves.thresholds):
        expected = _sklearn(y, scores, t, w)
        for name in METRICS:
            assert curves.metric(name)[i] == pytest.approx(expected[name], abs=1e-12), (name, t)


def test_no_positives_gives_zero_precision_like_sklearn():
    y = np.zeros(10, dtype=int)
    scores = np.linspace(0, 1, 10)
    curves = threshold_curves(y, scores)
    assert (curves.recall == 0).all() and (curves.f1 == 0).all()
    assert curves.accuracy[-1] == pytest.approx(accuracy_score(y, scores >= 1.0))


def test_default_grid_is_0_to_1_in_hundredths():
    curves = threshold_curves([0, 1], [0.2, 0.8])
    assert len(curves.thresholds) == 101
    assert curves.thresholds[0] == 0.0 and curves.thresholds[-1] == 1.0


def test_recommend_threshold_maximises_the_metric():
    rng = np.random.default_rng(3)
    y = rng.random(500) < 0.2
    scores = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    curves = threshold_curves(y, scores)
    for name in METRICS:
        t = recommend_threshold(curves, name)
        assert _sklearn(y, scores, t)[name] == pytest.approx(curves.metric(name).max())
    assert recommend_threshold(curves) == recommend_threshold(curves, "f1")


def test_recommend_takes_the_middle_of_a_plateau():
    curves = threshold_curves([1, 0, 1, 0], [0.9, 0.6, 0.55, 0.1])
    assert recommend_threshold(curves, "f1") == pytest.approx(0.33)


def test_metrics_at_matches_sklearn():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.4, 0.6, 0.2, 0.7, 0.5])
    assert metrics_at(y, s, 0.5) == pytest.approx(_sklearn(y, s, 0.5))


@pytest.mark.parametrize(
    ("y", "scores", "message"),
    [
        ([], [], "empty"),
        ([0, 1], [0.1], "one length"),
        ([0, 2], [0.1, 0.2], "0/1"),
        ([0, 1], [0.1, np.nan], "finite"),
    ],
)
def test_bad_inputs_fail_loudly(y, scores, message):
    with pytest.raises(ValueError, match=message):
        threshold_curves(y, scores)


def test_unknown_metric():
    curves = threshold_curves([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match="unknown metric"):
        recommend_threshold(curves, "auc")
