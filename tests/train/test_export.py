"""Exporting a classifier as an offline bundle: ONNX graphs that equal torch, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tagscope.bundle.preprocess import Preprocessor, decode_rgb
from tagscope.domain import ValidationError
from tagscope.embed.clip import ClipEmbedder
from tagscope.media.images import load_rgb
from tagscope.train import HeadClassifier
from tagscope.train import export as export_module
from tagscope.train.export import ExportError, export_classifier

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def tiny_clip(tiny_clip_dir: Path) -> ClipEmbedder:
    return ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu")


@pytest.fixture(scope="module")
def multi_label_head(tiny_clip: ClipEmbedder) -> HeadClassifier:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, tiny_clip.dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = (rng.random((40, len(CLASSES))) < 0.4).astype(int)
    Y[:2] = 1 - Y[2:4]  # every class has positives and negatives
    return HeadClassifier(multi_label=True, hidden=8, max_epochs=5).fit(X, Y)


def _manifest(**changes: object) -> dict:
    return {
        "dataset": "pets",
        "model": "m1",
        "kind": "multi-label",
        "classes": CLASSES,
        "thresholds": {"cat": 0.5, "dog": 0.25, "bird": 0.75},
        "checkpoint": "best",
        "space": "clip",
        **changes,
    }


@pytest.fixture(scope="module")
def bundle(multi_label_head, tiny_clip_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "pets-m1"
    return export_classifier(multi_label_head, tiny_clip_dir, out, manifest=_manifest())


def test_export_writes_the_bundle_files(bundle: Path):
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.md",
        "head.onnx",
        "image_encoder.onnx",
        "manifest.json",
    ]
    readme = (bundle / "README.md").read_text()
    assert "tagscope-predict-server" in readme
    assert "curl -F files=@photo.jpg" in readme and "/api/predict/pets/m1" in readme


def test_manifest_holds_the_contract_fields_and_the_processor_settings(bundle, tiny_clip):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["format"] == "tagscope-model-bundle" and m["format_version"] == 1
    assert (m["dataset"], m["model"], m["kind"], m["checkpoint"]) == (
        "pets",
        "m1",
        "multi-label",
        "best",
    )
    assert m["classes"] == CLASSES
    assert m["thresholds"] == {"cat": 0.5, "dog": 0.25, "bird": 0.75}
    assert m["space"] == "clip"
    assert m["embedding_model"] == tiny_clip.model and m["embedding_dim"] == tiny_clip.dim
    assert m["created_at"].endswith("Z")
    assert m["files"] == {"image_encoder": "image_encoder.onnx", "head": "head.onnx"}
    ip = tiny_clip.processor_.image_processor
    pre = m["preprocess"]
    assert pre["size"] == {"shortest_edge": 32} and pre["crop_size"] == {"height": 32, "width": 32}
    assert pre["resample"] == 3  # bicubic
    assert pre["rescale_factor"] == pytest.approx(1 / 255)
    assert pre["image_mean"] == pytest.approx(list(ip.image_mean))
    assert pre["image_std"] == pytest.approx(list(ip.image_std))
    assert pre["do_convert_rgb"] is True and pre["do_center_crop"] is True


def test_image_encoder_equals_encode_images(bundle, tiny_clip, photos_bytes):
    """Real photos through the bundle's preprocessing and ONNX graph equal the app's
    ``encode_images`` within 1e-5, at any batch size."""
    m = json.loads((bundle / "manifest.json").read_text())
    session = ort.InferenceSession(str(bundle / "image_encoder.onnx"))
    pixels = Preprocessor(m["preprocess"])([decode_rgb(b) for b in photos_bytes])
    want = tiny_clip.encode_images([load_rgb(b) for b in photos_bytes])
    for n in (1, len(photos_bytes)):
        got = session.run(None, {"pixel_values": pixels[:n]})[0]
        assert got.shape == (n, tiny_clip.dim)
        assert float(np.abs(got - want[:n]).max()) <= 1e-5
        assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_head_equals_predict_proba(bundle, multi_label_head, tiny_clip):
    session = ort.InferenceSession(str(bundle / "head.onnx"))
    X = np.random.default_rng(1).standard_normal((9, tiny_clip.dim)).astype(np.float32)
    got = session.run(None, {"embeddings": X})[0]
    assert got.shape == (9, len(CLASSES))
    assert float(np.abs(got - multi_label_head.predict_proba(X)).max()) <= 1e-5


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"thresholds": {"cat": 0.5, "fish": 0.5}}, "thresholds", r"does not have: \['fish'\]"),
        (
            {"classes": ["cat", "dog"], "thresholds": {"cat": 0.5, "dog": 0.5}},
            "classes",
            "3 outputs but the manifest names 2 classes",
        ),
        ({"kind": "detector"}, "kind", "cannot be exported here"),
        ({"kind": "single-label"}, "kind", "says single-label but the head is multi-label"),
        ({"dataset": None}, "manifest", "lacks dataset"),
        ({"classes": ["cat", "cat", "dog"]}, "classes", "distinct"),
    ],
)
def test_bad_manifest_is_refused(
    changes, field, message, multi_label_head, tiny_clip_dir, tmp_path
):
    with pytest.raises(ValidationError, match=message) as err:
        export_classifier(multi_label_head, tiny_clip_dir, tmp_path, manifest=_manifest(**changes))
    assert err.value.field == field


def test_a_class_without_threshold_decides_at_one_half(multi_label_head, tiny_clip_dir, tmp_path):
    manifest = _manifest(thresholds={"dog": 0.25})
    out = export_classifier(multi_label_head, tiny_clip_dir, tmp_path, manifest=manifest)
    thresholds = json.loads((out / "manifest.json").read_text())["thresholds"]
    assert thresholds == {"cat": 0.5, "dog": 0.25, "bird": 0.5}


def test_head_of_another_space_is_refused(tiny_clip_dir, tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 7)).astype(np.float32)
    head = HeadClassifier(max_epochs=2).fit(X, np.array(["a", "b"] * 10))
    manifest = _manifest(kind="single-label", classes=["a", "b"], thresholds={"a": 0, "b": 0})
    with pytest.raises(ValidationError, match=r"7-d vectors but .* 16 dimensions"):
        export_classifier(head, tiny_clip_dir, tmp_path, manifest=manifest)


def test_names_out_of_the_heads_order_are_refused(tiny_clip_dir, tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    head = HeadClassifier(max_epochs=2).fit(X, np.array(["a", "b"] * 10))
    manifest = _manifest(kind="single-label", classes=["b", "a"], thresholds={})
    with pytest.raises(ValidationError, match="not the head's") as err:
        export_classifier(head, tiny_clip_dir, tmp_path, manifest=manifest)
    assert err.value.field == "classes"


def test_a_graph_that_differs_from_torch_is_an_error(
    multi_label_head, tiny_clip_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)  # no difference is small enough
    message = r"image_encoder\.onnx: ONNX Runtime's embeddings differ from torch's"
    with pytest.raises(ExportError, match=message):
        export_classifier(multi_label_head, tiny_clip_dir, tmp_path, manifest=_manifest())


@pytest.fixture(scope="module")
def photos_bytes(imagenette: Path, coco_mini: Path) -> list[bytes]:
    church = sorted((imagenette / "church").iterdir())[:3]  # one greyscale
    paths = church + sorted((coco_mini / "val2017").glob("*.jpg"))[:3]
    return [p.read_bytes() for p in paths]


@pytest.fixture(scope="module")
def tiny_detector(coco_mini: Path):
    from tagscope.train.detector import Detector

    source = json.loads((coco_mini / "annotations" / "instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in source["categories"]}
    image = source["images"][0]
    anns = [a for a in source["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]]
    target = {
        "boxes": [a["bbox"] for a in anns],
        "classes": [names[a["category_id"]] for a in anns],
    }
    tiny = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "num_detection_tokens": 5,
    }
    detector = Detector(architecture=tiny, image_size=48, max_epochs=1)
    return detector.fit([coco_mini / "val2017" / image["file_name"]], [target])


def test_export_detector(tiny_detector, tmp_path):
    from tagscope.train.export import export_detector

    classes = list(tiny_detector.classes_)
    manifest = _manifest(kind="detector", classes=classes, thresholds=dict.fromkeys(classes, 0.3))
    out = export_detector(tiny_detector, tmp_path / "det", manifest=manifest)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "detector.onnx", "manifest.json"]
    m = json.loads((out / "manifest.json").read_text())
    assert (m["kind"], m["classes"], m["min_score"]) == ("detector", classes, 0.05)
    assert m["preprocess"] == tiny_detector.preprocess_
    assert m["files"] == {"detector": "detector.onnx"}
    session = ort.InferenceSession(str(out / "detector.onnx"))
    assert [o.name for o in session.get_outputs()] == ["logits", "pred_boxes"]

    reordered = _manifest(kind="detector", classes=classes[::-1], thresholds=manifest["thresholds"])
    with pytest.raises(ValidationError, match="not the detector's") as err:  # 11 classes
        export_detector(tiny_detector, tmp_path / "other", manifest=reordered)
    assert err.value.field == "classes"
    with pytest.raises(ValidationError, match="cannot be exported here"):
        export_detector(tiny_detector, tmp_path / "other", manifest=_manifest())
