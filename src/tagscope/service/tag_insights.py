"""Looking at a tag's scores: preview, uncertain items, histogram, evaluation (F-24, F-25, F-28,
F-29).

Where the scores come from: on the training dataset of a draft or pending group, the tag is
fitted afresh on its current definition at each call (so a new prompt or example shows at once);
otherwise they are read from the dataset's score files (its latest scored version).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tagscope.domain import Dataset, Item, NotFoundError, ValidationError
from tagscope.domain.tags import Tag, TagGroup, TagState
from tagscope.service import _tag_models as tm
from tagscope.service import defaults
from tagscope.service.tag_scoring import matching_space, score_columns, score_tables
from tagscope.service.workspace import Workspace
from tagscope.store.sql import score_column
from tagscope.store.tag_catalog import TagCatalog
from tagscope.tags.metrics import METRICS, recommend_threshold, threshold_curves
from tagscope.tags.sampling import preview_sample, score_histogram, stratified_sample
from tagscope.tags.scoring import score_matrix
from tagscope.tags.uncertainty import select_uncertain

RANDOM_STATE = 0


@dataclass(frozen=True, slots=True)
class ScoredItem:
    item_id: int
    score: float
    path: str
    text: str | None = None
    # Of a part of a video (keyframe, shot, cue): its video and time range (a keyframe's: its time).
    video_id: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class TagPreview:
    """A sample of a tag's positives and negatives at ``threshold``.

    ``live``: fitted on the current definition (not published yet, or edited since);
    ``stratified``: 10 items per score bucket (after publishing) instead of a random sample.
    """

    group: str
    tag: str
    modality: str
    threshold: float
    live: bool
    stratified: bool
    version: int | None
    positives: list[ScoredItem]
    negatives: list[ScoredItem]
    n_positive: int
    n_negative: int


@dataclass(frozen=True, slots=True)
class HistogramBin:
    """Scores ``lo <= score < hi`` (``<= hi`` in the last bin); ``where`` selects its items in
    the grid (a SQL filter, F-42)."""

    lo: float
    hi: float
    count: int
    where: str


@dataclass(frozen=True, slots=True)
class TagHistogram:
    group: str
    tag: str
    modality: str
    version: int
    min_score: float
    threshold: float
    bins: list[HistogramBin]
    n_below: int
    n_items: int
    where_tagged: str  # the items at or above the tag's threshold


@dataclass(frozen=True, slots=True)
class TagEvaluation:
    """Metrics of a tag over thresholds against ground truth (reviews, then labels)."""

    group: str
    tag: str
    metric: str
    recommended_threshold: float
    threshold: float  # the tag's saved threshold
    at_recommended: dict[str, float]
    at_threshold: dict[str, float]
    curves: dict[str, Any]
    n_positive: int
    n_negative: int
    n_reviewed: int
    n_from_labels: int
    live: bool
    version: int | None
    label_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CurrentScores:
    """A tag's scores on a dataset as the preview and the judge see them (see current_scores)."""

    ids: np.ndarray  # sorted item ids that have a score
    scores: np.ndarray  # float32, one per id
    live: bool
    version: int | None
    vectors: tm.SpaceVectors | None = None

    def item_vectors(self) -> _Rows | None:
        if self.vectors is None:
            return None
        rows, _ = self.vectors.rows(self.ids)
        return _Rows(self.vectors.X, rows)


class _Rows:
    """Lazy rows of a (memory-mapped) matrix: ``len`` and fancy indexing read only those asked."""

    def __init__(self, X: np.ndarray, rows: np.ndarray) -> None:
        self.X, self.r = X, rows

    def __len__(self) -> int:
        return len(self.r)

    def __getitem__(self, idx: Any) -> np.ndarray:
        return np.asarray(self.X[self.r[idx]])


def _live(ws: Workspace, ds: Dataset, grp: TagGroup, tag: Tag, table: str) -> CurrentScores:
    by_table = tm.modalities_of(ws, ds.id)
    if table not in by_table:
        raise ValidationError(f"dataset {ds.name!r} has no {table} items", field="modality")
    ids = by_table[table]
    modality = tm.prompt_modality(table)
    vectors = tm.load_vectors(ws, ds, tm.prompt_space(ws, ds, grp.space, modality))
    clf = tm.fit_tag(tag, modality, vectors, ids)
    X, found = vectors.take(ids)
    scores = score_matrix(X, clf.coef_, clf.intercept_, normalize=True)[:, 0]
    return CurrentScores(ids[found], scores, True, None, vectors)


