"""Models in the SDK: a handle on one trained model of a dataset, over the model use cases.

Examples
--------
>>> import tagscope as ts
>>> ds = ts.open().dataset("coco")                                              # doctest: +SKIP
>>> m = ds.train_model("pets", kind="multi-label", space="text")               # doctest: +SKIP
>>> m.info.metrics["map"], m.statistics()["per_class"]["dog"]["best_threshold"]  # doctest: +SKIP
>>> m.set_thresholds({"dog": 0.4})                                             # doctest: +SKIP
>>> m.predict(["photo.jpg"])["predictions"][0]["predicted"]                    # doctest: +SKIP
['dog']
>>> m.export("pets-bundle")                                                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tagscope._lazy import deferred
from tagscope.domain.models import Model as _Model

if TYPE_CHECKING:
    from tagscope.service import model_predictions as _predictions
    from tagscope.service import models as _models
    from tagscope.service.workspace import Workspace as _Workspace
else:  # torch, scikit-learn and DuckDB: only when a model is used
    _models = deferred("tagscope.service.models")
    _predictions = deferred("tagscope.service.model_predictions")

Checkpoint = Literal["best", "last"]
Image = str | os.PathLike[str] | tuple[str, bytes]


class Model:
    """A model of ``dataset``, read afresh at each call."""

    def __init__(self, service_ws: _Workspace, dataset: str, name: str) -> None:
        self._ws = service_ws
        self.dataset = dataset
        self.name = name

    def __repr__(self) -> str:
        m = self.info
        return f"Model({m.name!r}, dataset={self.dataset!r}, {m.kind}, {m.status})"

    @property
    def info(self) -> _Model:
        """The model as it is now: status, classes, thresholds, metrics, learning curve."""
        return _models.get_model(self._ws, self.dataset, self.name)

    def stop(self) -> _Model:
        """Stop its training (from another thread or process): it keeps the best checkpoint."""
        return _models.stop_model(self._ws, self.dataset, self.name)

    def delete(self) -> None:
        _models.delete_model(self._ws, self.dataset, self.name)

    def set_thresholds(self, thresholds: Mapping[str, float] | None) -> _Model:
        """Save per class thresholds (``None``: every class's optimized, max-F1 one); they
        decide the predictions at once, no retraining."""
        given = None if thresholds is None else dict(thresholds)
        return _models.set_thresholds(self._ws, self.dataset, self.name, given)

    def statistics(self, subset: Literal["validation", "train"] = "validation") -> dict[str, Any]:
        """Per class PR curves, AP and best threshold; accuracy and the confusion matrix for
        single-label; mAP."""
        return _models.model_statistics(self._ws, self.dataset, self.name, subset=subset)

    def predictions(self, **filters: Any) -> dict[str, Any]:
        """A page of its predictions on the dataset's items: ``subset`` (validation|train|all),
        ``wrong``, ``class_name``, ``offset``, ``limit`` -> ``{total, rows}``."""
        return _predictions.list_predictions(self._ws, self.dataset, self.name, **filters)

    def predict_items(
        self,
        item_ids: Sequence[int],
        *,
        write_labels: bool = False,
        checkpoint: Checkpoint = "best",
    ) -> dict[str, Any]:
        """Predict items of the dataset; ``write_labels`` writes them as labels of source
        prediction (one change-set)."""
        return _predictions.predict_items(
            self._ws,
            self.dataset,
            self.name,
            list(item_ids),
            write_labels=write_labels,
            checkpoint=checkpoint,
        )

    def predict(
        self, images: Sequence[Image], *, checkpoint: Checkpoint = "best"
    ) -> dict[str, Any]:
        """Predict image files (paths, or ``(name, bytes)`` pairs): the REST API's answer,
        ``{dataset, model, kind, checkpoint, predictions: [{file, scores | boxes, predicted}]}``."""
        files = [img if isinstance(img, tuple) else _read(img) for img in images]
        return _predictions.predict_images(
            self._ws, self.dataset, self.name, files, checkpoint=checkpoint
        )

    def export(self, out: str | os.PathLike[str], *, checkpoint: Checkpoint = "best") -> Path:
        """Write an offline bundle (ONNX, classes, thresholds, manifest) to the folder ``out``;
        ``tagscope-predict-server out`` serves it."""
        return _models.export_model(
            self._ws, self.dataset, self.name, Path(out), checkpoint=checkpoint
        )


def _read(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    p = Path(path)
    return p.name, p.read_bytes()
