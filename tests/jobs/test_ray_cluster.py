"""The map jobs on a two-node Ray cluster (issue 14): the head and a worker node, each in its own
network namespace (tests/jobs/ray_cluster.py), one CPU each. A driver in the head's namespace
runs a phash embedding job and a tag-scoring job with ``TAGSCOPE_RUNNER=ray`` on coco-mini's
train2017 (tests/jobs/ray_driver.py; the tag group was fitted and published on val2017 before);
they must give exactly the vectors and score tables that the local runner gives on the same
workspace, with tasks on both nodes; and when the worker node is killed mid-job, the job
completes with every row once.

The catalog is SQLite: only the driver writes it. The workers read the media files and the
vector files, which both nodes see at the same paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.jobs.ray_cluster import RayCluster, start_cluster, unavailable

from tagscope.jobs.ray_runner import _run_shard
from tagscope.service import Workspace
from tagscope.service import tags as uc
from tagscope.service.embeddings import BATCHES_PER_SHARD, phash_variant_store
from tagscope.service.sql import run_sql

DRIVER = Path(__file__).with_name("ray_driver.py")
DATASET = "coco-train"  # the jobs' dataset; the group "pets" learned on "coco"
BATCH = 2  # items per embedding batch: many small shards, so a kill lands mid-job
CHUNK = 16  # items per score part
TAGS = 3
SHARD_TASK = _run_shard.__name__  # the Ray task computing a shard of a map
DRIVER_TIMEOUT_S = 240  # a driver taking longer hangs: killed, the test fails

pytestmark = pytest.mark.usefixtures("cluster_possible")


@dataclass
class Run:
    """A driver's run: its workspace folder and its JSON summary."""

    root: Path
    out: dict[str, Any]

    def job(self, kind: str) -> dict[str, Any]:
        return self.out["jobs"][kind]

    def n_shards(self, kind: str) -> int:
        """Shards of the job's map (embedding: runs of batches, scoring: parts)."""
        n_items = self.job(kind)["result"]["n_items"]
        per_shard = {"embed": BATCH * BATCHES_PER_SHARD, "score_tags": CHUNK}[kind]
        return -(-n_items // per_shard)

    def vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ws = Workspace.open(self.root)
        store = ws.vectors(ws.dataset(DATASET), "phash")
        ids, vecs = store.load()
        var_ids, variants = phash_variant_store(store).load()
        ws.catalog.engine.dispose()
        return ids, np.asarray(vecs), var_ids, np.asarray(variants)

    def scores(self) -> list[list[Any]]:
        ws = Workspace.open(self.root)
        rows = run_sql(
            ws,
            "SELECT d.item_id, d.tag, d.score, d.decision, d.version FROM dt_pets_visual d "
            f"JOIN items i ON i.id = d.item_id WHERE i.dataset = '{DATASET}' "
            "ORDER BY d.item_id, d.tag",
            limit=100_000,
        ).rows
        ws.catalog.engine.dispose()
        return rows

    def item_ids(self) -> list[int]:
        ws = Workspace.open(self.root)
        ids = ws.catalog.item_ids(ws.dataset(DATASET).id)
        ws.catalog.engine.dispose()
        return sorted(ids)


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "BATCH": str(BATCH), "CHUNK": str(CHUNK), **extra}
    env.pop("TAGSCOPE_DATABASE_URL", None)  # the workspace's own SQLite catalog
    return env


def _copy(template: Path, folder: Path) -> Path:
    shutil.copytree(template, folder / "ws")
    return folder / "ws"


