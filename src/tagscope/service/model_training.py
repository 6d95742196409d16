"""What a model learns from (its training set) and the training jobs' work (F-80, F-82).

A classifier learns from the items' vectors in one embedding space and their ground-truth labels:
single-label from each item's main classification (its only classification, or the one marked
main), multi-label from the names of all its labels (a box of "dog" makes the image a "dog"
image). Items without a label are left out, unless ``background`` makes them examples of their
own class ``background`` (single-label) or of no class (multi-label): the product page's
"background images". A detector learns from the items' boxes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tagscope.domain import Dataset, Item, Label, LabelKind, LabelSource, ValidationError
from tagscope.domain.models import ModelKind
from tagscope.service.workspace import Workspace
from tagscope.store.label_jobs import LabelJobCatalog

BACKGROUND = "background"
SPLITS = ("train", "validation", "test")
_POLL_S = 0.5  # the stop flag and the learning curve touch the catalog at most this often


@dataclass(frozen=True)
class TrainingSet:
    """The training items, their targets and which are validation items.

    ``truth`` is the (n, k) 0/1 indicator of ``classes``; ``vectors`` the items' rows in the
    space (classifiers) and ``boxes`` their boxes (detectors: per item a dict of ``boxes`` and
    ``classes``, as :class:`tagscope.train.Detector` takes them).
    """

    item_ids: np.ndarray
    classes: tuple[str, ...]
    truth: np.ndarray
    validation: np.ndarray  # (n,) bool
    skipped_classes: dict[str, int]  # too few examples: the class -> its examples
    vectors: np.ndarray | None = None
    paths: tuple[str, ...] = ()
    boxes: tuple[dict[str, Any], ...] = ()

    @property
    def n_validation(self) -> int:
        return int(self.validation.sum())


def _selected_items(ws: Workspace, ds: Dataset, item_ids: Sequence[int] | None) -> list[Item]:
    items = list(ws.catalog.iter_items(ds.id))
    if item_ids is None:
        return items
    wanted = set(int(i) for i in item_ids)
    return [it for it in items if it.id in wanted]


def _targets(kind: ModelKind, labels: Sequence[Label], background: bool) -> list[str] | None:
    """The class names an item is an example of (None: the item is left out)."""
    if kind == ModelKind.SINGLE_LABEL:
        classes = [lab for lab in labels if lab.kind == LabelKind.CLASSIFICATION]
        main = [lab for lab in classes if lab.is_main] or classes
        if len({lab.name for lab in main}) == 1:
            return [main[0].name]
        return [BACKGROUND] if not main and background else None
    if kind == ModelKind.DETECTOR:
        names = sorted({lab.name for lab in labels if lab.kind == LabelKind.BOX})
    else:
        names = sorted({lab.name for lab in labels})
    return names if names or background else None


def training_set(
    ws: Workspace,
    ds: Dataset,
    kind: ModelKind,
    *,
    space: str | None,
    item_ids: Sequence[int] | None,
    validation: float | str,
    background: bool,
    min_examples: int,
    seed: int,
) -> TrainingSet:
    """The training set of a model of ``kind`` on the dataset's (or ``item_ids``') items.

    Raises
    ------
    ValidationError
        No labelled item, fewer than two classes (single-label), no validation item.
    """
    items = _selected_items(ws, ds, item_ids)
    if kind != ModelKind.DETECTOR and space is not None:
        ids, vectors = ws.vectors(ds, space).load()
        rows = {int(i): r for r, i in enumerate(ids.tolist())}
        items = [it for it in items if it.id in rows]
    labels = LabelJobCatalog(ws.catalog).labels([it.id for it in items], LabelSource.GROUND_TRUTH)
    chosen: list[tuple[Item, list[str]]] = []
    for it in items:
        names = _targets(kind, labels.get(it.id, []), background)
        if names is not None:
            chosen.append((it, names))
    counts: dict[str, int] = {}
    for _, names in chosen:
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    classes = tuple(sorted(c for c, n in counts.items() if n >= min_examples))
    skipped = {c: n for c, n in sorted(counts.items()) if n < min_examples}
    what = "classification labels" if kind == ModelKind.SINGLE_LABEL else "labels"
    if kind == ModelKind.DETECTOR:
        what = "boxes"
    if not chosen or not classes:
        few = f" (classes with fewer than {min_examples} examples: {skipped})" if skipped else ""
        raise ValidationError(
            f"dataset {ds.name!r} has no items with {what} to train on{few}; label some items "
            "(or give --background to use unlabelled items as background)",
            field="labels",
        )
    if kind == ModelKind.SINGLE_LABEL:
        chosen = [(it, n) for it, n in chosen if n[0] in classes]
        if len(classes) < 2:
            raise ValidationError(
                f"a single-label model needs at least two classes; dataset {ds.name!r} has only "
                f"{classes[0]!r} ({counts[classes[0]]} items); label other classes, or give "
                "--background to use unlabelled items as the class 'background'",
                field="labels",
            )
    index = {c: j for j, c in enumerate(classes)}
    truth = np.zeros((len(chosen), len(classes)), np.float32)
    for r, (_, names) in enumerate(chosen):
        for n in names:
            if n in index:
                truth[r, index[n]] = 1
    if kind == ModelKind.MULTI_LABEL:
        full = [c for j, c in enumerate(classes) if truth[:, j].all()]
        if full:
            raise ValidationError(
                f"every training item of dataset {ds.name!r} has the class(es) {full}: a model "
                "cannot learn when they are absent; add items without them (or --background)",
                field="labels",
            )
    is_val = _validation_mask(ds, [it for it, _ in chosen], truth, kind, validation, seed)
    item_ids_arr = np.array([it.id for it, _ in chosen], np.int64)
    vecs = None
    if kind != ModelKind.DETECTOR and space is not None:
        vecs = vectors[[rows[int(i)] for i in item_ids_arr]].astype(np.float32)
    boxes: tuple[dict[str, Any], ...] = ()
    if kind == ModelKind.DETECTOR:
        boxes = tuple(_boxes(labels.get(it.id, []), classes) for it, _ in chosen)
    return TrainingSet(
        item_ids=item_ids_arr,
        classes=classes,
        truth=truth,
        validation=is_val,
        skipped_classes=skipped,
        vectors=vecs,
        paths=tuple(it.path for it, _ in chosen),
        boxes=boxes,
    )


def _boxes(labels: Sequence[Label], classes: Sequence[str]) -> dict[str, Any]:
    keep = [lab for lab in labels if lab.kind == LabelKind.BOX and lab.name in classes]
    return {
        "boxes": [list(map(float, lab.geometry["bbox"])) for lab in keep if lab.geometry],
        "classes": [lab.name for lab in keep if lab.geometry],
    }


def _validation_mask(
    ds: Dataset,
    items: Sequence[Item],
    truth: np.ndarray,
    kind: ModelKind,
    validation: float | str,
    seed: int,
) -> np.ndarray:
    """Which training items are validation items: a seeded stratified share, or (``"split"``)
    the items the user put in the validation set."""
    from tagscope.train import validation_split  # torch: only when a model trains

    if validation == "split":
        mask = np.array([it.split == "validation" for it in items], bool)
        if not mask.any():
            raise ValidationError(
                f"no training item of dataset {ds.name!r} is in the validation set; put some "
                "there (`tagscope splits set` or the grid's menu) or give a percentage",
                field="validation",
            )
        if mask.all():
            raise ValidationError(
                f"every training item of dataset {ds.name!r} is in the validation set; nothing "
                "is left to train on",
                field="validation",
            )
        return mask
    y = truth.argmax(1) if kind == ModelKind.SINGLE_LABEL else truth
    return validation_split(y, fraction=float(validation), random_state=seed)


def check_validation(validation: Any) -> float | str:
    """``validation`` as training takes it: a fraction in (0, 1), a percentage such as
    ``"20%"``, or ``"split"`` (the user-defined validation set)."""
    if isinstance(validation, str):
        text = validation.strip()
        if text == "split":
            return "split"
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValidationError(
                f"unknown validation split {validation!r}: give a fraction (0.2), a percentage "
                "(20%) or 'split' (the items whose split is validation)",
                field="validation",
            ) from None
    elif isinstance(validation, int | float) and not isinstance(validation, bool):
        value = float(validation)
    else:
        raise ValidationError(
            f"validation must be a number or 'split', got {validation!r}", field="validation"
        )
    if not 0 < value < 1:
        raise ValidationError(
            f"the validation share must be between 0 and 1 (exclusive), got {value:g}",
            field="validation",
        )
    return value


class Poller:
    """Calls ``fn`` at most every ``_POLL_S`` seconds, answering the last result in between
    (the stop flag and the live curve each cost a catalog round trip)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self._at = float("-inf")
        self._last: Any = None

    def __call__(self, *, force: bool = False) -> Any:
        now = time.monotonic()
        if force or now - self._at >= _POLL_S:
            self._at = now
            self._last = self.fn()
        return self._last


