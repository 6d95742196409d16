"""What a tag does on its dataset (F-24, F-25, F-28, F-29): preview, uncertain items, histogram,
and evaluation against reviews and labels.

Same paths as :mod:`tagscope.api.routers.tags` (``/api/datasets/{dataset}/tag-groups/{group}/
tags/{tag}/...``); these routes read scores and never change the tag's definition. The ground
truth lives here too: people's reviews, and the LLM judge's proposals and their cleaning.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.routers.tags import TAG, Count
from tagscope.api.schemas import Int64, Job, item_thumbnail_url
from tagscope.service import background, defaults, ground_truth, tag_insights
from tagscope.service import tags as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api", tags=["tags"])

ScoreModality = Literal["visual", "transcript", "shot", "video"]


# -- bodies and answers -------------------------------------------------------------------
class ReviewIn(BaseModel):
    item_id: Int64
    label: bool = Field(description="true: the item shows the tag")


class Reviews(BaseModel):
    reviews: list[ReviewIn] = Field(min_length=1)


class ReviewOut(BaseModel):
    item_id: int
    label: bool = Field(description="true: the item shows the tag")
    source: Literal["person", "llm"] = Field(description="a person, or the LLM judge")
    reason: str | None = Field(description="the judge's reason")
    path: str
    text: str | None
    thumbnail_url: str

    @classmethod
    def from_domain(cls, r: ground_truth.ReviewedItem) -> ReviewOut:
        return cls(
            item_id=r.item_id,
            label=r.label,
            source=r.source,  # type: ignore[arg-type]
            reason=r.reason,
            path=r.path,
            text=r.text,
            thumbnail_url=item_thumbnail_url(r.item_id),
        )


class ReviewRemoval(BaseModel):
    item_ids: list[Int64] = Field(min_length=1)


class JudgeRequest(BaseModel):
    n: int = Field(400, ge=1, le=5000, description="items to ask about (a stratified sample)")


class Scored(BaseModel):
    item_id: int
    score: float
    path: str
    text: str | None
    thumbnail_url: str
    video_id: int | None = Field(None, description="of a keyframe, shot or cue: its video")
    start_ms: int | None = Field(None, description="its start in the video (a keyframe's time)")
    end_ms: int | None = None

    @classmethod
    def from_domain(cls, s: tag_insights.ScoredItem) -> Scored:
        return cls(
            item_id=s.item_id,
            score=s.score,
            path=s.path,
            text=s.text,
            thumbnail_url=item_thumbnail_url(s.item_id),
            video_id=s.video_id,
            start_ms=s.start_ms,
            end_ms=s.end_ms,
        )


class Preview(BaseModel):
    threshold: float
    live: bool = Field(description="fitted on the current definition (not the published one)")
    stratified: bool = Field(description="10 items per score bucket instead of a random sample")
    version: int | None
    modality: str
    positives: list[Scored]
    negatives: list[Scored]
    n_positive: int
    n_negative: int


class HistogramBin(BaseModel):
    lo: float
    hi: float
    count: int
    where: str = Field(description="grid filter selecting the bin's items")


class Histogram(BaseModel):
    version: int
    threshold: float
    min_score: float
    bins: list[HistogramBin]
    n_below: int = Field(description="items scoring under min_score")
    n_items: int
    where_tagged: str = Field(description="grid filter of the items at or above the threshold")


class Metrics(BaseModel):
    metric: str
    thresholds: list[float]
    curves: dict[str, list[float]] = Field(description="precision, recall, f1, f0_5, accuracy")
    recommended: dict[str, float | str] = Field(description="{metric, threshold}")
    threshold: float = Field(description="the tag's saved threshold")
    at_recommended: dict[str, float]
    at_threshold: dict[str, float]
    n_positive: int
    n_negative: int
    n_reviewed: int
    n_from_labels: int
    live: bool
    version: int | None


def _metric_key(name: str) -> str:
    return name.replace(".", "_")


# -- ground truth: people's reviews, the LLM judge's proposals ----------------------------
@router.post(TAG + "/reviews", openapi_extra=needs(Action.TAGS_REVIEW))
def add_reviews(dataset: str, group: str, tag: str, body: Reviews, ws: WorkspaceDep) -> Count:
    """People's verdicts: each replaces any earlier review of the item (a judge's too)."""
    pairs = {r.item_id: r.label for r in body.reviews}
    return Count(n=uc.add_reviews(ws, dataset, group, tag, pairs))


@router.get(TAG + "/reviews", openapi_extra=needs(Action.READ))
def list_reviews(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    source: Literal["person", "llm"] | None = None,
) -> list[ReviewOut]:
    """The tag's reviews of the dataset's items, with who gave them and why."""
    found = ground_truth.list_reviews(ws, dataset, group, tag, source=source)
    return [ReviewOut.from_domain(r) for r in found]


@router.post(TAG + "/reviews/remove", openapi_extra=needs(Action.TAGS_REVIEW))
def remove_reviews(
    dataset: str, group: str, tag: str, body: ReviewRemoval, ws: WorkspaceDep
) -> Count:
    """Remove reviews (e.g. the judge's wrong verdicts) so that metrics leave them out."""
    return Count(n=ground_truth.remove_reviews(ws, dataset, group, tag, body.item_ids))


@router.post(
    TAG + "/judge", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.TAGS_EDIT)
)
def judge_tag(
    dataset: str, group: str, tag: str, ws: WorkspaceDep, body: JudgeRequest | None = None
) -> Job:
    """Start the LLM judge on a stratified sample (needs ``TAGSCOPE_LLM_URL`` and
    ``TAGSCOPE_LLM_MODEL`` on the server); its verdicts become reviews of source ``llm``."""
    n = body.n if body else JudgeRequest().n
    return Job.from_domain(background.start_judge(ws, dataset, group, tag, n=n))


