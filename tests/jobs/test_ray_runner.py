"""The Ray runner on a local Ray (one per module, 2 CPUs): map order, a worker lost mid-shard,
and embedding and tag scoring equal to the local runner's."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.domain import Dataset, JobStatus, ValidationError
from tagscope.jobs import LocalRunner, make_runner
from tagscope.jobs.ray_runner import RayRunner
from tagscope.service import Workspace, tag_scoring
from tagscope.service import tags as uc
from tagscope.service.embeddings import compute_embeddings, phash_variant_store

ray = pytest.importorskip("ray")

MakeDataset = Callable[..., Dataset]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray for the module; its workers unpickle this module's tasks by value (they
    cannot import a test module)."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture()
def one_torch_thread() -> Iterator[None]:
    """The driver's torch on one thread, as a Ray worker's is (Ray sets ``OMP_NUM_THREADS`` to
    a task's CPUs): a model's float32 results on a batch of one or two can differ in the last
    bit between thread counts (~1e-7), which a float16 vector may keep."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _on_ray(ws: Workspace) -> Workspace:
    return dataclasses.replace(ws, runner=RayRunner(ws.catalog))


@dataclasses.dataclass(frozen=True)
class SlowSquare:
    """Shard n -> [n*n, -n], after a random pause: later shards often finish first."""

    def __call__(self, n: int) -> list[int]:
        time.sleep(random.random() * 0.05)
        return [n * n, -n]


@dataclasses.dataclass(frozen=True)
class DiesOnceOn:
    """Kills its own worker process on shard ``victim`` the first time (a marker file says it
    happened), as a node lost mid-shard; the retry then succeeds."""

    victim: int
    marker: str

    def __call__(self, n: int) -> Iterator[int]:
        yield n
        if n == self.victim and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)
        yield 1000 + n


def test_map_yields_every_result_in_shard_order(workspace: Workspace) -> None:
    runner = RayRunner(workspace.catalog)
    shards = list(range(30))
    expected = list(LocalRunner(workspace.catalog).map(SlowSquare(), shards))
    assert list(runner.map(SlowSquare(), shards)) == expected
    assert expected[:4] == [0, 0, 1, -1]


def test_a_worker_killed_mid_shard_is_retried_and_each_result_comes_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    task = DiesOnceOn(victim=5, marker=str(marker))
    got = list(RayRunner(workspace.catalog).map(task, range(12)))
    assert marker.exists()  # the worker did die
    assert got == [x for n in range(12) for x in (n, 1000 + n)]


def _refuses_three(n: int) -> list[int]:
    if n == 3:
        raise ValidationError(f"shard {n} is bad", field="shard")
    return [n]


def test_a_tasks_own_error_is_raised_as_itself_and_recorded_on_the_job(
    workspace: Workspace,
) -> None:
    runner = RayRunner(workspace.catalog)

    def work(report):  # type: ignore[no-untyped-def]
        return {"n": len(list(runner.map(_refuses_three, range(6))))}

    with pytest.raises(ValidationError, match=r"^shard 3 is bad$"):
        runner.run("demo", None, {}, work)
    (job,) = workspace.catalog.list_jobs()
    assert (job.status, job.error, job.params) == (
        JobStatus.ERROR,
        "shard 3 is bad",
        {"runner": "ray"},
    )


def _vectors(ws: Workspace, name: str, space: str) -> tuple[np.ndarray, np.ndarray]:
    return ws.vectors(ws.dataset(name), space).load()


