"""Learning tags on a dataset's vectors: the glue between definitions, embedders and classifiers.

A tag has one model per prompt modality: ``visual`` scores images and keyframes (in the group's
space), ``transcript`` scores transcript segments (by their words: in the dataset's text space
when the group's space is an image space). Shots and videos are scored by their keyframes (the
SQL views ``dt_<group>_shot`` and ``_video``). A fitted model is linear on unit vectors (score =
``sigmoid(x . coef + intercept)``), so a committed version stores just ``coef`` and ``intercept``
and any dataset with vectors of the same model can be scored with it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tagscope.domain import Dataset, NotFoundError, ValidationError
from tagscope.domain.tags import (
    SCORE_MODALITY,
    Polarity,
    PromptModality,
    ReadOnlyGroupError,
    Tag,
    TagGroup,
    Visibility,
)
from tagscope.embed import IMPORTED, load_embedder
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.tag_catalog import TagCatalog

if TYPE_CHECKING:
    from tagscope.tags.classifier import TagClassifier

N_BACKGROUND = 4096  # rows offered as background (the classifier samples its own n_background)
RANDOM_STATE = 0

_PROMPT_CACHE: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
_PROMPT_CACHE_SIZE = 4096
_lock = threading.Lock()


SCORE_TABLES = ("visual", "transcript", "shot", "video")
FILE_TABLES = ("visual", "transcript")
"""The score tables scoring writes files of; shots and videos aggregate their keyframes'."""


def prompt_modality(score_modality: str) -> PromptModality:
    """Which prompts score items of a score table's modality."""
    return PromptModality.TRANSCRIPT if score_modality == "transcript" else PromptModality.VISUAL


def prompt_space(ws: Workspace, ds: Dataset, space: str, modality: PromptModality) -> str:
    """The space of ``ds`` (a group's training dataset, the group learning in ``space``) whose
    vectors the ``modality`` prompts score: ``space`` for visual prompts, and for transcript
    prompts too when it embeds words (a text space, imported vectors); else the dataset's text
    space (``text`` first), as an image space holds no transcript vectors.

    Raises
    ------
    ValidationError
        Transcript prompts, an image space, and no text space in the dataset.
    """
    if modality is PromptModality.VISUAL or ws.catalog.get_space(ds.id, space)["kind"] in (
        "text",
        IMPORTED,
    ):
        return space
    texts = sorted(
        (str(s["name"]) for s in ws.catalog.list_spaces(ds.id) if s["kind"] == "text"),
        key=lambda name: (name != "text", name),
    )
    if not texts:
        raise ValidationError(
            f"dataset {ds.name!r} has no text space for transcript prompts (image space "
            f"{space!r} holds pictures only): run `tagscope embed {ds.name} --kind text` first",
            field="space",
        )
    return texts[0]


def item_modalities(score_modality: str) -> list[str]:
    """Item modalities whose scores land in the ``score_modality`` table."""
    return [m for m, s in SCORE_MODALITY.items() if s == score_modality]


@dataclass(frozen=True)
class SpaceVectors:
    """A dataset's vectors in one space: ``ids`` ascending, row ``i`` of ``X`` for ``ids[i]``."""

    space: dict[str, Any]
    ids: np.ndarray
    X: np.ndarray

    def rows(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, found): the row of each item id and whether it has a vector at all."""
        item_ids = np.asarray(item_ids, dtype=np.int64)
        if len(self.ids) == 0:
            return np.zeros(len(item_ids), np.int64), np.zeros(len(item_ids), bool)
        pos = np.clip(np.searchsorted(self.ids, item_ids), 0, len(self.ids) - 1)
        return pos, self.ids[pos] == item_ids

    def take(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(vectors of the items that have one, found mask); a slice (no copy) when they are
        consecutive rows, as the ids of a whole dataset usually are."""
        rows, found = self.rows(item_ids)
        rows = rows[found]
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            return self.X[rows[0] : rows[-1] + 1], found
        return np.asarray(self.X[rows]), found


def tag_in_context(
    ws: Workspace, dataset: str, group: str, tag: str, action: Action = Action.READ
) -> tuple[Dataset, TagGroup, Tag]:
    """The dataset (once the caller may do ``action`` there), the group (which the dataset
    trains or applies, seen from it) and its tag."""
    ds = policy.dataset(ws, action, dataset)
    grp = visible_group(ws, group, ds)
    TagCatalog(ws.catalog).get_use(grp.id, ds.id)
    return ds, grp, grp.tag(tag)


