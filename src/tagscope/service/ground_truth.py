"""A tag's ground truth (F-29): reviews people give, proposals an LLM judge makes, cleaning.

People's reviews come in with :func:`tagscope.service.tags.add_reviews`. :func:`judge_tag` asks
an LLM judge (:mod:`tagscope.labels.llm_judge`, any OpenAI-compatible endpoint) about a stratified
sample of about 400 items, and records its verdicts as reviews of source ``llm``; people then look
at them (:func:`list_reviews`) and remove the wrong ones (:func:`remove_reviews`) or overrule them
with their own review. :func:`tagscope.service.tag_insights.evaluate_tag` counts what is left.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tagscope.domain import Item, Job, ValidationError
from tagscope.domain.tags import Polarity, ReviewSource
from tagscope.jobs import ProgressFn
from tagscope.labels.llm_judge import JudgeConfig, JudgeError, JudgeItem, LLMJudge
from tagscope.media.errors import MediaError
from tagscope.media.images import open_image
from tagscope.media.thumbnails import ensure_thumbnail
from tagscope.service import _tag_models as tm
from tagscope.service import history as hist
from tagscope.service.policy import Action
from tagscope.service.tag_insights import current_scores
from tagscope.service.workspace import Workspace
from tagscope.store.retry import retrying
from tagscope.store.tag_catalog import TagCatalog
from tagscope.tags.sampling import stratified_sample

DEFAULT_SAMPLE = 400
"""Items a judge is asked about: enough for metrics to mean something, few enough to clean."""
BUCKETS = 20
CONCURRENCY = 4  # requests in flight: endpoints answer one item in ~1 s
BATCH = 20  # verdicts saved together (what a killed job asks again at most)
MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class ReviewedItem:
    """A review with what the reviewer needs to check it."""

    item_id: int
    label: bool
    source: str
    reason: str | None
    path: str
    text: str | None


def judge_tag(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    *,
    n: int = DEFAULT_SAMPLE,
    modality: str = "visual",
    config: JudgeConfig | None = None,
    progress: ProgressFn | None = None,
    random_state: int = 0,
) -> Job:
    """Ask an LLM judge whether a stratified sample of ``n`` items shows the tag.

    The sample takes the same number of items from each of 20 score buckets, so that rare
    positives are asked about too (topped up at random where buckets are sparse). Items a
    person reviewed, and items the judge answered in an earlier run, are skipped (a killed job
    resumes). Verdicts are stored as reviews of source ``llm``. Items the endpoint cannot judge
    are reported by id and reason, and the job goes on; if it judges none of them, the job
    fails with the first reason.

    Parameters
    ----------
    n : int, default=400
    config : JudgeConfig, optional
        Default: :meth:`JudgeConfig.from_env` (``TAGSCOPE_LLM_URL``, ``TAGSCOPE_LLM_MODEL``).

    Returns
    -------
    Job
        Its result: ``n_sampled``, ``n_judged``, ``n_positive``, ``n_skipped`` (already
        reviewed), ``n_failed`` and ``problems`` (item id and reason).

    Raises
    ------
    ValidationError
        No endpoint configured, ``n`` out of range, no scores to sample from.
    """
    if not 1 <= n <= 5000:
        raise ValidationError(f"n must be within 1..5000, got {n}", field="n")
    ds, grp, t = tm.tag_in_context(ws, dataset, group, tag, Action.TAGS_EDIT)
    config = config or JudgeConfig.from_env()
    sc = current_scores(ws, ds, grp, t, tm.check_score_table(modality))
    if len(sc.ids) == 0:
        raise ValidationError(f"no items of {ds.name!r} have a score for {t.name!r} yet")
    picked = stratified_sample(
        sc.scores, n_per_bucket=-(-n // BUCKETS), bins=BUCKETS, random_state=random_state
    )
    rows = np.concatenate(picked)
    rng = np.random.default_rng(random_state)
    if len(rows) > n:  # drop the surplus evenly, not from the top buckets
        rows = rng.choice(rows, n, replace=False)
    elif len(rows) < n:  # sparse buckets: fill up with other items at random
        others = np.setdiff1d(np.arange(len(sc.ids)), rows)
        extra = rng.choice(others, min(n - len(rows), len(others)), replace=False)
        rows = np.concatenate([rows, extra])
    sample = sorted(int(i) for i in sc.ids[rows])
    # Every modality's prompts describe the tag; the judge sees the item's text and image.
    positives = [p.text for p in t.prompts if p.polarity is Polarity.POSITIVE]
    negatives = [p.text for p in t.prompts if p.polarity is Polarity.NEGATIVE]
    params = {"group": grp.name, "tag": t.name, "n": n, "model": config.model, "modality": modality}
    tag_id = t.id
    assert tag_id is not None

    target = {"group": grp.name, "tag": t.name}

    @retrying
    def save(verdicts: list[tuple[int, bool, str]]) -> None:
        # One change-set per saved batch: a batch of wrong verdicts can be undone.
        with ws.uow() as uow:
            hist.record(
                uow,
                ds.id,
                "judge",
                entity="review",
                tag_id=tag_id,
                item_ids=[i for i, _, _ in verdicts],
                edit=lambda: uow.tags.propose_reviews(tag_id, verdicts),
                params={"model": config.model},
                target=target,
            )

    def work(report: ProgressFn) -> dict[str, Any]:
        catalog = TagCatalog(ws.catalog)
        done = catalog.review_records(tag_id)
        todo = [i for i in sample if i not in done]
        n_skipped = len(sample) - len(todo)
        items = ws.catalog.get_items(todo)
        asked = [i for i in todo if i in items]
        verdicts: list[tuple[int, bool, str]] = []
        problems: list[dict[str, Any]] = []
        n_judged = n_positive = n_failed = 0
        report(n_skipped, len(sample))

        def ask(item_id: int) -> tuple[int, bool, str] | str:
            try:
                item = _judge_input(ws, items[item_id], send_image=config.send_images)
                v = judge.judge(item, t.name, positives, negatives)
            except (JudgeError, MediaError) as exc:
                return str(exc)
            return v.item_id, v.label, v.reason

        with LLMJudge(config) as judge, ThreadPoolExecutor(CONCURRENCY) as pool:
            for k, answer in enumerate(pool.map(ask, asked), 1):
                if isinstance(answer, str):
                    n_failed += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append({"item_id": asked[k - 1], "reason": answer})
                else:
                    verdicts.append(answer)
                    n_judged += 1
                    n_positive += answer[1]
                if len(verdicts) >= BATCH:
                    save(verdicts)
                    verdicts.clear()
                report(n_skipped + k, len(sample))
        save(verdicts)
        if n_judged == 0 and problems:
            raise JudgeError(f"the LLM judge answered no item; first: {problems[0]['reason']}")
        return {
            "n_sampled": len(sample),
            "n_judged": n_judged,
            "n_positive": n_positive,
            "n_skipped": n_skipped,
            "n_failed": n_failed,
            "problems": problems,
        }

    return ws.runner.run("judge", ds.id, params, work, on_progress=progress)


def _judge_input(ws: Workspace, item: Item, *, send_image: bool) -> JudgeItem:
    """The item's text and, for a vision model, its thumbnail (a small JPEG)."""
    jpeg = None
    if send_image and item.media is not None and item.media.content_hash:
        path, _ = ensure_thumbnail(item.path, item.media.content_hash, ws.paths.thumbnails)
        with open_image(path) as im:
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=85)
            jpeg = buf.getvalue()
    return JudgeItem(item.id, text=item.text, jpeg=jpeg)


