"""Export a trained model as an offline bundle: ONNX graphs, a manifest and a README.

The bundle runs with ONNX Runtime, NumPy and Pillow alone (:mod:`tagscope.bundle`, the
``tagscope-predict-server`` command). Each graph is checked after export: ONNX Runtime's outputs
must equal torch's within :data:`TOLERANCE`. Graphs are exported with ``torch.onnx.export``'s
default (dynamo) exporter, with a dynamic batch axis.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tagscope.bundle.predictor import FORMAT, FORMAT_VERSION, read_manifest
from tagscope.bundle.preprocess import PREPROCESS_KEYS, Preprocessor
from tagscope.domain import TagscopeError, ValidationError

log = logging.getLogger(__name__)

TOLERANCE = 1e-5
"""Largest absolute difference allowed between ONNX Runtime's outputs and torch's."""
DEFAULT_THRESHOLD = 0.5
"""The threshold of a class the manifest gives none (the app's default)."""
# Fields the caller's manifest must hold (the bundle adds format, preprocess, files, ...).
REQUIRED = ("dataset", "model", "kind", "classes", "thresholds", "checkpoint")
# A graph whose weights exceed this is saved with its weights in a side file (.onnx.data):
# protobuf cannot hold 2 GB.
_INLINE_WEIGHTS_BYTES = 1_500_000_000


class ExportError(TagscopeError):
    """The exported graph does not reproduce the torch model (or could not be exported)."""


def export_classifier(
    head: Any, image_model: str | Path, out: Path, *, manifest: Mapping[str, Any]
) -> Path:
    """Write a classifier's bundle: the image tower and the head as ONNX, and its manifest.

    Parameters
    ----------
    head : HeadClassifier
        Fitted: ``module_`` maps (n, d) float32 unit vectors to (n, k) probabilities.
    image_model : str or path
        The CLIP-family model of the head's embedding space (its folder or hub id, as the space
        records it); loaded as :meth:`tagscope.embed.clip.ClipEmbedder.from_pretrained` does.
    out : path
        The bundle folder (created; its bundle files are replaced).
    manifest : mapping
        ``dataset``, ``model``, ``kind`` ("single-label" | "multi-label"), ``classes`` (names
        in the order of the head's outputs), ``thresholds`` {class: t} (a class without one:
        :data:`DEFAULT_THRESHOLD`),
        ``checkpoint`` ("best" | "last"); optional ``space``, ``embedding_model`` (default
        ``image_model``), ``created_at`` (default now) and any other JSON fields.

    Returns
    -------
    Path
        ``out``, holding ``image_encoder.onnx``, ``head.onnx``, ``manifest.json``, ``README.md``.

    Raises
    ------
    ValidationError
        The manifest is incomplete or disagrees with the head (kind, class count, dimension).
    ModelUnavailableError
        The image model cannot be loaded.
    ExportError
        An exported graph's outputs differ from torch's by more than :data:`TOLERANCE`.
    """
    from tagscope.embed.clip import ClipEmbedder

    fields = _check_manifest(manifest, kinds=("single-label", "multi-label"))
    head_kind = "multi-label" if head.multi_label else "single-label"
    if fields["kind"] != head_kind:
        raise ValidationError(
            f"the manifest says {fields['kind']} but the head is {head_kind}", field="kind"
        )
    embedder = ClipEmbedder.from_pretrained(str(image_model), device="cpu")
    preprocess = preprocess_parameters(embedder.processor_.image_processor)
    net = copy.deepcopy(head.module_).float().cpu().eval()
    n_features = int(getattr(head, "n_features_in_", embedder.dim))
    if n_features != embedder.dim:
        raise ValidationError(
            f"the head takes {n_features}-d vectors but {image_model} embeds images in "
            f"{embedder.dim} dimensions: not the model of the head's space",
            field="image_model",
        )
    learned = [str(c) for c in head.classes_]
    if np.asarray(head.classes_).dtype.kind in "USO" and learned != fields["classes"]:
        raise ValidationError(
            f"the manifest's classes {fields['classes']} are not the head's {learned} (same "
            "names, in the order of its outputs)",
            field="classes",
        )
    n_outputs = _n_outputs(net, n_features)
    if n_outputs != len(fields["classes"]):
        raise ValidationError(
            f"the head has {n_outputs} outputs but the manifest names "
            f"{len(fields['classes'])} classes",
            field="classes",
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pixels = rng.standard_normal((3, 3, *_input_size(preprocess)), dtype=np.float32)
    tower = _image_tower(embedder.model_).float().eval()
    _export(tower, pixels, out / "image_encoder.onnx", "pixel_values", ["embeddings"])
    vectors = rng.standard_normal((5, n_features), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    _export(net, vectors, out / "head.onnx", "embeddings", ["probabilities"])
    document = {
        **fields,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedding_model": str(fields.get("embedding_model") or image_model),
        "embedding_dim": embedder.dim,
        "created_at": fields.get("created_at") or _now(),
        "preprocess": preprocess,
        "files": {"image_encoder": "image_encoder.onnx", "head": "head.onnx"},
    }
    return _write(out, document)


def export_detector(detector: Any, out: Path, *, manifest: Mapping[str, Any]) -> Path:
    """Write a detector's bundle: the network as ONNX (pixels -> logits, boxes) and its manifest.

    Parameters
    ----------
    detector : Detector
        Fitted (``model_``, ``classes_``, ``preprocess_``).
    out : path
        The bundle folder (created; its bundle files are replaced).
    manifest : mapping
        As for :func:`export_classifier`, with ``kind`` "detector" and ``classes`` equal to
        ``detector.classes_``; optional ``min_score`` (default 0.05): boxes scoring less are
        never reported (as ``Detector.predict``'s default).

    Returns
    -------
    Path
        ``out``, holding ``detector.onnx``, ``manifest.json``, ``README.md``.

    Raises
    ------
    ValidationError
        The manifest is incomplete or names other classes than the detector's.
    ExportError
        The exported graph's outputs differ from torch's by more than :data:`TOLERANCE`.
    """
    fields = _check_manifest(manifest, kinds=("detector",))
    if fields["classes"] != list(detector.classes_):
        raise ValidationError(
            f"the manifest's classes {fields['classes']} are not the detector's "
            f"{list(detector.classes_)} (same names, same order)",
            field="classes",
        )
    preprocess = dict(detector.preprocess_)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    side = int(preprocess["image_size"])
    pixels = np.random.default_rng(0).standard_normal((3, 3, side, side), dtype=np.float32)
    network = _detection_network(copy.deepcopy(detector.model_).float().cpu()).eval()
    _export(network, pixels, out / "detector.onnx", "pixel_values", ["logits", "pred_boxes"])
    document = {
        **fields,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "min_score": float(fields.get("min_score", 0.05)),
        "created_at": fields.get("created_at") or _now(),
        "preprocess": preprocess,
        "files": {"detector": "detector.onnx"},
    }
    return _write(out, document)


def preprocess_parameters(image_processor: Any) -> dict[str, Any]:
    """A transformers CLIP-family image processor's settings as the bundle's ``preprocess``.

    Raises
    ------
    ValidationError
        A processor with steps the bundle does not replicate (padding, other resize rules).
    """
    settings = image_processor.to_dict()
    missing = [k for k in PREPROCESS_KEYS if k not in settings]
    if missing or settings.get("do_pad"):
        raise ValidationError(
            f"image processor {type(image_processor).__name__} is not supported by bundles "
            f"({'no ' + ', '.join(missing) if missing else 'it pads'})",
            field="image_model",
        )
    params = {k: _json(settings[k]) for k in PREPROCESS_KEYS}
    params["processor"] = settings.get("image_processor_type") or type(image_processor).__name__
    try:
        Preprocessor(params)
        _input_size(params)
    except (ValueError, KeyError) as exc:
        raise ValidationError(
            f"image processor {params['processor']} is not supported by bundles: {exc}",
            field="image_model",
        ) from None
    return params


def _image_tower(clip: Any) -> Any:
    """A torch module: pixel values -> unit image embeddings (float32), as ``encode_images``."""
    import torch

    from tagscope.embed.clip import _features

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            feats = _features(self.clip.get_image_features(pixel_values=pixel_values))
            return torch.nn.functional.normalize(feats.float(), dim=-1)

    return ImageTower()


def _detection_network(model: Any) -> Any:
    """A torch module: pixel values -> (class logits, cxcywh boxes) of the detection queries."""
    import torch

    class DetectionNetwork(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            output = self.model(pixel_values=pixel_values)
            return output.logits.float(), output.pred_boxes.float()

    return DetectionNetwork()


def _export(
    net: Any, sample: np.ndarray, path: Path, input_name: str, output_names: list[str]
) -> None:
    """``torch.onnx.export`` (dynamo) with a dynamic batch axis, then the check against torch:
    ONNX Runtime on ``sample`` (a batch of another size than the export's example)."""
    import onnxruntime as ort
    import torch

    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    n_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecations, inside export
        try:
            torch.onnx.export(
                net,
                (torch.from_numpy(sample[:2]),),
                str(path),
                input_names=[input_name],
                output_names=output_names,
                dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                external_data=n_bytes > _INLINE_WEIGHTS_BYTES,
                dynamo=True,
                verbose=False,
            )
        except Exception as exc:
            reason = next((line for line in str(exc).splitlines() if line.strip()), repr(exc))
            raise ExportError(f"cannot export {path.name} to ONNX: {reason}") from exc
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {input_name: sample})
    with torch.inference_mode():
        want = net(torch.from_numpy(sample))
    want = [w.float().numpy() for w in (want if isinstance(want, tuple) else (want,))]
    for name, g, w in zip(output_names, got, want, strict=True):
        diff = float(np.abs(g - w).max()) if g.shape == w.shape else float("inf")
        if not diff <= TOLERANCE:
            raise ExportError(
                f"{path.name}: ONNX Runtime's {name} differ from torch's by {diff:.3g} "
                f"(shapes {g.shape} and {w.shape}; allowed {TOLERANCE:g})"
            )
        log.info("exported %s: %s within %.2g of torch", path, name, diff)


def _check_manifest(manifest: Mapping[str, Any], *, kinds: tuple[str, ...]) -> dict[str, Any]:
    fields = dict(manifest)
    missing = [k for k in REQUIRED if fields.get(k) in (None, "")]
    if missing:
        raise ValidationError(f"the bundle manifest lacks {', '.join(missing)}", field="manifest")
    if fields["kind"] not in kinds:
        raise ValidationError(
            f"kind {fields['kind']!r} cannot be exported here (one of {', '.join(kinds)})",
            field="kind",
        )
    classes = [str(c) for c in fields["classes"]]
    if not classes or len(set(classes)) != len(classes):
        raise ValidationError("the classes must be distinct names, at least one", field="classes")
    thresholds = dict(fields["thresholds"])
    unknown = sorted(set(thresholds) - set(classes))
    if unknown:
        raise ValidationError(
            f"thresholds of classes the model does not have: {unknown} (classes {classes})",
            field="thresholds",
        )
    fields["classes"] = classes
    # A class without a threshold decides at 0.5, as the app's predictions do.
    fields["thresholds"] = {c: float(thresholds.get(c, DEFAULT_THRESHOLD)) for c in classes}
    return fields


def _n_outputs(net: Any, n_features: int) -> int:
    import torch

    with torch.inference_mode():
        return int(net(torch.zeros(1, n_features)).shape[-1])


def _input_size(preprocess: Mapping[str, Any]) -> tuple[int, int]:
    """The (height, width) of every image's pixel values: the crop, or a fixed resize."""
    if preprocess["do_center_crop"]:
        crop = preprocess["crop_size"]
        return int(crop["height"]), int(crop["width"])
    size = preprocess["size"] if preprocess["do_resize"] else {}
    if "height" in size and "width" in size:
        return int(size["height"]), int(size["width"])
    raise ValueError("images of different sizes stay so (no centre crop, no fixed resize)")


def _json(value: Any) -> Any:
    """A processor setting as plain JSON (enums to numbers, tuples to lists)."""
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, bool | str | float) or value is None:
        return value
    return int(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write(out: Path, document: dict[str, Any]) -> Path:
    (out / "manifest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(document), encoding="utf-8")
    read_manifest(out)  # what the bundle's reader accepts
    return out


def _readme(m: Mapping[str, Any]) -> str:
    route = f"/api/predict/{m['dataset']}/{m['model']}"
    files = ", ".join(f"`{f}`" for f in m["files"].values())
    names = ", ".join(m["classes"][:20]) + (", ..." if len(m["classes"]) > 20 else "")
    return f"""# Tagscope model bundle: {m["dataset"]} / {m["model"]}

A {m["kind"]} model ({len(m["classes"])} classes: {names}), checkpoint "{m["checkpoint"]}",
exported {m["created_at"]}.
Files: {files}, `manifest.json` (classes, thresholds, preprocessing).

## Serve it

It needs Python with `onnxruntime`, `numpy`, `pillow`, `starlette`, `uvicorn` and
`python-multipart` (no torch). With Tagscope installed:

    tagscope-predict-server . --host 127.0.0.1 --port 8080 [--token SECRET]

## Ask it

    curl -F files=@photo.jpg -F files=@other.png http://127.0.0.1:8080{route}

(add `-H "Authorization: Bearer SECRET"` when started with `--token`). The answer is the
app's prediction JSON: per file the `scores` per class (a classifier) or the `boxes` (a
detector), and the classes `predicted` at the thresholds of `manifest.json` (edit them there
to change the decisions without retraining).
`GET /api/health` says the server is up.

From Python, without a server:

    from tagscope.bundle import BundlePredictor
    BundlePredictor(".").predict([("photo.jpg", open("photo.jpg", "rb").read())])
"""
