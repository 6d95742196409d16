"""Model use cases on a workspace like the demo's: coco-mini with its COCO labels and captions in
the ``text`` space (MiniLM), trained end to end through the service."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tagscope.domain import AlreadyExistsError, JobStatus, NotFoundError, ValidationError
from tagscope.domain.models import ModelStatus
from tagscope.service import Workspace, history, model_predictions, models, splits
from tagscope.service.background import in_background
from tagscope.store.models import ModelCatalog

FAST = {"max_epochs": 60, "patience": 5}


@pytest.fixture()
def trained(coco_text_ws: Workspace) -> Workspace:
    seen: list[tuple[int, int]] = []
    model, _ = models.train_model(
        coco_text_ws, "coco", "objects", kind="multi-label", space="text", min_examples=4,
        progress=lambda done, total: seen.append((done, total)), **FAST,
    )  # fmt: skip
    # Progress counts epochs, one report each, out of the maximum.
    assert [d for d, _ in seen] == list(range(1, len(model.history) + 1))
    assert {t for _, t in seen} == {FAST["max_epochs"]}
    return coco_text_ws


def test_a_multi_label_model_trains_to_ready_with_statistics_and_thresholds(
    trained: Workspace,
) -> None:
    model = models.get_model(trained, "coco", "objects")
    assert model.status == ModelStatus.READY
    assert "person" in model.classes and len(model.classes) >= 3
    assert model.thresholds == model.optimized_thresholds
    assert set(model.thresholds) == set(model.classes)
    assert model.history and model.history[-1]["epoch"] >= model.metrics["best_epoch"]
    assert model.metrics["stop_reason"] in ("early_stopping", "max_epochs")
    assert model.metrics["n_train"] + model.metrics["n_validation"] <= 79
    folder = models.files_of(trained, model).folder
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "best.pt", "last.pt", "predictions.parquet", "statistics.json"
    ]  # fmt: skip
    stats = models.model_statistics(trained, "coco", "objects", subset="validation")
    assert 0 < stats["map"] <= 1
    person = stats["per_class"]["person"]
    assert len(person["curve"]["thresholds"]) == len(person["curve"]["precision"]) <= 101
    assert model.thresholds["person"] == pytest.approx(person["best_threshold"])
    train = models.model_statistics(trained, "coco", "objects", subset="train")
    assert train["map"] >= stats["map"] - 0.2  # it saw these: no worse by much
    with pytest.raises(ValidationError, match="unknown subset"):
        models.model_statistics(trained, "coco", "objects", subset="test")


def test_thresholds_are_data_and_decide_predictions_and_sql_at_once(trained: Workspace) -> None:
    page = model_predictions.list_predictions(trained, "coco", "objects", subset="validation")
    assert page["total"] == models.get_model(trained, "coco", "objects").metrics["n_validation"]
    with trained.sql_engine().session() as s:
        before = s.execute(
            "SELECT count(*) FROM pred_objects WHERE class = 'person' AND decision"
        ).rows[0][0]
        n_items = s.execute("SELECT count(DISTINCT item_id) FROM pred_objects").rows[0][0]
    assert n_items == len(trained.vectors(trained.dataset("coco"), "text").load()[0])
    models.set_thresholds(trained, "coco", "objects", {"person": 0.0})
    assert models.get_model(trained, "coco", "objects").thresholds["person"] == 0.0
    with trained.sql_engine().session() as s:
        after = s.execute(
            "SELECT count(*), min(threshold) FROM pred_objects WHERE class = 'person' AND decision"
        ).rows[0]
    assert after == (n_items, 0.0) and after[0] >= before
    page = model_predictions.list_predictions(trained, "coco", "objects", subset="all")
    assert all("person" in r["predicted"] for r in page["rows"])
    models.set_thresholds(trained, "coco", "objects", None)
    model = models.get_model(trained, "coco", "objects")
    assert model.thresholds == model.optimized_thresholds
    with pytest.raises(ValidationError, match="no class 'zebra-x'"):
        models.set_thresholds(trained, "coco", "objects", {"zebra-x": 0.5})
    with pytest.raises(ValidationError, match=r"in \[0, 1\]"):
        models.set_thresholds(trained, "coco", "objects", {"person": 1.5})


def test_wrong_only_keeps_the_items_whose_predictions_differ_from_their_labels(
    trained: Workspace,
) -> None:
    every = model_predictions.list_predictions(trained, "coco", "objects", limit=1000)
    wrong = model_predictions.list_predictions(trained, "coco", "objects", wrong=True, limit=1000)
    assert 0 < wrong["total"] < every["total"]
    assert all(sorted(r["truth"]) != sorted(r["predicted"]) for r in wrong["rows"])
    right = [r for r in every["rows"] if not r["wrong"]]
    assert all(sorted(r["truth"]) == sorted(r["predicted"]) for r in right)
    person = model_predictions.list_predictions(trained, "coco", "objects", class_name="person")
    assert all("person" in r["truth"] + r["predicted"] for r in person["rows"])


def test_predictions_written_back_as_labels_are_one_undoable_change_set(
    trained: Workspace,
) -> None:
    ids = sorted(trained.vectors(trained.dataset("coco"), "text").load()[0][:5].tolist())
    models.set_thresholds(trained, "coco", "objects", {"person": 0.0})
    out = model_predictions.predict_items(trained, "coco", "objects", ids, write_labels=True)
    assert out["change_set"] is not None
    assert [p["item_id"] for p in out["predictions"]] == ids
    with trained.sql_engine().session() as s:
        rows = s.execute(
            "SELECT item_id, name, score FROM labels WHERE source = 'prediction' "
            "AND model = 'objects' ORDER BY item_id, name"
        ).rows
    expected = sorted(
        (p["item_id"], c, p["scores"][c]) for p in out["predictions"] for c in p["predicted"]
    )
    assert [(i, n) for i, n, _ in rows] == [(i, n) for i, n, _ in expected]
    assert all(math.isclose(a[2], b[2], rel_tol=1e-6) for a, b in zip(rows, expected, strict=True))
    assert ("person" in {n for _, n, _ in rows}) is True
    # Predicting again changes nothing: no second change-set.
    again = model_predictions.predict_items(trained, "coco", "objects", ids, write_labels=True)
    assert again["change_set"] is None
    history.undo(trained, "coco", out["change_set"])
    with trained.sql_engine().session() as s:
        n = s.execute("SELECT count(*) FROM labels WHERE source = 'prediction'").rows[0][0]
    assert n == 0


def test_a_single_label_model_uses_main_classifications_and_background(
    coco_text_ws: Workspace,
) -> None:
    ws = coco_text_ws
    with pytest.raises(ValidationError, match="no items with classification labels"):
        models.train_model(ws, "coco", "single", kind="single-label", space="text", **FAST)
    # Items with a classification "has-person" against unlabelled background items.
    from tagscope.domain import Label, LabelKind
    from tagscope.service import labels

    ids = ws.vectors(ws.dataset("coco"), "text").load()[0].tolist()
    for i in ids[:20]:
        labels.add_label(ws, "coco", i, Label(LabelKind.CLASSIFICATION, "street"))
    with pytest.raises(ValidationError, match="at least two classes"):
        models.train_model(ws, "coco", "single", kind="single-label", space="text", **FAST)
    model, job = models.train_model(
        ws, "coco", "single", kind="single-label", space="text", background=True, **FAST
    )
    assert job.status == JobStatus.DONE
    assert model.classes == ("background", "street")
    stats = models.model_statistics(ws, "coco", "single")
    assert 0 <= stats["accuracy"] <= 1
    matrix = np.array(stats["confusion_matrix"])
    assert matrix.shape == (2, 2) and matrix.sum() == model.metrics["n_validation"]
    with ws.sql_engine().session() as s:
        (n_top,) = s.execute("SELECT count(*) FROM pred_single WHERE top").rows[0]
    assert n_top == len(ids)  # one argmax class per item


def test_bad_requests_name_what_is_wrong(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    with pytest.raises(ValidationError, match="unknown model kind"):
        models.train_model(ws, "coco", "m", kind="regression", space="text")
    with pytest.raises(ValidationError, match="unknown validation split 'holdout'"):
        models.train_model(ws, "coco", "m", kind="multi-label", space="text", validation="holdout")
    with pytest.raises(ValidationError, match="between 0 and 1"):
        models.train_model(ws, "coco", "m", kind="multi-label", space="text", validation=1.5)
    with pytest.raises(ValidationError, match="in the validation set"):
        models.train_model(ws, "coco", "m", kind="multi-label", space="text", validation="split")
    with pytest.raises(NotFoundError, match="no embedding space 'nope'"):
        models.train_model(ws, "coco", "m", kind="multi-label", space="nope")
    with pytest.raises(ValidationError, match="needs an embedding space"):
        models.train_model(ws, "coco", "m", kind="multi-label")
    with pytest.raises(ValidationError, match="model name"):
        models.train_model(ws, "coco", "1 bad", kind="multi-label", space="text")
    with pytest.raises(ValidationError, match="learning_rate must be a positive number"):
        models.train_model(ws, "coco", "m", kind="multi-label", space="text", learning_rate=-1)
    with pytest.raises(NotFoundError, match="has no model 'ghost'"):
        models.get_model(ws, "coco", "ghost")
    assert models.list_models(ws, "coco") == []


def test_the_user_defined_validation_set_is_used(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    ids = ws.vectors(ws.dataset("coco"), "text").load()[0].tolist()
    splits.set_split(ws, "coco", ids[::3], "validation")
    model, _ = models.train_model(
        ws, "coco", "m", kind="multi-label", space="text", validation="split", min_examples=4,
        **FAST,
    )  # fmt: skip
    page = model_predictions.list_predictions(ws, "coco", "m", subset="validation", limit=1000)
    assert {r["item_id"] for r in page["rows"]} <= set(ids[::3])
    assert page["total"] == model.metrics["n_validation"]


def test_a_name_in_use_needs_restart_which_trains_a_new_version(trained: Workspace) -> None:
    with pytest.raises(AlreadyExistsError, match="--restart"):
        models.train_model(trained, "coco", "objects", kind="multi-label", space="text")
    model, _ = models.train_model(
        trained, "coco", "objects", kind="multi-label", space="text", restart=True,
        min_examples=4, **FAST,
    )  # fmt: skip
    assert model.version == 2 and model.status == ModelStatus.READY
    with trained.sql_engine().session() as s:
        assert s.execute("SELECT DISTINCT version FROM pred_objects").rows == [(2,)]
    models.delete_model(trained, "coco", "objects")
    assert models.list_models(trained, "coco") == []
    with trained.sql_engine().session() as s:
        assert "pred_objects" not in s.tables()


def test_stop_ends_training_at_the_next_epoch_keeping_the_best(coco_text_ws: Workspace) -> None:
    ws = in_background(coco_text_ws)
    model, job = models.train_model(
        ws, "coco", "long", kind="multi-label", space="text", min_examples=4,
        max_epochs=10**6, patience=10**6, time_limit=120,
    )  # fmt: skip
    catalog = ModelCatalog(ws.catalog)
    deadline = time.monotonic() + 60
    while not catalog.get(model.dataset_id, "long").history and time.monotonic() < deadline:
        time.sleep(0.05)
    models.stop_model(ws, "coco", "long")
    while ws.catalog.get_job(job.id).status in (JobStatus.QUEUED, JobStatus.RUNNING):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    done = models.get_model(ws, "coco", "long")
    assert done.status == ModelStatus.READY, done.error
    assert done.metrics["stop_reason"] == "stopped"
    assert done.history[-1]["epoch"] < 10**6
    with pytest.raises(ValidationError, match="is not training"):
        models.stop_model(ws, "coco", "long")


_KILLED = """
import sys
from tagscope.service import Workspace, models
ws = Workspace.open(sys.argv[1])
models.train_model(ws, "coco", "killed", kind="multi-label", space="text", min_examples=4,
                   max_epochs=10**6, patience=10**6, time_limit=600)
