"""The embedding map (F-14): a 2-D UMAP layout of a dataset's items in one embedding space.

UMAP (``umap-learn``) is fitted once on a seeded sample of at most 50,000 items; every other
item is placed with the fitted model's ``transform``, chunk by chunk. The coordinates and the
model are stored per (dataset, space) (:mod:`tagscope.store.maps`), so:

- a killed job resumes: the model, once saved, is not fitted again, and each chunk written is
  kept (a chunk is written once, whole);
- items added later are placed by the same model, and only they: the map stays stable (earlier
  coordinates never change) unless ``refit=True`` fits a new one.

Vectors are L2-normalised (as search does: cosine similarity), in float32; seeded fits run
single-threaded (``n_jobs=1``), so the same seed gives the same map.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from tagscope.domain import AlreadyExistsError, Dataset, Job, JobStatus, ValidationError
from tagscope.jobs import ProgressFn
from tagscope.service import background, policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store.maps import MapStore
from tagscope.store.scores import ScoreTables

JOB_KIND = "embedding_map"
MAX_SAMPLE = 50_000
DEFAULTS = {"sample": MAX_SAMPLE, "n_neighbors": 15, "min_dist": 0.1, "seed": 0}
CHUNK_SIZE = 10_000
"""Items placed per ``transform`` call and per stored part (~20 MB of float32 512-d vectors)."""

ColorBy = Literal["label", "tag", "field"]
_ITEM_FIELDS = ("split", "modality", "width", "height", "format", "size")
_LIVE: set[tuple[int, str]] = set()  # (dataset id, space) of the map jobs of this process
_LIVE_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class MapSummary:
    space: str
    n_points: int  # items on the map
    n_items: int  # items with a vector in the space
    stale: bool  # items with a vector are not on the map yet (or no longer exist)
    created_at: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MapCoordinates:
    space: str
    ids: np.ndarray  # (n,) int64, ascending
    xy: np.ndarray  # (n, 2) float32

    @property
    def bounds(self) -> list[float]:
        """``[xmin, ymin, xmax, ymax]`` (zeros for an empty map)."""
        if len(self.ids) == 0:
            return [0.0, 0.0, 0.0, 0.0]
        lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
        return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


@dataclass(frozen=True, slots=True)
class MapColors:
    by: str
    kind: Literal["category", "number"]
    values: list[Any]  # aligned with the map's ids; None where an item has no value
    categories: list[str] | None = None  # kind "category": values index into it


def _maps(ws: Workspace) -> MapStore:
    return MapStore(ws.paths.scores)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        within = f"within {lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValidationError(f"{name} must be an integer {within}, got {value!r}", field=name)
    return int(value)


def _fit_params(
    existing: dict[str, Any] | None, given: dict[str, Any], refit: bool
) -> dict[str, Any]:
    """The fit's parameters: those given, else the existing map's, else the defaults. Other
    parameters than the existing map's need ``refit`` (they would make another map)."""
    base = DEFAULTS if existing is None or refit else existing["params"]
    params = {k: base[k] if given.get(k) is None else given[k] for k in DEFAULTS}
    params["sample"] = _check_int("sample", params["sample"], 2, MAX_SAMPLE)
    params["n_neighbors"] = _check_int("n_neighbors", params["n_neighbors"], 2, 200)
    params["seed"] = _check_int("seed", params["seed"], 0, 2**31 - 1)
    dist = params["min_dist"]
    if isinstance(dist, bool) or not isinstance(dist, int | float) or not 0 <= dist <= 1:
        raise ValidationError(f"min_dist must be a number within 0..1, got {dist!r}", "min_dist")
    params["min_dist"] = float(dist)
    if existing is not None and not refit and params != existing["params"]:
        raise ValidationError(
            f"the map was fitted with {existing['params']}; other parameters make another map: "
            "pass refit=true to fit it again",
            field="refit",
        )
    return params


