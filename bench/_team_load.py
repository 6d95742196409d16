"""A team's load on one catalog, and the checks that it lost and doubled nothing.

Writers run in processes of their own (spawned: each opens the workspace as a person's server
or CLI does), each as its own actor, for a bounded time: review decisions on a submitted label
job, label edits of the same few items and the same labels (set, update), bulk classifications
of those items, and additions of one label each to a few counter items (N additions must leave
N labels). Afterwards :func:`problems` replays the change log from the empty start and compares
it with the catalog. Used by tests/store/test_concurrent_writers.py and bench_pg_writers.py.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem, NotFoundError
from tagscope.domain.access import Identity
from tagscope.service import Workspace
from tagscope.service import bulk as bk
from tagscope.service import labels as lb
from tagscope.service import review as rv
from tagscope.store.change_log import ChangeLog
from tagscope.store.label_schema import LabelChangeRow, LabelJobItemRow, LabelJobRow
from tagscope.store.label_states import LabelStates
from tagscope.store.retry import retries, retries_by_reason
from tagscope.store.review import ReviewCatalog

DATASET, JOB = "team", "j"
CLASSES = ("cat", "dog", "bird")
N_SHARED, N_COUNTERS = 8, 4


@dataclass(frozen=True)
class Plan:
    """What :func:`setup` made: the items every writer edits, the counter items, the label
    job's id and its changes' ids, and the review states they start from."""

    dataset_id: int
    shared: list[int]
    counters: list[int]
    job_id: int
    changes: list[int]
    review_start: dict[int, Any]


def _box(name: str) -> dict[str, Any]:
    return {"kind": "box", "name": name, "geometry": {"bbox": [0, 0, 10, 10]}, "area": 100.0}


def setup(ws: Workspace) -> Plan:
    """Dataset ``team``: items without labels, and a submitted label job ``j`` of two
    changes per shared item (written into the catalog as ``submit_job`` writes them)."""
    ds = ws.catalog.create_dataset(DATASET)
    n = N_SHARED + N_COUNTERS
    media = [MediaInfo(1, 100, 80, "JPEG", f"team{i}") for i in range(n)]
    ws.catalog.add_items(ds.id, [NewItem(f"/team/{i}.jpg", m) for i, m in enumerate(media)])
    ids = ws.catalog.item_ids(ds.id)
    shared, counters = ids[:N_SHARED], ids[N_SHARED:]
    with ws.catalog.session() as s:
        job = LabelJobRow(
            dataset_id=ds.id, name=JOB, kind="manual", status="submitted", created_by="setup"
        )
        s.add(job)
        s.flush()
        s.add_all(LabelJobItemRow(job_id=job.id, item_id=i) for i in shared)
        rows = [
            LabelChangeRow(
                job_id=job.id,
                item_id=item,
                change="class_changed",
                label_kind="box",
                expert_class=CLASSES[h],
                prelabel_class=CLASSES[h + 1],
                iou=1.0,
                expert_area=100.0,
                prelabel_area=100.0,
                adjustment=1.0,
                expert=_box(CLASSES[h]),
                prelabel=_box(CLASSES[h + 1]),
                status="pending",
            )
            for item in shared
            for h in (0, 1)
        ]
        s.add_all(rows)
        s.flush()
        job_id, change_ids = job.id, [r.id for r in rows]
    start = ReviewCatalog(ws.catalog).states(job_id, shared)
    return Plan(ds.id, shared, counters, job_id, change_ids, start)


# -- the writers' operations: each returns the id of the change-set it wrote (None: none) ----
Op = Callable[[Workspace, Plan, random.Random, int, int], int | None]


def _review(ws: Workspace, plan: Plan, rng: random.Random, k: int, n: int) -> int | None:
    ids = rng.sample(plan.changes, rng.randint(1, 3))
    decision = rng.choice(("accepted", "rejected", "pending"))
    return rv.decide(ws, DATASET, JOB, decision, ids=ids).change_set


def _set_labels(ws: Workspace, plan: Plan, rng: random.Random, k: int, n: int) -> int | None:
    labels = [Label(LabelKind.CLASSIFICATION, rng.choice(CLASSES), is_main=True)]
    if rng.random() < 0.5:
        box = {"bbox": [0, 0, rng.randint(1, 20), 10]}
        labels.append(Label(LabelKind.BOX, rng.choice(CLASSES), geometry=box))
    return lb.set_labels(ws, DATASET, rng.choice(plan.shared), labels).change_set


def _update_label(ws: Workspace, plan: Plan, rng: random.Random, k: int, n: int) -> int | None:
    """Edit one label of a shared item, read just before: other writers edit the same one."""
    current = lb.item_labels(ws, DATASET, rng.choice(plan.shared))
    if not current:
        return _set_labels(ws, plan, rng, k, n)
    label = rng.choice(current)
    assert label.id is not None
    return lb.update_label(ws, DATASET, label.id, attributes={"by": k, "n": n}).change_set


def _bulk(ws: Workspace, plan: Plan, rng: random.Random, k: int, n: int) -> int | None:
    ids = rng.sample(plan.shared, 3)
    label = rng.choice(CLASSES)
    return bk.bulk_classify(ws, DATASET, item_ids=ids, label=label, overwrite=True).change_set


def _count(ws: Workspace, plan: Plan, rng: random.Random, k: int, n: int) -> int | None:
    """Add a label of its own (writer, step) to a counter item: a read-modify-write of the
    item's labels that a lost update would drop."""
    box = {"bbox": [k + 1, 1 + n * 0.01, 1, 1]}
    label = Label(LabelKind.BOX, "tick", geometry=box)
    return lb.add_label(ws, DATASET, rng.choice(plan.counters), label).change_set