@pytest.fixture(scope="module")
def base(coco_text_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """coco-mini with captions embedded (``text``), and tag group ``pets`` fitted, published
    and made shareable on ``coco``: what each run copies."""
    root = _copy(coco_text_template, tmp_path_factory.mktemp("base"))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TAGSCOPE_DATABASE_URL", raising=False)
        mp.delenv("TAGSCOPE_RUNNER", raising=False)
        ws = Workspace.open(root)
        uc.create_group(ws, "coco", "pets", "dog\ncat\npizza", space="text")
        uc.publish_group(ws, "coco", "pets", visibility="shareable")
        ws.catalog.engine.dispose()
    return root


def _finish(proc: subprocess.Popen[str], root: Path, on_progress: Any = None) -> Run:
    """Read a driver's output to its end (killing it if it hangs); its last line is the JSON
    summary."""
    assert proc.stdout is not None and proc.stderr is not None
    watchdog = threading.Timer(DRIVER_TIMEOUT_S, proc.kill)
    watchdog.start()
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    last = ""
    try:
        for line in proc.stdout:
            if line.startswith("progress "):
                if on_progress is not None:
                    on_progress(*map(int, line.split()[1:]))
            elif line.strip():
                last = line
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:  # the test failed while reading: leave no driver behind
            proc.kill()
    reader.join(timeout=10)
    assert proc.returncode == 0, f"the driver failed ({proc.returncode}):\n{''.join(err)[-4000:]}"
    return Run(root, json.loads(last))


@pytest.fixture(scope="session")
def cluster_possible() -> None:
    """Skip where no cluster can be built, first (before the data is made for nothing)."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"no two-node Ray cluster here: {why}")
    pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    made = start_cluster()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture()
def two_nodes(cluster: RayCluster) -> RayCluster:
    """The cluster with both nodes up (a worker killed by an earlier test is started again)."""
    cluster.ensure_worker()
    return cluster


@pytest.fixture(scope="module")
def local_run(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The reference: the same driver with the local runner, on its own copy of the data."""
    root = _copy(base, tmp_path_factory.mktemp("local"))
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(root), DATASET],
        env=_env(TAGSCOPE_RUNNER="local"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run = _finish(proc, root)
    assert run.out["runner"] == "local"
    return run


def _ray_run(cluster: RayCluster, template: Path, folder: Path, on_progress: Any = None) -> Run:
    root = _copy(template, folder)
    env = cluster.env(**_env(TAGSCOPE_RUNNER="ray", TAGSCOPE_RAY_ADDRESS=cluster.address))
    proc = cluster.popen_in_head([sys.executable, str(DRIVER), str(root), DATASET], env=env)
    run = _finish(proc, root, on_progress)
    assert run.out["runner"] == "ray"
    for job in run.out["jobs"].values():
        assert job["status"] == "done" and job["params"]["runner"] == "ray"
    return run


def _nodes_finishing(run: Run, kind: str) -> set[str]:
    """The IP addresses of the nodes on which the job's tasks finished."""
    nodes = run.out["nodes"]
    return {nodes[t["node"]] for t in run.job(kind)["tasks"] if t["state"] == "finished"}


def _assert_same_data(run: Run, local: Run) -> None:
    ids, vecs, var_ids, variants = run.vectors()
    ref_ids, ref_vecs, ref_var_ids, ref_variants = local.vectors()
    assert ids.tolist() == ref_ids.tolist() == local.item_ids()
    assert var_ids.tolist() == ref_var_ids.tolist() == ids.tolist()
    assert np.array_equal(vecs, ref_vecs) and vecs.dtype == ref_vecs.dtype
    assert np.array_equal(variants, ref_variants)
    assert run.scores() == local.scores()


def _assert_every_row_once(run: Run, n_items: int) -> None:
    """Each item committed once by each job: the jobs count what they commit."""
    embed, score = run.job("embed")["result"], run.job("score_tags")["result"]
    assert (embed["n_items"], embed["n_existing"], embed["n_embedded"]) == (n_items, 0, n_items)
    assert (score["n_items"], score["n_scored"], score["n_resumed"]) == (n_items, n_items, 0)
    rows = run.scores()
    assert len(rows) == n_items * TAGS
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    assert {r[0] for r in rows} == set(run.item_ids())


def test_jobs_on_two_nodes_give_the_local_runners_vectors_and_scores(
    two_nodes: RayCluster, base: Path, local_run: Run, tmp_path: Path
) -> None:
    run = _ray_run(two_nodes, base, tmp_path)
    both = {two_nodes.head.ip, two_nodes.worker.ip}
    # The runner keeps 2 shards per CPU in flight: the head (one CPU) runs one, its raylet
    # spills the others to the worker node. Each shard ran once.
    for kind in ("embed", "score_tags"):
        assert _nodes_finishing(run, kind) == both, kind
        assert [t["attempt"] for t in run.job(kind)["tasks"]] == [0] * run.n_shards(kind)
    _assert_same_data(run, local_run)
    _assert_every_row_once(run, len(local_run.item_ids()))
    assert run.job("embed")["result"] == local_run.job("embed")["result"]


def test_a_worker_node_killed_mid_job_loses_no_row_and_doubles_none(
    two_nodes: RayCluster, base: Path, local_run: Run, tmp_path: Path
) -> None:
    progress: list[tuple[int, int]] = [(0, 0)]
    under_way = threading.Event()
    killed: list[tuple[int, int]] = []

    def kill_mid_shard() -> None:
        """Once a quarter of the items is committed, kill the worker node while it computes
        a shard (not between two)."""
        if not under_way.wait(timeout=120):
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if two_nodes.worker.computing(SHARD_TASK):
                at = progress[-1]
                if two_nodes.kill_worker() > 0:
                    killed.append(at)
                return
            time.sleep(0.005)

    def on_progress(done: int, total: int) -> None:
        progress.append((done, total))
        if done >= total // 4 > 0:
            under_way.set()

    killer = threading.Thread(target=kill_mid_shard, daemon=True)
    killer.start()
    run = _ray_run(two_nodes, base, tmp_path, on_progress)
    killer.join(timeout=5)
    assert killed, "the worker node was not seen computing a shard after a quarter of the job"
    ((done, total),) = killed
    assert 0 < done < total, "the worker was killed after the job had finished"
    # The worker node had finished shards before it died; the shards it was computing were lost
    # with it and computed again on the head, which also did every shard after.
    tasks = run.job("embed")["tasks"]
    nodes = run.out["nodes"]
    assert two_nodes.worker.ip in _nodes_finishing(run, "embed")
    lost = {t["task"] for t in tasks if t["state"] == "failed"}
    assert lost, "no shard was lost with the worker node"
    assert {nodes[t["node"]] for t in tasks if t["task"] in lost and t["attempt"] == 0} == {
        two_nodes.worker.ip
    }
    redone = [t for t in tasks if t["task"] in lost and t["state"] == "finished"]
    assert len(redone) == len(lost) and {nodes[t["node"]] for t in redone} == {two_nodes.head.ip}
    assert len({t["task"] for t in tasks}) == run.n_shards("embed")
    assert _nodes_finishing(run, "score_tags") == {two_nodes.head.ip}
    _assert_every_row_once(run, len(local_run.item_ids()))
    _assert_same_data(run, local_run)
