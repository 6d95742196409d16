"""Tag use cases (SPEC F-20 to F-29): tag groups, prompts, examples, thresholds and reviews.

Every face calls these. Definitions are edited only from a group's training dataset; datasets that
apply a shareable group score it but cannot edit it (:class:`ReadOnlyGroupError`). A secret group
is seen only from its training dataset, by those who may read it: anywhere else it is unknown
(``NotFoundError``). Each use case asks :mod:`tagscope.service.policy` first: reads ``read``,
definitions ``tags.edit``, reviews ``tags.review``, applying ``tags.apply`` on the target. Scoring,
applying and versions live in :mod:`tagscope.service.tag_scoring`; preview, uncertain items,
histogram and evaluation in :mod:`tagscope.service.tag_insights`; both are re-exported here.

Examples
--------
>>> ws = Workspace.open("tagscope-data")                                   # doctest: +SKIP
>>> create_group(ws, "coco", "animals", "dog\\ncat", visibility="shareable")  # doctest: +SKIP
>>> add_prompt(ws, "coco", "animals", "dog", "a cat", polarity="negative")  # doctest: +SKIP
>>> publish_group(ws, "coco", "animals")                                   # doctest: +SKIP
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence

from tagscope.domain import Dataset, NotFoundError, ValidationError
from tagscope.domain.changes import RECORD_ITSELF
from tagscope.domain.tags import (
    Polarity,
    PromptModality,
    Review,
    Tag,
    TagGroup,
    TextPrompt,
    Visibility,
    parse_tag_names,
    validate_group_name,
    validate_tag_name,
    validate_threshold,
)
from tagscope.embed import IMPORTED
from tagscope.service import _tag_models as tm
from tagscope.service import defaults, policy
from tagscope.service import history as hist
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.retry import retrying
from tagscope.store.scores import ScoreTables
from tagscope.store.tag_catalog import TagCatalog


def _enum(kind: type, value: object, field: str):  # type: ignore[no-untyped-def]
    try:
        return kind(str(value).lower())
    except ValueError:
        choices = ", ".join(str(v) for v in kind)
        raise ValidationError(
            f"invalid {field} {value!r}: choose one of {choices}", field=field
        ) from None


def _catalog(ws: Workspace) -> TagCatalog:
    return TagCatalog(ws.catalog)


def _editable(ws: Workspace, dataset: str, group: str) -> tuple[Dataset, TagGroup]:
    return tm.editable(ws, dataset, group)


def _default_space(ws: Workspace, ds: Dataset, space: str | None) -> str:
    """``space`` checked to exist, or the semantic space every face defaults to."""
    if space is not None:
        ws.catalog.get_space(ds.id, space)
        return space
    spaces = ws.catalog.list_spaces(ds.id)
    if not spaces:
        raise ValidationError(
            f"dataset {ds.name!r} has no embedding space yet; run `tagscope embed {ds.name}` first",
            field="space",
        )
    chosen = defaults.default_space(spaces)
    if chosen is None or not any(defaults.is_semantic(s["kind"]) for s in spaces):
        names = ", ".join(s["name"] for s in spaces)
        raise ValidationError(
            f"dataset {ds.name!r} has no semantic embedding space, only {names}: a near-duplicate "
            "hash compares pixels, not what a picture shows, so tags learnt from it follow "
            f"colours and layout rather than content; run `tagscope embed {ds.name} --kind clip` "
            f"(or `--kind text` for items with captions) and create the group again, or name "
            f"the space (--space {spaces[0]['name']}) to use it anyway",
            field="space",
        )
    return chosen


def _new_tag(name: str, *, prompts: bool = True) -> Tag:
    """A tag whose name is its first positive prompt, for pictures and for transcripts.

    In a space of imported vectors (no model to embed text) a tag starts without prompts.
    """
    if not prompts:
        return Tag(name)
    return Tag(
        name,
        prompts=(
            TextPrompt(name, Polarity.POSITIVE, PromptModality.VISUAL),
            TextPrompt(name, Polarity.POSITIVE, PromptModality.TRANSCRIPT),
        ),
    )


# -- groups -------------------------------------------------------------------------------
def create_group(
    ws: Workspace,
    dataset: str,
    group: str,
    names_text: str,
    *,
    visibility: str = "secret",
    space: str | None = None,
) -> TagGroup:
    """Create a draft tag group trained on ``dataset`` (F-20).

    Parameters
    ----------
    names_text : str
        Tag names, one per line (letters, digits, spaces); each becomes a tag and its first
        positive text prompt. A bad line raises ``ValidationError`` naming it.
    visibility : {"secret", "shareable"}, default "secret"
    space : str, optional
        The embedding space whose vectors the tags learn from; by default the semantic space
        every face defaults to (:func:`tagscope.service.defaults.default_space`: ``clip``, then
        ``text``, then imported vectors), named by the returned group's ``space``. A dataset
        with only a ``phash`` space raises ``ValidationError`` unless ``space`` names it.
    """
    name = validate_group_name(group)
    names = parse_tag_names(names_text)
    vis = _enum(Visibility, visibility, "visibility")
    ds = policy.dataset(ws, Action.TAGS_EDIT, dataset)
    space = _default_space(ws, ds, space)
    prompts = _has_model(ws, ds, space)
    created = _catalog(ws).create_group(
        ds.id, name, space=space, visibility=vis, tags=[_new_tag(n, prompts=prompts) for n in names]
    )
    # Score files a crash left of a deleted group of this name are not this group's.
    shutil.rmtree(ScoreTables(ws.paths.scores).folder(name), ignore_errors=True)
    return created


def _has_model(ws: Workspace, ds: Dataset, space: str) -> bool:
    return ws.catalog.get_space(ds.id, space)["kind"] != IMPORTED


def get_group(ws: Workspace, group: str) -> TagGroup:
    """The group, when the caller may see it (else ``NotFoundError``, as for no such group)."""
    return tm.visible_group(ws, group)


def list_groups(ws: Workspace, dataset: str | None = None) -> list[TagGroup]:
    """Every tag group the caller may see, or those ``dataset`` uses (trained on it or applied
    to it) and shows (a secret group only on its training dataset)."""
    ds_id = policy.dataset(ws, Action.READ, dataset).id if dataset else None
    return [g for g in _catalog(ws).list_groups(ds_id) if tm.seen(ws, g, ds_id)]


@retrying
def set_visibility(ws: Workspace, dataset: str, group: str, visibility: str) -> TagGroup:
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        uow.tags.set_visibility(grp.id, _enum(Visibility, visibility, "visibility"))
        return uow.tags.get_group_by_id(grp.id)


# -- tags ---------------------------------------------------------------------------------
@retrying
def add_tags(ws: Workspace, dataset: str, group: str, names_text: str) -> TagGroup:
    """Add tags to a group, one name per line, as :func:`create_group` does: all of them, or
    none when one fails (a name the group has already)."""
    names = parse_tag_names(names_text)
    with ws.uow() as uow:
        ds, grp = _editable(ws, dataset, group)
        prompts = _has_model(ws, ds, grp.space)
        for name in names:
            uow.tags.add_tag(grp.id, _new_tag(name, prompts=prompts))
        return uow.tags.get_group_by_id(grp.id)


@retrying
def rename_tag(ws: Workspace, dataset: str, group: str, tag: str, new_name: str) -> Tag:
    name = validate_tag_name(new_name)
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        uow.tags.rename_tag(grp.tag(tag).id, name)
        return uow.tags.get_group_by_id(grp.id).tag(name)


@retrying
def remove_tag(ws: Workspace, dataset: str, group: str, tag: str) -> None:
    """Remove a tag with its prompts, examples and reviews: a change-set of the dataset's
    history, whose undo brings them all back."""
    with ws.uow() as uow:
        ds, grp = _editable(ws, dataset, group)
        if len(grp.tags) == 1:
            raise ValidationError(f"{tag!r} is the last tag of group {grp.name!r}", field="tag")
        t = grp.tag(tag)
        tag_id = t.id or 0
        hist.record(
            uow,
            ds.id,
            "remove_tag",
            entity="tag",
            tag_id=tag_id,
            item_ids=[RECORD_ITSELF],
            edit=lambda: uow.tags.remove_tag(tag_id),
            target={"group": grp.name, "tag": t.name},
        )


# -- text prompts (F-21) ------------------------------------------------------------------
@retrying
def add_prompt(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    text: str,
    *,
    polarity: str = "positive",
    modality: str = "visual",
) -> TextPrompt:
    """Add a text prompt: what the tag looks for (positive) or ignores (negative).

    Parameters
    ----------
    polarity : {"positive", "negative"}, default "positive"
    modality : {"visual", "transcript"}, default "visual"
        Pictures (images, keyframes, shots) or spoken text (transcript segments).
    """
    prompt = TextPrompt(
        text.strip(),
        _enum(Polarity, polarity, "polarity"),
        _enum(PromptModality, modality, "modality"),
    )
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        return uow.tags.add_prompt(grp.tag(tag).id, prompt)


@retrying
def edit_prompt(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    prompt_id: int,
    *,
    text: str | None = None,
    polarity: str | None = None,
    modality: str | None = None,
) -> TextPrompt:
    """Change the text, polarity or modality of prompt ``prompt_id`` (others stay)."""
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        current = _prompt(grp.tag(tag), prompt_id)
        new = TextPrompt(
            text.strip() if text is not None else current.text,
            _enum(Polarity, polarity, "polarity") if polarity else current.polarity,
            _enum(PromptModality, modality, "modality") if modality else current.modality,
            id=prompt_id,
        )
        uow.tags.update_prompt(grp.tag(tag).id, new)
        return new


@retrying
def remove_prompt(ws: Workspace, dataset: str, group: str, tag: str, prompt_id: int) -> None:
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        _prompt(grp.tag(tag), prompt_id)
        uow.tags.remove_prompt(grp.tag(tag).id, prompt_id)


def _prompt(tag: Tag, prompt_id: int) -> TextPrompt:
    for p in tag.prompts:
        if p.id == prompt_id:
            return p
    known = ", ".join(str(p.id) for p in tag.prompts) or "none"
    raise NotFoundError(f"tag {tag.name!r} has no prompt {prompt_id} (prompts: {known})")


# -- visual prompts (F-22) ----------------------------------------------------------------
@retrying
def mark_items(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    item_ids: Sequence[int],
    *,
    polarity: str = "positive",
) -> int:
    """Mark items of the training dataset as positive or negative examples, in bulk.

    Items marked before with the other polarity switch; returns how many changed. The change
    is a change-set of the training dataset's history (undoable).
    """
    if not item_ids:
        raise ValidationError("give at least one item id to mark", field="items")
    pol = _enum(Polarity, polarity, "polarity")
    ids = [int(i) for i in item_ids]
    with ws.uow() as uow:
        ds, grp = _editable(ws, dataset, group)
        t = grp.tag(tag)
        assert t.id is not None
        return hist.record(
            uow,
            ds.id,
            "mark_examples",
            entity="example",
            tag_id=t.id,
            item_ids=ids,
            edit=lambda: uow.tags.mark_examples(t.id or 0, ids, pol),
            params={"polarity": str(pol)},
            target={"group": grp.name, "tag": t.name},
        )


@retrying
def unmark_items(ws: Workspace, dataset: str, group: str, tag: str, item_ids: Sequence[int]) -> int:
    """Remove items from the examples of a tag; returns how many were examples."""
    ids = [int(i) for i in item_ids]
    with ws.uow() as uow:
        ds, grp = _editable(ws, dataset, group)
        t = grp.tag(tag)
        assert t.id is not None
        return hist.record(
            uow,
            ds.id,
            "unmark_examples",
            entity="example",
            tag_id=t.id,
            item_ids=ids,
            edit=lambda: uow.tags.unmark_examples(t.id or 0, ids),
            target={"group": grp.name, "tag": t.name},
        )


# -- thresholds and ground truth (F-29) ---------------------------------------------------
@retrying
def save_threshold(ws: Workspace, dataset: str, group: str, tag: str, threshold: float) -> Tag:
    """Save the tag's threshold: decisions (grid, SQL views, score files written from now on)
    follow it at once.

    A threshold is a setting of the published version, not a new definition: the group does
    not become pending and needs no new publish.
    """
    value = validate_threshold(threshold)
    with ws.uow() as uow:
        _, grp = _editable(ws, dataset, group)
        uow.tags.set_threshold(grp.tag(tag).id, value)
        return uow.tags.get_group_by_id(grp.id).tag(tag)


@retrying
def add_reviews(
    ws: Workspace,
    dataset: str,
    group: str,
    tag: str,
    reviews: Mapping[int, bool] | Iterable[Review],
) -> int:
    """Record ground truth for a tag: item id → shows the tag (True) or not (False).

    Reviews may come from any dataset that uses the group; they never change the definition.
    They are one change-set of the dataset's history (undoable).
    """
    pairs = (
        list(reviews.items())
        if isinstance(reviews, Mapping)
        else [(r.item_id, r.label) for r in reviews]
    )
    with ws.uow() as uow:
        ds, grp, t = tm.tag_in_context(ws, dataset, group, tag, Action.TAGS_REVIEW)
        items = uow.catalog.get_items([i for i, _ in pairs])
        foreign = [i for i, _ in pairs if i not in items or items[i].dataset_id != ds.id]
        if foreign:
            raise ValidationError(
                f"items not in dataset {ds.name!r}: {', '.join(map(str, foreign[:10]))}",
                field="items",
            )
        assert t.id is not None
        return hist.record(
            uow,
            ds.id,
            "review",
            entity="review",
            tag_id=t.id,
            item_ids=[i for i, _ in pairs],
            edit=lambda: uow.tags.add_reviews(t.id or 0, pairs),
            target={"group": grp.name, "tag": t.name},
        )


# Scoring, versions and the views of scores, re-exported so faces import one module.
from tagscope.service.tag_insights import (  # noqa: E402
    HistogramBin,
    ScoredItem,
    TagEvaluation,
    TagHistogram,
    TagPreview,
    evaluate_tag,
    preview_tag,
    tag_histogram,
    uncertain_items,
)
from tagscope.service.tag_scoring import (  # noqa: E402
    apply_group,
    dataset_uses,
    list_uses,
    list_versions,
    publish_group,
)

__all__ = [
    "HistogramBin",
    "ScoredItem",
    "TagEvaluation",
    "TagHistogram",
    "TagPreview",
    "add_prompt",
    "add_reviews",
    "add_tags",
    "apply_group",
    "create_group",
    "dataset_uses",
    "edit_prompt",
    "evaluate_tag",
    "get_group",
    "list_groups",
    "list_uses",
    "list_versions",
    "mark_items",
    "preview_tag",
    "publish_group",
    "remove_prompt",
    "remove_tag",
    "rename_tag",
    "save_threshold",
    "set_visibility",
    "tag_histogram",
    "uncertain_items",
    "unmark_items",
]
