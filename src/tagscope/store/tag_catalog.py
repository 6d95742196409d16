"""Repository of tag groups: definitions, edits, reviews, committed versions and uses.

Every edit of a tag's definition (prompt, example, name) grows its ``revision`` and, when the
group was published, turns the group ``pending`` in the same transaction. A threshold is a setting
of the published version, not a definition: saving one changes neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tagscope.domain import AlreadyExistsError, NotFoundError, ValidationError
from tagscope.domain.changes import RECORD_ITSELF
from tagscope.domain.tags import (
    Example,
    GroupUse,
    Polarity,
    PromptModality,
    Review,
    ReviewSource,
    ScoringStatus,
    Tag,
    TagGroup,
    TagState,
    TagVersion,
    TextPrompt,
    Visibility,
    group_slug,
)
from tagscope.store.catalog import Catalog
from tagscope.store.schema import DatasetRow, ItemRow, LabelRow, utcnow
from tagscope.store.tag_schema import (
    TagExampleRow,
    TagGroupRow,
    TagGroupUseRow,
    TagGroupVersionRow,
    TagPromptRow,
    TagReviewRow,
    TagRow,
)

_CHUNK = 500


def _review_values(state: dict[str, Any]) -> dict[str, Any]:
    """A review's state (as :meth:`TagCatalog.review_states` reads it) as row values."""
    return {**state, "created_at": datetime.fromisoformat(state["created_at"])}


def tag_to_dict(tag: Tag) -> dict[str, Any]:
    return {
        "name": tag.name,
        "threshold": tag.threshold,
        "revision": tag.revision,
        "prompts": [[p.text, str(p.polarity), str(p.modality)] for p in tag.prompts],
        "examples": [[e.item_id, str(e.polarity)] for e in tag.examples],
    }


def tag_from_dict(data: dict[str, Any]) -> Tag:
    return Tag(
        name=data["name"],
        threshold=float(data["threshold"]),
        revision=int(data.get("revision", 0)),
        prompts=tuple(TextPrompt(t, Polarity(p), PromptModality(m)) for t, p, m in data["prompts"]),
        examples=tuple(Example(int(i), Polarity(p)) for i, p in data["examples"]),
    )