@dataclass
class Curve:
    """The learning curve as it grows, written to the model's row at most every ``_POLL_S``."""

    save: Callable[[list[dict[str, Any]]], None]
    report: Callable[[int, int], None]
    n_epochs: int
    rows: list[dict[str, Any]]

    def __post_init__(self) -> None:
        self._poller = Poller(lambda: self.save(list(self.rows)))

    def __call__(self, row: dict[str, Any]) -> None:
        # A resumed run repeats no epoch: rows from the catalog end before this one.
        self.rows[:] = [r for r in self.rows if r["epoch"] < row["epoch"]]
        self.rows.append(dict(row))
        self.report(min(int(row["epoch"]), self.n_epochs), self.n_epochs)
        self._poller()

    def flush(self) -> None:
        self._poller(force=True)


def thresholds_of(per_class: dict[str, dict[str, Any]], classes: Sequence[str]) -> dict[str, float]:
    """The F1-optimal threshold of each class (0.5 where the subset held no example of it)."""
    out = {}
    for c in classes:
        t = per_class.get(c, {}).get("best_threshold")
        out[c] = float(t) if t is not None and np.isfinite(t) else 0.5
    return out


_HEAD_OPTIONS = ("learning_rate", "time_limit", "patience", "max_epochs", "hidden")
_DETECTOR_OPTIONS = ("learning_rate", "time_limit", "patience", "max_epochs", "size",
                     "architecture", "pretrained", "image_size")  # fmt: skip


