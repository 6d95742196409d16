"""``tagscope-predict-server``: the exported bundle served by its own command in a subprocess,
queried over HTTP; its answers equal the app's torch path, and it never imports torch."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.live_server import free_port

from tagscope.bundle import BundlePredictor
from tagscope.media.images import load_rgb

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_FILES = 12


@pytest.fixture(scope="module")
def server(single_label_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server's base URL: ``tagscope-predict-server DIR --port P --token T`` running."""
    command = Path(sys.executable).with_name("tagscope-predict-server")
    port = free_port()
    args = [
        *(str(command), str(single_label_bundle), "--port", str(port), "--token", TOKEN),
        *("--max-files", str(MAX_FILES), "--max-file-mb", "1", "--threads", "1"),
    ]
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _post(url: str, files: list[tuple[str, bytes]], *, headers=AUTH, path="/imagenette/m1"):
    multipart = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(f"{url}/api/predict{path}", files=multipart, headers=headers, timeout=60)


def test_answers_equal_the_app(server, photos, single_label_bundle, single_label_head, tiny_clip):
    response = _post(server, photos)
    assert response.status_code == 200, response.text
    answer = response.json()
    # The in-app path: decode, the tiny CLIP's encode_images, the head's predict_proba.
    want = single_label_head.predict_proba(
        tiny_clip.encode_images([load_rgb(data) for _, data in photos])
    )
    classes = list(single_label_head.classes_)
    got = np.array([[p["scores"][c] for c in classes] for p in answer["predictions"]])
    assert [p["file"] for p in answer["predictions"]] == [name for name, _ in photos]
    assert float(np.abs(got - want).max()) <= 1e-4
    # The same JSON as in process, decisions included; "/last" is the same checkpoint.
    assert answer == BundlePredictor(single_label_bundle).predict(photos)
    assert _post(server, photos, path="/imagenette/m1/last").json() == answer
    predicted = [p["predicted"] for p in answer["predictions"]]
    assert [] in predicted and any(predicted)  # the thresholds decide both ways here


def test_the_server_process_never_imported_torch(server, photos):
    assert _post(server, photos[:2]).status_code == 200  # after predicting, not only at start
    health = httpx.get(f"{server}/api/health").json()
    assert health["status"] == "ok"
    assert (health["dataset"], health["model"], health["kind"]) == (
        "imagenette",
        "m1",
        "single-label",
    )
    assert health["torch_loaded"] is False
    assert set(health["tagscope_modules"]) <= {
        "tagscope",
        "tagscope.bundle",
        "tagscope.bundle.predictor",
        "tagscope.bundle.preprocess",
        "tagscope.bundle.server",
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
)
def test_a_token_is_required(server, photos, headers):
    response = _post(server, photos[:1], headers=headers)
    assert response.status_code == 401
    assert response.json()["message"] == "a valid bearer token is required"


@pytest.mark.parametrize(
    ("path", "field", "message"),
    [
        ("/coco/m1", "dataset", "dataset 'coco' not found"),
        ("/imagenette/m2", "model", "model 'm2' not found"),
        ("/imagenette/m2/last", "model", "model 'm2' not found"),
    ],
)
def test_other_names_are_not_found(server, photos, path, field, message):
    response = _post(server, photos[:1], path=path)
    assert response.status_code == 404
    body = response.json()
    assert body["field"] == field and body["message"].startswith(message)


def test_bad_requests_say_which_file_and_why(server, photos):
    def refused(response: httpx.Response, message: str) -> None:
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "files"
        assert message in response.json()["message"]

    broken = ("broken.jpg", photos[0][1][:300])
    refused(_post(server, [photos[0], broken]), "broken.jpg: cannot decode the image")
    refused(_post(server, [("notes.txt", b"hello")]), "notes.txt: not an image")
    other_field = httpx.post(
        f"{server}/api/predict/imagenette/m1",
        files=[("images", ("a.jpg", photos[0][1]))],
        headers=AUTH,
    )
    refused(other_field, "no 'files' field")
    not_multipart = httpx.post(
        f"{server}/api/predict/imagenette/m1", json={"files": []}, headers=AUTH
    )
    refused(not_multipart, "multipart/form-data")
    refused(_post(server, [photos[0]] * (MAX_FILES + 1)), "Too many files")
    large = ("large.png", photos[0][1] + b"\0" * (1 << 20))  # over --max-file-mb 1
    refused(_post(server, [photos[0], large]), "large.png: 1.0 MB, above this server's limit")


def test_a_detector_bundle_answers_boxes(detector_bundle, photos):
    from starlette.testclient import TestClient

    from tagscope.bundle.server import create_app

    predictor = BundlePredictor(detector_bundle)
    with TestClient(create_app(predictor)) as client:  # no token: open
        multipart = [("files", (name, data)) for name, data in photos[:3]]
        response = client.post("/api/predict/imagenette/m1/last", files=multipart)
        assert response.status_code == 200, response.text
        assert response.json() == predictor.predict(photos[:3])
        assert all("boxes" in p and "scores" not in p for p in response.json()["predictions"])
        assert client.get("/api/health").json()["kind"] == "detector"


def test_a_folder_that_is_no_bundle_stops_the_command(tmp_path, capsys):
    from tagscope.bundle.server import main

    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path)])
    assert stopped.value.code == 2
    assert "no manifest.json (not a model bundle)" in capsys.readouterr().err
