"""Model use cases (F-80 to F-83): train classifiers and detectors, follow and stop training, read
their statistics, change their thresholds, export them.

Training is a job (``kind`` ``train_model``) with progress and a learning curve on the model's
row, written while it runs. It can be stopped from any process (:func:`stop_model`): the loop
stops at its next epoch and keeps the best weights. A process killed mid-way leaves the model in
status ``training`` with its state file; training it again (the same call) resumes from that
state, and ``restart=True`` starts over instead. While a process trains a model it holds a lock
on the model's folder, so a second trainer is refused rather than mixed in.

Examples
--------
>>> model, job = train_model(ws, "coco", "objects", kind="multi-label", space="text")
... # doctest: +SKIP
>>> set_thresholds(ws, "coco", "objects", {"dog": 0.3}).thresholds["dog"]  # doctest: +SKIP
0.3
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tagscope.domain import Dataset, Job, ValidationError
from tagscope.domain.models import (
    Checkpoint,
    Model,
    ModelKind,
    ModelStatus,
    checkpoint_of,
    model_kind,
    validate_model_name,
)
from tagscope.jobs import ProgressFn
from tagscope.jobs.runner import error_message
from tagscope.service import background, embeddings, policy
from tagscope.service.collections import collection_item_ids
from tagscope.service.model_training import (
    Curve,
    Poller,
    check_validation,
    detector_statistics,
    fine_tune,
    fit_detector,
    fit_head,
    head_predictions,
    head_statistics,
    thresholds_of,
    training_set,
)
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.models import ModelCatalog, ModelFiles

JOB_KIND = "train_model"
SIZES = ("small", "medium", "large")


def files_of(ws: Workspace, model: Model) -> ModelFiles:
    return ModelFiles(ws.paths.scores, model.dataset_id, model.name)


def _state(model: Model) -> str:
    """The file (heads) or folder (detectors) of the training state a killed run resumes."""
    return "state" if model.kind == ModelKind.DETECTOR else "state.pt"


def weights_name(model: Model, checkpoint: Checkpoint | str) -> str:
    """The file (heads) or folder (detectors) of a checkpoint's weights."""
    suffix = "" if model.kind == ModelKind.DETECTOR else ".pt"
    return f"{checkpoint_of(checkpoint)}{suffix}"


# -- train --------------------------------------------------------------------------------------
def _positive(name: str, value: Any, *, integer: bool = False) -> Any:
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value <= 0 or (integer and int(value) != value):
        kind = "a positive integer" if integer else "a positive number"
        raise ValidationError(f"{name} must be {kind}, got {value!r}", field=name)
    return int(value) if integer else float(value)


