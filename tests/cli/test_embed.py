"""`tagscope embed` and `tagscope vectors import`, through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Dataset
from tagscope.service import Workspace

MakeDataset = Callable[..., Dataset]
runner = CliRunner()


def _embed_command(ws: Workspace, *args: str) -> list[str]:
    return [sys.executable, "-m", "tagscope.cli.main", "embed", *args, "-w", str(ws.paths.root)]


@pytest.mark.slow
def test_a_killed_embed_resumes_without_redoing_work(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path, tiny_clip_dir: Path
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:60]
    ds = make_dataset("coco", photos)
    command = _embed_command(
        workspace, "coco", "--kind", "clip", "--model", str(tiny_clip_dir), "--batch-size", "2"
    )
    # One torch thread: a tiny model gains nothing from more, and loses much on a busy machine.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    chunks = workspace.paths.vectors / str(ds.id) / "clip"

    proc = subprocess.Popen(
        [*command, "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600  # a busy CI machine starts torch slowly
    while not (chunks.is_dir() and any(chunks.glob("chunk-*.ids.npy"))):
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "no chunk written in 600 s"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = workspace.vectors(ds, "clip")
    n_before = len(store)
    assert 0 < n_before < 60, n_before
    # The killed run's job is left behind as it was; its work is not.
    killed_job = workspace.catalog.list_jobs(ds.id)[0]
    assert killed_job.status == "running"

    rerun = subprocess.run(
        [*command, "--json", "--quiet"], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(rerun.stdout)
    assert result["n_existing"] == n_before
    assert result["n_embedded"] == 60 - n_before
    assert result["n_skipped"] == 0
    ids, vectors = store.load()
    assert sorted(ids.tolist()) == sorted(it.id for it in workspace.catalog.iter_items(ds.id))
    assert len(set(ids.tolist())) == len(ids) == vectors.shape[0] == 60
    assert workspace.catalog.get_job(result["job_id"]).result["n_embedded"] == 60 - n_before


def test_embed_prints_a_summary_and_problems(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path, tmp_path: Path
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:3]
    copy = tmp_path / "spoiled.jpg"
    copy.write_bytes(photos[0].read_bytes())
    make_dataset("coco", [*photos, copy])
    copy.write_text("no longer a JPEG")
    ws = str(workspace.paths.root)

    out = runner.invoke(app, ["embed", "coco", "--kind", "phash", "-w", ws, "--quiet"])
    assert out.exit_code == 0, out.output
    assert "space 'phash'" in out.output
    assert "embedded 3" in out.output
    assert "skipped 1 of 4" in out.output
    assert "spoiled.jpg" in out.output

    out = runner.invoke(app, ["embed", "coco", "--space", "phash", "-w", ws, "--json", "-q"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert (result["n_existing"], result["n_embedded"], result["n_problems"]) == (3, 0, 1)


def test_embed_without_the_model_offline_gives_one_clear_error(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path
) -> None:
    make_dataset("coco", sorted((coco_mini / "val2017").glob("*.jpg"))[:1])
    out = runner.invoke(
        app,
        [
            "embed",
            "coco",
            "--model",
            "openai/clip-vit-base-patch32",
            "-w",
            str(workspace.paths.root),
        ],
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert out.exit_code == 1
    assert "Traceback" not in out.output
    assert "error:" in out.output
    assert "openai/clip-vit-base-patch32" in out.output
    assert "local folder" in out.output


def test_unknown_kind_is_an_error(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path
) -> None:
    make_dataset("coco", sorted((coco_mini / "val2017").glob("*.jpg"))[:1])
    out = runner.invoke(app, ["embed", "coco", "--kind", "dino", "-w", str(workspace.paths.root)])
    assert out.exit_code == 1
    assert "clip, text, phash" in out.output


def test_vectors_import(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path, tmp_path: Path
) -> None:
    ds = make_dataset("coco", sorted((coco_mini / "val2017").glob("*.jpg"))[:3])
    ids = np.array([it.id for it in workspace.catalog.iter_items(ds.id)])
    np.save(tmp_path / "v.npy", np.eye(3, 4, dtype=np.float32))
    np.save(tmp_path / "v.ids.npy", ids)
    ws = str(workspace.paths.root)

    out = runner.invoke(
        app, ["vectors", "import", "coco", "mine", str(tmp_path / "v.npy"), "-w", ws]
    )
    assert out.exit_code == 0, out.output
    assert "imported 3 vectors (dim 4) into space 'mine'" in out.output
    assert len(workspace.vectors(ds, "mine")) == 3

    np.save(tmp_path / "bad.npy", np.eye(3, 5, dtype=np.float32))
    np.save(tmp_path / "bad.ids.npy", ids)
    out = runner.invoke(
        app, ["vectors", "import", "coco", "mine", str(tmp_path / "bad.npy"), "-w", ws]
    )
    assert out.exit_code == 1
    assert "bad.npy: vectors have 5 dimensions, space 'mine' holds 4" in " ".join(
        out.output.split()
    )