def _vectors(ws: Workspace, ds: Dataset, space: str) -> tuple[np.ndarray, np.ndarray]:
    """The live items' ids (ascending) and vectors (memory-mapped) of the space."""
    ws.catalog.get_space(ds.id, space)  # NotFoundError naming the space
    ids, vectors = ws.vectors(ds, space).load()
    live = np.isin(ids, np.asarray(ws.catalog.item_ids(ds.id), np.int64))
    return ids[live], vectors[live] if not live.all() else vectors


def _unit(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _sample(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Rows of a seeded sample of ``n`` of ``ids`` (all of them when there are fewer), sorted."""
    if n >= len(ids):
        return np.arange(len(ids))
    return np.sort(np.random.default_rng(seed).choice(len(ids), size=n, replace=False))


def fit_umap(x: np.ndarray, params: dict[str, Any]) -> Any:
    """A 2-D UMAP fitted on ``x`` (n, d) float32 with ``params`` (see :data:`DEFAULTS`)."""
    import umap  # numba compiles on first use: only where a map is fitted

    reducer = umap.UMAP(
        n_neighbors=params["n_neighbors"],
        min_dist=params["min_dist"],
        n_components=2,
        metric="euclidean",  # on unit vectors: the order of cosine distances
        random_state=params["seed"],
        n_jobs=1,
        low_memory=True,
    )
    return reducer.fit(x)


class _MapRun:
    """One run of the job: fit when no model is saved, then place the items no part holds."""

    def __init__(self, ws: Workspace, ds: Dataset, space: str, params: dict, chunk: int) -> None:
        self.ws, self.ds, self.space, self.params, self.chunk = ws, ds, space, params, chunk
        self.maps = _maps(ws)

    def __call__(self, report: ProgressFn) -> dict[str, Any]:
        ids, vectors = _vectors(self.ws, self.ds, self.space)
        ds_id, space = self.ds.id, self.space
        self.maps.discard_temporary(ds_id, space)
        fitted = False
        if self.maps.find(ds_id, space) is None:  # no model: a new map, or killed in its fit
            self._fit(ids, vectors)
            fitted = True
        model = None  # loaded only to place items: 231 MB fitted on 50,000 x 512
        placed = self.maps.placed_ids(ds_id, space)
        if len(placed) == 0:  # just fitted, or killed before its sample's coordinates were kept
            model = self.maps.load_model(ds_id, space)
            self.maps.write_part(ds_id, space, model["ids"], model["reducer"].embedding_)
            placed = np.asarray(model["ids"], np.int64)
        rest = np.flatnonzero(~np.isin(ids, placed))
        n_total = len(ids)
        n_resumed = n_total - len(rest)
        report(n_resumed, n_total)
        if len(rest) and model is None:
            model = self.maps.load_model(ds_id, space)
        for start in range(0, len(rest), self.chunk):
            rows = rest[start : start + self.chunk]
            xy = model["reducer"].transform(_unit(vectors[rows]))
            self.maps.write_part(ds_id, space, ids[rows], xy)
            report(n_resumed + start + len(rows), n_total)
        return {
            "space": space,
            "fitted": fitted,
            "n_fit": int(self.maps.info(ds_id, space).manifest["n_fit"]),
            "n_placed": len(rest),
            "n_points": n_total,
        }

    def _fit(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        rows = _sample(ids, self.params["sample"], self.params["seed"])
        manifest = {"params": self.params, "created_at": _now(), "n_fit": len(rows)}
        self.maps.start(self.ds.id, self.space, manifest)
        reducer = fit_umap(_unit(vectors[rows]), self.params)
        self.maps.save_model(self.ds.id, self.space, {"reducer": reducer, "ids": ids[rows]})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def compute_map(
    ws: Workspace,
    dataset: str,
    space: str,
    *,
    sample: int | None = None,
    n_neighbors: int | None = None,
    min_dist: float | None = None,
    seed: int | None = None,
    refit: bool = False,
    chunk_size: int = CHUNK_SIZE,
    on_progress: ProgressFn | None = None,
) -> Job:
    """Compute, resume or extend the map of ``space`` (the ``embedding_map`` job).

    Parameters
    ----------
    sample : int, default 50_000
        Items the model is fitted on (a seeded sample; at most 50,000); the rest are placed
        with ``transform``.
    n_neighbors, min_dist : default 15, 0.1
        UMAP's. ``None``: an existing map's own (or the default); others need ``refit``.
    seed : int, default 0
        Seeds the sample and UMAP: the same seed gives the same map.
    refit : bool
        Fit a new model on a new sample and place every item again (the map changes).
    chunk_size : int
        Items placed per stored part.

    Raises ValidationError when fewer items than ``n_neighbors + 1`` would be fitted: UMAP
    needs more points than neighbours (lower ``n_neighbors``, or add items); there is no
    silent fallback to another layout.
    """
    ds = policy.dataset(ws, Action.DATASET_EDIT, dataset)
    chunk = _check_int("chunk_size", chunk_size, 1)
    given = {"sample": sample, "n_neighbors": n_neighbors, "min_dist": min_dist, "seed": seed}
    maps = _maps(ws)
    existing = maps.manifest(ds.id, space) if not refit else None
    params = _fit_params(existing, given, refit)
    ids, _ = _vectors(ws, ds, space)
    if len(ids) == 0:
        raise ValidationError(
            f"dataset {ds.name!r} has no vectors in space {space!r}; run "
            f"`tagscope embed {ds.name} --space {space}` first",
            field="space",
        )
    needs_fit = refit or maps.find(ds.id, space) is None
    n_fit = min(params["sample"], len(ids))
    if needs_fit and n_fit <= params["n_neighbors"]:
        raise ValidationError(
            f"a UMAP map needs more items than n_neighbors ({params['n_neighbors']}): "
            f"{n_fit} would be fitted in space {space!r} of dataset {ds.name!r}; lower "
            "n_neighbors or add items",
            field="n_neighbors",
        )
    key = (ds.id, space)
    with _LIVE_LOCK:
        if key in _LIVE:
            return _job_under_way(ws, ds, space)
        _LIVE.add(key)

    def release() -> None:
        with _LIVE_LOCK:
            _LIVE.discard(key)

    try:
        if refit:
            maps.remove(ds.id, space)
        run = _MapRun(ws, ds, space, params, chunk)

        def work(report: ProgressFn) -> dict[str, Any]:
            try:
                return run(report)
            finally:
                release()

        job_params = {"space": space, **params, "refit": refit, "chunk_size": chunk}
        return ws.runner.run(JOB_KIND, ds.id, job_params, work, on_progress=on_progress)
    except BaseException:
        release()
        raise


def start_map(ws: Workspace, dataset: str, space: str, **options: Any) -> Job:
    """:func:`compute_map` as a background job (for the REST API): checks first, then the job."""
    return compute_map(background.in_background(ws), dataset, space, **options)


def _job_under_way(ws: Workspace, ds: Dataset, space: str) -> Job:
    for job in ws.catalog.list_jobs(ds.id):
        live = job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        if job.kind == JOB_KIND and job.params.get("space") == space and live:
            return job
    raise AlreadyExistsError(
        f"the map of space {space!r} of dataset {ds.name!r} is being computed already"
    )


def list_maps(ws: Workspace, dataset: str) -> list[MapSummary]:
    """The dataset's maps, with how many items they show of how many there are."""
    ds = policy.dataset(ws, Action.READ, dataset)
    live = np.asarray(ws.catalog.item_ids(ds.id), np.int64)
    out = []
    for info in _maps(ws).maps(ds.id):
        placed = _maps(ws).placed_ids(ds.id, info.space)
        with_vector = ws.vectors(ds, info.space).ids()
        with_vector = with_vector[np.isin(with_vector, live)]
        on_map = np.isin(placed, live)
        stale = bool((~np.isin(with_vector, placed)).any() or not on_map.all())
        out.append(
            MapSummary(
                space=info.space,
                n_points=int(on_map.sum()),
                n_items=len(with_vector),
                stale=stale,
                created_at=info.manifest["created_at"],
                params=info.manifest["params"],
            )
        )
    return out


def get_map(ws: Workspace, dataset: str, space: str) -> MapCoordinates:
    """The coordinates of the items on the map (of items still in the catalog)."""
    ds = policy.dataset(ws, Action.READ, dataset)
    ids, xy = _maps(ws).load(ds.id, space)
    live = np.isin(ids, np.asarray(ws.catalog.item_ids(ds.id), np.int64))
    return MapCoordinates(space, ids[live], xy[live])


def map_colors(
    ws: Workspace,
    dataset: str,
    space: str,
    *,
    by: ColorBy,
    group: str | None = None,
    tag: str | None = None,
    field: str | None = None,
) -> MapColors:
    """A value per point of the map (aligned with :func:`get_map`'s ids) to colour it by.

    ``by="label"``: the item's most common label name (categories, most common first);
    ``by="tag"``: the score of ``tag`` of tag ``group`` (latest version); ``by="field"``: an
    item column (``split``, ``width``...) or a metadata field, a number where every value is.
    """
    ids = get_map(ws, dataset, space).ids
    ds = policy.dataset(ws, Action.READ, dataset)
    if by == "label":
        return _by_label(ws, ds, ids)
    if by == "tag":
        if not group or not tag:
            raise ValidationError("colouring by tag needs a group and a tag", field="tag")
        return _by_tag(ws, ds, ids, group, tag)
    if by == "field":
        if not field:
            raise ValidationError("colouring by field needs a field name", field="field")
        return _by_field(ws, ds, ids, field)
    raise ValidationError(f"by must be label, tag or field, got {by!r}", field="by")


def _by_label(ws: Workspace, ds: Dataset, ids: np.ndarray) -> MapColors:
    counts = ws.catalog.label_names(ds.id)
    names = sorted(counts, key=lambda n: (-counts[n], n))
    values = np.full(len(ids), -1, np.int64)
    for index in reversed(range(len(names))):  # the most common name wins: written last
        having = ws.catalog.items_with_labels(ds.id, [names[index]])
        values[np.isin(ids, np.fromiter(having, np.int64, len(having)))] = index
    return MapColors("label", "category", [None if v < 0 else int(v) for v in values], names)


def _by_tag(ws: Workspace, ds: Dataset, ids: np.ndarray, group: str, tag: str) -> MapColors:
    tables = ScoreTables(ws.paths.scores)
    version = tables.latest(ds.id, group)
    if version is None:
        raise ValidationError(f"tag group {group!r} has no scores on {ds.name!r}", field="group")
    scored, tags, scores = tables.load(ds.id, group, version)
    if tag not in tags:
        raise ValidationError(f"tag group {group!r} has no tag {tag!r}", field="tag")
    column = scores[:, tags.index(tag)]
    pos = np.clip(np.searchsorted(scored, ids), 0, max(len(scored) - 1, 0))
    found = (scored[pos] == ids) if len(scored) else np.zeros(len(ids), bool)
    values = [float(column[p]) if f else None for p, f in zip(pos, found, strict=True)]
    return MapColors("tag", "number", values)


def _by_field(ws: Workspace, ds: Dataset, ids: np.ndarray, field: str) -> MapColors:
    wanted = set(ids.tolist())
    found: dict[int, Any] = {}
    for item in ws.catalog.iter_items(ds.id):
        if item.id in wanted:
            found[item.id] = _field_value(item, field)
    raw = [found.get(int(i)) for i in ids]
    present = [v for v in raw if v is not None]
    if not present:
        raise ValidationError(f"no item of {ds.name!r} has a field {field!r}", field="field")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return MapColors("field", "number", [None if v is None else float(v) for v in raw])
    categories = sorted({str(v) for v in present})
    index = {c: i for i, c in enumerate(categories)}
    return MapColors(
        "field", "category", [None if v is None else index[str(v)] for v in raw], categories
    )


def _field_value(item: Any, field: str) -> Any:
    if field in _ITEM_FIELDS:
        if field in ("width", "height", "format", "size"):
            return getattr(item.media, field) if item.media is not None else None
        value = getattr(item, field)
        return getattr(value, "value", value)
    return item.metadata.get(field)
