"""`tagscope models ...` through the command line on coco-mini: train over the captions (``text``
space) with the learning curve shown, list, show, statistics, thresholds, stop, delete; predict
and export a single-label model of imagenette photos in a ``clip`` space (the tiny CLIP)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace
from tagscope.service import models as uc
from tagscope.service.embeddings import compute_embeddings
from tagscope.service.imports import import_images

runner = CliRunner()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, [*args, "-w", str(ws.paths.root)])


def _ok(ws: Workspace, *args: str) -> str:
    out = _run(ws, *args)
    assert out.exit_code == 0, out.output
    return out.stdout


def _json(ws: Workspace, *args: str) -> Any:
    return json.loads(_ok(ws, *args, "--json"))


def _fails(ws: Workspace, *args: str) -> str:
    out = _run(ws, *args)
    assert out.exit_code == 1, out.output
    return _flat(out.stderr)


def test_train_list_show_statistics_thresholds_delete(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    out = _run(
        ws, "models", "train", "coco", "m1", "--space", "text", "--kind", "multi-label",
        "--max-epochs", "8", "--patience", "100", "--seed", "3",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "epoch 8: loss" in out.stderr  # the learning curve, epoch by epoch
    assert "model 'm1' (multi-label" in _flat(out.stdout)
    assert "stopped by max_epochs" in _flat(out.stdout)

    (row,) = _json(ws, "models", "list", "coco")
    assert (row["name"], row["kind"], row["space"], row["status"]) == (
        "m1",
        "multi-label",
        "text",
        "ready",
    )
    assert "m1" in _ok(ws, "models", "list", "coco")
    shown = _json(ws, "models", "show", "coco", "m1")
    assert len(shown["history"]) == 8 and shown["params"]["seed"] == 3
    assert "epoch 8: loss" in _flat(_ok(ws, "models", "show", "coco", "m1"))

    stats = _json(ws, "models", "statistics", "coco", "m1")
    assert stats["per_class"]["person"]["best_threshold"] == pytest.approx(
        shown["optimized_thresholds"]["person"]
    )
    assert "mAP" in _ok(ws, "models", "statistics", "coco", "m1")

    set_ = _json(ws, "models", "threshold", "coco", "m1", "person", "0.42")
    assert set_["thresholds"]["person"] == pytest.approx(0.42)
    others = {c: t for c, t in set_["thresholds"].items() if c != "person"}
    assert others == {c: t for c, t in set_["optimized"].items() if c != "person"}
    assert uc.get_model(ws, "coco", "m1").thresholds["person"] == pytest.approx(0.42)
    assert "0.4200" in _ok(ws, "models", "threshold", "coco", "m1")
    reset = _json(ws, "models", "threshold", "coco", "m1", "--optimized")
    assert reset["thresholds"] == reset["optimized"]
    assert "give both CLASS and VALUE" in _fails(ws, "models", "threshold", "coco", "m1", "dog")

    assert "deleted model 'm1'" in _ok(ws, "models", "delete", "coco", "m1")
    assert _json(ws, "models", "list", "coco") == []
    assert "m1" in _fails(ws, "models", "show", "coco", "m1")


def test_bad_options_fail_with_one_line(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    train = ("models", "train", "coco", "m", "--space", "text")
    assert "kind" in _fails(ws, *train, "--kind", "regressor")
    assert "unknown validation split 'half'" in _fails(
        ws, *train, "--kind", "multi-label", "--validation", "half"
    )
    assert "validation" in _fails(ws, *train, "--kind", "multi-label", "--validation", "split")
    assert "fine-tuning needs a CLIP image space" in _fails(
        ws, *train, "--kind", "multi-label", "--fine-tune"
    )
    assert _json(ws, "models", "list", "coco") == []


def test_stop_from_the_cli(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    uc.start_training(
        ws, "coco", "long", kind="multi-label", space="text", max_epochs=100_000,
        patience=100_000, time_limit=120,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not uc.get_model(ws, "coco", "long").history and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "stopping model 'long'" in _ok(ws, "models", "stop", "coco", "long")
    while uc.get_model(ws, "coco", "long").status == "training" and time.monotonic() < deadline:
        time.sleep(0.05)
    model = uc.get_model(ws, "coco", "long")
    assert model.metrics["stop_reason"] == "stopped" and str(model.status) == "ready"


def test_single_label_predict_and_export_images(
    workspace: Workspace, tiny_clip_dir: Path, imagenette: Path, tmp_path: Path
) -> None:
    ws = workspace
    folder = tmp_path / "photos"
    for name in ("church", "golf_ball", "parachute"):
        (folder / name).mkdir(parents=True)
        for src in sorted((imagenette / name).glob("*.JPEG"))[:5]:
            (folder / name / src.name).write_bytes(src.read_bytes())
    import_images(ws, "photos", folder, labels_from_folders=True)
    compute_embeddings(ws, "photos", space="clip", kind="clip", model=str(tiny_clip_dir))
    said = _ok(ws, "models", "train", "photos", "pics", "--space", "clip", "--kind",
               "single-label", "--max-epochs", "3", "-q")  # fmt: skip
    assert "(single-label, 3 classes) is ready" in _flat(said) and "accuracy" in said
    images = [sorted((imagenette / n).glob("*.JPEG"))[-1] for n in ("church", "golf_ball")]
    got = _json(ws, "models", "predict", "photos", "pics", *map(str, images))
    assert (got["model"], got["kind"], got["checkpoint"]) == ("pics", "single-label", "best")
    assert [p["file"] for p in got["predictions"]] == [p.name for p in images]
    for p in got["predictions"]:
        assert set(p["scores"]) == {"church", "golf_ball", "parachute"}
        assert sum(p["scores"].values()) == pytest.approx(1.0, abs=1e-4)  # softmax
        assert len(p["predicted"]) <= 1
    last = _json(ws, "models", "predict", "photos", "pics", str(images[0]), "--last")
    assert last["checkpoint"] == "last"
    assert images[0].name in _ok(ws, "models", "predict", "photos", "pics", str(images[0]))
    missing = _run(ws, "models", "predict", "photos", "pics", "nowhere.jpg")
    assert missing.exit_code == 2 and "does not exist" in _flat(missing.output)
    (tmp_path / "notes.jpg").write_text("not an image")
    bad = _fails(ws, "models", "predict", "photos", "pics", str(tmp_path / "notes.jpg"))
    assert "cannot read image 'notes.jpg'" in bad

    out = tmp_path / "bundle"
    said = _ok(ws, "models", "export", "photos", "pics", "--out", str(out))
    assert "tagscope-predict-server" in said
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["model"], manifest["kind"], manifest["checkpoint"]) == (
        "pics",
        "single-label",
        "best",
    )
    assert manifest["classes"] == ["church", "golf_ball", "parachute"]


# SIGINT as a terminal sends it (a shell may start a background child with it ignored).
_CLI = "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); " + (
    "from tagscope.cli.main import app; sys.argv[0] = 'tagscope'; app()"
)


def test_ctrl_c_stops_training_keeping_the_best_checkpoint(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    args = ["models", "train", "coco", "long", "--space", "text", "--kind", "multi-label"]
    args += ["--max-epochs", "100000", "--patience", "100000", "--time-limit", "120"]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI, *args, "-w", str(ws.paths.root)],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            models = uc.list_models(ws, "coco")
            if models and models[0].history:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopping: the model keeps its best checkpoint" in err
    assert "stopped by stopped" in _flat(out)
    model = uc.get_model(ws, "coco", "long")
    assert (str(model.status), model.metrics["stop_reason"]) == ("ready", "stopped")
    assert 1 <= model.metrics["best_epoch"] <= len(model.history)
