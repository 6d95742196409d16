"""``/api/datasets/{name}/models``: classifiers and detectors trained on the dataset's labels
(F-80 to F-83): train (a background job), watch the learning curves, stop, thresholds,
statistics, predictions on its items. Image files are predicted by :mod:`.predict`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.api.schemas import Int64, Job
from tagscope.service import model_predictions as preds
from tagscope.service import models as uc
from tagscope.service.collections import MAX_ITEMS
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/datasets/{name}/models", tags=["models"])

Kind = Literal["single-label", "multi-label", "detector"]
Subset = Literal["validation", "train"]


class Model(BaseModel):
    name: str
    dataset: str
    kind: Kind
    space: str | None = Field(description="the embedding space (null: a detector)")
    status: str = Field(description="training | ready | failed")
    classes: list[str]
    thresholds: dict[str, float] = Field(description="the current ones, class -> threshold")
    optimized_thresholds: dict[str, float] = Field(description="each class's max-F1 threshold")
    params: dict[str, Any] = Field(description="the training parameters")
    metrics: dict[str, Any] = Field(
        description="map, accuracy (single-label), best_epoch, stop_reason, n_train, n_validation, "
        "skipped_classes"
    )
    history: list[dict[str, Any]] = Field(
        description="the learning curves: {epoch, train_loss, val_loss, train_metric, "
        "val_metric, seconds} per epoch (live while training)"
    )
    job_id: int | None
    error: str | None
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int

    @classmethod
    def from_domain(cls, model: Any) -> Model:
        return cls.model_validate(model.to_dict())


class NewModel(BaseModel):
    name: str = Field(description="the model's name (its SQL view is pred_<name>)")
    kind: Kind
    space: str | None = Field(None, description="classifiers: the embedding space they learn on")
    collection: str | None = Field(None, description="train on this collection's items only")
    where: str | None = Field(None, description="train on the items matching this SQL filter")
    validation: float | str = Field(
        0.2,
        description='a share held out (stratified, seeded): 0.2 or "20%"; or "split": the '
        "items whose split is validation",
    )
    learning_rate: float | None = Field(None, gt=0.0)
    time_limit: float | None = Field(None, gt=0.0, description="seconds")
    patience: int | None = Field(None, ge=1, description="epochs without a better val loss")
    max_epochs: int | None = Field(None, ge=1)
    hidden: int = Field(0, ge=0, description="classifiers: width of a hidden layer (0: linear)")
    background: bool = Field(
        False, description="single-label: images with no class label form a class 'background'"
    )
    min_examples: int = Field(2, ge=1, description="classes with fewer items are skipped")
    size: Literal["small", "medium", "large"] = Field("small", description="detectors")
    fine_tune: bool = Field(
        False, description="classifiers of a CLIP space: fine-tune its image tower too (GPU)"
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    restart: bool = Field(False, description="replace a model of that name")


class Training(BaseModel):
    model: Model
    job: Job


class Thresholds(BaseModel):
    thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] | None = Field(
        description="class -> threshold (the classes given); null: every class's optimized one"
    )


class PredictItems(BaseModel):
    item_ids: Annotated[list[Int64], Field(min_length=1, max_length=MAX_ITEMS)]
    write_labels: bool = Field(False, description="write them as labels of source prediction")


@router.get("", openapi_extra=needs(Action.READ))
def list_models(name: str, ws: WorkspaceDep) -> list[Model]:
    return [Model.from_domain(m) for m in uc.list_models(ws, name)]


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra=needs(Action.MODELS_TRAIN))
def train_model(name: str, body: NewModel, ws: WorkspaceDep) -> Training:
    """Start training; poll ``GET .../models/{model}`` (live ``history``) or the job."""
    options = body.model_dump(exclude={"name"})
    model, job = uc.start_training(ws, name, body.name, **options)
    return Training(model=Model.from_domain(model), job=Job.from_domain(job))


@router.get("/{model}", openapi_extra=needs(Action.READ))
def get_model(name: str, model: str, ws: WorkspaceDep) -> Model:
    return Model.from_domain(uc.get_model(ws, name, model))


@router.post("/{model}/stop", openapi_extra=needs(Action.MODELS_TRAIN))
def stop_model(name: str, model: str, ws: WorkspaceDep) -> Model:
    """Stop training early: the model keeps its best checkpoint."""
    return Model.from_domain(uc.stop_model(ws, name, model))


@router.delete(
    "/{model}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=needs(Action.MODELS_TRAIN)
)
def delete_model(name: str, model: str, ws: WorkspaceDep) -> Response:
    uc.delete_model(ws, name, model)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{model}/thresholds", openapi_extra=needs(Action.MODELS_TRAIN))
def set_thresholds(name: str, model: str, body: Thresholds, ws: WorkspaceDep) -> Model:
    return Model.from_domain(uc.set_thresholds(ws, name, model, body.thresholds))


@router.get("/{model}/statistics", openapi_extra=needs(Action.READ))
def statistics(
    name: str, model: str, ws: WorkspaceDep, subset: Subset = "validation"
) -> dict[str, Any]:
    """Per class PR curves, AP and best threshold; accuracy and confusion matrix
    (single-label); mAP (see ``train.statistics``)."""
    return uc.model_statistics(ws, name, model, subset=subset)


@router.get("/{model}/predictions", openapi_extra=needs(Action.READ))
def predictions(
    name: str,
    model: str,
    ws: WorkspaceDep,
    subset: Literal["validation", "train", "all"] = "validation",
    wrong: bool = False,
    class_name: str | None = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """A page of the model's predictions on its items: ``{total, rows: [{item_id, split,
    truth, predicted, scores | boxes, wrong}]}``."""
    return preds.list_predictions(
        ws,
        name,
        model,
        subset=subset,
        wrong=wrong,
        class_name=class_name,
        offset=offset,
        limit=limit,
    )


@router.post("/{model}/predict", openapi_extra=needs(Action.READ))
def predict_items(name: str, model: str, body: PredictItems, ws: WorkspaceDep) -> dict[str, Any]:
    """Predict items of the dataset; ``write_labels`` (needs labels.edit) also writes them as
    labels of source prediction, one change-set."""
    return preds.predict_items(ws, name, model, body.item_ids, write_labels=body.write_labels)