class TagCatalog:
    """Tag groups in the catalog database; each method is one transaction, or joins the open
    unit of work (:meth:`Catalog.transaction`)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- reading --------------------------------------------------------------------------
    def _tags(self, s: Session, group_id: int) -> tuple[Tag, ...]:
        rows = list(
            s.scalars(select(TagRow).where(TagRow.group_id == group_id).order_by(TagRow.position))
        )
        ids = [r.id for r in rows]
        prompts: dict[int, list[TextPrompt]] = {i: [] for i in ids}
        examples: dict[int, list[Example]] = {i: [] for i in ids}
        if ids:
            stmt = select(TagPromptRow).where(TagPromptRow.tag_id.in_(ids))
            for p in s.scalars(stmt.order_by(TagPromptRow.id)):
                prompts[p.tag_id].append(
                    TextPrompt(p.text, Polarity(p.polarity), PromptModality(p.modality), id=p.id)
                )
            stmt2 = select(TagExampleRow).where(TagExampleRow.tag_id.in_(ids))
            for e in s.scalars(stmt2.order_by(TagExampleRow.id)):
                examples[e.tag_id].append(Example(e.item_id, Polarity(e.polarity)))
        return tuple(
            Tag(
                name=r.name,
                prompts=tuple(prompts[r.id]),
                examples=tuple(examples[r.id]),
                threshold=r.threshold,
                revision=r.revision,
                id=r.id,
            )
            for r in rows
        )

    def _group(self, s: Session, row: TagGroupRow, dataset: str) -> TagGroup:
        return TagGroup(
            id=row.id,
            name=row.name,
            dataset_id=row.dataset_id,
            dataset=dataset,
            space=row.space,
            visibility=Visibility(row.visibility),
            state=TagState(row.state),
            version=row.version,
            tags=self._tags(s, row.id),
            created_at=row.created_at,
        )

    def _group_row(self, s: Session, name: str) -> TagGroupRow:
        row = s.scalars(select(TagGroupRow).where(TagGroupRow.slug == group_slug(name))).first()
        if row is None:
            raise NotFoundError(f"no tag group named {name!r}")
        return row

    def get_group(self, name: str) -> TagGroup:
        with self.catalog.session() as s:
            row = self._group_row(s, name)
            return self._group(s, row, s.get(DatasetRow, row.dataset_id).name)

    def get_group_by_id(self, group_id: int) -> TagGroup:
        with self.catalog.session() as s:
            row = s.get(TagGroupRow, group_id)
            if row is None:
                raise NotFoundError(f"no tag group with id {group_id}")
            return self._group(s, row, s.get(DatasetRow, row.dataset_id).name)

    def list_groups(self, dataset_id: int | None = None) -> list[TagGroup]:
        """Every group, or those a dataset uses (trained on it or applied to it)."""
        stmt = (
            select(TagGroupRow, DatasetRow.name)
            .join(DatasetRow, DatasetRow.id == TagGroupRow.dataset_id)
            .order_by(TagGroupRow.name)
        )
        if dataset_id is not None:
            used = select(TagGroupUseRow.group_id).where(TagGroupUseRow.dataset_id == dataset_id)
            stmt = stmt.where(TagGroupRow.id.in_(used))
        with self.catalog.session() as s:
            return [self._group(s, row, ds) for row, ds in s.execute(stmt).all()]

    # -- creating and editing -------------------------------------------------------------
    def create_group(
        self,
        dataset_id: int,
        name: str,
        *,
        space: str,
        visibility: Visibility,
        tags: Sequence[Tag],
    ) -> TagGroup:
        """A draft group with ``tags``; the training dataset becomes its first user."""
        try:
            with self.catalog.session() as s:
                row = TagGroupRow(
                    name=name,
                    slug=group_slug(name),
                    dataset_id=dataset_id,
                    space=space,
                    visibility=str(visibility),
                    state=str(TagState.DRAFT),
                    version=0,
                )
                s.add(row)
                s.flush()
                for tag in tags:
                    self._insert_tag(s, row.id, tag)
                s.add(
                    TagGroupUseRow(
                        group_id=row.id,
                        dataset_id=dataset_id,
                        is_training=True,
                        status=str(ScoringStatus.UNSCORED),
                        n_done=0,
                        n_total=0,
                    )
                )
                group_id = row.id
        except IntegrityError as exc:
            raise AlreadyExistsError(
                f"a tag group named {name!r} (table dt_{group_slug(name)}_*) already exists"
            ) from exc
        return self.get_group_by_id(group_id)

    def _insert_tag(self, s: Session, group_id: int, tag: Tag) -> int:
        position = s.execute(
            select(func.coalesce(func.max(TagRow.position), -1)).where(TagRow.group_id == group_id)
        ).scalar_one()
        row = TagRow(
            group_id=group_id,
            name=tag.name,
            position=position + 1,
            threshold=tag.threshold,
            revision=0,
        )
        s.add(row)
        s.flush()
        for p in tag.prompts:
            s.add(
                TagPromptRow(
                    tag_id=row.id, text=p.text, polarity=str(p.polarity), modality=str(p.modality)
                )
            )
        for e in tag.examples:
            s.add(TagExampleRow(tag_id=row.id, item_id=e.item_id, polarity=str(e.polarity)))
        return row.id

    def _touch(self, s: Session, tag_id: int) -> None:
        """An edit: the tag's revision grows; a published group becomes pending."""
        tag = s.get(TagRow, tag_id)
        if tag is None:
            raise NotFoundError(f"no tag with id {tag_id}")
        tag.revision += 1
        self._touch_group(s, tag.group_id)

    def _touch_group(self, s: Session, group_id: int) -> None:
        s.execute(
            update(TagGroupRow)
            .where(TagGroupRow.id == group_id, TagGroupRow.state == str(TagState.PUBLISHED))
            .values(state=str(TagState.PENDING))
        )

    def add_tag(self, group_id: int, tag: Tag) -> None:
        try:
            with self.catalog.session() as s:
                self._insert_tag(s, group_id, tag)
                self._touch_group(s, group_id)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"the group already has a tag named {tag.name!r}") from exc

    def remove_tag(self, tag_id: int) -> None:
        with self.catalog.session() as s:
            tag = s.get(TagRow, tag_id)
            if tag is None:
                raise NotFoundError(f"no tag with id {tag_id}")
            self._touch_group(s, tag.group_id)
            s.delete(tag)

    def rename_tag(self, tag_id: int, name: str) -> None:
        try:
            with self.catalog.session() as s:
                self._touch(s, tag_id)
                s.execute(update(TagRow).where(TagRow.id == tag_id).values(name=name))
        except IntegrityError as exc:
            raise AlreadyExistsError(f"the group already has a tag named {name!r}") from exc

    def set_threshold(self, tag_id: int, threshold: float) -> None:
        """A setting of the published version, not a new definition: the revision and the
        group's state stay; decisions follow the new threshold at once."""
        with self.catalog.session() as s:
            done = s.execute(update(TagRow).where(TagRow.id == tag_id).values(threshold=threshold))
            if not done.rowcount:
                raise NotFoundError(f"no tag with id {tag_id}")

    def add_prompt(self, tag_id: int, prompt: TextPrompt) -> TextPrompt:
        with self.catalog.session() as s:
            self._touch(s, tag_id)
            row = TagPromptRow(
                tag_id=tag_id,
                text=prompt.text,
                polarity=str(prompt.polarity),
                modality=str(prompt.modality),
            )
            s.add(row)
            s.flush()
            return TextPrompt(prompt.text, prompt.polarity, prompt.modality, id=row.id)

    def update_prompt(self, tag_id: int, prompt: TextPrompt) -> None:
        """Replace the text, polarity and modality of prompt ``prompt.id`` of the tag."""
        with self.catalog.session() as s:
            row = s.get(TagPromptRow, prompt.id)
            if row is None or row.tag_id != tag_id:
                raise NotFoundError(f"the tag has no prompt with id {prompt.id}")
            self._touch(s, tag_id)
            row.text, row.polarity, row.modality = (
                prompt.text,
                str(prompt.polarity),
                str(prompt.modality),
            )

    def remove_prompt(self, tag_id: int, prompt_id: int) -> None:
        with self.catalog.session() as s:
            row = s.get(TagPromptRow, prompt_id)
            if row is None or row.tag_id != tag_id:
                raise NotFoundError(f"the tag has no prompt with id {prompt_id}")
            self._touch(s, tag_id)
            s.delete(row)

    def _check_items(self, s: Session, dataset_id: int, item_ids: Sequence[int]) -> None:
        found: set[int] = set()
        for i in range(0, len(item_ids), _CHUNK):
            stmt = select(ItemRow.id).where(
                ItemRow.dataset_id == dataset_id, ItemRow.id.in_(item_ids[i : i + _CHUNK])
            )
            found.update(s.scalars(stmt))
        missing = sorted(set(item_ids) - found)
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise ValidationError(
                f"{len(missing)} item(s) are not in the training dataset: {shown}",
                field="items",
            )

    def mark_examples(self, tag_id: int, item_ids: Sequence[int], polarity: Polarity) -> int:
        """Mark items (of the group's training dataset) as examples; return how many changed."""
        ids = sorted({int(i) for i in item_ids})
        with self.catalog.session() as s:
            tag = s.get(TagRow, tag_id)
            if tag is None:
                raise NotFoundError(f"no tag with id {tag_id}")
            self._check_items(s, s.get(TagGroupRow, tag.group_id).dataset_id, ids)
            current = {
                e.item_id: e
                for e in s.scalars(
                    select(TagExampleRow).where(
                        TagExampleRow.tag_id == tag_id, TagExampleRow.item_id.in_(ids)
                    )
                )
            }
            changed = 0
            for item_id in ids:
                row = current.get(item_id)
                if row is None:
                    s.add(TagExampleRow(tag_id=tag_id, item_id=item_id, polarity=str(polarity)))
                    changed += 1
                elif row.polarity != str(polarity):
                    row.polarity = str(polarity)
                    changed += 1
            if changed:
                self._touch(s, tag_id)
            return changed

    def unmark_examples(self, tag_id: int, item_ids: Sequence[int]) -> int:
        with self.catalog.session() as s:
            n = s.execute(
                delete(TagExampleRow).where(
                    TagExampleRow.tag_id == tag_id, TagExampleRow.item_id.in_(list(item_ids))
                )
            ).rowcount
            if n:
                self._touch(s, tag_id)
            return n

    def set_visibility(self, group_id: int, visibility: Visibility) -> None:
        with self.catalog.session() as s:
            s.execute(
                update(TagGroupRow)
                .where(TagGroupRow.id == group_id)
                .values(visibility=str(visibility))
            )

    # -- items by modality -----------------------------------------------------------------
    def modality_counts(self, dataset_id: int) -> dict[str, int]:
        """How many items of each modality (image, keyframe, shot, video, transcript)."""
        stmt = (
            select(ItemRow.modality, func.count())
            .where(ItemRow.dataset_id == dataset_id)
            .group_by(ItemRow.modality)
        )
        with self.catalog.session() as s:
            return {m: n for m, n in s.execute(stmt)}

    def item_ids(self, dataset_id: int, modalities: Sequence[str]) -> np.ndarray:
        """Sorted ids of the dataset's items of ``modalities``."""
        stmt = (
            select(ItemRow.id)
            .where(ItemRow.dataset_id == dataset_id, ItemRow.modality.in_(list(modalities)))
            .order_by(ItemRow.id)
        )
        with self.catalog.session() as s:
            return np.fromiter(s.scalars(stmt), dtype=np.int64)

    def label_truth(self, dataset_id: int, names: Sequence[str]) -> tuple[set[int], set[int]]:
        """(items with a ground-truth label named any of ``names`` (case-insensitive), items
        with any ground-truth label): where a dataset's labels say an item shows a tag or not."""
        wanted = [n.casefold() for n in names]
        base = (
            select(LabelRow.item_id)
            .join(ItemRow, ItemRow.id == LabelRow.item_id)
            .where(ItemRow.dataset_id == dataset_id, LabelRow.source == "ground_truth")
            .distinct()
        )
        with self.catalog.session() as s:
            labelled = set(s.scalars(base))
            positive = (
                set(s.scalars(base.where(func.lower(LabelRow.name).in_(wanted))))
                if wanted
                else set()
            )
        return positive, labelled

    # -- reviews (ground truth) -----------------------------------------------------------
    def add_reviews(self, tag_id: int, labels: Iterable[tuple[int, bool]]) -> int:
        """Record people's ground truth (item id, label) for a tag; it replaces any earlier
        review of the item, a person's or an LLM's."""
        return self._put_reviews(tag_id, [(i, v, None) for i, v in labels], ReviewSource.PERSON)

    def propose_reviews(self, tag_id: int, verdicts: Iterable[tuple[int, bool, str]]) -> int:
        """Record an LLM judge's verdicts (item id, label, reason); items a person reviewed keep
        the person's review. Returns how many were recorded."""
        verdicts = list(verdicts)
        people = {
            i for i, r in self.review_records(tag_id).items() if r.source == ReviewSource.PERSON
        }
        kept = [(i, v, why) for i, v, why in verdicts if int(i) not in people]
        return self._put_reviews(tag_id, kept, ReviewSource.LLM)

    def _put_reviews(
        self, tag_id: int, rows: list[tuple[int, bool, str | None]], source: ReviewSource
    ) -> int:
        by_item = {int(i): (bool(v), why) for i, v, why in rows}
        with self.catalog.session() as s:
            tag = s.get(TagRow, tag_id)
            if tag is None:
                raise NotFoundError(f"no tag with id {tag_id}")
            ids = sorted(by_item)
            s.execute(
                delete(TagReviewRow).where(
                    TagReviewRow.tag_id == tag_id, TagReviewRow.item_id.in_(ids)
                )
            )
            s.add_all(
                TagReviewRow(
                    tag_id=tag_id,
                    item_id=i,
                    label=by_item[i][0],
                    source=source.value,
                    reason=by_item[i][1],
                )
                for i in ids
            )
            return len(ids)

    def remove_reviews(self, tag_id: int, item_ids: Iterable[int]) -> int:
        """Forget the reviews of these items for the tag (cleaning a judge's proposals)."""
        ids = sorted({int(i) for i in item_ids})
        with self.catalog.session() as s:
            result = s.execute(
                delete(TagReviewRow).where(
                    TagReviewRow.tag_id == tag_id, TagReviewRow.item_id.in_(ids)
                )
            )
            return int(result.rowcount or 0)

    def reviews(self, tag_id: int) -> dict[int, bool]:
        """Item id -> label of every review of the tag (people's and a judge's)."""
        return {i: r.label for i, r in self.review_records(tag_id).items()}

    def review_records(self, tag_id: int, *, tag: str = "") -> dict[int, Review]:
        """Item id -> review, with who gave it and why, in the order they were given."""
        with self.catalog.session() as s:
            stmt = (
                select(TagReviewRow).where(TagReviewRow.tag_id == tag_id).order_by(TagReviewRow.id)
            )
            return {
                r.item_id: Review(r.item_id, tag, bool(r.label), ReviewSource(r.source), r.reason)
                for r in s.scalars(stmt)
            }

    # -- records as the change log sees them ----------------------------------------------
    def lock_tag(self, tag_id: int) -> None:
        """Lock the tag's row until the transaction ends (PostgreSQL; SQLite's unit of work
        holds the write lock already): edits of its records then read what they change
        without another transaction changing it in between."""
        with self.catalog.session() as s:
            if s.get(TagRow, tag_id, with_for_update=True) is None:
                raise NotFoundError(f"no tag with id {tag_id}")

    def example_states(self, tag_id: int, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Item id -> ``{"polarity"}`` of those of ``item_ids`` that are examples of the tag."""
        out: dict[int, dict[str, Any]] = {}
        ids = sorted({int(i) for i in item_ids})
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(TagExampleRow).where(
                    TagExampleRow.tag_id == tag_id, TagExampleRow.item_id.in_(ids[i : i + _CHUNK])
                )
                out.update({r.item_id: {"polarity": r.polarity} for r in s.scalars(stmt)})
        return out

    def review_states(self, tag_id: int, item_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Item id -> ``{"label", "source", "reason", "created_at"}`` of the reviewed ones."""
        out: dict[int, dict[str, Any]] = {}
        ids = sorted({int(i) for i in item_ids})
        with self.catalog.session() as s:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(TagReviewRow).where(
                    TagReviewRow.tag_id == tag_id, TagReviewRow.item_id.in_(ids[i : i + _CHUNK])
                )
                out.update(
                    {
                        r.item_id: {
                            "label": bool(r.label),
                            "source": r.source,
                            "reason": r.reason,
                            "created_at": r.created_at.isoformat(),
                        }
                        for r in s.scalars(stmt)
                    }
                )
        return out

    def restore_examples(self, tag_id: int, states: Mapping[int, dict[str, Any] | None]) -> None:
        """Put the tag's examples of these items back as ``states`` says (``None``: none)."""
        self._restore(tag_id, states, TagExampleRow, lambda state: state)
        with self.catalog.session() as s:
            self._touch(s, tag_id)

    def restore_reviews(self, tag_id: int, states: Mapping[int, dict[str, Any] | None]) -> None:
        """Put the tag's reviews of these items back as ``states`` says (``None``: none)."""
        self._restore(tag_id, states, TagReviewRow, _review_values)

    # -- a tag's whole record: what removing it takes away (undoable) ----------------------
    def tag_states(
        self, tag_id: int, item_ids: Sequence[int] = (RECORD_ITSELF,)
    ) -> dict[int, dict[str, Any]]:
        """:data:`RECORD_ITSELF` -> the tag's whole record (its row, prompts, examples and
        reviews), when asked for and the tag exists."""
        if RECORD_ITSELF not in item_ids:
            return {}
        with self.catalog.session() as s:
            row = s.get(TagRow, tag_id)
            if row is None:
                return {}
            prompts = s.scalars(
                select(TagPromptRow).where(TagPromptRow.tag_id == tag_id).order_by(TagPromptRow.id)
            ).all()
            example_ids, review_ids = (
                s.scalars(select(t.item_id).where(t.tag_id == tag_id)).all()
                for t in (TagExampleRow, TagReviewRow)
            )
            record: dict[str, Any] = {
                "group_id": row.group_id,
                "name": row.name,
                "position": row.position,
                "threshold": row.threshold,
                "revision": row.revision,
                "prompts": [[p.id, p.text, p.polarity, p.modality] for p in prompts],
            }
        # Lists of [item id, state]: a record read back from the change log's JSON equals it.
        for key, states in (
            ("examples", self.example_states(tag_id, example_ids)),
            ("reviews", self.review_states(tag_id, review_ids)),
        ):
            record[key] = [[i, states[i]] for i in sorted(states)]
        return {RECORD_ITSELF: record}

    def lock_tag_record(self, tag_id: int) -> None:
        """Lock the tag's row where it exists (a removed tag has none to lock)."""
        with self.catalog.session() as s:
            s.get(TagRow, tag_id, with_for_update=True)

    def describe_tag(self, tag_id: int) -> str:
        with self.catalog.session() as s:
            row = s.get(TagRow, tag_id)
            return f"tag {row.name!r}" if row is not None else f"tag {tag_id}"

    def restore_tag(self, tag_id: int, states: Mapping[int, dict[str, Any] | None]) -> None:
        """Make the tag what ``states[RECORD_ITSELF]`` says: ``None`` removes it with its
        prompts, examples and reviews; a record puts it all back under the same ids (the
        group becomes pending: its definitions changed)."""
        record = states.get(RECORD_ITSELF)
        with self.catalog.session() as s:
            row = s.get(TagRow, tag_id)
            if row is not None:
                self._touch_group(s, row.group_id)
                s.delete(row)
                s.flush()
            if record is None:
                return
            group = s.get(TagGroupRow, record["group_id"])
            if group is None:
                raise NotFoundError(f"the group of tag {record['name']!r} was removed")
            named = select(TagRow.id).where(
                TagRow.group_id == group.id, TagRow.name == record["name"]
            )
            if s.scalar(named) is not None:
                raise AlreadyExistsError(
                    f"group {group.name!r} has a tag named {record['name']!r} again: rename "
                    "that one to bring this one back"
                )
            fields = ("name", "position", "threshold", "revision")
            s.add(TagRow(id=tag_id, group_id=group.id, **{f: record[f] for f in fields}))
            s.flush()
            s.add_all(
                TagPromptRow(id=pid, tag_id=tag_id, text=text, polarity=pol, modality=modality)
                for pid, text, pol, modality in record["prompts"]
            )
            self._touch_group(s, group.id)
        self._restore(tag_id, dict(record["examples"]), TagExampleRow, lambda state: state)
        self._restore(tag_id, dict(record["reviews"]), TagReviewRow, _review_values)

    def _restore(
        self,
        tag_id: int,
        states: Mapping[int, dict[str, Any] | None],
        table: type[TagExampleRow] | type[TagReviewRow],
        values: Any,
    ) -> None:
        with self.catalog.session() as s:
            if s.get(TagRow, tag_id) is None:
                raise NotFoundError(f"no tag with id {tag_id}")
            ids = sorted(states)
            for i in range(0, len(ids), _CHUNK):
                s.execute(
                    delete(table).where(
                        table.tag_id == tag_id, table.item_id.in_(ids[i : i + _CHUNK])
                    )
                )
            s.add_all(
                table(tag_id=tag_id, item_id=item_id, **values(state))
                for item_id, state in states.items()
                if state is not None
            )

    # -- versions -------------------------------------------------------------------------
    def commit_version(self, group_id: int, models: dict[str, Any] | None = None) -> TagVersion:
        """Freeze the group's current tags as its next version; the group becomes published."""
        with self.catalog.session() as s:
            group = s.get(TagGroupRow, group_id, with_for_update=True)
            if group is None:
                raise NotFoundError(f"no tag group with id {group_id}")
            tags = self._tags(s, group_id)
            number = group.version + 1
            definition = {"tags": [tag_to_dict(t) for t in tags], "models": models or {}}
            s.add(
                TagGroupVersionRow(
                    group_id=group_id, version=number, space=group.space, definition=definition
                )
            )
            group.version = number
            group.state = str(TagState.PUBLISHED)
            return TagVersion(group_id, number, group.space, tags)

    def get_version(self, group_id: int, version: int) -> tuple[TagVersion, dict[str, Any]]:
        """A committed version and the models stored with it."""
        with self.catalog.session() as s:
            row = s.scalars(
                select(TagGroupVersionRow).where(
                    TagGroupVersionRow.group_id == group_id, TagGroupVersionRow.version == version
                )
            ).first()
            if row is None:
                raise NotFoundError(f"the group has no version {version}")
            tags = tuple(tag_from_dict(t) for t in row.definition["tags"])
            tv = TagVersion(group_id, row.version, row.space, tags, row.created_at)
            return tv, dict(row.definition.get("models") or {})

    def list_versions(self, group_id: int) -> list[TagVersion]:
        with self.catalog.session() as s:
            stmt = (
                select(TagGroupVersionRow)
                .where(TagGroupVersionRow.group_id == group_id)
                .order_by(TagGroupVersionRow.version)
            )
            return [
                TagVersion(
                    group_id,
                    r.version,
                    r.space,
                    tuple(tag_from_dict(t) for t in r.definition["tags"]),
                    r.created_at,
                )
                for r in s.scalars(stmt)
            ]

    # -- uses (datasets scoring a group) --------------------------------------------------
    def add_use(self, group_id: int, dataset_id: int) -> None:
        """Record that ``dataset_id`` applies the group (nothing if it already does)."""
        with self.catalog.session() as s:
            s.execute(
                self.catalog._insert(TagGroupUseRow.__table__),
                [
                    {
                        "group_id": group_id,
                        "dataset_id": dataset_id,
                        "is_training": False,
                        "status": str(ScoringStatus.UNSCORED),
                        "n_done": 0,
                        "n_total": 0,
                        "updated_at": utcnow(),
                    }
                ],
            )

    def update_use(self, group_id: int, dataset_id: int, **values: Any) -> None:
        if "status" in values:
            values["status"] = str(values["status"])
        with self.catalog.session() as s:
            n = s.execute(
                update(TagGroupUseRow)
                .where(TagGroupUseRow.group_id == group_id, TagGroupUseRow.dataset_id == dataset_id)
                .values(**values)
            ).rowcount
            if not n:
                raise NotFoundError("the dataset does not use this tag group")

    def list_uses(
        self, *, group_id: int | None = None, dataset_id: int | None = None
    ) -> list[GroupUse]:
        stmt = (
            select(TagGroupUseRow, TagGroupRow.name, TagGroupRow.version, DatasetRow.name)
            .join(TagGroupRow, TagGroupRow.id == TagGroupUseRow.group_id)
            .join(DatasetRow, DatasetRow.id == TagGroupUseRow.dataset_id)
            .order_by(TagGroupUseRow.is_training.desc(), DatasetRow.name, TagGroupRow.name)
        )
        if group_id is not None:
            stmt = stmt.where(TagGroupUseRow.group_id == group_id)
        if dataset_id is not None:
            stmt = stmt.where(TagGroupUseRow.dataset_id == dataset_id)
        with self.catalog.session() as s:
            return [
                GroupUse(
                    group=gname,
                    dataset=dname,
                    is_training=u.is_training,
                    status=ScoringStatus(u.status),
                    version=u.version,
                    latest_version=latest,
                    target_version=u.target_version,
                    n_done=u.n_done,
                    n_total=u.n_total,
                    error=u.error,
                    job_id=u.job_id,
                    updated_at=u.updated_at,
                )
                for u, gname, latest, dname in s.execute(stmt).all()
            ]

    def get_use(self, group_id: int, dataset_id: int) -> GroupUse:
        uses = self.list_uses(group_id=group_id, dataset_id=dataset_id)
        if not uses:
            raise NotFoundError("the dataset does not use this tag group")
        return uses[0]


__all__ = ["TagCatalog", "tag_from_dict", "tag_to_dict"]