def _from_files(
    ws: Workspace, ds: Dataset, grp: TagGroup, tag: Tag, table: str, *, with_vectors: bool
) -> CurrentScores:
    use = TagCatalog(ws.catalog).get_use(grp.id, ds.id)
    if use.version is None:
        verb = "publish" if use.is_training else "apply"
        raise ValidationError(
            f"tag group {grp.name!r} has not scored dataset {ds.name!r} yet: {verb} it first",
            field="group",
        )
    tables = score_tables(ws)
    if use.version not in tables.versions(ds.id, grp.slug, table):
        raise ValidationError(
            f"dataset {ds.name!r} has no {table} scores of tag group {grp.name!r}",
            field="modality",
        )
    ids, names, matrix = tables.load(ds.id, grp.slug, use.version, table)
    if tag.name not in names:
        raise NotFoundError(
            f"tag {tag.name!r} is not in version {use.version} of {grp.name!r} "
            f"(it has: {', '.join(names)}); publish again to score it"
        )
    column = matrix[:, names.index(tag.name)]
    keep = ~np.isnan(column)
    vectors = None
    if with_vectors:
        name = matching_space(ws, grp, ds, tm.prompt_modality(table))
        space = ws.catalog.get_space(ds.id, name)
        ids_v, X = ws.vectors(ds, space["name"]).load()
        vectors = tm.SpaceVectors(space, ids_v, X)
    return CurrentScores(ids[keep], column[keep], False, use.version, vectors)


def _aggregated(ws: Workspace, ds: Dataset, visual: CurrentScores, table: str) -> CurrentScores:
    """Shot or video scores from the keyframes' (``visual``): a shot's is the max of its
    keyframes', a video's the max of its shots' (as the SQL views ``dt_<group>_shot`` and
    ``_video`` compute them)."""
    if table not in TagCatalog(ws.catalog).modality_counts(ds.id):
        raise ValidationError(f"dataset {ds.name!r} has no {table} items", field="modality")
    key = "shot_id" if table == "shot" else "video_id"
    items = ws.catalog.get_items([int(i) for i in visual.ids])
    best: dict[int, float] = {}
    for item_id, score in zip(visual.ids, visual.scores, strict=True):
        owner = items[int(item_id)].metadata.get(key) if int(item_id) in items else None
        if owner is not None:
            best[int(owner)] = max(best.get(int(owner), 0.0), float(score))
    ids = np.array(sorted(best), np.int64)
    scores = np.array([best[i] for i in ids], np.float32)
    return CurrentScores(ids, scores, visual.live, visual.version)


def current_scores(
    ws: Workspace, ds: Dataset, grp: TagGroup, tag: Tag, table: str, *, with_vectors: bool = False
) -> CurrentScores:
    """Live on the training dataset of a draft or pending group, else from the score files;
    shots and videos from their keyframes' scores (no vectors of their own)."""
    if table not in tm.FILE_TABLES:
        return _aggregated(ws, ds, current_scores(ws, ds, grp, tag, "visual"), table)
    if ds.id == grp.dataset_id and grp.state is not TagState.PUBLISHED:
        return _live(ws, ds, grp, tag, table)
    use = TagCatalog(ws.catalog).get_use(grp.id, ds.id)
    if ds.id == grp.dataset_id and use.version != grp.version:
        return _live(ws, ds, grp, tag, table)  # published, not scored (yet) with that version
    return _from_files(ws, ds, grp, tag, table, with_vectors=with_vectors)


def _items(ws: Workspace, ids: np.ndarray, scores: np.ndarray) -> list[ScoredItem]:
    found = ws.catalog.get_items([int(i) for i in ids])
    return [
        _scored(found[int(i)], float(s))
        for i, s in zip(ids, scores, strict=True)
        if int(i) in found
    ]


def _scored(item: Item, score: float) -> ScoredItem:
    m = item.metadata
    start = m.get("start_ms", m.get("keyframe_time_ms"))
    end = m.get("end_ms", start)
    return ScoredItem(item.id, score, item.path, item.text, m.get("video_id"), start, end)


