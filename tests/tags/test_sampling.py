"""Preview samples, stratified samples and histograms of scores."""

from __future__ import annotations

import numpy as np
import pytest

from tagscope.tags import preview_sample, score_histogram, stratified_sample


def _scores(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(np.r_[rng.beta(1, 12, n - n // 10), rng.beta(8, 2, n // 10)], 0, 1)


def test_compare_view_sides_respect_the_threshold():
    s = _scores()
    p = preview_sample(s, 0.6, n=24, random_state=1)
    assert len(p.positives) == 24 and len(p.negatives) == 24
    assert (s[p.positives] >= 0.6).all() and (s[p.negatives] < 0.6).all()
    assert p.n_positive == int((s >= 0.6).sum()) and p.n_positive + p.n_negative == len(s)


def test_views():
    s = _scores()
    pos = preview_sample(s, 0.5, n=10, view="positives", random_state=0)
    neg = preview_sample(s, 0.5, n=10, view="negatives", random_state=0)
    assert len(pos.positives) == 10 and len(pos.negatives) == 0
    assert len(neg.negatives) == 10 and len(neg.positives) == 0
    with pytest.raises(ValueError, match="unknown view"):
        preview_sample(s, view="both")


def test_seeded_and_random():
    s = _scores()
    a = preview_sample(s, 0.5, random_state=7)
    b = preview_sample(s, 0.5, random_state=7)
    c = preview_sample(s, 0.5, random_state=8)
    assert a.positives.tolist() == b.positives.tolist()
    assert a.negatives.tolist() != c.negatives.tolist()


def test_moving_the_threshold_keeps_most_of_the_sample():
    s = _scores()
    a = preview_sample(s, 0.50, n=24, random_state=3)
    b = preview_sample(s, 0.52, n=24, random_state=3)
    kept = set(a.positives.tolist()) & set(b.positives.tolist())
    assert len(kept) >= 18
    assert set(a.negatives.tolist()) <= set(b.negatives.tolist()) | set(
        np.flatnonzero(s >= 0.52).tolist()
    )


def test_sort_by_score_and_small_sides():
    s = np.array([0.9, 0.8, 0.95, 0.1, 0.2])
    p = preview_sample(s, 0.5, n=10, sort_by_score=True)
    assert p.positives.tolist() == [2, 0, 1]
    assert p.negatives.tolist() == [4, 3]


def test_stratified_sample_ten_per_bucket():
    s = _scores()
    buckets = stratified_sample(s, random_state=0)
    assert len(buckets) == 10
    edges = np.linspace(0, 1, 11)
    for i, idx in enumerate(buckets):
        in_bucket = (s >= edges[i]) & ((s < edges[i + 1]) | (i == 9))
        assert len(idx) == min(10, in_bucket.sum())
        assert in_bucket[idx].all()
        assert (np.diff(s[idx]) >= 0).all()


def test_stratified_custom_edges():
    s = np.array([0.05, 0.15, 0.15, 0.6, 1.0])
    buckets = stratified_sample(s, n_per_bucket=1, bins=np.array([0.0, 0.1, 0.5, 1.0]))
    assert [len(b) for b in buckets] == [1, 1, 1]
    assert buckets[0].tolist() == [0]


def test_histogram_agrees_with_numpy():
    s = _scores()
    h = score_histogram(s, bins=20)
    counts, edges = np.histogram(s, bins=20, range=(0, 1))
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert h.n_below == 0 and h.counts.sum() == len(s)


def test_histogram_zoom_and_ranges_select_each_bin():
    s = np.r_[_scores(), 1.0, 0.9]
    h = score_histogram(s, bins=8, min_score=0.6)
    assert h.edges[0] == 0.6 and h.edges[-1] == 1.0
    assert h.n_below == int((s < 0.6).sum())
    assert h.counts.sum() + h.n_below == len(s)
    for (low, high, closed), count in zip(h.ranges(), h.counts, strict=True):
        selected = (s >= low) & ((s <= high) if closed else (s < high))
        assert selected.sum() == count
    assert h.ranges()[-1][2] is True and h.ranges()[0][2] is False


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: score_histogram(np.array([0.1]), bins=0), "bins"),
        (lambda: score_histogram(np.array([0.1]), min_score=1.0), "range"),
        (lambda: score_histogram(np.array([0.1]), bins=np.array([0.5, 0.2])), "increasing"),
        (lambda: score_histogram(np.array([np.nan])), "finite"),
        (lambda: stratified_sample(np.array([0.1]), n_per_bucket=-1), "negative"),
        (lambda: preview_sample(np.ones((2, 2))), "1-d"),
    ],
)
def test_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