def _check_params(kind: ModelKind, space: str | None, params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out["validation"] = check_validation(params["validation"])
    for name in ("learning_rate", "time_limit"):
        out[name] = _positive(name, params.get(name))
    for name in ("patience", "max_epochs", "min_examples", "image_size"):
        out[name] = _positive(name, params.get(name), integer=True)
    hidden = params.get("hidden") or 0
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 0:
        raise ValidationError(f"hidden must be an integer >= 0, got {hidden!r}", field="hidden")
    if params.get("size") not in SIZES:
        raise ValidationError(
            f"unknown model size {params.get('size')!r}; choose one of {', '.join(SIZES)}",
            field="size",
        )
    if kind == ModelKind.DETECTOR:
        if params.get("fine_tune"):
            raise ValidationError(
                "fine-tuning is for classifiers of a CLIP space", field="fine_tune"
            )
        out["space"] = None
    elif not space:
        raise ValidationError(f"a {kind} model needs an embedding space (--space)", field="space")
    return out


def train_model(
    ws: Workspace,
    dataset: str,
    name: str,
    *,
    kind: str,
    space: str | None = None,
    collection: str | None = None,
    where: str | None = None,
    validation: float | str = 0.2,
    learning_rate: float | None = None,
    time_limit: float | None = None,
    patience: int | None = None,
    max_epochs: int | None = None,
    hidden: int = 0,
    background: bool = False,
    min_examples: int = 2,
    size: str = "small",
    seed: int = 0,
    restart: bool = False,
    architecture: dict[str, Any] | None = None,
    pretrained: str | None = None,
    image_size: int | None = None,
    fine_tune: bool = False,
    progress: ProgressFn | None = None,
) -> tuple[Model, Job]:
    """Train a model on the dataset's labels (or those of a collection or a grid filter's items).

    Parameters
    ----------
    kind : {"single-label", "multi-label", "detector"}
    space : str
        The embedding space whose vectors classifiers learn from (detectors read the images).
    collection, where : str, optional
        Train on a collection's items, or on those a grid filter matches (SQL over ``items``).
    validation : float or str, default 0.2
        The share of validation items (stratified, seeded by ``seed``), a percentage ("20%"),
        or "split": the items whose split is validation (the user-defined validation set).
    learning_rate, time_limit (seconds), patience (epochs), max_epochs, hidden, size
        Training options (None: the engine's default; detectors' time limit follows the
        class count, as the product page says).
    architecture, pretrained, image_size
        Detectors: configuration overrides (a tiny model for tests), a local folder of
        pretrained weights (a name in the model folders), the side images are resized to.
    fine_tune : bool
        Classifiers of a CLIP space: after the head, fine-tune the space's image tower with it
        end to end (on a GPU when there is one), then embed every item with the tuned tower
        (the model's own vectors; its predictions, REST answers and bundle use that tower).
    progress : callable, optional
        ``progress(epochs_done, max_epochs)`` as training goes (a bar in the SDK).
    background : bool
        Unlabelled items are examples too: of the class "background" (single-label), of no
        class (multi-label and detectors).
    min_examples : int, default 2
        Classes with fewer examples are left out (listed in ``metrics["skipped_classes"]``).
    restart : bool
        Train again from scratch a model of that name (a new version). Without it, a model left
        in status ``training`` by a killed process resumes from its saved state.

    Returns the model and its job: finished when the workspace's runner runs jobs to the end
    (CLI, SDK), queued when it runs them in the background (:func:`start_training`).

    Raises
    ------
    NotFoundError
        Unknown dataset, space or collection.
    ValidationError
        Bad parameters, no labels, one class, no validation items, an unknown split.
    AlreadyExistsError
        The name is in use (and neither ``restart`` nor an interrupted training to resume).
    """
    ds = policy.dataset(ws, Action.MODELS_TRAIN, dataset)
    validate_model_name(name)
    kind_ = model_kind(kind)
    params = _check_params(
        kind_,
        space,
        {
            "space": space, "collection": collection, "where": where, "validation": validation,
            "learning_rate": learning_rate, "time_limit": time_limit, "patience": patience,
            "max_epochs": max_epochs, "hidden": hidden, "background": bool(background),
            "min_examples": min_examples, "size": size, "seed": int(seed),
            "architecture": architecture, "image_size": image_size, "fine_tune": bool(fine_tune),
            # A client names a folder of the model folders, never a path of the server's disk.
            "pretrained": embeddings.served_model(ws, pretrained),
        },
    )  # fmt: skip
    if kind_ != ModelKind.DETECTOR:
        info = ws.catalog.get_space(ds.id, str(space))  # NotFoundError names it
        if fine_tune and info["kind"] != "clip":
            raise ValidationError(
                f"fine-tuning needs a CLIP image space; {space!r} holds {info['kind']} vectors",
                field="fine_tune",
            )
    item_ids = _item_ids(ws, dataset, collection, where)
    data = training_set(
        ws,
        ds,
        kind_,
        space=params["space"],
        item_ids=item_ids,
        validation=params["validation"],
        background=params["background"],
        min_examples=params["min_examples"],
        seed=params["seed"],
    )
    catalog = ModelCatalog(ws.catalog)
    model = _start(ws, catalog, ds, name, kind_, params, restart=restart)
    files = files_of(ws, model)

    def work(report: ProgressFn) -> dict[str, Any]:
        # A second trainer is refused before it touches the model (the first one's row).
        with _training_lock(files, model):
            try:
                return _train(ws, catalog, model, data, report)
            except BaseException as exc:
                catalog.update(ds.id, name, status=ModelStatus.FAILED, error=error_message(exc))
                raise

    job_params = {"dataset": dataset, "model": name, "kind": str(kind_), "version": model.version}
    job = ws.runner.run(JOB_KIND, ds.id, job_params, work, on_progress=progress)
    catalog.update(ds.id, name, job_id=job.id)
    return catalog.get(ds.id, name), job


def start_training(ws: Workspace, dataset: str, name: str, **options: Any) -> tuple[Model, Job]:
    """:func:`train_model` as a background job (the REST API's): checks first, then 202."""
    return train_model(background.in_background(ws), dataset, name, **options)


def _item_ids(
    ws: Workspace, dataset: str, collection: str | None, where: str | None
) -> list[int] | None:
    if collection is not None and where is not None:
        raise ValidationError("give a collection or a filter, not both", field="where")
    if collection is not None:
        return collection_item_ids(ws, dataset, collection)
    if where is not None:
        from tagscope.service.browse import _filter_items

        return list(_filter_items(ws, dataset, where, limit=10**9).ids)
    return None


def _start(
    ws: Workspace,
    catalog: ModelCatalog,
    ds: Dataset,
    name: str,
    kind: ModelKind,
    params: dict[str, Any],
    *,
    restart: bool,
) -> Model:
    """The model row to train: a new one, the next version (restart), or the one a killed
    process left in status training (resume, with the same parameters)."""
    existing = {m.name: m for m in catalog.list(ds.id)}.get(name)
    if existing is not None and files_of(ws, existing).is_locked():
        raise ValidationError(
            f"model {name!r} of dataset {ds.name!r} is being trained now (job "
            f"{existing.job_id}); stop it with `tagscope models stop {ds.name} {name}`",
            field="name",
        )
    resume = (
        existing is not None
        and not restart
        and existing.status == ModelStatus.TRAINING
        and existing.kind == kind
    )
    if resume:
        assert existing is not None
        if existing.params != _jsonable(params):
            raise ValidationError(
                f"model {name!r} was being trained with other parameters ({existing.params}); "
                "give the same ones to resume, or restart (`--restart`) to train anew",
                field="name",
            )
        return catalog.update(ds.id, name, stop_requested=False, error=None)
    if existing is not None and restart:
        files_of(ws, existing).clear()
    return catalog.create(
        ds.id,
        name,
        kind=kind,
        space=params["space"],
        params=_jsonable(params),
        created_by=ws.actor,
        replace=restart,
    )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(params))


