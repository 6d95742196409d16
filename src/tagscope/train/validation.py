"""Validation splits: stratified and seeded, for single-label and multi-label targets.

Single-label targets are split class by class. Multi-label targets use iterative stratification
(Sechidis, Tsoumakas and Vlahavas, "On the stratification of multi-label data", ECML PKDD 2011):
the rarest label is placed first, each of its items going to the side that still wants the most
of it, so rare labels keep their proportion instead of being left to chance. A final repair moves
single items so that every class with at least two examples appears on both sides.

Examples
--------
>>> mask = validation_split(["a", "a", "b", "b", "b", "b"], fraction=0.5, random_state=0)
>>> int(mask.sum())
3
"""

from __future__ import annotations

import numpy as np

from tagscope.domain.errors import ValidationError

__all__ = ["TrainingDataError", "validation_split"]


class TrainingDataError(ValidationError, ValueError):
    """Training data a model cannot learn from (one class, a label never absent, NaN vectors...).

    A :class:`~tagscope.domain.errors.ValidationError` for the faces and a :class:`ValueError` for
    scikit-learn's conventions (``check_array`` and its estimator checks expect one).
    """


def validation_split(y: np.ndarray, *, fraction: float, random_state: int = 0) -> np.ndarray:
    """A stratified, seeded validation mask.

    Parameters
    ----------
    y : array-like of shape (n_items,) or (n_items, n_classes)
        Class labels (single-label) or a 0/1 indicator matrix (multi-label; items without any
        class are allowed and fill the sides' sizes).
    fraction : float
        The share of the items to put in validation, in (0, 1).
    random_state : int, default=0
        Seed of the shuffles and ties: the same inputs give the same mask.

    Returns
    -------
    ndarray of bool, shape (n_items,)
        True for the validation items. Every class with at least two examples has at least one on
        each side (where the items' other classes allow it, in the multi-label case).

    Raises
    ------
    ValidationError
        ``fraction`` outside (0, 1), fewer than two items, or ``y`` neither 1-d nor 2-d 0/1.
    """
    if not 0 < fraction < 1:
        raise TrainingDataError(
            f"the validation fraction must be in (0, 1), got {fraction}", field="validation"
        )
    y = np.asarray(y)
    if y.ndim not in (1, 2) or len(y) < 2:
        raise TrainingDataError(
            f"a validation split needs at least 2 items in a 1-d or 2-d target, got shape "
            f"{y.shape}",
            field="validation",
        )
    rng = np.random.default_rng(random_state)
    if y.ndim == 1:
        return _split_single(y, fraction, rng)
    if not np.isin(y, [0, 1]).all():
        raise TrainingDataError("a multi-label target must be a 0/1 matrix", field="validation")
    return _split_multi(y.astype(bool), fraction, rng)


def _split_single(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(len(y), dtype=bool)
    _, codes = np.unique(y, return_inverse=True)
    for c in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == c))
        if len(members) >= 2:
            n_val = min(max(int(np.floor(fraction * len(members) + 0.5)), 1), len(members) - 1)
            mask[members[:n_val]] = True
    if mask.all() or not mask.any():  # only singleton classes: split the items themselves
        mask[:] = False
        mask[rng.permutation(len(y))[: max(1, int(np.floor(fraction * len(y) + 0.5)))]] = True
    return mask


def _split_multi(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    n = len(y)
    ratios = np.array([1.0 - fraction, fraction])  # side 0: train, side 1: validation
    want_items = n * ratios
    counts = y.sum(axis=0)
    # Wanted examples of each class on each side; at least one on each side for classes with two.
    want = np.outer(ratios, counts)
    want[:, counts >= 2] = np.maximum(want[:, counts >= 2], 1.0)
    side = np.full(n, -1)
    remaining = y.copy()
    order = rng.permutation(n)  # the items' order within a class: seeded
    while remaining.any():
        left = remaining.sum(axis=0)
        rarest = np.flatnonzero(left == left[left > 0].min())
        label = rarest[rng.integers(len(rarest))]
        for i in order[remaining[order, label]]:
            s = _pick(want[:, label], want_items, rng)
            side[i] = s
            want[s, y[i]] -= 1
            want_items[s] -= 1
            remaining[i] = False
    for i in order[side[order] < 0]:  # items without any class
        s = _pick(want_items, want_items, rng)
        side[i] = s
        want_items[s] -= 1
    _repair(y, side, order)
    mask = side == 1
    if mask.all() or not mask.any():
        raise TrainingDataError(
            f"{n} items cannot be split into train and validation at fraction {fraction}",
            field="validation",
        )
    return mask


def _pick(primary: np.ndarray, secondary: np.ndarray, rng: np.random.Generator) -> int:
    """The side wanting the most by ``primary``, ties by ``secondary``, then at random."""
    best = np.flatnonzero(primary == primary.max())
    if len(best) > 1:
        best = best[secondary[best] == secondary[best].max()]
    return int(best[rng.integers(len(best))])


def _repair(y: np.ndarray, side: np.ndarray, order: np.ndarray) -> None:
    """Move items so that each class with two examples is on both sides, where a move leaves
    every other class of the item still present on the side it leaves."""
    counts = y.sum(axis=0)
    for label in np.argsort(counts, kind="stable"):
        if counts[label] < 2:
            continue
        for s in (0, 1):
            if (y[side == s, label]).any():
                continue
            per_side = np.stack([y[side == 0].sum(axis=0), y[side == 1].sum(axis=0)])
            for i in order[(side[order] == 1 - s) & y[order, label]]:
                if (per_side[1 - s, y[i]] >= 2).all():
                    side[i] = s
                    break
