"""The policy inside the label use cases (issue 10): label edits, bulk classify, label jobs,
review, result sets and the ontology, each by a role that may and one that may not; annotators
on the items of the jobs given to them; items whose review is complete changed only by admins.

A real SQLite workspace; identities are built directly (no accounts needed to decide)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pytest

from tagscope.domain import (
    Label,
    LabelKind,
    LabelSource,
    MediaInfo,
    NewItem,
    PermissionDeniedError,
)
from tagscope.domain.access import Identity, Role, Scope
from tagscope.service import Workspace, bulk, label_jobs, labels, ontology, result_sets, review
from tagscope.service import collections as uc
from tagscope.service import history as hist
from tagscope.store.label_jobs import LabelJobCatalog

GT, PRE = LabelSource.GROUND_TRUTH, LabelSource.PRELABEL


def _box(name: str, x: float, source: LabelSource = GT) -> Label:
    return Label(LabelKind.BOX, name, source, geometry={"bbox": [x, 0, 10, 10]})


def _cls(name: str) -> Label:
    return Label(LabelKind.CLASSIFICATION, name)


@dataclass
class Setup:
    ws: Workspace  # the owner's
    ds_id: int
    other_id: int
    ids: list[int]  # 0, 2: ann's (open job "fix"); 1: bob's; 3: review complete; 4: none

    def as_(self, role: Role | None, name: str = "u", scope: Scope = Scope.ADMIN) -> Workspace:
        roles = MappingProxyType({} if role is None else {self.ds_id: role})
        who = Identity(name=name, role=None, dataset_roles=roles, scope=scope, user_id=3)
        return self.ws.acting_as(who)


@pytest.fixture()
def s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    ws = Workspace.open(tmp_path / "ws")
    ds = ws.catalog.create_dataset("d")
    other = ws.catalog.create_dataset("other")
    ws.catalog.add_items(
        ds.id, [NewItem(f"/d/{i}.jpg", MediaInfo(1, 100, 100, "JPEG", f"h{i}")) for i in range(5)]
    )
    ids = ws.catalog.item_ids(ds.id)
    ws.catalog.add_labels([(ids[3], _box("cat", 0)), (ids[3], _box("cat", 0, PRE))])
    uc.create_collection(ws, "d", "reviewed", item_ids=[ids[3]])
    label_jobs.create_manual_job(ws, "d", "done", "reviewed", assignees=["ann"])
    label_jobs.submit_job(ws, "d", "done")
    review.decide(ws, "d", "done", "accepted")
    uc.create_collection(ws, "d", "work", item_ids=ids[:3])
    label_jobs.create_manual_job(ws, "d", "fix", "work", assignees=["ann", "bob"])  # in turn
    return Setup(ws, ds.id, other.id, ids)


def _assigned(s: Setup, name: str) -> set[int]:
    return LabelJobCatalog(s.ws.catalog).assigned_items(s.ds_id, name, s.ids)


# -- the store's item sets ------------------------------------------------------------------
def test_assigned_items_are_those_of_open_manual_jobs_given_to_the_caller(s: Setup) -> None:
    ann, bob = _assigned(s, "ann"), _assigned(s, "bob")
    assert (ann, bob) == ({s.ids[0], s.ids[2]}, {s.ids[1]})  # "done" is submitted: not open
    job = LabelJobCatalog(s.ws.catalog).get(s.ds_id, "done")
    assert LabelJobCatalog(s.ws.catalog).assigned_items(s.ds_id, "ann", s.ids, job.id) == set()


def test_complete_means_every_label_change_of_a_submitted_job_decided(s: Setup) -> None:
    jobs = LabelJobCatalog(s.ws.catalog)
    assert jobs.complete_items(s.ds_id) == {s.ids[3]}
    assert jobs.complete_items(s.ds_id, [s.ids[0], s.ids[3]]) == {s.ids[3]}
    assert jobs.complete_items(s.other_id) == set()
    fix = jobs.get(s.ds_id, "fix").id
    assert jobs.complete_items(s.ds_id, job_id=fix) == set()
    review.decide(s.ws, "d", "done", "pending")  # back under review
    assert jobs.complete_items(s.ds_id) == set()
    review.decide(s.ws, "d", "done", "rejected")
    assert jobs.complete_items(s.ds_id) == {s.ids[3]}
    # A submitted item without any label change was not reviewed: not complete.
    label_jobs.submit_job(s.ws, "d", "fix")
    assert jobs.complete_items(s.ds_id) == {s.ids[3]}


# -- label edits ----------------------------------------------------------------------------
def test_an_annotator_labels_only_the_items_of_its_open_jobs(s: Setup) -> None:
    ann = s.as_(Role.ANNOTATOR, "ann")
    mine, bobs = s.ids[0], s.ids[1]
    edit = labels.add_label(ann, "d", mine, _box("dog", 5))
    assert edit.change_set is not None and [lab.author for lab in edit.labels] == ["ann"]
    with pytest.raises(
        PermissionDeniedError, match=rf"label jobs given to it, not item\(s\) {bobs}"
    ):
        labels.add_label(ann, "d", bobs, _box("dog", 5))
    with pytest.raises(PermissionDeniedError, match=str(s.ids[4])):
        labels.set_labels(ann, "d", s.ids[4], [_cls("x")])
    label = edit.labels[0].id
    assert labels.update_label(ann, "d", label, name="wolf").labels[0].name == "wolf"
    labels.delete_label(ann, "d", label)
    # Once the job is submitted its items are no longer the annotator's to label.
    label_jobs.submit_job(s.ws, "d", "fix")
    with pytest.raises(PermissionDeniedError, match=str(mine)):
        labels.add_label(ann, "d", mine, _box("dog", 5))
    assert labels.item_labels(ann, "d", mine) == []  # reading stays


def test_viewers_and_strangers_read_but_do_not_label(s: Setup) -> None:
    viewer, stranger = s.as_(Role.VIEWER, "ann"), s.as_(None, "ann")
    assert labels.item_labels(viewer, "d", s.ids[3])
    with pytest.raises(PermissionDeniedError, match=r"viewer on dataset 'd'.*annotator"):
        labels.add_label(viewer, "d", s.ids[0], _box("dog", 5))
    with pytest.raises(PermissionDeniedError, match="no role on dataset 'd'"):
        labels.item_labels(stranger, "d", s.ids[0])
    token = s.as_(Role.EDITOR, "ed", scope=Scope.READ)
    with pytest.raises(PermissionDeniedError, match="token has scope read"):
        labels.add_label(token, "d", s.ids[0], _box("dog", 5))


def test_complete_items_are_changed_by_admins_only(s: Setup) -> None:
    done = s.ids[3]
    editor, admin = s.as_(Role.EDITOR, "ed"), s.as_(Role.ADMIN, "root")
    label = next(lab.id for lab in s.ws.catalog.item_labels(done) if lab.source == GT)
    assert labels.add_label(editor, "d", s.ids[4], _cls("x")).change_set  # any other item
    refused = rf"review of item\(s\) {done} of dataset 'd' is complete: .*needs the role admin"
    for attempt in (
        lambda: labels.add_label(editor, "d", done, _cls("x")),
        lambda: labels.set_labels(editor, "d", done, []),
        lambda: labels.update_label(editor, "d", label, name="dog"),
        lambda: labels.delete_label(editor, "d", label),
    ):
        with pytest.raises(PermissionDeniedError, match=refused):
            attempt()
    assert [lab.name for lab in s.ws.catalog.item_labels(done)] == ["cat", "cat"]  # unchanged
    # Assigned to an annotator in an open job: still complete, still refused.
    uc.create_collection(s.ws, "d", "again", item_ids=[done])
    label_jobs.create_manual_job(s.ws, "d", "again", "again", assignees=["ann"])
    with pytest.raises(PermissionDeniedError, match="is complete"):
        labels.add_label(s.as_(Role.ANNOTATOR, "ann"), "d", done, _cls("x"))
    # An admin may; one whose token has write scope only may not.
    with pytest.raises(PermissionDeniedError, match=r"is complete.*scope admin"):
        labels.update_label(s.as_(Role.ADMIN, "root", scope=Scope.WRITE), "d", label, name="dog")
    assert labels.update_label(admin, "d", label, name="dog").change_set is not None


def test_undoing_a_change_to_a_complete_item_is_for_admins_only(s: Setup) -> None:
    # An undo changes labels too: an editor must not reach a complete item through History.
    done = s.ids[3]
    editor, admin = s.as_(Role.EDITOR, "ed"), s.as_(Role.ADMIN, "root")
    label = next(lab.id for lab in s.ws.catalog.item_labels(done) if lab.source == GT)
    edit = labels.update_label(admin, "d", label, name="dog").change_set
    assert edit is not None
    with pytest.raises(PermissionDeniedError, match=rf"review of item\(s\) {done} .*complete"):
        hist.undo(editor, "d", edit)
    assert "dog" in {lab.name for lab in s.ws.catalog.item_labels(done)}  # nothing undone
    other = labels.add_label(editor, "d", s.ids[4], _cls("x")).change_set
    assert other is not None and hist.undo(editor, "d", other).change_set  # not complete
    assert hist.undo(admin, "d", edit).change_set
    assert "dog" not in {lab.name for lab in s.ws.catalog.item_labels(done)}


# -- bulk classify --------------------------------------------------------------------------
def test_bulk_classify_skips_complete_items_unless_an_admin_runs_it(s: Setup) -> None:
    uc.create_collection(s.ws, "d", "all", item_ids=s.ids)
    editor, admin = s.as_(Role.EDITOR, "ed"), s.as_(Role.ADMIN, "root")
    skipped = {bulk.REVIEW_COMPLETE: 1}
    dry = bulk.bulk_classify(editor, "d", collection="all", label="animal", dry_run=True)
    assert (dry.n_changed, dry.skipped) == (4, skipped)
    run = bulk.bulk_classify(editor, "d", collection="all", label="animal", overwrite=True)
    assert (run.n_changed, run.skipped) == (4, skipped)
    assert "animal" not in {lab.name for lab in s.ws.catalog.item_labels(s.ids[3])}
    mine = bulk.bulk_classify(admin, "d", item_ids=[s.ids[3]], label="animal")
    assert (mine.n_changed, mine.skipped) == (1, {})
    for who in (s.as_(Role.ANNOTATOR, "ann"), s.as_(Role.REVIEWER, "rev")):
        with pytest.raises(PermissionDeniedError, match=r"may not bulk classify \(labels.bulk\)"):
            bulk.bulk_classify(who, "d", item_ids=[s.ids[0]], label="x", dry_run=True)


# -- label jobs -----------------------------------------------------------------------------
def test_marking_done_is_the_assignees_or_a_managers(s: Setup) -> None:
    ann, editor = s.as_(Role.ANNOTATOR, "ann"), s.as_(Role.EDITOR, "ed")
    assert label_jobs.mark_done(ann, "d", "fix", [s.ids[0], s.ids[2]]) == 2
    with pytest.raises(PermissionDeniedError, match=rf"not item\(s\) {s.ids[1]}"):
        label_jobs.mark_done(ann, "d", "fix", [s.ids[0], s.ids[1]])
    assert label_jobs.mark_done(editor, "d", "fix", [s.ids[1]]) == 1
    with pytest.raises(PermissionDeniedError, match="viewer"):
        label_jobs.mark_done(s.as_(Role.VIEWER, "ann"), "d", "fix", [s.ids[0]], done=False)


def test_label_jobs_are_managed_by_editors_and_read_by_all(s: Setup) -> None:
    viewer, reviewer, editor = (
        s.as_(Role.VIEWER),
        s.as_(Role.REVIEWER, "rev"),
        s.as_(Role.EDITOR, "ed"),
    )
    assert [j.name for j in label_jobs.list_jobs(viewer, "d")] == ["fix", "done"]
    assert label_jobs.get_job(viewer, "d", "fix").n_items == 3
    assert len(label_jobs.job_items(viewer, "d", "fix")) == 3
    assert len(label_jobs.label_changes(viewer, "d", "done")) == 1
    with pytest.raises(PermissionDeniedError, match="no role"):
        label_jobs.list_jobs(s.as_(None), "d")
    for attempt in (
        lambda w: label_jobs.create_manual_job(w, "d", "new", "work"),
        lambda w: label_jobs.create_auto_job(
            w, "d", "auto", "work", source_labels=label_jobs.PREDICTIONS
        ),
        lambda w: label_jobs.submit_job(w, "d", "fix"),
        lambda w: label_jobs.delete_job(w, "d", "fix"),
    ):
        with pytest.raises(PermissionDeniedError, match=r"may not manage label jobs \(label_jobs"):
            attempt(reviewer)
    assert label_jobs.create_manual_job(editor, "d", "new", "work").created_by == "ed"
    assert label_jobs.submit_job(editor, "d", "fix").status == "submitted"
    label_jobs.delete_job(editor, "d", "new")
    # Deleting a job would make its complete items changeable again: admins only.
    with pytest.raises(PermissionDeniedError, match=rf"review of item\(s\) {s.ids[3]} .*complete"):
        label_jobs.delete_job(editor, "d", "done")
    label_jobs.delete_job(editor, "d", "fix")  # submitted, nothing decided: not complete
    label_jobs.delete_job(s.as_(Role.ADMIN), "d", "done")
    assert LabelJobCatalog(s.ws.catalog).complete_items(s.ds_id) == set()


# -- review and result sets -----------------------------------------------------------------
def test_reviewers_decide_and_save_result_sets_viewers_read(s: Setup) -> None:
    viewer, annotator, reviewer = (
        s.as_(Role.VIEWER),
        s.as_(Role.ANNOTATOR, "ann"),
        s.as_(Role.REVIEWER, "rev"),
    )
    assert review.summary(viewer, "d", "done").tabs["accepted"] == 1
    assert review.changes(viewer, "d", "done").total == 1
    with pytest.raises(PermissionDeniedError, match=r"may not decide reviews \(review.decide\)"):
        review.decide(annotator, "d", "done", "rejected")
    assert review.decide(reviewer, "d", "done", "rejected").n_changed == 1
    with pytest.raises(PermissionDeniedError, match=r"may not save or delete result sets"):
        result_sets.save_result_set(annotator, "d", "res", "done")
    assert result_sets.save_result_set(reviewer, "d", "res", "done").created_by == "rev"
    assert [r.name for r in result_sets.list_result_sets(viewer, "d")] == ["res"]
    assert result_sets.get_result_set(viewer, "d", "res").n_labels == 1  # the prelabel
    with pytest.raises(PermissionDeniedError):
        result_sets.delete_result_set(annotator, "d", "res")
    result_sets.delete_result_set(reviewer, "d", "res")
    with pytest.raises(PermissionDeniedError, match="no role"):
        review.summary(s.as_(None), "d", "done")


# -- the ontology ---------------------------------------------------------------------------
def test_the_ontology_is_edited_by_editors_and_read_by_all(s: Setup) -> None:
    viewer, reviewer, editor = s.as_(Role.VIEWER), s.as_(Role.REVIEWER), s.as_(Role.EDITOR)
    assert "cat" in {c.name for c in ontology.ontology(viewer, "d").classes}
    for attempt in (
        lambda w: ontology.add_class(w, "d", "bird"),
        lambda w: ontology.update_class(w, "d", "cat", new_name="feline"),
        lambda w: ontology.delete_class(w, "d", "cat"),
        lambda w: ontology.add_question(w, "d", "pose", "radio", ["up", "down"]),
        lambda w: ontology.delete_question(w, "d", "pose"),
    ):
        with pytest.raises(PermissionDeniedError, match=r"may not edit the ontology \(ontology"):
            attempt(reviewer)
    assert ontology.add_class(editor, "d", "bird").name == "bird"
    with pytest.raises(PermissionDeniedError, match="scope read"):
        ontology.add_class(s.as_(Role.EDITOR, scope=Scope.READ), "d", "fish")