def _embed_both(
    ws: Workspace, make_dataset: MakeDataset, paths: list[Path], **embed: object
) -> tuple[Workspace, dict]:
    """Datasets ``local`` and ``ray`` of the same files (and texts), embedded by each runner."""
    texts, spoil = embed.pop("texts", None), embed.pop("spoil", None)
    make_dataset("local", paths, texts)
    make_dataset("ray", paths, texts)
    if callable(spoil):
        spoil()  # files change after their import
    local = compute_embeddings(ws, "local", **embed)  # type: ignore[arg-type]
    on_ray = compute_embeddings(_on_ray(ws), "ray", **embed)  # type: ignore[arg-type]
    assert (local.params["runner"], on_ray.params["runner"]) == ("local", "ray")
    assert on_ray.status is JobStatus.DONE
    drop = ("n_existing",)
    assert {k: v for k, v in on_ray.result.items() if k not in drop and k != "problems"} == {
        k: v for k, v in local.result.items() if k not in drop and k != "problems"
    }
    return ws, on_ray.result


def _same_rows(ws: Workspace, space: str) -> tuple[np.ndarray, np.ndarray]:
    """Both datasets' vectors, row by row (their items were added in the same order)."""
    (ids_a, a), (ids_b, b) = _vectors(ws, "local", space), _vectors(ws, "ray", space)
    assert len(ids_a) == len(ids_b) > 0
    return np.asarray(a), np.asarray(b)


def test_phash_embedding_on_ray_equals_the_local_runner(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:23]
    _embed_both(workspace, make_dataset, photos, kind="phash", batch_size=2)  # 3 shards
    a, b = _same_rows(workspace, "phash")
    np.testing.assert_array_equal(a, b)
    va = phash_variant_store(workspace.vectors(workspace.dataset("local"), "phash")).load()[1]
    vb = phash_variant_store(workspace.vectors(workspace.dataset("ray"), "phash")).load()[1]
    np.testing.assert_array_equal(va, vb)


def test_text_embedding_on_ray_equals_the_local_runner_with_its_skips(
    workspace: Workspace,
    make_dataset: MakeDataset,
    coco_mini: Path,
    coco_captions: dict,
    one_torch_thread: None,
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:20]
    texts = [coco_captions.get(p.name) if i % 4 else None for i, p in enumerate(photos)]
    _, result = _embed_both(workspace, make_dataset, photos, kind="text", batch_size=3, texts=texts)
    assert result["skipped"] == {"no text": sum(not t for t in texts)} and result["n_embedded"] > 5
    a, b = _same_rows(workspace, "text")
    np.testing.assert_array_equal(a, b)


def test_clip_embedding_on_ray_equals_the_local_runner(
    workspace: Workspace,
    make_dataset: MakeDataset,
    coco_mini: Path,
    tiny_clip_dir: Path,
    one_torch_thread: None,
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:10]
    broken = workspace.paths.root / "broken.jpg"
    broken.write_bytes(photos[0].read_bytes())
    _, result = _embed_both(
        workspace,
        make_dataset,
        [*photos, broken],
        spoil=lambda: broken.write_bytes(photos[0].read_bytes()[:1500]),
        kind="clip",
        model=str(tiny_clip_dir),
        batch_size=2,
        device="cpu",
    )
    assert result["n_problems"] == 1 and result["problems"][0]["path"] == str(broken)
    a, b = _same_rows(workspace, "clip")
    np.testing.assert_array_equal(a, b)  # float16 storage: the same bits across processes


def test_embedding_on_ray_resumes_after_what_is_stored(
    workspace: Workspace, make_dataset: MakeDataset, coco_mini: Path
) -> None:
    photos = sorted((coco_mini / "val2017").glob("*.jpg"))[:12]
    make_dataset("d", photos)
    ws = _on_ray(workspace)
    compute_embeddings(ws, "d", kind="phash", batch_size=4)
    store = ws.vectors(ws.dataset("d"), "phash")
    ids, _ = store.load()
    store.remove(ids[5:])
    again = compute_embeddings(ws, "d", kind="phash", batch_size=4)
    assert (again.result["n_existing"], again.result["n_embedded"]) == (5, 7)
    assert len(store.load()[0]) == 12