@contextmanager
def _training_lock(files: ModelFiles, model: Model) -> Iterator[None]:
    with files.training_lock() as held:
        if not held:
            raise ValidationError(
                f"model {model.name!r} is being trained by another job", field="name"
            )
        yield


def _train(
    ws: Workspace, catalog: ModelCatalog, model: Model, data: Any, report: ProgressFn
) -> dict[str, Any]:
    ds_id, name, params, kind = model.dataset_id, model.name, model.params, model.kind
    files = files_of(ws, model)
    stop = Poller(lambda: catalog.stop_requested(ds_id, name))
    curve = Curve(
        lambda rows: catalog.update(ds_id, name, history=rows),
        report,
        params.get("max_epochs") or 0,
        list(model.history),  # resumed: the epochs trained before
    )
    if kind == ModelKind.DETECTOR:
        est = fit_detector(
            data, params, curve=curve, should_stop=stop, state_path=files.path(_state(model))
        )
        files.save(weights_name(model, "best"), est.save)
        stats, rows = detector_statistics(est, data, model.version)
        summary = {"map": stats["validation"]["map"], "map50": stats["validation"]["map50"]}
    else:
        est = fit_head(
            data, kind, params, curve=curve, should_stop=stop, state_path=files.path(_state(model))
        )
        ds = ws.dataset(model.dataset)
        if params.get("fine_tune"):
            space = ws.catalog.get_space(ds_id, str(model.space))
            est, data, ids, vectors = fine_tune(
                ws, ds, data, est, kind, params, files, space_model=space["model"], curve=curve,
                should_stop=stop,
            )  # fmt: skip
        else:
            ids, vectors = ws.vectors(ds, str(model.space)).load()
        files.save(weights_name(model, "best"), est.save)
        stats = head_statistics(est, data, kind)
        rows = head_predictions(est, data, ids, vectors, kind, model.version)
        summary = {"map": stats["validation"]["map"]}
        if kind == ModelKind.SINGLE_LABEL:
            summary["accuracy"] = stats["validation"]["accuracy"]
    files.save(weights_name(model, "last"), lambda p: est.save(p, checkpoint="last"))
    files.write_statistics(stats)
    files.write_predictions(rows)
    curve.flush()
    optimized = thresholds_of(stats["validation"]["per_class"], data.classes)
    summary.update(
        best_epoch=est.best_epoch_,
        stop_reason=est.stop_reason_,
        n_train=int((~data.validation).sum()),
        n_validation=data.n_validation,
        skipped_classes=data.skipped_classes,
    )
    catalog.update(
        ds_id,
        name,
        status=ModelStatus.READY,
        classes=list(data.classes),
        thresholds=optimized,
        optimized_thresholds=optimized,
        metrics=summary,
        history=list(est.history_),
        stop_requested=False,
    )
    files.clear_path(_state(model))  # finished: nothing left to resume
    return {"model": name, "version": model.version, **summary}