OPS: dict[str, Op] = {
    "review": _review,
    "set_labels": _set_labels,
    "update_label": _update_label,
    "bulk": _bulk,
    "count": _count,
}


def writer(
    url: str | None, root: str, k: int, seconds: float, plan: Plan, start: Any, out: str
) -> None:
    """Writer ``k`` (actor ``writer<k>``): random operations for ``seconds`` once every
    writer is ready, then ``{actor, ops: [[op, change set, seconds]], skipped, errors,
    retries, retries_by_reason}`` as JSON into ``out``."""
    if url is None:
        os.environ.pop("TAGSCOPE_DATABASE_URL", None)
    else:
        os.environ["TAGSCOPE_DATABASE_URL"] = url
    actor = f"writer{k}"
    ws = Workspace.open(root).acting_as(Identity.owner(actor))
    rng = random.Random(k)
    names = sorted(OPS)
    ops: list[tuple[str, int | None, float]] = []
    skipped, errors = 0, []
    start.wait()
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        name = rng.choice(names)
        t0 = time.perf_counter()
        try:
            ops.append((name, OPS[name](ws, plan, rng, k, n), time.perf_counter() - t0))
        except NotFoundError:  # the label to update was deleted since it was read
            skipped += 1
        except Exception as exc:  # reported: the caller fails on any
            errors.append(f"{actor} {name}: {type(exc).__name__}: {exc}")
        n += 1
    result = {"actor": actor, "ops": ops, "skipped": skipped, "errors": errors}
    counts = {"retries": retries(), "retries_by_reason": retries_by_reason()}
    Path(out).write_text(json.dumps({**result, **counts}))
    ws.catalog.engine.dispose()


def run_writers(url: str | None, root: Path, plan: Plan, n: int, seconds: float) -> list[dict]:
    """``n`` writer processes (spawned) for ``seconds`` each, started together; their
    results, in writer order."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(n)
    outs = [root.parent / f"writer{k}.json" for k in range(n)]
    procs = [
        ctx.Process(target=writer, args=(url, str(root), k, seconds, plan, start, str(out)))
        for k, out in enumerate(outs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120 + seconds)
    codes = [p.exitcode for p in procs]
    if codes != [0] * n:
        for p in procs:
            p.kill()
        raise RuntimeError(f"writer processes ended with exit codes {codes}")
    return [json.loads(out.read_text()) for out in outs]


# -- the checks ----------------------------------------------------------------------------
def _classifications(state: dict[str, Any] | None) -> dict[str, Any] | None:
    labels = [r for r in (state or {}).get("labels", []) if r["kind"] == "classification"]
    return {"labels": labels} if labels else None


def _with_classifications(
    state: dict[str, Any] | None, classified: dict[str, Any] | None
) -> dict[str, Any] | None:
    """An item's ground-truth labels after a change of its classifications only."""
    others = [r for r in (state or {}).get("labels", []) if r["kind"] != "classification"]
    labels = sorted(others + (classified or {}).get("labels", []), key=lambda r: r["id"])
    return {"labels": labels} if labels else None


def problems(ws: Workspace, plan: Plan, results: list[dict]) -> list[str]:
    """What is wrong after the writers: an error a writer met; a change-set reported twice or
    not in the log, or in the log but not reported; a change whose ``before`` is not the
    replayed value (a lost update); a record whose replayed value is not the catalog's; a
    counter item without one label per addition. Empty when all is well."""
    found = [error for r in results for error in r["errors"]]
    log = ChangeLog(ws.catalog)
    sets = sorted(log.history(plan.dataset_id, limit=None), key=lambda c: c.id)
    reported = [(r["actor"], cs) for r in results for _, cs, _ in r["ops"] if cs is not None]
    ids = [cs for _, cs in reported]
    if len(set(ids)) != len(ids):
        found.append(f"{len(ids) - len(set(ids))} change-set(s) reported by two writes")
    logged = {c.id: c.actor for c in sets}
    if logged != {cs: actor for actor, cs in reported}:
        missing = sorted(set(ids) - logged.keys())
        extra = sorted(logged.keys() - set(ids))
        found.append(f"change-sets reported, not logged: {missing}; logged, not reported {extra}")
    labels: dict[int, Any] = {}
    review = dict(plan.review_start)
    for change_set in sets:
        for c in log.get(plan.dataset_id, change_set.id).changes:
            where = f"change-set {change_set.id} ({change_set.action}), item {c.item_id}"
            if c.entity == "annotations":
                start, labels[c.item_id] = labels.get(c.item_id), c.after
            elif c.entity == "labels":
                start = _classifications(labels.get(c.item_id))
                labels[c.item_id] = _with_classifications(labels.get(c.item_id), c.after)
            elif c.entity == "label_review":
                start, review[c.item_id] = review.get(c.item_id), c.after
            else:
                found.append(f"{where}: an entity the load does not write: {c.entity}")
                continue
            if c.before != start:
                found.append(f"{where}: its before is not the value replayed (a lost update)")
    items = plan.shared + plan.counters
    now = LabelStates(ws.catalog, None).states(plan.dataset_id, items)
    for item in items:
        if now.get(item) != labels.get(item):
            found.append(f"item {item}: its labels are not the change log's replay")
    if ReviewCatalog(ws.catalog).states(plan.job_id, plan.shared) != review:
        found.append("the review statuses are not the change log's replay")
    added = sum(1 for r in results for op, cs, _ in r["ops"] if op == "count" and cs is not None)
    ticks = sum(
        1 for item in plan.counters for r in (now.get(item) or {}).get("labels", [])
        if r["name"] == "tick"
    )  # fmt: skip
    if ticks != added:
        found.append(f"{added} counted additions committed, {ticks} labels on the counters")
    return found