def visible_group(ws: Workspace, group: str, ds: Dataset | None = None) -> TagGroup:
    """The group named ``group`` when the caller may see it (from ``ds`` when given): a secret
    group is seen only from its training dataset (:func:`policy.group_visible`). One it may not
    see is a ``NotFoundError`` as for a name no group has, so that it betrays nothing."""
    grp = TagCatalog(ws.catalog).get_group(group)
    if not seen(ws, grp, ds.id if ds else None):
        raise NotFoundError(f"no tag group named {group!r}")
    return grp


def seen(ws: Workspace, grp: TagGroup, dataset_id: int | None = None) -> bool:
    """Whether the caller may see the group (from dataset ``dataset_id`` when given)."""
    shareable = grp.visibility is Visibility.SHAREABLE
    return policy.group_visible(ws.identity, grp.dataset_id, shareable, dataset_id)


def check_score_table(modality: str) -> str:
    """``modality`` if it names a score table (visual, transcript, shot, video)."""
    if modality not in SCORE_TABLES:
        raise ValidationError(
            f"invalid modality {modality!r}: choose one of {', '.join(SCORE_TABLES)}",
            field="modality",
        )
    return modality


def editable(
    ws: Workspace, dataset: str, group: str, action: Action = Action.TAGS_EDIT
) -> tuple[Dataset, TagGroup]:
    """The dataset (once the caller may do ``action`` there) and the group, which must be
    trained on that dataset to be edited."""
    ds = policy.dataset(ws, action, dataset)
    grp = visible_group(ws, group, ds)
    if grp.dataset_id != ds.id:
        raise ReadOnlyGroupError(
            f"tag group {grp.name!r} is trained on dataset {grp.dataset!r}; dataset {ds.name!r} "
            f"can apply and score it but not edit it (edit it from {grp.dataset!r})"
        )
    return ds, grp


def load_vectors(ws: Workspace, ds: Dataset, space: str) -> SpaceVectors:
    """The dataset's vectors in ``space``; an error says how to compute them when missing."""
    info = ws.catalog.get_space(ds.id, space)
    ids, X = ws.vectors(ds, space).load()
    if len(ids) == 0:
        raise ValidationError(
            f"dataset {ds.name!r} has no vectors in space {space!r}; run "
            f"`tagscope embed {ds.name} --space {space}` first",
            field="space",
        )
    return SpaceVectors(info, ids, X)


def check_same_space(group: TagGroup, trained: dict[str, Any], other: dict[str, Any]) -> None:
    """A group scores another dataset only through vectors of the same model."""
    same = (trained["kind"], trained["model"], trained["dim"]) == (
        other["kind"],
        other["model"],
        other["dim"],
    )
    if not same:
        raise ValidationError(
            f"tag group {group.name!r} learned from {trained['kind']} vectors of "
            f"{trained['model']!r} (dim {trained['dim']}); space {other['name']!r} of this "
            f"dataset holds {other['kind']} vectors of {other['model']!r}: embed it with the "
            "same model first",
            field="space",
        )