"""


def test_a_training_killed_mid_way_resumes_where_it_stopped(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    root = str(ws.paths.root)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_KILLED), root], env=env)
    catalog = ModelCatalog(ws.catalog)
    ds = ws.dataset("coco")
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            found = [m for m in catalog.list(ds.id) if m.name == "killed"]
            if found and len(found[0].history) >= 3:
                break
            assert proc.poll() is None, "the trainer ended on its own"
            time.sleep(0.05)
        # Refused while that process trains it: one trainer per model.
        with pytest.raises(ValidationError, match="being trained now"):
            models.train_model(ws, "coco", "killed", kind="multi-label", space="text")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = catalog.get(ds.id, "killed")
    assert left.status == ModelStatus.TRAINING
    epochs_before = len(left.history)
    assert Path(models.files_of(ws, left).folder / "state.pt").is_file()
    with pytest.raises(ValidationError, match="other parameters"):
        models.train_model(ws, "coco", "killed", kind="multi-label", space="text")

    # The same call resumes; stop it soon after from another thread to bound the test.
    def stop_soon() -> None:
        while len(catalog.get(ds.id, "killed").history) <= epochs_before + 2:
            time.sleep(0.02)
        catalog.request_stop(ds.id, "killed")

    stopper = threading.Thread(target=stop_soon, daemon=True)
    stopper.start()
    model, job = models.train_model(
        ws, "coco", "killed", kind="multi-label", space="text", min_examples=4,
        max_epochs=10**6, patience=10**6, time_limit=600,
    )  # fmt: skip
    assert job.status == JobStatus.DONE and model.status == ModelStatus.READY
    epochs = [row["epoch"] for row in model.history]
    assert epochs == list(range(1, len(epochs) + 1))  # continued, not restarted
    assert len(epochs) > epochs_before


TINY_DETECTOR = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "num_detection_tokens": 10,
}


def test_a_detector_trains_on_a_filtered_selection_and_predicts_boxes(
    coco_text_ws: Workspace,
) -> None:
    ws = coco_text_ws
    ids = sorted(it.id for it in ws.catalog.iter_items(ws.dataset("coco").id))[:12]
    where = f"id IN ({', '.join(map(str, ids))})"
    model, job = models.train_model(
        ws, "coco", "boxes", kind="detector", where=where, max_epochs=2, patience=10,
        architecture=TINY_DETECTOR, image_size=64, validation=0.25, min_examples=1,
        learning_rate=1e-3,
    )  # fmt: skip
    assert job.status == JobStatus.DONE, job.error
    assert model.status == ModelStatus.READY and model.space is None
    assert [row["epoch"] for row in model.history] == [1, 2]
    assert model.metrics["n_train"] + model.metrics["n_validation"] <= 12
    folder = models.files_of(ws, model).folder
    assert (folder / "best").is_dir() and (folder / "last").is_dir()
    assert not (folder / "state").exists()  # finished: nothing left to resume
    stats = models.model_statistics(ws, "coco", "boxes")
    assert 0 <= stats["map"] <= 1 and set(stats["per_class"]) <= set(model.classes)
    # Every box counts at threshold 0: predictions of training items hold boxes in the image.
    models.set_thresholds(ws, "coco", "boxes", dict.fromkeys(model.classes, 0.0))
    page = model_predictions.list_predictions(ws, "coco", "boxes", subset="all", limit=1000)
    assert page["total"] == model.metrics["n_train"] + model.metrics["n_validation"]
    items = ws.catalog.get_items([r["item_id"] for r in page["rows"]])
    for row in page["rows"]:
        assert row["scores"] is None and set(row["predicted"]) <= set(model.classes)
        it = items[row["item_id"]]
        for box in row["boxes"]:
            x, y, w, h = box["bbox"]
            assert 0 <= x <= x + w <= it.media.width + 1e-3
            assert 0 <= y <= y + h <= it.media.height + 1e-3
    path = Path(items[ids[0]].path)
    answer = model_predictions.predict_images(ws, "coco", "boxes", [(path.name, path.read_bytes())])
    assert answer["kind"] == "detector" and answer["predictions"][0]["file"] == path.name
    assert "boxes" in answer["predictions"][0]
    last = model_predictions.predict_images(
        ws, "coco", "boxes", [(path.name, path.read_bytes())], checkpoint="last"
    )
    assert last["checkpoint"] == "last"
    with ws.sql_engine().session() as s:
        (n_boxes,) = s.execute("SELECT count(*) FROM pred_boxes WHERE bbox IS NOT NULL").rows[0]
    assert n_boxes == sum(len(r["boxes"]) for r in page["rows"])


def test_a_fine_tuned_tower_predicts_in_the_app_and_in_its_bundle_alike(
    workspace: Workspace, imagenette: Path, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    from tagscope.bundle.predictor import BundlePredictor
    from tagscope.service.embeddings import compute_embeddings
    from tagscope.service.imports import import_images

    photos = tmp_path / "photos"
    for label in ("church", "tench", "parachute"):
        (photos / label).mkdir(parents=True)
        for src in sorted((imagenette / label).iterdir())[:5]:
            (photos / label / src.name).write_bytes(src.read_bytes())
    import_images(workspace, "pics", photos, labels_from_folders=True, thumbnails=False)
    compute_embeddings(workspace, "pics", space="clip", kind="clip", model=str(tiny_clip_dir))
    compute_embeddings(workspace, "pics", kind="phash")
    with pytest.raises(ValidationError, match="fine-tuning needs a CLIP image space"):
        models.train_model(
            workspace, "pics", "x", kind="single-label", space="phash", fine_tune=True
        )
    model, job = models.train_model(
        workspace, "pics", "tuned", kind="single-label", space="clip", fine_tune=True,
        max_epochs=20, validation=0.34,
    )  # fmt: skip
    assert job.status == JobStatus.DONE and model.status == ModelStatus.READY, model.error
    assert model.params["fine_tune"] is True
    tower = model_predictions.tuned_tower(workspace, model)
    assert tower is not None and (tower / "config.json").is_file()
    ids = sorted(it.id for it in workspace.catalog.iter_items(workspace.dataset("pics").id))
    with workspace.sql_engine().session() as s:
        assert s.execute("SELECT count(DISTINCT item_id) FROM pred_tuned").rows[0][0] == len(ids)
    # Items are predicted from the tuned tower's vectors, uploads through the tuned tower.
    items = model_predictions.predict_items(workspace, "pics", "tuned", ids[:3])
    paths = [workspace.catalog.get_item(i).path for i in ids[:3]]
    files = [(Path(p).name, Path(p).read_bytes()) for p in paths]
    app = model_predictions.predict_images(workspace, "pics", "tuned", files)
    for a, b in zip(items["predictions"], app["predictions"], strict=True):
        for c in model.classes:  # stored vectors are float16: close, not equal
            assert a["scores"][c] == pytest.approx(b["scores"][c], abs=5e-3)
    bundle = models.export_model(workspace, "pics", "tuned", tmp_path / "bundle")
    offline = BundlePredictor(bundle).predict(files)
    for a, b in zip(app["predictions"], offline["predictions"], strict=True):
        assert a["predicted"] == b["predicted"]
        for c in model.classes:
            assert a["scores"][c] == pytest.approx(b["scores"][c], abs=1e-4)
