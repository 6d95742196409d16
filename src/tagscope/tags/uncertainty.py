"""Uncertain items for labelling (active learning): near the decision boundary, and diverse.

The items whose score is nearest the threshold are the ones a label teaches the classifier most
about, but the nearest twenty are often near-copies of one scene (twenty frames of one shot).
:func:`select_uncertain` therefore takes a pool of the most uncertain items and picks from it
greedily by maximal marginal relevance (MMR): each pick maximises
``(1 - diversity) * uncertainty - diversity * max cosine to the items already picked``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(1000, 16))
>>> scores = rng.random(1000)
>>> picked = select_uncertain(scores, X, k=5, random_state=0)
>>> picked.shape
(5,)
"""

from __future__ import annotations

import numpy as np

__all__ = ["select_uncertain"]


def select_uncertain(
    scores: np.ndarray,
    X: np.ndarray | None = None,
    *,
    k: int = 20,
    threshold: float = 0.5,
    diversity: float = 0.5,
    pool_size: int | None = None,
    exclude: np.ndarray | None = None,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Indices of ``k`` items near the decision boundary, spread over the embedding space.

    Parameters
    ----------
    scores : ndarray of shape (n_items,)
        Calibrated scores of the tag.
    X : ndarray of shape (n_items, n_features), optional
        The items' vectors (any float dtype; rows are normalised here). Without them the ``k``
        nearest the threshold are returned, nearest first.
    k : int, default=20
        How many items to return (fewer if fewer are eligible).
    threshold : float, default=0.5
        The decision threshold (the tag's saved threshold, or 0.5).
    diversity : float in [0, 1], default=0.5
        0: purely the nearest to the threshold; 1: purely the most spread out within the pool.
    pool_size : int, optional
        Candidates considered: the ``pool_size`` nearest the threshold. Default ``max(10 k, 200)``.
    exclude : ndarray of int or bool, optional
        Items never to return (e.g. those already labelled): indices, or a mask of shape
        (n_items,).
    random_state : int or numpy Generator, optional
        Breaks ties between equally uncertain items (otherwise the lowest index wins).

    Returns
    -------
    ndarray of int64, shape (<= k,)
        Indices into ``scores``, in the order picked (most useful first).

    Raises
    ------
    ValueError
        Mismatched shapes, ``k < 1``, ``diversity`` outside [0, 1], non-finite scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-d, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    if k < 1:
        raise ValueError("k must be at least 1")
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be within [0, 1], got {diversity}")
    if X is not None and len(X) != len(s):
        raise ValueError(f"X has {len(X)} rows, scores has {len(s)}")
    distance = np.abs(s - threshold)
    eligible = np.ones(len(s), dtype=bool)
    if exclude is not None:
        ex = np.asarray(exclude)
        if ex.dtype == bool:
            if ex.shape != s.shape:
                raise ValueError("an exclude mask must have one entry per item")
            eligible &= ~ex
        else:
            eligible[ex.astype(np.int64)] = False
    candidates = np.flatnonzero(eligible)
    if len(candidates) == 0:
        return np.empty(0, dtype=np.int64)
    rng = np.random.default_rng(random_state)
    jitter = rng.random(len(candidates)) * 1e-12 if random_state is not None else 0.0
    pool_size = pool_size or max(10 * k, 200)
    key = distance[candidates] + jitter
    if len(candidates) > pool_size:
        part = np.argpartition(key, pool_size - 1)[:pool_size]
        candidates, key = candidates[part], key[part]
    order = np.argsort(key, kind="stable")
    candidates = candidates[order]
    if X is None or diversity == 0.0 or len(candidates) <= 1:
        return candidates[:k].astype(np.int64)
    V = np.asarray(X[candidates], dtype=np.float32)
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
    d = distance[candidates]
    span = d.max() - d.min()
    uncertainty = 1.0 - (d - d.min()) / span if span > 0 else np.ones(len(d))
    return candidates[_mmr(V, uncertainty, k, diversity)].astype(np.int64)


def _mmr(V: np.ndarray, relevance: np.ndarray, k: int, diversity: float) -> np.ndarray:
    """Greedy maximal marginal relevance over unit rows ``V``; returns positions in ``V``."""
    n = len(V)
    k = min(k, n)
    chosen = np.empty(k, dtype=np.int64)
    max_sim = np.zeros(n)  # similarity to the nearest item picked (floored at 0)
    value = (1.0 - diversity) * relevance.astype(np.float64)
    taken = np.zeros(n, dtype=bool)
    for step in range(k):
        i = int(np.argmax(np.where(taken, -np.inf, value - diversity * max_sim)))
        chosen[step] = i
        taken[i] = True
        np.maximum(max_sim, V @ V[i], out=max_sim)
    return chosen
