"""Uncertain items: near the threshold, diverse, never the excluded ones."""

from __future__ import annotations

import numpy as np
import pytest

from tagscope.tags import normalize_rows, select_uncertain


def _scene_world(seed=0):
    """One scene of 40 near-copies scored right at the boundary; 200 distinct items nearby."""
    rng = np.random.default_rng(seed)
    d = 32
    scene = normalize_rows(rng.normal(size=(1, d)))
    copies = normalize_rows(scene + 0.01 * rng.normal(size=(40, d)))
    others = normalize_rows(rng.normal(size=(200, d)))
    far = normalize_rows(rng.normal(size=(500, d)))
    X = np.vstack([copies, others, far])
    scores = np.r_[
        0.5 + rng.uniform(-0.005, 0.005, 40),
        0.5 + rng.choice([-1, 1], 200) * rng.uniform(0.01, 0.08, 200),
        rng.choice([0.02, 0.97], 500),
    ]
    return X, scores


def test_without_vectors_nearest_to_threshold_first():
    scores = np.array([0.1, 0.52, 0.9, 0.47, 0.5, 0.7])
    picked = select_uncertain(scores, k=3)
    assert picked.tolist() == [4, 1, 3]
    assert select_uncertain(scores, k=2, threshold=0.75).tolist() == [5, 2]


def test_diverse_not_twenty_copies_of_one_scene():
    X, scores = _scene_world()
    plain = select_uncertain(scores, X, k=20, diversity=0.0)
    diverse = select_uncertain(scores, X, k=20)
    assert (plain < 40).sum() == 20  # purely by uncertainty: all copies of the scene
    assert (diverse < 40).sum() <= 2  # diverse: the scene once (or twice)
    # ... and still near the boundary: all from the uncertain pool, none from the far items.
    assert (diverse < 240).all()
    assert np.abs(scores[diverse] - 0.5).max() <= 0.08


def test_picks_are_unique_and_sized():
    X, scores = _scene_world(1)
    picked = select_uncertain(scores, X, k=30, random_state=0)
    assert len(picked) == 30 and len(set(picked.tolist())) == 30
    assert picked.dtype == np.int64


@pytest.mark.parametrize("as_mask", [False, True])
def test_exclude(as_mask):
    X, scores = _scene_world(2)
    first = select_uncertain(scores, X, k=10)
    exclude = np.zeros(len(scores), bool) if as_mask else first
    if as_mask:
        exclude[first] = True
    second = select_uncertain(scores, X, k=10, exclude=exclude)
    assert not set(first.tolist()) & set(second.tolist())


def test_fewer_eligible_than_k():
    scores = np.array([0.4, 0.6, 0.5])
    X = np.eye(3)
    assert sorted(select_uncertain(scores, X, k=10).tolist()) == [0, 1, 2]
    assert select_uncertain(scores, X, k=10, exclude=[0, 1, 2]).tolist() == []


def test_float16_vectors():
    X, scores = _scene_world(3)
    picked = select_uncertain(scores, X.astype(np.float16), k=5)
    assert len(picked) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must"),
        ({"diversity": 1.5}, "diversity"),
        ({"X": np.ones((2, 3))}, "rows"),
        ({"scores": np.array([0.5, np.nan, 0.1])}, "finite"),
        ({"exclude": np.zeros(2, bool)}, "mask"),
    ],
)
def test_bad_inputs(kwargs, message):
    args = {"scores": np.array([0.5, 0.4, 0.1]), **kwargs}
    with pytest.raises(ValueError, match=message):
        select_uncertain(**args)
