"""``/api/datasets/{name}/models``: train a classifier over HTTP (202, then poll the model until
ready), its statistics, thresholds, predictions on items, stop, delete, and the errors, on
coco-mini's captions (the ``text`` space)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace

URL = "/api/datasets/coco/models"


@pytest.fixture()
def client(coco_text_ws: Workspace, tmp_path: Path) -> TestClient:
    app = create_app(coco_text_ws, auth=False, allowed_hosts=["testserver"], web_dist=tmp_path)
    return TestClient(app)


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def _until_trained(client: TestClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        model = _ok(client.get(f"{URL}/{name}"))
        if model["status"] != "training" or time.monotonic() > deadline:
            return model
        time.sleep(0.1)


def test_train_poll_statistics_thresholds_predictions_delete(client: TestClient) -> None:
    body = {"name": "m1", "kind": "multi-label", "space": "text", "max_epochs": 30, "seed": 1}
    started = _ok(client.post(URL, json=body), 202)
    assert started["model"]["name"] == "m1" and started["model"]["kind"] == "multi-label"
    assert started["job"]["id"] == started["model"]["job_id"]

    model = _until_trained(client, "m1")
    assert model["status"] == "ready", model
    assert model["space"] == "text" and "person" in model["classes"]
    assert 1 <= len(model["history"]) <= 30
    assert set(model["history"][0]) >= {"epoch", "train_loss", "val_loss", "val_metric"}
    assert set(model["thresholds"]) == set(model["classes"])
    assert model["thresholds"] == model["optimized_thresholds"]
    assert [m["name"] for m in _ok(client.get(URL))] == ["m1"]
    job = _ok(client.get(f"/api/jobs/{model['job_id']}"))
    assert job["status"] == "done"

    stats = _ok(client.get(f"{URL}/m1/statistics"))
    assert set(stats["per_class"]) <= set(model["classes"])
    assert 0.0 <= stats["map"] <= 1.0
    person = stats["per_class"]["person"]
    assert person["best_threshold"] == pytest.approx(model["optimized_thresholds"]["person"])
    assert len(person["curve"]["precision"]) == len(person["curve"]["thresholds"])
    train_stats = _ok(client.get(f"{URL}/m1/statistics", params={"subset": "train"}))
    assert train_stats["map"] >= stats["map"] - 0.3  # the items it learned from

    saved = _ok(client.put(f"{URL}/m1/thresholds", json={"thresholds": {"person": 0.37}}))
    assert saved["thresholds"]["person"] == pytest.approx(0.37)
    assert _ok(client.get(f"{URL}/m1"))["thresholds"]["person"] == pytest.approx(0.37)
    reset = _ok(client.put(f"{URL}/m1/thresholds", json={"thresholds": None}))
    assert reset["thresholds"] == reset["optimized_thresholds"]

    page = _ok(client.get(f"{URL}/m1/predictions", params={"subset": "all", "limit": 5}))
    assert page["total"] == 79 and len(page["rows"]) == 5
    row = page["rows"][0]
    assert set(row["scores"]) == set(model["classes"])
    wrong = _ok(client.get(f"{URL}/m1/predictions", params={"subset": "all", "wrong": True}))
    assert all(r["wrong"] for r in wrong["rows"]) and wrong["total"] <= 79

    predicted = _ok(client.post(f"{URL}/m1/predict", json={"item_ids": [row["item_id"]]}))
    (one,) = predicted["predictions"]
    assert one["item_id"] == row["item_id"] and predicted["change_set"] is None
    assert one["scores"] == pytest.approx(row["scores"], abs=1e-5)
    body = {"item_ids": [row["item_id"]], "write_labels": True}
    written = _ok(client.post(f"{URL}/m1/predict", json=body))
    assert written["change_set"] is not None
    sql = (
        "SELECT name FROM labels WHERE source = 'prediction' AND model = 'm1' "
        f"AND item_id = {row['item_id']} ORDER BY name"
    )
    rows = _ok(client.post("/api/sql", json={"sql": sql}))["rows"]
    assert [r[0] for r in rows] == sorted(one["predicted"])

    assert client.delete(f"{URL}/m1").status_code == 204
    assert client.get(f"{URL}/m1").status_code == 404
    assert _ok(client.get(URL)) == []


def test_stop_keeps_the_best_checkpoint(client: TestClient) -> None:
    body = {
        "name": "long",
        "kind": "multi-label",
        "space": "text",
        "max_epochs": 100_000,
        "patience": 100_000,
        "time_limit": 120,
    }
    _ok(client.post(URL, json=body), 202)
    deadline = time.monotonic() + 60
    while not _ok(client.get(f"{URL}/long"))["history"] and time.monotonic() < deadline:
        time.sleep(0.05)  # stop once it has trained an epoch
    stopping = _ok(client.post(f"{URL}/long/stop"))
    assert stopping["name"] == "long"
    model = _until_trained(client, "long")
    assert model["status"] == "ready", model
    assert model["metrics"]["stop_reason"] == "stopped"
    assert 1 <= len(model["history"]) < 100_000
    assert 1 <= model["metrics"]["best_epoch"] <= len(model["history"])


def test_unknown_model_and_dataset_are_404(client: TestClient) -> None:
    for path in ("/nope", "/nope/statistics", "/nope/predictions"):
        answer = client.get(URL + path)
        assert answer.status_code == 404 and "nope" in answer.json()["message"], path
    assert client.post(f"{URL}/nope/stop").status_code == 404
    assert client.delete(f"{URL}/nope").status_code == 404
    assert client.get("/api/datasets/nowhere/models").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "kind": "regressor", "space": "text"}, "kind"),
        (
            {"name": "m", "kind": "multi-label", "space": "text", "validation": "holdout"},
            "validation",
        ),
        ({"name": "m", "kind": "multi-label", "space": "text", "validation": 1.5}, "validation"),
        (
            {"name": "m", "kind": "multi-label", "space": "text", "validation": "split"},
            "validation",
        ),
        ({"name": "m", "kind": "multi-label", "space": "nowhere"}, "space"),
        ({"name": "1 bad", "kind": "multi-label", "space": "text"}, "name"),
    ],
)
def test_bad_training_requests_are_refused(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    answer = client.post(URL, json=body)
    assert answer.status_code in (404, 422), answer.text
    assert field in (answer.json()["field"] or "") or field in answer.json()["message"]
    assert _ok(client.get(URL)) == []  # nothing was created
