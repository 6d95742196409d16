"""BundlePredictor: the app's prediction JSON from an exported bundle, equal to the in-app
torch path; the decision rules; refused bundles and inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tagscope.bundle import BundleError, BundlePredictor, InputError
from tagscope.bundle.predictor import detector_prediction, predicted_classes
from tagscope.media.images import load_rgb


def app_proba(tiny_clip, head, photos) -> np.ndarray:
    """The in-app path: decode, ``encode_images``, the head."""
    return head.predict_proba(tiny_clip.encode_images([load_rgb(data) for _, data in photos]))


def test_predict_equals_the_in_app_path(single_label_bundle, single_label_head, tiny_clip, photos):
    bundle = BundlePredictor(single_label_bundle, batch_size=4)  # several batches
    answer = bundle.predict(photos)
    assert {k: answer[k] for k in ("dataset", "model", "kind", "checkpoint")} == {
        "dataset": "imagenette",
        "model": "m1",
        "kind": "single-label",
        "checkpoint": "best",
    }
    want = app_proba(tiny_clip, single_label_head, photos)
    classes = list(single_label_head.classes_)
    assert [p["file"] for p in answer["predictions"]] == [name for name, _ in photos]
    got = np.array([[p["scores"][c] for c in classes] for p in answer["predictions"]])
    assert float(np.abs(got - want).max()) <= 1e-4
    thresholds = bundle.thresholds
    for entry, row in zip(answer["predictions"], want, strict=True):
        best = classes[int(row.argmax())]
        assert entry["predicted"] == ([best] if row.max() >= thresholds[best] else [])
    assert json.loads(json.dumps(answer)) == answer  # plain JSON


def test_predict_of_no_files(single_label_bundle):
    answer = BundlePredictor(single_label_bundle).predict([])
    assert answer["predictions"] == []


def test_decision_rules():
    scores = {"cat": 0.6, "dog": 0.3, "bird": 0.7}
    thresholds = {"cat": 0.5, "dog": 0.2, "bird": 0.8}
    assert predicted_classes(scores, thresholds, multi_label=True) == ["cat", "dog"]
    assert predicted_classes(scores, {**thresholds, "bird": 0.7}, multi_label=True) == [
        "cat",
        "dog",
        "bird",
    ]  # the class order
    # Compared in float32, the scores' precision: 0.3 reaches a threshold of 0.3 + 1e-9.
    assert predicted_classes(scores, {**thresholds, "dog": 0.3 + 1e-9}, multi_label=True) == [
        "cat",
        "dog",
    ]
    assert predicted_classes(scores, thresholds, multi_label=False) == []  # bird < its 0.8
    assert predicted_classes(scores, {**thresholds, "bird": 0.7}, multi_label=False) == ["bird"]
    boxes = [
        {"class": "dog", "score": 0.9, "bbox": [0, 0, 5, 5]},
        {"class": "bird", "score": 0.4, "bbox": [1, 1, 5, 5]},
        {"class": "cat", "score": 0.6, "bbox": [2, 2, 5, 5]},
        {"class": "dog", "score": 0.55, "bbox": [3, 3, 5, 5]},
    ]
    entry = detector_prediction("a.jpg", boxes, {"cat": 0.5, "dog": 0.5, "bird": 0.5})
    assert entry == {
        "file": "a.jpg",
        "boxes": [boxes[0], boxes[2], boxes[3]],
        "predicted": ["cat", "dog"],
    }


def test_a_bad_image_is_named(single_label_bundle, photos):
    bundle = BundlePredictor(single_label_bundle)
    with pytest.raises(InputError, match=r"^broken\.jpg: cannot decode the image") as err:
        bundle.predict([photos[0], ("broken.jpg", photos[0][1][:300])])
    assert err.value.file == "broken.jpg"


def test_refused_bundles(single_label_bundle, tmp_path):
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        BundlePredictor(tmp_path)
    copy = shutil.copytree(single_label_bundle, tmp_path / "b")
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(BundleError, match="format version 2"):
        BundlePredictor(copy)
    del manifest["thresholds"]["church"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"no threshold for classes \['church'\]"):
        BundlePredictor(copy)
    (copy / "head.onnx").unlink()
    (copy / "manifest.json").write_text((single_label_bundle / "manifest.json").read_text())
    with pytest.raises(BundleError, match=r"the head model head\.onnx is missing"):
        BundlePredictor(copy)


def test_the_bundle_package_imports_no_torch_and_nothing_else_of_tagscope():
    code = (
        "import sys, tagscope.bundle, tagscope.bundle.server\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'tagscope')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == [
        "tagscope",
        "tagscope.bundle",
        "tagscope.bundle.predictor",
        "tagscope.bundle.preprocess",
        "tagscope.bundle.server",
    ]


def test_detector_bundle_equals_detector_predict(detector_bundle, tiny_detector, photos):
    bundle = BundlePredictor(detector_bundle, batch_size=3)
    answer = bundle.predict(photos)
    assert answer["kind"] == "detector"
    app = tiny_detector.predict([data for _, data in photos], min_score=0.0)
    for entry, boxes in zip(answer["predictions"], app, strict=True):
        assert "scores" not in entry
        want = detector_prediction(entry["file"], boxes, bundle.thresholds)
        assert entry["predicted"] == want["predicted"]
        assert len(entry["boxes"]) == len(want["boxes"])
        for got, exp in zip(entry["boxes"], want["boxes"], strict=True):
            assert got["class"] == exp["class"]
            assert got["score"] == pytest.approx(exp["score"], abs=1e-4)
            assert got["bbox"] == pytest.approx(exp["bbox"], abs=1e-3)  # pixels
    kept = sum(len(entry["boxes"]) for entry in answer["predictions"])
    assert 0 < kept < sum(len(boxes) for boxes in app)  # the thresholds keep some, not all


def test_detector_io_copies_equal_the_trained_detectors(photos, tiny_detector):
    """The bundle's torch-free copies of the detector's pre- and post-processing give what
    ``tagscope.train.detection_io`` gives (which the bundle cannot import: the train package
    imports torch)."""
    from tagscope.bundle.predictor import detection_boxes
    from tagscope.bundle.preprocess import decode_rgb, prepare_detector_image
    from tagscope.train import detection_io

    params = tiny_detector.preprocess_
    for _, data in photos:
        image = decode_rgb(data)
        ours, scale = prepare_detector_image(image, params)
        theirs, their_scale = detection_io.prepare_image(detection_io.decode_image(data), params)
        assert np.array_equal(ours, theirs) and scale == their_scale
        rng = np.random.default_rng(len(data))
        logits, boxes = rng.normal(size=(10, len(tiny_detector.classes_) + 1)), rng.random((10, 4))
        size = {"scale": scale, "width": image.width, "height": image.height}
        assert detection_boxes(
            logits,
            boxes,
            **size,
            classes=tiny_detector.classes_,
            image_size=params["image_size"],
            min_score=0.05,
        ) == detection_io.postprocess(
            logits,
            boxes,
            **size,
            classes=tiny_detector.classes_,
            preprocess=params,
            min_score=0.05,
        )
