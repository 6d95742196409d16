"""A job's driver for the cluster tests: ``python ray_driver.py WORKSPACE DATASET``.

Runs, with the runner ``$TAGSCOPE_RUNNER`` chooses, the two map jobs of the cluster test on the
dataset ``DATASET`` of the workspace: a ``phash`` embedding (batches of ``$BATCH`` items), then
the scoring of the published, shareable tag group ``pets`` applied to it (parts of ``$CHUNK``
items). Prints ``progress N TOTAL`` lines as the embedding job goes, then one JSON line: the
runner's name, each job's status, result and seconds, and, under Ray, where each job's tasks
ran (the cluster's task events: every attempt of every task, with its node and final state)
and the cluster's nodes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tagscope.domain import Job
from tagscope.service import Workspace, tag_scoring
from tagscope.service.embeddings import compute_embeddings


def _progress(done: int, total: int) -> None:
    print(f"progress {done} {total}", flush=True)


def task_attempts(ray: Any) -> list[dict[str, Any]]:
    """Every attempt of every task of this driver's Ray job: its node and final state."""
    from ray._private.state import state
    from ray.core.generated import common_pb2

    job = ray.get_runtime_context().get_job_id()
    finished, failed = common_pb2.TaskStatus.FINISHED, common_pb2.TaskStatus.FAILED
    attempts = []
    for event in state._get_all_task_events():
        info, update = event.task_info, event.state_updates
        if info.job_id.hex() != job or info.type != common_pb2.TaskType.NORMAL_TASK:
            continue
        states = set(update.state_ts_ns)
        attempts.append(
            {
                "task": event.task_id.hex(),
                "attempt": event.attempt_number,
                "node": update.node_id.hex(),
                "state": "finished" if finished in states else "failed" if failed in states else "",
            }
        )
    return attempts


def _tasks_since(seen: set[str]) -> list[dict[str, Any]]:
    """The attempts of the tasks this driver started since those in ``seen`` (added to it)."""
    import ray

    time.sleep(1.0)  # the workers report their task events every 200 ms (ray_cluster.RAY_ENV)
    new = [t for t in task_attempts(ray) if t["task"] not in seen]
    seen.update(t["task"] for t in new)
    return new


def main(root: Path, dataset: str) -> None:
    ws = Workspace.open(root)
    on_ray = ws.runner.name == "ray"
    seen: set[str] = set()
    jobs: dict[str, Any] = {}

    def record(job: Job, start: float) -> None:
        jobs[job.kind] = {
            "status": str(job.status),
            "params": job.params,
            "result": job.result,
            "seconds": round(time.monotonic() - start, 2),
        }
        if on_ray:
            jobs[job.kind]["tasks"] = _tasks_since(seen)

    start = time.monotonic()
    batch = int(os.environ["BATCH"])
    record(
        compute_embeddings(
            ws, dataset, space="phash", kind="phash", batch_size=batch, progress=_progress
        ),
        start,
    )
    start = time.monotonic()
    chunk = int(os.environ["CHUNK"])
    record(tag_scoring.apply_group(ws, dataset, "pets", chunk_size=chunk), start)
    out: dict[str, Any] = {"runner": ws.runner.name, "jobs": jobs}
    if on_ray:
        import ray

        out["nodes"] = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes()}
        ray.shutdown()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
