from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from tagscope.domain.errors import ValidationError
from tagscope.train import classification_statistics


def _multi(seed: int = 0, n: int = 300, k: int = 4):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, k)) < [0.5, 0.2, 0.05, 0.3]).astype(int)
    P = np.clip(0.35 * Y + rng.random((n, k)) * 0.7, 0, 1)
    return Y, P


def test_multi_label_agrees_with_sklearn_and_is_json() -> None:
    Y, P = _multi()
    classes = ["cat", "dog", "owl", "fox"]
    stats = classification_statistics(Y, P, classes, multi_label=True, thresholds={"dog": 0.4})
    json.dumps(stats)  # JSON-able as it is
    assert stats["classes"] == classes
    assert "accuracy" not in stats and "confusion_matrix" not in stats
    aps = average_precision_score(Y, P, average=None)
    for j, name in enumerate(classes):
        c = stats["per_class"][name]
        assert c["ap"] == pytest.approx(aps[j], abs=1e-12)
        assert c["n_positive"] == Y[:, j].sum()
        curve = c["curve"]
        assert len(curve["thresholds"]) <= 101
        for i in (0, 37, 73):
            t = curve["thresholds"][i]
            pred = P[:, j] >= t
            assert curve["precision"][i] == pytest.approx(
                precision_score(Y[:, j], pred, zero_division=0)
            )
            assert curve["recall"][i] == pytest.approx(recall_score(Y[:, j], pred))
            assert curve["f1"][i] == pytest.approx(f1_score(Y[:, j], pred))
        best = np.max(curve["f1"])
        assert f1_score(Y[:, j], P[:, j] >= c["best_threshold"]) == pytest.approx(best)
    assert stats["map"] == pytest.approx(aps.mean())
    dog = stats["per_class"]["dog"]
    assert dog["threshold"] == 0.4
    assert dog["at_threshold"]["f1"] == pytest.approx(f1_score(Y[:, 1], P[:, 1] >= 0.4))
    assert "threshold" not in stats["per_class"]["cat"]


def test_single_label_accuracy_and_confusion_matrix_agree_with_sklearn() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 1.5 * np.eye(3)[truth]
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    stats = classification_statistics(
        np.eye(3, dtype=int)[truth], P, ["a", "b", "c"], multi_label=False
    )
    assert stats["accuracy"] == pytest.approx(accuracy_score(truth, P.argmax(axis=1)))
    assert stats["confusion_matrix"] == confusion_matrix(truth, P.argmax(axis=1)).tolist()
    assert sum(map(sum, stats["confusion_matrix"])) == 200


def test_a_class_without_positives_has_no_ap_and_is_left_out_of_the_mean() -> None:
    Y, P = _multi()
    Y[:, 2] = 0
    stats = classification_statistics(Y, P, ["a", "b", "c", "d"], multi_label=True)
    assert stats["per_class"]["c"]["ap"] is None
    aps = [average_precision_score(Y[:, j], P[:, j]) for j in (0, 1, 3)]
    assert stats["map"] == pytest.approx(np.mean(aps))


def test_bad_inputs_are_named() -> None:
    Y, P = _multi()
    with pytest.raises(ValidationError, match="one column per class"):
        classification_statistics(Y, P[:, :3], ["a", "b", "c", "d"], multi_label=True)
    with pytest.raises(ValidationError, match="one column per class"):
        classification_statistics(Y, P, ["a", "b"], multi_label=True)
    P[0, 0] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        classification_statistics(Y, P, ["a", "b", "c", "d"], multi_label=True)