# -- preview (F-24) -----------------------------------------------------------------------
def preview_tag(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    threshold: float | None = None,
    view: str = "compare",
    n: int = defaults.PREVIEW_SIZE,
    modality: str = "visual",
    stratified: bool | None = None,
    sort_by_score: bool | None = None,
) -> TagPreview:
    """A sample of the tag's positives and negatives at ``threshold`` (default: the tag's).

    Parameters
    ----------
    view : {"compare", "positives", "negatives"}, default "compare"
    n : int, default 24
        Items per side (random sample; the same items stay while the threshold moves).
    modality : {"visual", "transcript", "shot", "video"}, default "visual"
    stratified : bool, optional
        10 items per score bucket; by default once the dataset is scored with the published
        version, a random sample before.
    sort_by_score : bool, optional
        Order each side by score (default for transcripts), else at random.
    """
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag)
    table = tm.check_score_table(modality)
    limit = t.threshold if threshold is None else float(threshold)
    if not 0.0 <= limit <= 1.0:
        raise ValidationError(f"threshold must be within 0..1, got {limit}", field="threshold")
    if view not in ("compare", "positives", "negatives"):
        raise ValidationError(
            f"invalid view {view!r}: choose compare, positives or negatives", field="view"
        )
    sc = current_scores(ws, ds, grp, t, table)
    by_score = (table == "transcript") if sort_by_score is None else sort_by_score
    strat = (not sc.live) if stratified is None else stratified
    if strat:
        picked = np.concatenate(stratified_sample(sc.scores, random_state=RANDOM_STATE))
        picked = picked[np.argsort(-sc.scores[picked], kind="stable")]
        is_pos = sc.scores[picked] >= limit
        pos = picked[is_pos] if view != "negatives" else picked[:0]
        neg = picked[~is_pos] if view != "positives" else picked[:0]
    else:
        sample = preview_sample(
            sc.scores, limit, n=n, view=view, sort_by_score=by_score, random_state=RANDOM_STATE
        )
        pos, neg = sample.positives, sample.negatives
    n_pos = int((sc.scores >= limit).sum())
    return TagPreview(
        group=grp.name,
        tag=t.name,
        modality=table,
        threshold=limit,
        live=sc.live,
        stratified=strat,
        version=sc.version,
        positives=_items(ws, sc.ids[pos], sc.scores[pos]),
        negatives=_items(ws, sc.ids[neg], sc.scores[neg]),
        n_positive=n_pos,
        n_negative=len(sc.scores) - n_pos,
    )


# -- uncertain items (F-25) ---------------------------------------------------------------
def uncertain_items(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    k: int = 20,
    diversity: float = 0.5,
    modality: str = "visual",
) -> list[ScoredItem]:
    """The ``k`` items nearest the tag's decision boundary, spread out (not near-copies of one
    scene), leaving out items already marked as examples: the ones worth labelling next."""
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag)
    if k < 1:
        raise ValidationError(f"k must be >= 1, got {k}", field="k")
    if not 0.0 <= diversity <= 1.0:
        raise ValidationError("diversity must be within 0..1", field="diversity")
    sc = current_scores(ws, ds, grp, t, tm.check_score_table(modality), with_vectors=True)
    marked = np.isin(sc.ids, np.array([e.item_id for e in t.examples], np.int64))
    picked = select_uncertain(
        sc.scores,
        sc.item_vectors(),
        k=k,
        threshold=t.threshold,
        diversity=diversity,
        exclude=marked,
        random_state=RANDOM_STATE,
    )
    return _items(ws, sc.ids[picked], sc.scores[picked])


