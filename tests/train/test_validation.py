from __future__ import annotations

import numpy as np
import pytest

from tagscope.domain.errors import ValidationError
from tagscope.train import validation_split


def test_single_label_is_stratified_seeded_and_keeps_classes_on_both_sides() -> None:
    y = np.array(["a"] * 50 + ["b"] * 20 + ["c"] * 3 + ["d"] * 2 + ["e"])
    mask = validation_split(y, fraction=0.2, random_state=0)
    assert mask.dtype == bool and mask.shape == y.shape
    for c, n_val in {"a": 10, "b": 4, "c": 1, "d": 1, "e": 0}.items():
        assert mask[y == c].sum() == n_val, c
        if (y == c).sum() >= 2:
            assert (~mask[y == c]).any(), c
    assert np.array_equal(mask, validation_split(y, fraction=0.2, random_state=0))
    assert not np.array_equal(mask, validation_split(y, fraction=0.2, random_state=1))


def test_multi_label_iterative_stratification_keeps_proportions() -> None:
    rng = np.random.default_rng(0)
    n, k = 1000, 12
    prevalence = np.geomspace(0.4, 0.004, k)  # the rarest class has ~4 examples
    Y = (rng.random((n, k)) < prevalence).astype(int)
    mask = validation_split(Y, fraction=0.25, random_state=0)
    assert abs(mask.sum() - 250) <= 5
    for j in range(k):
        n_pos = Y[:, j].sum()
        n_val = Y[mask, j].sum()
        assert abs(n_val - 0.25 * n_pos) <= 1.0, (j, n_pos, n_val)
        if n_pos >= 2:
            assert 1 <= n_val < n_pos, j
    # A random split does far worse on the rare classes.
    random_mask = rng.permutation(n) < 250
    worst = max(abs(Y[random_mask, j].sum() - 0.25 * Y[:, j].sum()) for j in range(k))
    assert worst > 1.0
    assert np.array_equal(mask, validation_split(Y, fraction=0.25, random_state=0))


def test_multi_label_repair_puts_a_pair_on_both_sides() -> None:
    # Two items carrying class 1; at fraction 0.1 both would want to stay in training.
    Y = np.zeros((20, 2), dtype=int)
    Y[:, 0] = 1
    Y[[3, 7], 1] = 1
    mask = validation_split(Y, fraction=0.1, random_state=0)
    assert mask[[3, 7]].sum() == 1
    assert mask.any() and not mask.all()


def test_items_without_classes_fill_the_sizes() -> None:
    Y = np.zeros((40, 3), dtype=int)
    Y[:10, 0] = Y[5:15, 1] = Y[30:34, 2] = 1
    mask = validation_split(Y, fraction=0.5, random_state=3)
    assert mask.sum() == 20


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_the_unit_interval_is_refused(fraction: float) -> None:
    with pytest.raises(ValidationError, match=r"in \(0, 1\)") as e:
        validation_split(np.array([0, 1, 0, 1]), fraction=fraction)
    assert e.value.field == "validation"


def test_too_few_items_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 2 items"):
        validation_split(np.array([1]), fraction=0.5)
    with pytest.raises(ValidationError, match="0/1"):
        validation_split(np.array([[0, 2], [1, 0]]), fraction=0.5)