def encode_prompts(space: dict[str, Any], texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of prompt ``texts`` in ``space`` (cached per model and text)."""
    dim = int(space["dim"])
    if not texts:
        return np.empty((0, dim), np.float32)
    if space["kind"] == IMPORTED:
        raise ValidationError(
            f"space {space['name']!r} holds imported vectors: text prompts cannot be embedded "
            "there; remove the text prompts (learn from examples only) or use a space with a model",
            field="space",
        )
    keys = [(space["kind"], space["model"], t) for t in texts]
    with _lock:
        missing = [k for k in dict.fromkeys(keys) if k not in _PROMPT_CACHE]
    if missing:
        vectors = load_embedder(space["kind"], space["model"]).encode_texts([k[2] for k in missing])
        with _lock:
            for k, v in zip(missing, vectors, strict=True):
                _PROMPT_CACHE[k] = np.asarray(v, np.float32)
            while len(_PROMPT_CACHE) > _PROMPT_CACHE_SIZE:
                _PROMPT_CACHE.popitem(last=False)
    with _lock:
        return np.stack([_PROMPT_CACHE[k] for k in keys])


def has_signal(tag: Tag, modality: PromptModality) -> bool:
    """The tag has something positive to learn from for ``modality``."""
    return bool(tag.texts(Polarity.POSITIVE, modality)) or (
        modality is PromptModality.VISUAL and bool(tag.example_ids(Polarity.POSITIVE))
    )


def fit_tag(
    tag: Tag,
    modality: PromptModality,
    vectors: SpaceVectors,
    background_ids: np.ndarray,
) -> TagClassifier:
    """Fit the tag's model for ``modality`` on the training dataset's ``vectors``.

    Examples (visual prompts) count for the visual model; ``background_ids`` are the dataset's
    items of the modality, a random sample of which stand in as weak negatives.
    """
    space = vectors.space
    pos = encode_prompts(space, tag.texts(Polarity.POSITIVE, modality))
    neg = encode_prompts(space, tag.texts(Polarity.NEGATIVE, modality))
    X = y = None
    if modality is PromptModality.VISUAL and tag.examples:
        ids = np.array([e.item_id for e in tag.examples], np.int64)
        labels = np.array([e.polarity is Polarity.POSITIVE for e in tag.examples])
        rows, found = vectors.rows(ids)
        X = np.asarray(vectors.X[rows[found]], np.float32)
        y = labels[found]
        if len(y) == 0:
            X = y = None
    rows, found = vectors.rows(background_ids)
    rows = rows[found]
    if len(rows) > N_BACKGROUND:
        rng = np.random.default_rng(RANDOM_STATE)
        rows = np.sort(rng.choice(rows, N_BACKGROUND, replace=False))
    background = np.asarray(vectors.X[rows], np.float32)
    from tagscope.tags.classifier import TagClassifier  # scikit-learn loads on the first fit

    clf = TagClassifier(random_state=RANDOM_STATE)
    try:
        return clf.fit(
            X, y, prompts_pos=pos if len(pos) else None, prompts_neg=neg, background=background
        )
    except ValueError as exc:
        raise ValidationError(f"tag {tag.name!r} ({modality}): {exc}", field="tag") from exc


def params(clf: TagClassifier) -> dict[str, Any]:
    """What a committed version stores of a fitted model."""
    return {"coef": clf.coef_[0].astype(float).tolist(), "intercept": float(clf.intercept_[0])}


def weights(models: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(W, b): W of shape (dim, n_tags), float32, and b of shape (n_tags,), float32."""
    W = np.array([m["coef"] for m in models], dtype=np.float32).T
    b = np.array([m["intercept"] for m in models], dtype=np.float32)
    return W, b


def score_rows(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Calibrated scores of the rows of ``X`` (unit vectors) for each tag: (n, n_tags) float32."""
    Xf = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(Xf, axis=1, keepdims=True)
    z = (Xf @ W) / np.where(norms > 0, norms, 1.0) + b
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def modalities_of(ws: Workspace, dataset_id: int) -> dict[str, np.ndarray]:
    """Score-table modality (of :data:`FILE_TABLES`) → sorted ids of the dataset's items
    landing in it."""
    tc = TagCatalog(ws.catalog)
    counts = tc.modality_counts(dataset_id)
    tables = sorted({SCORE_MODALITY.get(m, "visual") for m in counts} & set(FILE_TABLES))
    return {t: tc.item_ids(dataset_id, item_modalities(t)) for t in tables}


def fit_group(ws: Workspace, group: TagGroup) -> dict[str, dict[str, dict[str, Any]]]:
    """Fit every tag of the group on its training dataset: tag → prompt modality → params.

    A model is fitted for each prompt modality the tag has a positive signal for; a modality
    the training dataset holds items of but a tag cannot learn is an error naming the tag.
    """
    if not group.tags:
        raise ValidationError(f"tag group {group.name!r} has no tags", field="group")
    ds = ws.dataset(group.dataset)
    by_table = modalities_of(ws, ds.id)
    present = {prompt_modality(t) for t in by_table}
    spaces = _fit_spaces(ws, ds, group.space, present)
    loaded = {name: load_vectors(ws, ds, name) for name in dict.fromkeys(spaces.values())}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for tag in group.tags:
        out[tag.name] = {}
        for modality in PromptModality:
            if modality not in spaces:
                continue
            vectors = loaded[spaces[modality]]
            all_ids = np.concatenate(list(by_table.values())) if by_table else vectors.ids
            if not has_signal(tag, modality):
                if modality in present:
                    raise ValidationError(
                        f"tag {tag.name!r} has nothing to learn {modality} items from: add a "
                        f"positive {modality} text prompt"
                        + (" or positive examples" if modality is PromptModality.VISUAL else ""),
                        field="tag",
                    )
                continue
            ids = [by_table[t] for t in by_table if prompt_modality(t) is modality]
            background = np.sort(np.concatenate(ids)) if ids else all_ids
            out[tag.name][str(modality)] = params(fit_tag(tag, modality, vectors, background))
    return out


def _fit_spaces(
    ws: Workspace, ds: Dataset, space: str, present: set[PromptModality]
) -> dict[PromptModality, str]:
    """The space each prompt modality learns in: every modality the dataset has items of (an
    error when one has no space), and the others where a space is there (so that a dataset
    with such items can apply the group)."""
    out: dict[PromptModality, str] = {}
    for modality in PromptModality:
        try:
            out[modality] = prompt_space(ws, ds, space, modality)
        except ValidationError:
            if modality in present:
                raise
    return out
