"""Preview samples and histograms of a tag's scores.

* :func:`preview_sample`: a random sample of positives and of negatives at a threshold (F-24).
  Each item draws one seeded random priority and a side shows its lowest-priority items, so
  moving the threshold slider changes the sample only where items cross it: the preview does not
  reshuffle on every step.
* :func:`stratified_sample`: after publishing, ``n`` random items from each score bucket.
* :func:`score_histogram`: bins of the scores between a minimum score (to zoom into rare
  positives) and 1; each bin gives its score range, for the service to turn into a filter.

Examples
--------
>>> import numpy as np
>>> scores = np.array([0.05, 0.2, 0.55, 0.9, 0.97, 0.4])
>>> sample = preview_sample(scores, 0.5, n=2, random_state=0)
>>> sorted(sample.positives.tolist()), sorted(sample.negatives.tolist())
([2, 3], [0, 1])
>>> score_histogram(scores, bins=2, min_score=0.5).counts.tolist()
[1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Preview",
    "ScoreHistogram",
    "preview_sample",
    "score_histogram",
    "stratified_sample",
]

VIEWS = ("compare", "positives", "negatives")


@dataclass(frozen=True)
class Preview:
    """Item indices shown by a preview, each side in random (seeded) order.

    Attributes
    ----------
    positives : ndarray of int64
        Items with ``score >= threshold`` (empty in the negatives-only view).
    negatives : ndarray of int64
        Items with ``score < threshold`` (empty in the positives-only view).
    n_positive, n_negative : int
        How many items of the whole input fall on each side.
    """

    positives: np.ndarray
    negatives: np.ndarray
    n_positive: int
    n_negative: int


def _scores(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-d, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return s


def preview_sample(
    scores: np.ndarray,
    threshold: float = 0.5,
    *,
    n: int = 24,
    view: str = "compare",
    sort_by_score: bool = False,
    random_state: int | None = None,
) -> Preview:
    """A random sample of positives and negatives at ``threshold``.

    Parameters
    ----------
    scores : ndarray of shape (n_items,)
        The tag's scores.
    threshold : float, default=0.5
        Items scoring at least this are positives.
    n : int, default=24
        Items per side ("positives"/"negatives") or per side in "compare".
    view : {"compare", "positives", "negatives"}, default="compare"
        Which sides to fill.
    sort_by_score : bool, default=False
        Order each side by decreasing score (the transcript view) instead of at random.
    random_state : int, optional
        Seeds the priorities; the same seed gives the same sample, and a moved threshold keeps
        every sampled item that stays on its side unless a higher-priority item crossed over.

    Returns
    -------
    Preview
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    if n < 0:
        raise ValueError("n cannot be negative")
    s = _scores(scores)
    priority = np.random.default_rng(random_state).random(len(s))
    positive = s >= threshold

    def side(mask: np.ndarray, wanted: bool) -> np.ndarray:
        if not wanted or n == 0:
            return np.empty(0, dtype=np.int64)
        idx = np.flatnonzero(mask)
        if len(idx) > n:
            idx = idx[np.argpartition(priority[idx], n - 1)[:n]]
        key = -s[idx] if sort_by_score else priority[idx]
        return idx[np.argsort(key, kind="stable")].astype(np.int64)

    return Preview(
        positives=side(positive, view in ("compare", "positives")),
        negatives=side(~positive, view in ("compare", "negatives")),
        n_positive=int(positive.sum()),
        n_negative=int((~positive).sum()),
    )


def _edges(bins: int | np.ndarray, low: float, high: float) -> np.ndarray:
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError("bins must be at least 1")
        if not low < high:
            raise ValueError(f"the score range must be non-empty, got [{low}, {high}]")
        return np.linspace(low, high, int(bins) + 1)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or (np.diff(edges) <= 0).any():
        raise ValueError("bin edges must be increasing, at least two")
    return edges


def _bucket(s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each score (``edges[i] <= s < edges[i+1]``, the last bin closed); -1 outside."""
    b = np.searchsorted(edges, s, side="right") - 1
    b[s == edges[-1]] = len(edges) - 2
    b[(s < edges[0]) | (s > edges[-1])] = -1
    return b


def stratified_sample(
    scores: np.ndarray,
    *,
    n_per_bucket: int = 10,
    bins: int | np.ndarray = 10,
    random_state: int | None = None,
) -> list[np.ndarray]:
    """``n_per_bucket`` random items from each score bucket (all of a bucket's if it has fewer).

    Parameters
    ----------
    scores : ndarray of shape (n_items,)
    n_per_bucket : int, default=10
    bins : int or ndarray, default=10
        Number of equal buckets over [0, 1], or increasing bucket edges.
    random_state : int, optional

    Returns
    -------
    list of ndarray of int64
        One array of item indices per bucket, lowest bucket first, each sorted by score.
    """
    if n_per_bucket < 0:
        raise ValueError("n_per_bucket cannot be negative")
    s = _scores(scores)
    edges = _edges(bins, 0.0, 1.0)
    bucket = _bucket(s, edges)
    rng = np.random.default_rng(random_state)
    out = []
    for i in range(len(edges) - 1):
        idx = np.flatnonzero(bucket == i)
        if len(idx) > n_per_bucket:
            idx = rng.choice(idx, n_per_bucket, replace=False)
        out.append(idx[np.argsort(s[idx], kind="stable")].astype(np.int64))
    return out


@dataclass(frozen=True)
class ScoreHistogram:
    """Counts of scores per bin.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
        Bin ``i`` holds ``edges[i] <= score < edges[i + 1]``; the last bin also holds
        ``score == edges[-1]``.
    counts : ndarray of int64, shape (n_bins,)
    n_below : int
        Scores below ``edges[0]`` (hidden by the zoom).
    """

    edges: np.ndarray
    counts: np.ndarray
    n_below: int

    def ranges(self) -> list[tuple[float, float, bool]]:
        """``(low, high, high_inclusive)`` per bin: the filter ``low <= score < high`` (or
        ``<= high`` for the last bin) selects the bin's items."""
        n = len(self.counts)
        return [(float(self.edges[i]), float(self.edges[i + 1]), i == n - 1) for i in range(n)]


def score_histogram(
    scores: np.ndarray,
    *,
    bins: int | np.ndarray = 20,
    min_score: float = 0.0,
    max_score: float = 1.0,
) -> ScoreHistogram:
    """Histogram of scores over ``[min_score, max_score]``.

    Parameters
    ----------
    scores : ndarray of shape (n_items,)
    bins : int or ndarray, default=20
        Number of equal bins over the range, or increasing edges (then the range is theirs).
    min_score : float, default=0.0
        Zoom: scores below it are only counted in ``n_below``, so the rare positives of a tag
        get the bins.
    max_score : float, default=1.0

    Returns
    -------
    ScoreHistogram
    """
    s = _scores(scores)
    edges = _edges(bins, float(min_score), float(max_score))
    bucket = _bucket(s, edges)
    counts = np.bincount(bucket[bucket >= 0], minlength=len(edges) - 1).astype(np.int64)
    return ScoreHistogram(edges=edges, counts=counts, n_below=int((s < edges[0]).sum()))