# -- read, stop, thresholds, delete, export -----------------------------------------------------
def list_models(ws: Workspace, dataset: str) -> list[Model]:
    """The dataset's models, by name."""
    ds = policy.dataset(ws, Action.READ, dataset)
    return ModelCatalog(ws.catalog).list(ds.id)


def get_model(ws: Workspace, dataset: str, name: str) -> Model:
    """One model (while it trains: its learning curve so far)."""
    ds = policy.dataset(ws, Action.READ, dataset)
    return ModelCatalog(ws.catalog).get(ds.id, name)


def ready_model(ws: Workspace, dataset: str, name: str, action: Action = Action.READ) -> Model:
    """A model that finished training (``ValidationError`` otherwise, saying its status)."""
    ds = policy.dataset(ws, action, dataset)
    model = ModelCatalog(ws.catalog).get(ds.id, name)
    if model.status != ModelStatus.READY:
        why = f": {model.error}" if model.error else ""
        raise ValidationError(
            f"model {name!r} of dataset {dataset!r} is not ready (status {model.status}{why})",
            field="model",
        )
    return model


def stop_model(ws: Workspace, dataset: str, name: str) -> Model:
    """Ask the training of the model to stop at its next epoch, keeping the best weights."""
    ds = policy.dataset(ws, Action.MODELS_TRAIN, dataset)
    catalog = ModelCatalog(ws.catalog)
    model = catalog.get(ds.id, name)
    if model.status != ModelStatus.TRAINING:
        raise ValidationError(
            f"model {name!r} of dataset {dataset!r} is not training (status {model.status})",
            field="model",
        )
    return catalog.request_stop(ds.id, name)


