"""Models over REST: ``ts.connect(...).dataset(...).train_model`` and friends, and
``tagscope remote models | predict``, against a real server with accounts and API tokens.

The server is uvicorn on 127.0.0.1 in a thread of the test process, serving ``create_app(ws,
auth=True)`` over coco-mini's ``coco`` with its captions in a ``text`` space and its images in a
``clip`` space (the tiny random CLIP). The CLI cases share this server (training is the costly
part), so they live here rather than in ``tests/cli``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live_server import serve
from typer.testing import CliRunner

import tagscope as ts
from tagscope.cli.main import app as cli
from tagscope.domain import NotFoundError, PermissionDeniedError, TagscopeError, ValidationError
from tagscope.service import Workspace, accounts
from tagscope.service.model_predictions import predict_images

PASSWORD = "a-long-test-password"


class Server:
    def __init__(self, ws: Workspace, url: str, tokens: dict[str, str]) -> None:
        self.ws = ws
        self.url = url
        self.tokens = tokens

    def dataset(self, who: str) -> ts.RemoteDataset:
        return ts.connect(self.url, self.tokens[who]).dataset("coco")


@pytest.fixture(scope="module")
def server(
    coco_text_template: Path, tiny_clip_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The server, with tokens of eddie (editor) and vic (viewer, read-only)."""
    from tagscope.api.app import create_app
    from tagscope.service.embeddings import compute_embeddings

    root = tmp_path_factory.mktemp("remote-models") / "ws"
    shutil.copytree(coco_text_template, root)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        ws = Workspace.open(root)
        compute_embeddings(ws, "coco", space="clip", kind="clip", model=str(tiny_clip_dir))
        accounts.add_user(ws, "eddie", PASSWORD, role="editor")
        accounts.add_user(ws, "vic", PASSWORD, role="viewer")
        tokens = {
            "eddie": accounts.create_token(ws, "eddie", "sdk")[1],
            "vic": accounts.create_token(ws, "vic", "sdk", scope="read")[1],
        }
        with serve(create_app(ws, auth=True)) as url:
            yield Server(ws, url, tokens)


@pytest.fixture(scope="module")
def images(coco_mini: Path) -> list[Path]:
    return sorted((coco_mini / "val2017").glob("*.jpg"))[:2]


@pytest.fixture(scope="module")
def pics(server: Server) -> dict:
    """Model ``pics``, multi-label over the ``clip`` space, trained remotely."""
    return server.dataset("eddie").train_model(
        "pics", kind="multi-label", space="clip", max_epochs=5, poll_s=0.1
    )


def test_train_wait_statistics_thresholds_and_predict_items(server: Server) -> None:
    ds = server.dataset("eddie")
    model = ds.train_model("m1", kind="multi-label", space="text", max_epochs=30, poll_s=0.1)
    assert (model["name"], model["status"], model["kind"]) == ("m1", "ready", "multi-label")
    assert 1 <= len(model["history"]) <= 30 and model["metrics"]["n_validation"] > 0
    assert "m1" in {m["name"] for m in ds.models()}
    assert ds.model("m1")["classes"] == model["classes"]

    stats = ds.model_statistics("m1")
    assert stats["per_class"]["person"]["best_threshold"] == pytest.approx(
        model["optimized_thresholds"]["person"]
    )
    assert set(ds.model_statistics("m1", "train")["per_class"]) <= set(model["classes"])

    changed = ds.set_thresholds("m1", {**model["thresholds"], "person": 0.3})
    assert changed["thresholds"]["person"] == pytest.approx(0.3)
    item = server.ws.catalog.item_ids(server.ws.dataset("coco").id)[0]
    answer = ds.predict_items("m1", [item])
    assert answer["change_set"] is None
    (p,) = answer["predictions"]
    assert p["item_id"] == item and set(p["scores"]) == set(model["classes"])
    assert ("person" in p["predicted"]) == (p["scores"]["person"] >= 0.3)
    assert ds.set_thresholds("m1", None)["thresholds"] == model["optimized_thresholds"]
    written = ds.predict_items("m1", [item], write_labels=True)
    assert written["change_set"] is not None

    ds.delete_model("m1")
    assert "m1" not in {m["name"] for m in ds.models()}


def test_image_predictions_equal_the_services(
    server: Server, pics: dict, images: list[Path]
) -> None:
    ds = server.dataset("vic")  # predicting is reading
    a, b = images
    got = ds.predict("pics", [a, ("b.jpg", b.read_bytes())])
    want = predict_images(
        server.ws, "coco", "pics", [(a.name, a.read_bytes()), ("b.jpg", b.read_bytes())]
    )
    assert [p["file"] for p in got["predictions"]] == [a.name, "b.jpg"]
    assert got == want
    last = ds.predict("pics", [a], last=True)
    assert last["checkpoint"] == "last" and set(last["predictions"][0]["scores"]) == set(
        pics["classes"]
    )


def test_a_timeout_leaves_it_training_and_stop_keeps_the_best(server: Server) -> None:
    ds = server.dataset("eddie")
    options = {"kind": "multi-label", "space": "text", "max_epochs": 100_000, "patience": 100_000}
    with pytest.raises(TagscopeError, match="'long' of dataset 'coco' is still training"):
        ds.train_model("long", timeout=0, **options)
    assert ds.stop_model("long")["name"] == "long"
    deadline = time.monotonic() + 60
    while (model := ds.model("long"))["status"] == "training" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (model["status"], model["metrics"]["stop_reason"]) == ("ready", "stopped")
    with pytest.raises(ValidationError, match="not training"):
        ds.stop_model("long")


def test_a_viewer_may_not_train(server: Server) -> None:
    with pytest.raises(PermissionDeniedError, match=r"models\.train") as caught:
        server.dataset("vic").train_model("v", kind="multi-label", space="text")
    assert "vic" in str(caught.value) and server.tokens["vic"] not in str(caught.value)


def test_an_unknown_model_is_not_found(server: Server, images: list[Path]) -> None:
    ds = server.dataset("vic")
    with pytest.raises(NotFoundError, match="nope"):
        ds.model("nope")
    with pytest.raises(NotFoundError, match="nope"):
        ds.predict("nope", images[:1])


# -- tagscope remote models | predict ----------------------------------------------------------
def _remote(server: Server, *args: str) -> tuple[int, str, str]:
    env = {"TAGSCOPE_URL": server.url, "TAGSCOPE_TOKEN": server.tokens["vic"]}
    result = CliRunner().invoke(cli, ["remote", *args], env=env)
    return result.exit_code, result.stdout, " ".join(result.output.split())


def test_cli_lists_models(server: Server, pics: dict) -> None:
    code, stdout, out = _remote(server, "models", "coco", "--json")
    assert code == 0, out
    assert "pics" in {m["name"] for m in json.loads(stdout)}
    code, _, out = _remote(server, "models", "coco")
    assert code == 0, out
    assert "models of coco" in out and "│ pics │" in out and "│ ready │" in out


def test_cli_predicts_images(server: Server, pics: dict, images: list[Path]) -> None:
    code, stdout, out = _remote(server, "predict", "coco", "pics", *map(str, images), "--json")
    assert code == 0, out
    files = [(p.name, p.read_bytes()) for p in images]
    assert json.loads(stdout) == predict_images(server.ws, "coco", "pics", files)
    code, _, out = _remote(server, "predict", "coco", "pics", str(images[0]), "--last")
    assert code == 0, out
    assert out.startswith(f"{images[0].name}: ")
    code, _, out = _remote(server, "predict", "coco", "nope", str(images[0]))
    assert code == 1 and "error:" in out and "nope" in out
