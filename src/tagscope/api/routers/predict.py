"""``POST /api/predict/{dataset}/{model}`` (F-83): a trained model's predictions on uploaded image
files (multipart field ``files``, one or more), with its best checkpoint, or its latest one at
``.../last``. The offline bundle's server (``tagscope-predict-server``) answers the same route
with the same JSON: ``{dataset, model, kind, checkpoint, predictions: [{file, scores | boxes,
predicted}]}``. The uploads together are capped by the server's upload limit
(:mod:`tagscope.api.guards`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.service import model_predictions as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/predict", tags=["models"])

Files = Annotated[list[UploadFile], File(description="image files (JPEG, PNG, ...)")]


def _read(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    # Read whole: the body guard has refused an upload over the limit before this runs.
    return [(f.filename or f"file {i + 1}", f.file.read()) for i, f in enumerate(files)]


@router.post("/{dataset}/{model}", openapi_extra=needs(Action.READ))
def predict(dataset: str, model: str, files: Files, ws: WorkspaceDep) -> dict[str, Any]:
    """Predict the images with the model's best checkpoint."""
    return uc.predict_images(ws, dataset, model, _read(files), checkpoint="best")


@router.post("/{dataset}/{model}/last", openapi_extra=needs(Action.READ))
def predict_last(dataset: str, model: str, files: Files, ws: WorkspaceDep) -> dict[str, Any]:
    """Predict the images with the model's latest checkpoint."""
    return uc.predict_images(ws, dataset, model, _read(files), checkpoint="last")