def list_reviews(
    ws: Workspace, dataset: str, group: str, tag: str, *, source: str | None = None
) -> list[ReviewedItem]:
    """The tag's reviews of the dataset's items, newest last, optionally of one source."""
    ds, _, t = tm.tag_in_context(ws, dataset, group, tag)
    wanted = ReviewSource(source) if source else None
    records = TagCatalog(ws.catalog).review_records(t.id or 0, tag=t.name)
    found = ws.catalog.get_items(list(records))
    return [
        ReviewedItem(r.item_id, r.label, r.source.value, r.reason, found[i].path, found[i].text)
        for i, r in records.items()
        if i in found and found[i].dataset_id == ds.id and wanted in (None, r.source)
    ]


@retrying
def remove_reviews(ws: Workspace, dataset: str, group: str, tag: str, item_ids: list[int]) -> int:
    """Remove the reviews of these items (e.g. a judge's wrong verdicts); returns how many.

    The removal is one change-set of the dataset's history (undoable)."""
    if not item_ids:
        raise ValidationError("give the ids of the items whose reviews to remove", field="items")
    with ws.uow() as uow:
        ds, grp, t = tm.tag_in_context(ws, dataset, group, tag, Action.TAGS_REVIEW)
        tag_id = t.id or 0
        return hist.record(
            uow,
            ds.id,
            "remove_reviews",
            entity="review",
            tag_id=tag_id,
            item_ids=item_ids,
            edit=lambda: uow.tags.remove_reviews(tag_id, item_ids),
            target={"group": grp.name, "tag": t.name},
        )


__all__ = ["DEFAULT_SAMPLE", "ReviewedItem", "judge_tag", "list_reviews", "remove_reviews"]