# -- histogram (F-28) ---------------------------------------------------------------------
def tag_histogram(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    bins: int = 20,
    min_score: float = 0.0,
    modality: str = "visual",
) -> TagHistogram:
    """Bins of the tag's scores over the dataset (its score files), from ``min_score`` to 1.

    Each bin carries the grid filter selecting its items, e.g.
    ``tags_animals.dog >= 0.9 AND tags_animals.dog <= 1.0``.
    """
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag)
    if not 1 <= bins <= 1000:
        raise ValidationError(f"bins must be within 1..1000, got {bins}", field="bins")
    if not 0.0 <= min_score < 1.0:
        raise ValidationError(
            f"min_score must be within [0, 1), got {min_score}", field="min_score"
        )
    table = tm.check_score_table(modality)
    if table in tm.FILE_TABLES:
        sc = _from_files(ws, ds, grp, t, table, with_vectors=False)
    else:
        visual = _from_files(ws, ds, grp, t, "visual", with_vectors=False)
        sc = _aggregated(ws, ds, visual, table)
    # Round edges (0.68, not 0.6799999999999999): the counts and the filters use the same ones.
    edges = np.unique(np.round(np.linspace(min_score, 1.0, bins + 1), 10))
    hist = score_histogram(sc.scores, bins=edges)
    col = score_columns(ws, grp.name).get(t.name) or score_column(grp.name, t.name)
    out = [
        HistogramBin(lo, hi, int(c), f"{col} >= {lo!r} AND {col} {'<=' if last else '<'} {hi!r}")
        for (lo, hi, last), c in zip(hist.ranges(), hist.counts, strict=True)
    ]
    return TagHistogram(
        group=grp.name,
        tag=t.name,
        modality=modality,
        version=int(sc.version or 0),
        min_score=float(min_score),
        threshold=t.threshold,
        bins=out,
        n_below=hist.n_below,
        n_items=len(sc.scores),
        where_tagged=f"{col} >= {t.threshold!r}",
    )


# -- evaluation (F-29) --------------------------------------------------------------------
def _metric(name: str) -> str:
    alias = {"f05": "f0.5", "f0_5": "f0.5", "f_0.5": "f0.5"}
    metric = alias.get(name.lower(), name.lower())
    if metric not in METRICS:
        raise ValidationError(
            f"invalid metric {name!r}: choose one of {', '.join(METRICS)}", field="metric"
        )
    return metric


def evaluate_tag(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    metric: str = "f1",
    labels: Sequence[str] | None = None,
    modality: str = "visual",
    n_thresholds: int = 101,
) -> TagEvaluation:
    """Precision, recall, F1, F0.5 and accuracy of the tag over thresholds 0..1.

    Ground truth: the tag's reviews (people's verdicts), and the dataset's ground-truth labels
    where they match: an item with a label named ``labels`` (default: the tag's name, any
    label kind, case-insensitive) is a positive, an item with other labels only a negative;
    items without labels or reviews are left out. A review overrides the labels.

    Returns the curves, the threshold maximising ``metric`` (F1 by default; save it with
    :func:`tagscope.service.tags.save_threshold`) and the metrics there and at the saved one.
    """
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag)
    metric = _metric(metric)
    sc = current_scores(ws, ds, grp, t, tm.check_score_table(modality))
    names = list(labels) if labels else [t.name]
    positive, labelled = TagCatalog(ws.catalog).label_truth(ds.id, names)
    truth: dict[int, bool] = {i: i in positive for i in labelled}
    n_from_labels = len(truth)
    reviews = TagCatalog(ws.catalog).reviews(t.id) if t.id is not None else {}
    truth.update(reviews)
    index = {int(i): k for k, i in enumerate(sc.ids)}
    pairs = [(index[i], v) for i, v in truth.items() if i in index]
    if not pairs:
        raise ValidationError(
            f"no ground truth for tag {t.name!r} on {ds.name!r}: review items "
            f"(`tagscope tags review`) or name the labels that mean {t.name!r}",
            field="labels",
        )
    rows = np.array([r for r, _ in pairs], np.int64)
    y = np.array([v for _, v in pairs], bool)
    if not y.any():
        raise ValidationError(
            f"the ground truth of tag {t.name!r} has no positive item: review or label some",
            field="labels",
        )
    s = sc.scores[rows].astype(np.float64)
    curves = threshold_curves(y, s, thresholds=n_thresholds)
    best = recommend_threshold(curves, metric)
    at_saved = threshold_curves(y, s, thresholds=np.array([t.threshold])).at(t.threshold)
    return TagEvaluation(
        group=grp.name,
        tag=t.name,
        metric=metric,
        recommended_threshold=best,
        threshold=t.threshold,
        at_recommended=curves.at(best),
        at_threshold=at_saved,
        curves=curves.to_dict(),
        n_positive=int(y.sum()),
        n_negative=int((~y).sum()),
        n_reviewed=sum(1 for i in reviews if i in index),
        n_from_labels=n_from_labels,
        live=sc.live,
        version=sc.version,
        label_names=names,
    )


__all__ = [
    "CurrentScores",
    "HistogramBin",
    "ScoredItem",
    "TagEvaluation",
    "TagHistogram",
    "TagPreview",
    "current_scores",
    "evaluate_tag",
    "preview_tag",
    "tag_histogram",
    "uncertain_items",
]