def _options(params: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The engine's parameters among the model's (None: the engine's default)."""
    options = {k: params[k] for k in names if params.get(k) is not None}
    options["random_state"] = params["seed"]
    return options


def fit_head(
    data: TrainingSet,
    kind: ModelKind,
    params: dict[str, Any],
    *,
    curve: Curve,
    should_stop: Callable[[], bool],
    state_path: Any,
) -> Any:
    """Train a head on the training set's vectors (resuming from ``state_path`` if there)."""
    from tagscope.train import HeadClassifier

    options = _options(params, _HEAD_OPTIONS)
    head = HeadClassifier(multi_label=kind == ModelKind.MULTI_LABEL, **options)
    curve.n_epochs = head.max_epochs
    train, val = ~data.validation, data.validation
    y = data.truth if kind == ModelKind.MULTI_LABEL else data.truth.argmax(1)
    assert data.vectors is not None
    head.fit(
        data.vectors[train],
        y[train],
        X_val=data.vectors[val],
        y_val=y[val],
        on_epoch=curve,
        should_stop=should_stop,
        checkpoint_path=state_path,
    )
    return head


def head_statistics(head: Any, data: TrainingSet, kind: ModelKind) -> dict[str, Any]:
    """Statistics of the head on the train and on the validation items."""
    from tagscope.train import classification_statistics

    assert data.vectors is not None
    out = {}
    for subset, mask in (("train", ~data.validation), ("validation", data.validation)):
        proba = head.predict_proba(data.vectors[mask])
        out[subset] = classification_statistics(
            data.truth[mask],
            proba,
            data.classes,
            multi_label=kind == ModelKind.MULTI_LABEL,
        )
    return out


def head_predictions(
    head: Any,
    data: TrainingSet,
    ids: np.ndarray,
    vectors: np.ndarray,
    kind: ModelKind,
    version: int,
    *,
    chunk: int = 65_536,
) -> dict[str, Any]:
    """The ``pred_<model>`` columns of every item with a vector (see
    :mod:`tagscope.store.models`), as arrays: item-major, the classes in order."""
    ids = np.asarray(ids, np.int64)
    k, n = len(data.classes), len(ids)
    proba = np.empty((n, k), np.float32)
    for start in range(0, n, chunk):
        block = np.asarray(vectors[start : start + chunk], np.float32)
        proba[start : start + len(block)] = head.predict_proba(block)
    if kind == ModelKind.SINGLE_LABEL:
        top = proba.argmax(1)[:, None] == np.arange(k)[None, :]
    else:
        top = np.ones((n, k), bool)
    # The training items' rows: their split (0 train, 1 validation) and truth; -1: not one.
    rows = np.searchsorted(ids, data.item_ids)
    split = np.full(n, -1, np.int8)
    split[rows] = data.validation.astype(np.int8)
    truth = np.zeros((n, k), bool)
    truth[rows] = data.truth.astype(bool)
    untrained = np.repeat(split < 0, k)
    return {
        "item_id": np.repeat(ids, k),
        "class": (np.tile(np.arange(k, dtype=np.int32), n), list(data.classes)),  # (codes, names)
        "score": proba.ravel(),
        "top": top.ravel(),
        "split": (np.repeat(split.astype(np.int32), k), ["train", "validation"]),  # -1: NULL
        "truth": (truth.ravel(), untrained),  # (values, null mask)
        "version": np.full(n * k, version, np.int32),
        "bbox": None,
    }


def fit_detector(
    data: TrainingSet,
    params: dict[str, Any],
    *,
    curve: Curve,
    should_stop: Callable[[], bool],
    state_path: Any,
) -> Any:
    """Train a detector on the training set's boxes (resuming from ``state_path`` if there);
    without a time limit, the product page's default for its number of classes."""
    from tagscope.train import Detector, default_time_limit

    options = _options(params, _DETECTOR_OPTIONS)
    options.setdefault("time_limit", default_time_limit(len(data.classes)))
    det = Detector(**options)
    curve.n_epochs = det.max_epochs
    val = data.validation
    paths = np.array(data.paths, dtype=object)
    det.fit(
        list(paths[~val]),
        [b for b, v in zip(data.boxes, val, strict=True) if not v],
        val_images=list(paths[val]),
        val_targets=[b for b, v in zip(data.boxes, val, strict=True) if v],
        on_epoch=curve,
        should_stop=should_stop,
        checkpoint_path=state_path,
    )
    return det


def detector_statistics(det: Any, data: TrainingSet, version: int) -> tuple[dict, dict]:
    """Statistics on the train and validation items, and the ``pred_<model>`` rows of both."""
    from tagscope.train import evaluate_detections

    stats = {}
    cols: dict[str, list[Any]] = {
        n: [] for n in ("item_id", "class", "score", "top", "split", "truth", "bbox")
    }
    for subset, mask in (("train", ~data.validation), ("validation", data.validation)):
        rows = np.flatnonzero(mask)
        found = det.predict([data.paths[r] for r in rows])
        stats[subset] = evaluate_detections([data.boxes[r] for r in rows], found, data.classes)
        for r, boxes in zip(rows.tolist(), found, strict=True):
            for box in boxes:
                cols["item_id"].append(int(data.item_ids[r]))
                cols["class"].append(box["class"])
                cols["score"].append(float(box["score"]))
                cols["bbox"].append([float(v) for v in box["bbox"]])
                cols["split"].append(subset)
    n = len(cols["item_id"])
    cols["top"] = [True] * n
    cols["truth"] = [None] * n
    cols["version"] = [version] * n
    # Boxes have no per-row truth, and an item may have no box: the training items, for the
    # predictions browser.
    stats["items"] = {
        str(int(i)): {"split": "validation" if v else "train", "truth": sorted(set(b["classes"]))}
        for i, v, b in zip(
            data.item_ids.tolist(), data.validation.tolist(), data.boxes, strict=True
        )
    }
    return stats, cols


TOWER = "tower"  # a fine-tuned model's CLIP folder (its tuned image tower)
TUNED_VECTORS = "vectors"  # that tower's vectors of the dataset's items


def tuned_embedder(folder: Any) -> Any:
    """The CLIP embedder of a fine-tuned tower, loaded afresh (the embedder registry caches by
    folder, and a model trained again rewrites its folder)."""
    from tagscope.embed.clip import ClipEmbedder

    return ClipEmbedder.from_pretrained(str(folder))


def fine_tune(
    ws: Workspace,
    ds: Dataset,
    data: TrainingSet,
    head: Any,
    kind: ModelKind,
    params: dict[str, Any],
    files: Any,
    *,
    space_model: str,
    curve: Curve,
    should_stop: Callable[[], bool],
) -> tuple[Any, TrainingSet, np.ndarray, np.ndarray]:
    """Fine-tune the space's CLIP image tower with the head end to end (a GPU when there is
    one), then embed every item with the tuned tower into the model's own vector store.

    Returns the tuned head, the training set with the tuned vectors, and every item's ids and
    tuned vectors.
    """
    from tagscope.service.embeddings import embed_into
    from tagscope.store.vectors import VectorStore
    from tagscope.train import fine_tune_tower

    train, val = ~data.validation, data.validation
    y = data.truth if kind == ModelKind.MULTI_LABEL else data.truth.argmax(1)
    paths = np.array(data.paths, dtype=object)
    tuned: dict[str, Any] = {}
    options = {k: params[k] for k in ("time_limit",) if params.get(k) is not None}

    def write(tmp: Any) -> None:
        tuned["head"] = fine_tune_tower(
            space_model, head, list(paths[train]), y[train], val_images=list(paths[val]),
            y_val=y[val], out=tmp, random_state=params["seed"], on_epoch=curve,
            should_stop=should_stop, **options,
        )  # fmt: skip

    files.save(TOWER, write)
    files.clear_path(TUNED_VECTORS)  # vectors of an earlier tower are of no use
    store = VectorStore(files.path(TUNED_VECTORS))
    embed_into(ws, ds, tuned_embedder(files.folder / TOWER), store, report=lambda _d, _t: None)
    ids, vectors = store.load()
    rows = np.searchsorted(ids, data.item_ids)
    return tuned["head"], replace(data, vectors=np.asarray(vectors[rows], np.float32)), ids, vectors
