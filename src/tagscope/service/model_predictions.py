"""Predictions of trained models (F-81, F-83): browse those of the training items, predict items of
the dataset (and write them back as labels), predict uploaded images.

Every answer decides with the model's *current* thresholds: multi-label, each class whose score
is at least its threshold; single-label, the best class when its score is at least its threshold;
a detector, each box whose score is at least its class's threshold. Scores are compared in
float32, as the ``pred_<model>`` SQL view compares them.

The JSON of an image prediction is the one the offline bundle's server answers
(``tagscope.bundle``), so clients switch between the two without a change.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tagscope.bundle.predictor import classifier_prediction, detector_prediction, predicted_classes
from tagscope.domain import Label, LabelKind, LabelSource, ValidationError
from tagscope.domain.changes import Change
from tagscope.domain.models import Checkpoint, Model, ModelKind, checkpoint_of
from tagscope.embed import load_embedder
from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb
from tagscope.service import policy
from tagscope.service.labels import label_record
from tagscope.service.model_training import TOWER, TUNED_VECTORS, tuned_embedder
from tagscope.service.models import files_of, ready_model, weights_name
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.collections import shown
from tagscope.store.label_states import LabelStates
from tagscope.store.ontology import OntologyCatalog
from tagscope.store.retry import retrying
from tagscope.store.vectors import VectorStore

ENTITY = "predictions"  # the change log's entity of prediction labels (key: the dataset id)
MAX_ITEMS = 10_000
_CACHE: dict[tuple[str, int], Any] = {}  # (weights path, mtime) -> loaded estimator
_CACHE_LOCK = threading.Lock()


def _cached(path: Path, load: Any) -> Any:
    """``load(path)``, once per process and file version (one at a time: weights are large)."""
    key = (str(path), path.stat().st_mtime_ns)
    with _CACHE_LOCK:
        if key not in _CACHE:
            for old in [k for k in _CACHE if k[0] == key[0] or len(_CACHE) > 2]:
                del _CACHE[old]
            _CACHE[key] = load(path)
        return _CACHE[key]


def load_estimator(ws: Workspace, model: Model, checkpoint: Checkpoint | str = "best") -> Any:
    """The model's trained head or detector at ``checkpoint``, loaded once per process."""
    from tagscope.train import Detector, HeadClassifier

    path = files_of(ws, model).folder / weights_name(model, checkpoint)
    if not path.exists():
        raise ValidationError(
            f"model {model.name!r} has no {checkpoint} checkpoint; train it again", field="model"
        )
    cls = Detector if model.kind == ModelKind.DETECTOR else HeadClassifier
    return _cached(path, cls.load)


def tuned_tower(ws: Workspace, model: Model) -> Path | None:
    """The CLIP folder of a fine-tuned model's tower (None: the model uses its space's)."""
    return files_of(ws, model).folder / TOWER if model.params.get("fine_tune") else None


# -- deciding: the offline bundle's rules, so that both answer alike --------------------------
def _thresholds(model: Model) -> dict[str, float]:
    return {c: model.thresholds.get(c, 0.5) for c in model.classes}


def decide_scores(model: Model, scores: Mapping[str, float]) -> list[str]:
    """The classes a classifier predicts from its scores (in class order), at the current
    thresholds."""
    ordered = {c: scores[c] for c in model.classes}
    return predicted_classes(
        ordered, _thresholds(model), multi_label=model.kind == ModelKind.MULTI_LABEL
    )


def _classified(model: Model, proba: np.ndarray) -> list[dict[str, Any]]:
    thresholds, multi = _thresholds(model), model.kind == ModelKind.MULTI_LABEL
    out = []
    for row in np.asarray(proba, np.float32).tolist():
        answer = classifier_prediction("", row, model.classes, thresholds, multi_label=multi)
        del answer["file"]
        out.append(answer)
    return out


