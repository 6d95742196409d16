"""ReviewCatalog: counts, pages joined to items, ids of a filter, and the change-log records
(``states`` / ``restore``) of a job's label changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tagscope.domain import NotFoundError
from tagscope.domain.review import ChangeFilter
from tagscope.service import Workspace
from tagscope.store.review import ReviewCatalog

Made = Callable[..., tuple[list[int], list[int]]]


def test_counts_pages_and_matching_ids(workspace: Workspace, review_job: Made) -> None:
    items, ch = review_job(workspace)
    review = ReviewCatalog(workspace.catalog)
    job = review.job(workspace.dataset("d").id, "j")
    assert (job.name, job.status) == ("j", "submitted")
    assert sorted(review.counts(job.id), key=str) == sorted(
        [
            ("cat", "unchanged", "pending", 1),
            ("cat", "class_changed", "pending", 1),
            ("cat", "geometry_changed", "pending", 1),
            ("dog", "added", "pending", 1),
            (None, "deleted", "pending", 1),
            ("dog", "unchanged", "pending", 1),
            ("dog", "class_changed", "pending", 1),
        ],
        key=str,
    )
    dogs = ChangeFilter(expert_class="dog")
    total, rows = review.page(job.id, dogs, group_by=None, limit=2, offset=1)
    assert total == 3 and [(r.id, r.item_id, r.path) for r in rows] == [
        (ch[5], items[2], "/d/2.jpg"),
        (ch[6], items[3], "/d/3.jpg"),
    ]
    assert review.matching(job.id, ChangeFilter(class_changed=True)) == {
        ch[1]: items[0],
        ch[6]: items[3],
    }
    assert review.of_ids(job.id, [ch[2], 10**9]) == {ch[2]: items[1]}


def test_states_and_restore_round_trip(workspace: Workspace, review_job: Made) -> None:
    items, ch = review_job(workspace)
    review = ReviewCatalog(workspace.catalog)
    job = review.job(workspace.dataset("d").id, "j")
    before = review.states(job.id, items[:2])
    assert before == {
        items[0]: {"status": {str(ch[0]): "pending", str(ch[1]): "pending"}},
        items[1]: {"status": {str(ch[2]): "pending", str(ch[3]): "pending"}},
    }
    review.set_status(job.id, [ch[0], ch[3]], "accepted")
    assert review.states(job.id, [items[0]])[items[0]]["status"][str(ch[0])] == "accepted"
    review.restore(job.id, before)
    assert review.states(job.id, items[:2]) == before
    assert review.states(job.id, [10**9]) == {}


def test_an_unknown_or_deleted_job_is_not_found(workspace: Workspace, review_job: Made) -> None:
    review_job(workspace)
    review = ReviewCatalog(workspace.catalog)
    with pytest.raises(NotFoundError, match="no label job named 'k'"):
        review.job(workspace.dataset("d").id, "k")
    with pytest.raises(NotFoundError, match="no label job with id 999"):
        review.lock(999)


def test_states_of_many_items_read_the_whole_job_the_same(
    workspace: Workspace, review_job: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    items, _ = review_job(workspace)
    review = ReviewCatalog(workspace.catalog)
    job = review.job(workspace.dataset("d").id, "j")
    by_in_lists = review.states(job.id, items[1:3])
    monkeypatch.setattr("tagscope.store.review._WHOLE_JOB", 1)  # one scan of the job
    assert review.states(job.id, items[1:3]) == by_in_lists
    assert list(by_in_lists) == items[1:3]