# -- insights: preview, uncertain items, histogram, metrics --------------------------------
@router.get(TAG + "/preview", openapi_extra=needs(Action.READ))
def preview_tag(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    threshold: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    view: Literal["compare", "positives", "negatives"] = "compare",
    n: Annotated[int, Query(ge=1, le=500)] = defaults.PREVIEW_SIZE,
    modality: ScoreModality = "visual",
) -> Preview:
    """A sample of positives and negatives at ``threshold`` (default: the tag's), refitted on
    the current definition until the group is published."""
    p = tag_insights.preview_tag(
        ws, dataset, group, tag, threshold=threshold, view=view, n=n, modality=modality
    )
    return Preview(
        threshold=p.threshold,
        live=p.live,
        stratified=p.stratified,
        version=p.version,
        modality=p.modality,
        positives=[Scored.from_domain(s) for s in p.positives],
        negatives=[Scored.from_domain(s) for s in p.negatives],
        n_positive=p.n_positive,
        n_negative=p.n_negative,
    )


@router.get(TAG + "/uncertain", openapi_extra=needs(Action.READ))
def uncertain_items(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    n: Annotated[int, Query(ge=1, le=500)] = defaults.PREVIEW_SIZE,
    diversity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
    modality: ScoreModality = "visual",
) -> list[Scored]:
    """Items nearest the decision boundary, diverse, not yet marked: the ones to label next."""
    found = tag_insights.uncertain_items(
        ws, dataset, group, tag, k=n, diversity=diversity, modality=modality
    )
    return [Scored.from_domain(s) for s in found]


@router.get(TAG + "/histogram", openapi_extra=needs(Action.READ))
def tag_histogram(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    bins: Annotated[int, Query(ge=1, le=1000)] = 20,
    min_score: Annotated[float, Query(ge=0.0, lt=1.0)] = 0.0,
    modality: ScoreModality = "visual",
) -> Histogram:
    """Bins of the tag's published scores from ``min_score`` to 1, each with its grid filter."""
    h = tag_insights.tag_histogram(
        ws, dataset, group, tag, bins=bins, min_score=min_score, modality=modality
    )
    return Histogram(
        version=h.version,
        threshold=h.threshold,
        min_score=h.min_score,
        bins=[HistogramBin(lo=b.lo, hi=b.hi, count=b.count, where=b.where) for b in h.bins],
        n_below=h.n_below,
        n_items=h.n_items,
        where_tagged=h.where_tagged,
    )


@router.get(TAG + "/metrics", openapi_extra=needs(Action.READ))
def evaluate_tag(
    dataset: str,
    group: str,
    tag: str,
    ws: WorkspaceDep,
    metric: Literal["f1", "f0_5", "precision", "recall", "accuracy"] = "f1",
    labels: Annotated[
        list[str] | None, Query(description="label names meaning the tag (default: its name)")
    ] = None,
    modality: ScoreModality = "visual",
) -> Metrics:
    """Precision, recall, F1, F0.5 and accuracy over thresholds 0..1 against reviews and
    labels, with the threshold that maximises ``metric``."""
    e = tag_insights.evaluate_tag(
        ws, dataset, group, tag, metric=metric, labels=labels, modality=modality
    )
    curves = {k: v for k, v in e.curves.items() if isinstance(v, list) and k != "thresholds"}
    return Metrics(
        metric=_metric_key(e.metric),
        thresholds=e.curves["thresholds"],
        curves={_metric_key(k): v for k, v in curves.items()},
        recommended={"metric": _metric_key(e.metric), "threshold": e.recommended_threshold},
        threshold=e.threshold,
        at_recommended={_metric_key(k): v for k, v in e.at_recommended.items()},
        at_threshold={_metric_key(k): v for k, v in e.at_threshold.items()},
        n_positive=e.n_positive,
        n_negative=e.n_negative,
        n_reviewed=e.n_reviewed,
        n_from_labels=e.n_from_labels,
        live=e.live,
        version=e.version,
    )