def _detected(model: Model, found: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    thresholds = _thresholds(model)
    out = []
    for boxes in found:
        answer = detector_prediction("", boxes, thresholds)
        del answer["file"]
        out.append(answer)
    return out


# -- browse the training items' predictions -----------------------------------------------------
def list_predictions(
    ws: Workspace,
    dataset: str,
    name: str,
    *,
    subset: str = "validation",
    wrong: bool = False,
    class_name: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of the predictions on the model's train or validation items (``subset="all"``:
    both), each with its true classes; ``wrong`` keeps the items whose predicted classes differ
    from their true ones, ``class_name`` those where either holds the class."""
    if subset not in ("train", "validation", "all"):
        raise ValidationError(
            f"unknown subset {subset!r}; choose 'train', 'validation' or 'all'", field="subset"
        )
    if offset < 0 or not 0 < limit <= 1000:
        raise ValidationError("offset must be >= 0 and limit in 1..1000", field="limit")
    model = ready_model(ws, dataset, name)
    if class_name is not None and class_name not in model.classes:
        raise ValidationError(f"model {name!r} has no class {class_name!r}", field="class_name")
    table = files_of(ws, model).predictions(training_only=True)
    if table is None:
        raise ValidationError(f"model {name!r} has no predictions file", field="model")
    rows = _training_rows(model, table.to_pydict(), subset, _truth(ws, model))
    if wrong:
        rows = [r for r in rows if r["wrong"]]
    if class_name is not None:
        rows = [r for r in rows if class_name in r["truth"] or class_name in r["predicted"]]
    return {"total": len(rows), "rows": rows[offset : offset + limit]}


def _truth(ws: Workspace, model: Model) -> dict[int, dict[str, Any]] | None:
    """A detector's training items: split and true classes (classifiers store theirs per row,
    and every item has rows)."""
    if model.kind != ModelKind.DETECTOR:
        return None
    stats = files_of(ws, model).statistics() or {}
    return {int(k): v for k, v in stats.get("items", {}).items()}


def _training_rows(
    model: Model,
    cols: dict[str, list[Any]],
    subset: str,
    detector_items: dict[int, dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    by_item: dict[int, dict[str, Any]] = {}

    def start(item_id: int, split: str, truth: list[str]) -> dict[str, Any]:
        row = {"item_id": item_id, "split": split, "truth": truth, "scores": {}, "boxes": []}
        return by_item.setdefault(item_id, row)

    for item_id, item in (detector_items or {}).items():
        if subset in ("all", item["split"]):
            start(item_id, item["split"], list(item["truth"]))
    for i, item_id in enumerate(cols["item_id"]):
        split = cols["split"][i]
        if split is None or (subset != "all" and split != subset):
            continue
        row = start(item_id, split, [])
        if cols["truth"][i]:
            row["truth"].append(cols["class"][i])
        if cols["bbox"][i] is None:
            row["scores"][cols["class"][i]] = float(cols["score"][i])
        else:
            row["boxes"].append(
                {"class": cols["class"][i], "score": float(cols["score"][i]),
                 "bbox": [float(v) for v in cols["bbox"][i]]}
            )  # fmt: skip
    out = []
    for item_id in sorted(by_item):
        row = by_item[item_id]
        if model.kind == ModelKind.DETECTOR:
            decided = _detected(model, [row["boxes"]])[0]
            row.update(scores=None, **decided)
        else:
            row.update(predicted=decide_scores(model, row["scores"]), boxes=None)
        row["wrong"] = sorted(row["truth"]) != sorted(row["predicted"])
        out.append(row)
    return out


# -- predict items of the dataset ---------------------------------------------------------------
def predict_items(
    ws: Workspace,
    dataset: str,
    name: str,
    item_ids: Sequence[int],
    *,
    write_labels: bool = False,
    checkpoint: str = "best",
) -> dict[str, Any]:
    """Predict items of the dataset; with ``write_labels`` the predictions replace the model's
    earlier ones on these items as labels (source ``prediction``), one undoable change-set."""
    ds = policy.dataset(ws, Action.LABELS_EDIT if write_labels else Action.READ, dataset)
    model = ready_model(ws, dataset, name)
    ids = sorted({int(i) for i in item_ids})
    if not ids or len(ids) > MAX_ITEMS:
        raise ValidationError(f"give 1 to {MAX_ITEMS} item ids", field="item_ids")
    items = ws.catalog.get_items(ids)
    missing = [i for i in ids if i not in items or items[i].dataset_id != ds.id]
    if missing:
        raise ValidationError(
            f"items not in dataset {dataset!r}: {shown(missing)}", field="item_ids"
        )
    est = load_estimator(ws, model, checkpoint_of(checkpoint))
    if model.kind == ModelKind.DETECTOR:
        answers = _detected(model, est.predict([items[i].path for i in ids]))
    else:
        answers = _classified(model, est.predict_proba(_vectors_of(ws, model, ids)))
    predictions = [{"item_id": i, **a} for i, a in zip(ids, answers, strict=True)]
    change_set = _write_labels(ws, model, predictions) if write_labels else None
    return {"predictions": predictions, "change_set": change_set}


def _vectors_of(ws: Workspace, model: Model, ids: Sequence[int]) -> np.ndarray:
    tower = tuned_tower(ws, model)
    if tower is not None:
        store = VectorStore(files_of(ws, model).folder / TUNED_VECTORS)
    else:
        store = ws.vectors(ws.dataset(model.dataset), str(model.space))
    store_ids, vectors = store.load()
    rows = np.searchsorted(store_ids, ids)
    rows = np.minimum(rows, max(len(store_ids) - 1, 0))
    missing = [i for i, r in zip(ids, rows.tolist(), strict=True)
               if not len(store_ids) or store_ids[r] != i]  # fmt: skip
    if missing:
        raise ValidationError(
            f"items without a vector in space {model.space!r}: {shown(missing)}; run "
            "`tagscope embed` first",
            field="item_ids",
        )
    return np.asarray(vectors[rows], np.float32)


@retrying
def _write_labels(ws: Workspace, model: Model, predictions: Sequence[dict[str, Any]]) -> int | None:
    """Replace the model's prediction labels of the items with ``predictions`` (one change-set
    of entity :data:`ENTITY`); its id, or None when nothing changed."""
    now = datetime.now(UTC).isoformat()
    with ws.uow() as uow:
        states = LabelStates(uow.catalog, kinds=None, source=LabelSource.PREDICTION)
        states.lock(model.dataset_id)
        ids = [p["item_id"] for p in predictions]
        before = states.states(model.dataset_id, ids)
        class_ids = OntologyCatalog(uow.catalog).class_ids(model.dataset_id, set(model.classes))
        wanted: dict[int, Any] = {}
        for p in predictions:
            i = p["item_id"]
            others = [lab for lab in (before.get(i) or {}).get("labels", [])
                      if lab.get("model") != model.name]  # fmt: skip
            new = [_record(lab, uow.actor, now) for lab in _labels(model, p, class_ids)]
            labels = others + new
            wanted[i] = {"labels": labels} if labels else None
        if all(_same(before.get(i), wanted[i]) for i in ids):
            return None
        after = states.restore(model.dataset_id, wanted)
        changes = [
            Change(i, ENTITY, str(model.dataset_id), before.get(i), after.get(i))
            for i in ids
            if before.get(i) != after.get(i)
        ]
        made = uow.changes.record(
            model.dataset_id,
            uow.actor,
            "predict",
            changes,
            params={"model": model.name, "version": model.version},
            target={"model": model.name},
        )
        return made.id


def _record(label: Label, actor: str, now: str) -> dict[str, Any]:
    """The label's record, keyed by its model too: two models may predict the same class."""
    record = label_record(label, actor, now)
    record["key"] = hashlib.sha1(f"{record['key']}:{label.model}".encode()).hexdigest()
    return record