def _copy(template: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    shutil.copytree(template, root)
    return Workspace.open(root)


def test_scoring_on_ray_writes_the_local_runners_score_tables(
    coco_text_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _copy(coco_text_template, tmp_path / "ws", monkeypatch)
    uc.create_group(ws, "coco", "pets", "dog\ncat")
    local = uc.publish_group(ws, "coco", "pets", chunk_size=10)
    tables = tag_scoring.score_tables(ws)
    ds = ws.dataset("coco")
    ids, tags, scores = tables.load(ds.id, "pets", 1)
    # The same version scored again, by Ray workers: its files gone, publishing rescores it.
    shutil.rmtree(tables.path(ds.id, "pets", 1))
    on_ray = uc.publish_group(_on_ray(ws), "coco", "pets", chunk_size=10)
    assert (local.params["runner"], on_ray.params["runner"]) == ("local", "ray")
    assert on_ray.result["version"] == 1 and on_ray.result["n_scored"] == len(ids) == 79
    ray_ids, ray_tags, ray_scores = tables.load(ds.id, "pets", 1)
    assert ray_tags == tags == ["dog", "cat"]
    np.testing.assert_array_equal(ray_ids, ids)
    np.testing.assert_array_equal(ray_scores, scores)
    n_parts = len(list(tables.path(ds.id, "pets", 1).glob("part-*.parquet")))
    assert n_parts == 8


def test_scoring_on_ray_resumes_the_parts_left(
    coco_text_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _copy(coco_text_template, tmp_path / "ws", monkeypatch)
    uc.create_group(ws, "coco", "pets", "dog")
    real, calls = tag_scoring.score_matrix, []

    def fails_on_the_third_part(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    with monkeypatch.context() as m:  # a local run dies after two of its four parts
        m.setattr(tag_scoring, "score_matrix", fails_on_the_third_part)
        with pytest.raises(RuntimeError, match="power cut"):
            uc.publish_group(ws, "coco", "pets", chunk_size=20)
    job = uc.publish_group(_on_ray(ws), "coco", "pets", chunk_size=20)
    assert (job.params["runner"], job.result["n_resumed"], job.result["n_scored"]) == (
        "ray",
        40,
        39,
    )
    ds = ws.dataset("coco")
    ids, _, scores = tag_scoring.score_tables(ws).load(ds.id, "pets", 1)
    X = ws.vectors(ds, "text").load()[1]
    assert len(ids) == 79 and np.isfinite(scores).all() and len(X) == 79


def test_cli_runner_option_runs_the_job_on_ray(
    workspace: Workspace,
    make_dataset: MakeDataset,
    coco_mini: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_dataset("d", sorted((coco_mini / "val2017").glob("*.jpg"))[:4])
    monkeypatch.setenv("TAGSCOPE_RUNNER", "local")  # restored after: the option sets it
    w = ["-w", str(workspace.paths.root)]
    result = CliRunner().invoke(app, ["--runner", "ray", "embed", "d", "--kind", "phash", *w])
    assert result.exit_code == 0, result.output
    (job,) = workspace.catalog.list_jobs()
    assert (job.kind, job.status, job.params["runner"]) == ("embed", JobStatus.DONE, "ray")
    assert os.environ["TAGSCOPE_RUNNER"] == "ray"


def test_make_runner_gives_the_ray_runner_its_address(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGSCOPE_RUNNER", "ray")
    monkeypatch.setenv("TAGSCOPE_RAY_ADDRESS", "ray://head:10001")
    runner = make_runner(workspace.catalog)
    assert isinstance(runner, RayRunner) and runner.address == "ray://head:10001"
    assert make_runner(workspace.catalog, "ray", "head:6379").address == "head:6379"
    monkeypatch.setenv("TAGSCOPE_RAY_ADDRESS", "local")
    assert make_runner(workspace.catalog).address is None  # a local Ray, on demand
    assert Workspace.open(workspace.paths.root).runner.name == "ray"
