"""The embedding map on real vectors: coco-mini's captions embedded with MiniLM (``text``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from types import MappingProxyType

import numpy as np
import pytest

from tagscope.domain import JobStatus, NotFoundError, PermissionDeniedError, ValidationError
from tagscope.domain.access import Identity, Role, Scope
from tagscope.service import Workspace, datasets
from tagscope.service import embedding_map as em
from tagscope.store.maps import MapStore


def _viewer(ws: Workspace, dataset: str) -> Workspace:
    who = Identity(
        name="vera",
        role=None,
        dataset_roles=MappingProxyType({ws.dataset(dataset).id: Role.VIEWER}),
        scope=Scope.ADMIN,
        token_dataset=None,
        user_id=7,
    )
    return ws.acting_as(who)


def _hold_back(ws: Workspace, n_kept: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop the vectors of all but the first ``n_kept`` items (as if embedded later)."""
    store = ws.vectors(ws.dataset("coco"), "text")
    ids, vectors = store.load()
    later = (ids[n_kept:].copy(), np.array(vectors[n_kept:]))
    store.remove(later[0])
    return later


def _neighbours_kept(ws: Workspace, m: em.MapCoordinates) -> float:
    """How often an item's nearest point on the map is among its 10 nearest caption vectors."""
    ids, vectors = ws.vectors(ws.dataset("coco"), "text").load()
    x = np.asarray(vectors, np.float32)[np.searchsorted(ids, m.ids)]
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    near = np.argsort(-sim, axis=1)[:, :10]
    d = ((m.xy[:, None, :] - m.xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    on_map = d.argmin(axis=1)
    return float(np.mean([on_map[i] in near[i] for i in range(len(m.ids))]))


def test_a_map_fits_a_sample_places_the_rest_and_later_items_alone(
    coco_text_ws: Workspace,
) -> None:
    ws = coco_text_ws
    later_ids, later_vectors = _hold_back(ws, 60)
    seen: list[tuple[int, int]] = []
    job = em.compute_map(
        ws, "coco", "text", sample=30, chunk_size=16, on_progress=lambda d, t: seen.append((d, t))
    )
    assert job.status is JobStatus.DONE and job.kind == "embedding_map"
    assert job.result == {**job.result, "fitted": True, "n_fit": 30, "n_placed": 30}
    assert seen == [(30, 60), (46, 60), (60, 60)]  # the sample, then two chunks of the rest
    first = em.get_map(ws, "coco", "text")
    assert len(first.ids) == 60 and first.xy.shape == (60, 2) and np.isfinite(first.xy).all()
    xmin, ymin, xmax, ymax = first.bounds
    assert xmin < xmax and ymin < ymax
    assert _neighbours_kept(ws, first) > 0.3  # chance: 10 of 59, 0.17
    (summary,) = em.list_maps(ws, "coco")
    assert (summary.n_points, summary.n_items, summary.stale) == (60, 60, False)
    assert summary.params == {"sample": 30, "n_neighbors": 15, "min_dist": 0.1, "seed": 0}

    ws.vectors(ws.dataset("coco"), "text").append(later_ids, later_vectors)
    assert em.list_maps(ws, "coco")[0].stale
    again = em.compute_map(ws, "coco", "text")  # the fit's parameters: the map's own
    assert again.result == {**again.result, "fitted": False, "n_placed": len(later_ids)}
    second = em.get_map(ws, "coco", "text")
    assert len(second.ids) == 60 + len(later_ids)
    old = np.isin(second.ids, first.ids)
    assert np.array_equal(second.ids[old], first.ids)
    assert second.xy[old].tobytes() == first.xy.tobytes()  # bit for bit
    assert not em.list_maps(ws, "coco")[0].stale

    nothing = em.compute_map(ws, "coco", "text")
    assert nothing.result["n_placed"] == 0
    refit = em.compute_map(ws, "coco", "text", sample=40, refit=True)
    assert refit.result == {**refit.result, "fitted": True, "n_fit": 40}
    assert em.list_maps(ws, "coco")[0].params["sample"] == 40


def test_the_same_seed_gives_the_same_map(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    em.compute_map(ws, "coco", "text", sample=40, seed=3)
    first = em.get_map(ws, "coco", "text")
    em.compute_map(ws, "coco", "text", sample=40, seed=3, refit=True)
    second = em.get_map(ws, "coco", "text")
    assert np.array_equal(first.ids, second.ids) and np.array_equal(first.xy, second.xy)


_KILLED = """
import os, signal, sys
from tagscope.service import Workspace
from tagscope.service import embedding_map as em
from tagscope.store import maps

real, calls = maps.pq.write_table, []

def killed_on_the_third_part(table, where, **kwargs):
    real(table, where, **kwargs)
    calls.append(1)
    if len(calls) == 3:  # part 2 written, not yet renamed: as a kill mid-write
        os.kill(os.getpid(), signal.SIGKILL)

maps.pq.write_table = killed_on_the_third_part
em.compute_map(Workspace.open(sys.argv[1]), "coco", "text", sample=30, chunk_size=10)
"""


@pytest.mark.slow
def test_a_killed_map_job_resumes_from_the_parts_written(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    env = {k: v for k, v in os.environ.items() if k != "TAGSCOPE_DATABASE_URL"}
    run = subprocess.run(
        [sys.executable, "-c", _KILLED, str(ws.paths.root)],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    folder = MapStore(ws.paths.scores).folder(ws.dataset("coco").id, "text")
    names = sorted(p.name for p in folder.iterdir())
    assert [n for n in names if not n.startswith(".")] == [
        "_manifest.json",
        "model.pkl",
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert any(n.endswith(".tmp") for n in names)  # the part it was killed writing
    before = {n: (folder / n).read_bytes() for n in ("part-00000.parquet", "part-00001.parquet")}
    n_items = len(ws.vectors(ws.dataset("coco"), "text").ids())

    seen: list[tuple[int, int]] = []
    job = em.compute_map(
        ws, "coco", "text", sample=30, chunk_size=10, on_progress=lambda d, t: seen.append((d, t))
    )
    assert job.result == {**job.result, "fitted": False, "n_placed": n_items - 40}
    assert seen[0] == (40, n_items) and seen[-1] == (n_items, n_items)
    assert not any(p.name.endswith(".tmp") for p in folder.iterdir())
    assert all((folder / n).read_bytes() == data for n, data in before.items())
    resumed = em.get_map(ws, "coco", "text")
    assert len(resumed.ids) == n_items

    # The same map as a run never killed (seeded, one thread).
    em.compute_map(ws, "coco", "text", sample=30, chunk_size=10, refit=True)
    fresh = em.get_map(ws, "coco", "text")
    assert np.array_equal(fresh.ids, resumed.ids)
    np.testing.assert_allclose(fresh.xy, resumed.xy, atol=1e-4)


def test_colours_by_label_field_and_tag(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    em.compute_map(ws, "coco", "text", sample=40)
    ids = em.get_map(ws, "coco", "text").ids
    labels = em.map_colors(ws, "coco", "text", by="label")
    assert labels.kind == "category" and len(labels.values) == len(ids)
    assert "person" in labels.categories and labels.categories[0] == "person"  # most common
    person = ws.catalog.items_with_labels(ws.dataset("coco").id, ["person"])
    assert {int(i) for i, v in zip(ids, labels.values, strict=True) if v == 0} == person & set(
        ids.tolist()
    )
    widths = em.map_colors(ws, "coco", "text", by="field", field="width")
    assert widths.kind == "number" and all(v > 0 for v in widths.values)
    with pytest.raises(ValidationError, match="no item of 'coco' has a field 'nope'"):
        em.map_colors(ws, "coco", "text", by="field", field="nope")
    with pytest.raises(ValidationError, match="has no scores"):
        em.map_colors(ws, "coco", "text", by="tag", group="nothing", tag="dog")


def test_bad_input_is_named(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    with pytest.raises(NotFoundError, match="no embedding space 'clip'"):
        em.compute_map(ws, "coco", "clip")
    with pytest.raises(ValidationError, match=r"sample must be an integer within 2\.\.50000") as e:
        em.compute_map(ws, "coco", "text", sample=50_001)
    assert e.value.field == "sample"
    with pytest.raises(ValidationError, match="n_neighbors must be an integer within 2") as e:
        em.compute_map(ws, "coco", "text", n_neighbors=1)
    assert e.value.field == "n_neighbors"
    with pytest.raises(ValidationError, match="needs more items than n_neighbors \\(15\\): 10"):
        em.compute_map(ws, "coco", "text", sample=10)
    with pytest.raises(NotFoundError, match="no map of space 'text'"):
        em.get_map(ws, "coco", "text")
    assert em.list_maps(ws, "coco") == []


def test_a_viewer_reads_a_map_but_cannot_compute_one(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    viewer = _viewer(ws, "coco")
    with pytest.raises(PermissionDeniedError):
        em.compute_map(viewer, "coco", "text")
    em.compute_map(ws, "coco", "text", sample=40)
    assert len(em.get_map(viewer, "coco", "text").ids) > 40
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        em.get_map(viewer, "coco-train", "text")


def test_deleting_a_dataset_removes_its_maps_only(coco_text_ws: Workspace) -> None:
    ws = coco_text_ws
    em.compute_map(ws, "coco", "text", sample=40)
    em.compute_map(ws, "coco-train", "text", sample=40)
    store = MapStore(ws.paths.scores)
    gone, kept = ws.dataset("coco").id, ws.dataset("coco-train").id
    datasets.delete_dataset(ws, "coco")
    assert not store.folder(gone).exists()
    assert [m.dataset_id for m in store.maps()] == [kept]
