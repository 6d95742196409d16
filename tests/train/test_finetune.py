"""Fine-tuning a CLIP image tower with its head: the loss falls, the tuned folder embeds as the
training forward did, the bundle exports from it, stops and input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tagscope.bundle.preprocess import Preprocessor, decode_rgb
from tagscope.domain import ModelUnavailableError, ValidationError
from tagscope.embed.clip import ClipEmbedder
from tagscope.media.images import load_rgb
from tagscope.train import HeadClassifier, fine_tune_tower
from tagscope.train.export import export_classifier

CLASSES = ["chain_saw", "church", "tench"]
PER_CLASS = 4


@pytest.fixture(scope="module")
def photos(imagenette: Path) -> tuple[list[Path], np.ndarray]:
    paths, labels = [], []
    for name in CLASSES:
        for path in sorted((imagenette / name).glob("*.JPEG"))[:PER_CLASS]:
            paths.append(path)
            labels.append(name)
    return paths, np.array(labels)


@pytest.fixture(scope="module")
def embeddings(tiny_clip_dir: Path, photos) -> np.ndarray:
    clip = ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu")
    return clip.encode_images([load_rgb(p) for p in photos[0]])


@pytest.fixture(scope="module")
def head(embeddings, photos) -> HeadClassifier:
    return HeadClassifier(max_epochs=30).fit(embeddings, photos[1])


@pytest.fixture(scope="module")
def tuned(tiny_clip_dir, head, photos, tmp_path_factory) -> tuple[HeadClassifier, Path, list]:
    out = tmp_path_factory.mktemp("tuned") / "clip"
    rows: list[dict] = []
    paths, labels = photos
    result = fine_tune_tower(
        tiny_clip_dir,
        head,
        paths,
        labels,
        val_images=paths,  # the same images: val_loss is the tuned pair's loss on them
        y_val=labels,
        out=out,
        learning_rate=1e-3,
        max_epochs=3,
        batch_size=6,
        patience=3,
        device="cpu",  # the 1e-5 comparisons below hold in float32, not under CUDA autocast
        on_epoch=rows.append,
    )
    return result, out, rows


def _loss(proba: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> float:
    codes = np.searchsorted(classes, labels)
    return float(-np.log(proba[np.arange(len(codes)), codes]).mean())


def test_the_loss_falls_below_the_head_only_loss(tuned, head, embeddings, photos):
    result, out, rows = tuned
    head_only = _loss(head.predict_proba(embeddings), photos[1], head.classes_)
    clip = ClipEmbedder.from_pretrained(str(out), device="cpu")
    after = clip.encode_images([load_rgb(p) for p in photos[0]])
    tuned_loss = _loss(result.predict_proba(after), photos[1], result.classes_)
    assert tuned_loss < head_only - 0.05, (tuned_loss, head_only)
    assert min(r["train_loss"] for r in rows) < head_only


def test_history_continues_the_heads_epochs(tuned, head):
    result, _, rows = tuned
    n = len(head.history_)
    assert result.history_[:n] == head.history_
    assert result.history_[n:] == rows
    assert [r["epoch"] for r in rows] == [n + 1, n + 2, n + 3]
    assert set(rows[0]) == set(head.history_[0])
    assert all(r["seconds"] > head.history_[-1]["seconds"] for r in rows)
    assert result.stop_reason_ == "max_epochs"
    assert result.best_epoch_ == min(rows, key=lambda r: r["val_loss"])["epoch"]
    assert result is not head and head.history_[-1]["epoch"] == n  # the input is untouched


def test_the_tuned_folder_embeds_as_the_training_forward(tuned, photos, tiny_clip_dir):
    """ClipEmbedder on the tuned folder + the returned head reproduce the loss the training
    measured at its best epoch (its own forward) within 1e-5, and differ from the original."""
    result, out, rows = tuned
    clip = ClipEmbedder.from_pretrained(str(out), device="cpu")
    emb = clip.encode_images([load_rgb(p) for p in photos[0]])
    best = next(r for r in rows if r["epoch"] == result.best_epoch_)
    assert (
        abs(_loss(result.predict_proba(emb), photos[1], result.classes_) - best["val_loss"]) < 1e-5
    )
    original = ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu")
    assert np.abs(original.encode_images([load_rgb(photos[0][0])]) - emb[:1]).max() > 1e-3
    saved = HeadClassifier.load(out / "head.pt")
    assert np.allclose(saved.predict_proba(emb), result.predict_proba(emb), atol=1e-6)


def test_the_bundle_exports_from_the_tuned_folder(tuned, photos, tmp_path):
    result, out, _ = tuned
    manifest = {
        "dataset": "nette",
        "model": "m1",
        "kind": "single-label",
        "classes": CLASSES,
        "thresholds": dict.fromkeys(CLASSES, 0.5),
        "checkpoint": "best",
    }
    bundle = export_classifier(result, out, tmp_path / "bundle", manifest=manifest)
    m = json.loads((bundle / "manifest.json").read_text())
    encoder = ort.InferenceSession(str(bundle / "image_encoder.onnx"))
    head_graph = ort.InferenceSession(str(bundle / "head.onnx"))
    files = [p.read_bytes() for p in photos[0][:4]]
    pixels = Preprocessor(m["preprocess"])([decode_rgb(b) for b in files])
    emb = encoder.run(None, {"pixel_values": pixels})[0]
    want = ClipEmbedder.from_pretrained(str(out), device="cpu").encode_images(
        [load_rgb(b) for b in files]
    )
    assert float(np.abs(emb - want).max()) <= 1e-5
    proba = head_graph.run(None, {"embeddings": emb})[0]
    assert float(np.abs(proba - result.predict_proba(want)).max()) <= 1e-5


def test_a_stop_request_ends_after_the_current_batch(tiny_clip_dir, head, photos, tmp_path):
    polls: list[int] = []

    def should_stop() -> bool:
        polls.append(1)
        return len(polls) > 1  # one batch, then stop

    result = fine_tune_tower(
        tiny_clip_dir, head, *photos, out=tmp_path / "t", batch_size=4, should_stop=should_stop
    )
    assert result.stop_reason_ == "stopped"
    assert len(result.history_) == len(head.history_) + 1  # the partial epoch is recorded
    assert ClipEmbedder.from_pretrained(str(tmp_path / "t"), device="cpu").dim == 16


def test_a_stop_before_the_first_batch_keeps_the_weights(tiny_clip_dir, head, photos, tmp_path):
    result = fine_tune_tower(tiny_clip_dir, head, *photos, out=tmp_path / "t", time_limit=1e-9)
    assert result.stop_reason_ == "time_limit"
    assert result.history_ == head.history_
    clip = ClipEmbedder.from_pretrained(str(tmp_path / "t"), device="cpu")
    original = ClipEmbedder.from_pretrained(str(tiny_clip_dir), device="cpu")
    image = [load_rgb(photos[0][0])]
    assert np.array_equal(clip.encode_images(image), original.encode_images(image))


def test_a_folder_that_is_not_a_clip_model(head, photos, tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        with pytest.raises(ModelUnavailableError):
            fine_tune_tower(folder, head, *photos, out=tmp_path / "t")


@pytest.mark.parametrize(
    ("labels", "field", "message"),
    [
        (lambda y: y[:-1], "y", "11 rows for 12 images"),
        (lambda y: np.where(y == "tench", "goldfish", y), "y", "goldfish"),
        (lambda y: np.ones((len(y), 3)), "y", "one class label per image"),
    ],
)
def test_bad_targets_are_refused(tiny_clip_dir, head, photos, tmp_path, labels, field, message):
    with pytest.raises(ValidationError, match=message) as e:
        fine_tune_tower(tiny_clip_dir, head, photos[0], labels(photos[1]), out=tmp_path / "t")
    assert e.value.field == field


def test_an_unreadable_image_is_named(tiny_clip_dir, head, photos, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    paths = [*photos[0][:-1], bad]
    with pytest.raises(ValidationError, match=r"broken\.jpg") as e:
        fine_tune_tower(tiny_clip_dir, head, paths, photos[1], out=tmp_path / "t")
    assert e.value.field == "images"


def test_a_head_of_another_dimension_is_refused(tiny_clip_dir, photos, tmp_path):
    rng = np.random.default_rng(0)
    other = HeadClassifier(max_epochs=5).fit(rng.normal(size=(12, 8)), photos[1])
    with pytest.raises(ValidationError, match=r"8-d vectors but .* 16 dimensions") as e:
        fine_tune_tower(tiny_clip_dir, other, *photos, out=tmp_path / "t")
    assert e.value.field == "head"


def test_multi_label_fine_tuning(tiny_clip_dir, embeddings, photos, tmp_path):
    Y = (photos[1][:, None] == np.array(CLASSES)).astype(int)
    Y[0, 1] = 1  # one image in two classes
    head = HeadClassifier(multi_label=True, max_epochs=30).fit(embeddings, Y)
    result = fine_tune_tower(
        tiny_clip_dir, head, photos[0], Y, out=tmp_path / "t", max_epochs=2, learning_rate=1e-3
    )
    rows = result.history_[len(head.history_) :]
    assert len(rows) == 2 and result.multi_label
    assert 0 <= rows[-1]["train_metric"] <= 1 and rows[-1]["val_loss"] is None
    emb = ClipEmbedder.from_pretrained(str(tmp_path / "t"), device="cpu").encode_images(
        [load_rgb(p) for p in photos[0]]
    )
    assert result.predict_proba(emb).shape == (len(Y), len(CLASSES))
    with pytest.raises(ValidationError, match="indicator with the head's 3 columns"):
        fine_tune_tower(tiny_clip_dir, head, photos[0], Y[:, :2], out=tmp_path / "t")


def test_an_unfitted_head_a_bad_device_and_a_lone_validation_set_are_refused(
    tiny_clip_dir, head, photos, tmp_path
):
    with pytest.raises(ValidationError, match="not fitted") as e:
        fine_tune_tower(tiny_clip_dir, HeadClassifier(), *photos, out=tmp_path / "t")
    assert e.value.field == "head"
    with pytest.raises(ValidationError, match="unknown device"):
        fine_tune_tower(tiny_clip_dir, head, *photos, out=tmp_path / "t", device="tpu")
    with pytest.raises(ValidationError, match="come together"):
        fine_tune_tower(tiny_clip_dir, head, *photos, val_images=photos[0], out=tmp_path / "t")