def delete_model(ws: Workspace, dataset: str, name: str) -> None:
    """Delete the model, its files and its predictions (labels it wrote stay: undo them in the
    history)."""
    ds = policy.dataset(ws, Action.MODELS_TRAIN, dataset)
    catalog = ModelCatalog(ws.catalog)
    model = catalog.get(ds.id, name)
    files = files_of(ws, model)
    if files.is_locked():
        raise ValidationError(
            f"model {name!r} is being trained; stop it first (`tagscope models stop`)",
            field="model",
        )
    catalog.delete(ds.id, name)
    files.clear()


def set_thresholds(
    ws: Workspace, dataset: str, name: str, thresholds: dict[str, float] | None
) -> Model:
    """Change the thresholds of some classes (the others keep theirs); None: back to the
    F1-optimal ones. Predictions, SQL and later exports follow at once: no retraining."""
    model = ready_model(ws, dataset, name, Action.MODELS_TRAIN)
    if thresholds is None:
        new = dict(model.optimized_thresholds)
    else:
        unknown = sorted(set(thresholds) - set(model.classes))
        if unknown:
            raise ValidationError(
                f"model {name!r} has no class {unknown[0]!r}; its classes: "
                f"{', '.join(model.classes)}",
                field="thresholds",
            )
        for c, t in thresholds.items():
            ok = isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)
            if not ok or not 0 <= t <= 1:
                raise ValidationError(
                    f"the threshold of {c!r} must be a number in [0, 1], got {t!r}",
                    field="thresholds",
                )
        new = {**model.thresholds, **{c: float(t) for c, t in thresholds.items()}}
    return ModelCatalog(ws.catalog).set_thresholds(model.dataset_id, name, new)


def model_statistics(
    ws: Workspace, dataset: str, name: str, *, subset: str = "validation"
) -> dict[str, Any]:
    """The model's statistics on its train or validation items (PR curves per class, AP, the
    F1-optimal and the current thresholds, accuracy and confusion matrix for single-label)."""
    if subset not in ("train", "validation"):
        raise ValidationError(
            f"unknown subset {subset!r}; choose 'train' or 'validation'", field="subset"
        )
    model = ready_model(ws, dataset, name)
    stats = files_of(ws, model).statistics()
    if stats is None:
        raise ValidationError(f"model {name!r} has no statistics file", field="model")
    out = dict(stats[subset])
    out.update(
        subset=subset,
        kind=str(model.kind),
        classes=list(model.classes),
        thresholds=model.thresholds,
        optimized_thresholds=model.optimized_thresholds,
    )
    return out


def export_model(
    ws: Workspace, dataset: str, name: str, out: str | os.PathLike[str], *, checkpoint: str = "best"
) -> Path:
    """Write the model as an offline bundle (ONNX graphs, classes, thresholds, a manifest) that
    ``tagscope-predict-server DIR`` serves without torch; returns the folder."""
    from tagscope.service.model_predictions import load_estimator, tuned_tower
    from tagscope.train.export import export_classifier, export_detector

    model = ready_model(ws, dataset, name, Action.MODELS_TRAIN)
    ckpt = checkpoint_of(checkpoint)
    est = load_estimator(ws, model, ckpt)
    manifest = {
        "dataset": model.dataset,
        "model": model.name,
        "kind": str(model.kind),
        "classes": list(model.classes),
        "thresholds": model.thresholds,
        "checkpoint": str(ckpt),
        "space": model.space,
        "version": model.version,
    }
    folder = Path(out)
    if model.kind == ModelKind.DETECTOR:
        return export_detector(est, folder, manifest=manifest)
    ds = policy.dataset(ws, Action.READ, dataset)
    space = ws.catalog.get_space(ds.id, str(model.space))
    if space["kind"] != "clip":
        raise ValidationError(
            f"model {name!r} learned from space {model.space!r} ({space['kind']} vectors of "
            "text): a bundle predicts from images, so it needs a model of an image space",
            field="model",
        )
    tower = tuned_tower(ws, model)
    image_model = str(tower) if tower is not None else space["model"]
    manifest["embedding_model"] = image_model
    return export_classifier(est, image_model, folder, manifest=manifest)