def _same(before: Any, wanted: Any) -> bool:
    """Whether the item's predictions would stay as they are (ids and times aside)."""

    def keys(state: Any) -> list[Any]:
        return sorted((lab["key"], lab.get("score")) for lab in (state or {}).get("labels", []))

    return keys(before) == keys(wanted)


def _labels(model: Model, prediction: dict[str, Any], class_ids: Mapping[str, int]) -> list[Label]:
    if model.kind == ModelKind.DETECTOR:
        return [
            Label(LabelKind.BOX, b["class"], LabelSource.PREDICTION, score=b["score"],
                  geometry={"bbox": b["bbox"]}, class_id=class_ids.get(b["class"]),
                  model=model.name, area=float(b["bbox"][2] * b["bbox"][3]))
            for b in prediction["boxes"]
        ]  # fmt: skip
    single = model.kind == ModelKind.SINGLE_LABEL
    return [
        Label(LabelKind.CLASSIFICATION, c, LabelSource.PREDICTION, is_main=single,
              score=prediction["scores"][c], class_id=class_ids.get(c), model=model.name)
        for c in prediction["predicted"]
    ]  # fmt: skip


# -- predict uploaded images --------------------------------------------------------------------
def predict_images(
    ws: Workspace,
    dataset: str,
    name: str,
    files: Sequence[tuple[str, bytes]],
    *,
    checkpoint: str = "best",
) -> dict[str, Any]:
    """Predict image files (name, bytes): the REST ``/api/predict/{dataset}/{model}`` answer."""
    ckpt = checkpoint_of(checkpoint)
    model = ready_model(ws, dataset, name)
    if not files:
        raise ValidationError("give at least one image file", field="files")
    images = []
    for filename, data in files:
        try:
            images.append(load_rgb(bytes(data)))
        except MediaError as exc:
            raise ValidationError(f"cannot read image {filename!r}: {exc}", field="files") from None
    est = load_estimator(ws, model, ckpt)
    if model.kind == ModelKind.DETECTOR:
        answers = _detected(model, est.predict(images))
    else:
        answers = _classified(model, est.predict_proba(_embed(ws, model, images)))
    return {
        "dataset": model.dataset,
        "model": model.name,
        "kind": str(model.kind),
        "checkpoint": str(ckpt),
        "predictions": [
            {"file": filename, **a} for (filename, _), a in zip(files, answers, strict=True)
        ],
    }


def _embed(ws: Workspace, model: Model, images: Sequence[Any]) -> np.ndarray:
    space = ws.catalog.get_space(model.dataset_id, str(model.space))
    tower = tuned_tower(ws, model)
    if tower is not None:
        embedder = _cached(tower / "config.json", lambda _p: tuned_embedder(tower))
    else:
        embedder = load_embedder(space["kind"], space["model"])
    if getattr(embedder, "input", None) != "image":
        raise ValidationError(
            f"model {model.name!r} learned from space {model.space!r} ({space['kind']} vectors "
            "of text), so it cannot predict images; train one on an image space (clip)",
            field="model",
        )
    return np.asarray(embedder.encode_images(list(images)), np.float32)
