"""Publishing, applying and scoring tag groups (SPEC F-26, F-27).

Publishing (committing) a draft or pending group fits every tag on its training dataset, freezes
the definitions and fitted weights as the group's next version, and scores the training dataset
with it. Applying a shareable group to another dataset scores that dataset with the latest
version. Scoring is a ``score_tags`` job: the dataset's use of the group goes ``queued`` →
``scoring`` → ``scored`` (or ``error``), with progress; the scores land in immutable Parquet files
per (dataset, group, version, modality), written part by part, so a killed job resumes where it
stopped when the same use case runs again, and a new version never touches an old one. Each part
is computed through the workspace runner's ``map`` (:func:`score_part`, here or on a Ray worker,
which reads the vectors from the space's folder itself) and written by the job's process.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tagscope.domain import AlreadyExistsError, Dataset, Job, JobStatus, ValidationError
from tagscope.domain.tags import (
    SCORE_CHUNK_SIZE,
    GroupUse,
    PromptModality,
    ScoringStatus,
    TagGroup,
    TagState,
    TagVersion,
    Visibility,
    group_slug,
)
from tagscope.jobs import ProgressFn
from tagscope.service import _tag_models as tm
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store import VectorStore
from tagscope.store.scores import ScoreTables, ScoreWriter
from tagscope.store.sql import tag_columns
from tagscope.store.tag_catalog import TagCatalog
from tagscope.tags.scoring import score_matrix

_USE_EVERY_S = 1.0  # progress written to the group's use at most this often
# (group id, dataset id, version) scored by a job of this process now: a second publish or
# apply of the same version (two people, one click twice) gets that job instead of a second
# writer of the same score files. A job left "running" by a killed process is not in it, so
# publishing again resumes that work as before.
_LIVE: set[tuple[int, int, int]] = set()
_LIVE_LOCK = threading.Lock()


def _catalog(ws: Workspace) -> TagCatalog:
    return TagCatalog(ws.catalog)


def score_tables(ws: Workspace) -> ScoreTables:
    return ScoreTables(ws.paths.scores)


def score_columns(ws: Workspace, group: str) -> dict[str, str]:
    """Tag -> its reference in SQL filters (``tags_animals.dog``; ``tags_animals.dog_2`` where
    scored versions hold two tags of one column name), as the SQL views name the columns."""
    slug = group_slug(group)
    tags = (t for v in score_tables(ws).scored(slug) for t in v.tags)
    return {tag: f"tags_{slug}.{col}" for col, tag in tag_columns(tags).items()}


def _vis(value: str) -> Visibility:
    try:
        return Visibility(str(value).lower())
    except ValueError:
        raise ValidationError(
            f"invalid visibility {value!r}: choose secret or shareable", field="visibility"
        ) from None


def publish_group(
    ws: Workspace,
    dataset: str,
    group: str,
    *,
    visibility: str | None = None,
    chunk_size: int = SCORE_CHUNK_SIZE,
    on_progress: ProgressFn | None = None,
) -> Job:
    """Publish (commit) a group and score its training dataset ``dataset`` (F-26).

    A draft or pending group is fitted and committed as a new version first, as is a published
    one whose training dataset gained or lost items since it was scored; otherwise the latest
    version is scored (which resumes a scoring job that was killed, and does nothing when the
    dataset is scored already).

    Parameters
    ----------
    visibility : {"secret", "shareable"}, optional
        Set the group's visibility as it is published.
    chunk_size : int, default 50_000
        Items per score-file part.
    on_progress : callable, optional
        ``on_progress(n_done, n_total)`` as items are scored.

    Returns
    -------
    Job
        The ``score_tags`` job (finished, or queued when the workspace runs jobs in the
        background); its result names the version and the number of items scored.
    """
    ds, grp = tm.editable(ws, dataset, group)
    tc = _catalog(ws)
    if visibility is not None:
        tc.set_visibility(grp.id, _vis(visibility))
    if grp.state is not TagState.PUBLISHED or grp.version == 0 or _grown(ws, grp, ds):
        models = tm.fit_group(ws, grp)
        version = tc.commit_version(grp.id, models).version
    else:
        version = grp.version
    return _start_scoring(ws, tc.get_group_by_id(grp.id), ds, version, chunk_size, on_progress)


def _grown(ws: Workspace, grp: TagGroup, ds: Dataset) -> bool:
    """The training dataset gained or lost items since it was scored with the latest version:
    its files are immutable, so publishing again commits a new version (same definitions)."""
    use = _catalog(ws).get_use(grp.id, ds.id)
    if use.status is not ScoringStatus.SCORED or use.version != grp.version:
        return False
    return use.n_total != sum(len(ids) for ids in tm.modalities_of(ws, ds.id).values())


def apply_group(
    ws: Workspace,
    dataset: str,
    group: str,
    *,
    chunk_size: int = SCORE_CHUNK_SIZE,
    on_progress: ProgressFn | None = None,
) -> Job:
    """Apply a shareable, published group to ``dataset`` and score it with the latest version.

    Applying again after the group published a newer version updates the dataset's scores.
    The dataset needs vectors made by the same model as the group's training dataset. It can
    score the group but never edit it.
    """
    ds = policy.dataset(ws, Action.TAGS_APPLY, dataset)
    tc = _catalog(ws)
    grp = tm.visible_group(ws, group)  # a secret one is named only to who sees its training set
    if grp.dataset_id == ds.id:
        raise ValidationError(
            f"{ds.name!r} is the training dataset of tag group {grp.name!r}: publish it instead",
            field="dataset",
        )
    if grp.visibility is not Visibility.SHAREABLE:
        raise ValidationError(
            f"tag group {grp.name!r} is secret: only its training dataset {grp.dataset!r} uses "
            "it (make it shareable there first)",
            field="group",
        )
    if grp.version == 0:
        raise ValidationError(
            f"tag group {grp.name!r} was never published: publish it on {grp.dataset!r} first",
            field="group",
        )
    tc.add_use(grp.id, ds.id)
    return _start_scoring(ws, grp, ds, grp.version, chunk_size, on_progress)


def list_uses(ws: Workspace, group: str) -> list[GroupUse]:
    """The datasets using a group: training first, with scoring status and "update available"."""
    grp = tm.visible_group(ws, group)
    ids = {d.name: d.id for d in ws.catalog.list_datasets()}
    uses = _catalog(ws).list_uses(group_id=grp.id)
    return [u for u in uses if tm.seen(ws, grp, ids[u.dataset])]


def dataset_uses(ws: Workspace, dataset: str) -> list[GroupUse]:
    """The groups a dataset trains or applies and shows, with their scoring status."""
    ds = policy.dataset(ws, Action.READ, dataset)
    tc = _catalog(ws)
    shown = {g.name for g in tc.list_groups(ds.id) if tm.seen(ws, g, ds.id)}
    return [u for u in tc.list_uses(dataset_id=ds.id) if u.group in shown]


def list_versions(ws: Workspace, group: str) -> list[TagVersion]:
    """The committed versions of a group, oldest first (all kept)."""
    return _catalog(ws).list_versions(tm.visible_group(ws, group).id)


# -- the scoring job ----------------------------------------------------------------------
def matching_space(
    ws: Workspace, grp: TagGroup, ds: Dataset, modality: PromptModality = PromptModality.VISUAL
) -> str:
    """The space of ``ds`` holding vectors of the model the group's ``modality`` prompts learned
    from on its training dataset (:func:`tm.prompt_space`; same name preferred)."""
    training = ds if ds.id == grp.dataset_id else ws.dataset(grp.dataset)
    learned = tm.prompt_space(ws, training, grp.space, modality)
    if ds.id == grp.dataset_id:
        return learned
    trained = ws.catalog.get_space(grp.dataset_id, learned)
    spaces = sorted(ws.catalog.list_spaces(ds.id), key=lambda s: s["name"] != grp.space)
    for space in spaces:
        key = ("kind", "model", "dim")
        if all(space[k] == trained[k] for k in key):
            return str(space["name"])
    raise ValidationError(
        f"dataset {ds.name!r} has no vectors of {trained['model']!r} ({trained['kind']}), which "
        f"tag group {grp.name!r} learned from: run `tagscope embed {ds.name} --kind "
        f"{trained['kind']} --model {trained['model']}` first",
        field="space",
    )


def _plan(
    ws: Workspace, grp: TagGroup, ds: Dataset, version: int
) -> tuple[dict[str, tm.SpaceVectors], dict[str, np.ndarray], dict[str, Any]]:
    """Vectors and item ids per score table, and the version's tags and models; checks first."""
    tv, models = _catalog(ws).get_version(grp.id, version)
    by_table = tm.modalities_of(ws, ds.id)
    spaces = {t: matching_space(ws, grp, ds, tm.prompt_modality(t)) for t in by_table}
    loaded = {name: tm.load_vectors(ws, ds, name) for name in dict.fromkeys(spaces.values())}
    vectors = {t: loaded[name] for t, name in spaces.items()}
    thresholds = {t.name: t.threshold for t in tv.tags}
    for table in by_table:
        modality = str(tm.prompt_modality(table))
        lacking = [t.name for t in tv.tags if modality not in models.get(t.name, {})]
        if lacking:
            raise ValidationError(
                f"version {version} of tag group {grp.name!r} cannot score the {table} items of "
                f"{ds.name!r}: tag(s) {', '.join(lacking)} have no {modality} prompt; add one on "
                f"{grp.dataset!r} and publish again",
                field="group",
            )
    return vectors, by_table, {"tags": tv.tags, "models": models, "thresholds": thresholds}


def _start_scoring(
    ws: Workspace,
    grp: TagGroup,
    ds: Dataset,
    version: int,
    chunk_size: int,
    on_progress: ProgressFn | None,
) -> Job:
    if chunk_size < 1:
        raise ValidationError(f"chunk_size must be >= 1, got {chunk_size}", field="chunk_size")
    key = (grp.id, ds.id, version)
    with _LIVE_LOCK:
        live = key in _LIVE
        _LIVE.add(key)
    if live:
        return _job_under_way(ws, grp, ds, version)

    def release() -> None:
        with _LIVE_LOCK:
            _LIVE.discard(key)

    try:
        vectors, by_table, frozen = _plan(ws, grp, ds, version)
        tc = _catalog(ws)
        n_total = int(sum(len(ids) for ids in by_table.values()))
        tc.update_use(
            grp.id,
            ds.id,
            status=ScoringStatus.QUEUED,
            target_version=version,
            n_done=0,
            n_total=n_total,
            error=None,
        )
        run = _ScoringRun(ws, grp, ds, version, vectors, by_table, frozen, chunk_size)

        def scored_once(report: ProgressFn) -> dict[str, Any]:
            try:
                return run(report)
            finally:
                release()

        params = {
            "group": grp.name,
            "dataset": ds.name,
            "version": version,
            "chunk_size": chunk_size,
        }
        job = ws.runner.run("score_tags", ds.id, params, scored_once, on_progress=on_progress)
    except BaseException:
        release()
        raise
    tc.update_use(grp.id, ds.id, job_id=job.id)
    return job


def _job_under_way(ws: Workspace, grp: TagGroup, ds: Dataset, version: int) -> Job:
    """The job of this process scoring ``version`` of the group on ``ds`` now."""
    for job in ws.catalog.list_jobs(ds.id):
        same = job.params.get("group") == grp.name and job.params.get("version") == version
        if job.kind == "score_tags" and same and job.status in _UNDER_WAY:
            return job
    raise AlreadyExistsError(  # claimed a moment ago; its job is not written yet
        f"tag group {grp.name!r} (version {version}) is being scored on dataset {ds.name!r} "
        "already: its job starts in a moment (GET /api/jobs)"
    )


_UNDER_WAY = (JobStatus.QUEUED, JobStatus.RUNNING)


class _ScoringRun:
    """The work of a ``score_tags`` job: every item of every score table, part by part."""

    def __init__(
        self,
        ws: Workspace,
        grp: TagGroup,
        ds: Dataset,
        version: int,
        vectors: dict[str, tm.SpaceVectors],
        by_table: dict[str, np.ndarray],
        frozen: dict[str, Any],
        chunk_size: int,
    ) -> None:
        self.ws, self.grp, self.ds, self.version = ws, grp, ds, version
        self.vectors, self.by_table, self.frozen = vectors, by_table, frozen
        self.chunk_size = chunk_size
        self.tc = _catalog(ws)
        self._last = 0.0

    def __call__(self, report: ProgressFn) -> dict[str, Any]:
        self.tc.update_use(self.grp.id, self.ds.id, status=ScoringStatus.SCORING)
        try:
            result = self._score_all(report)
        except BaseException as exc:
            self.tc.update_use(
                self.grp.id, self.ds.id, status=ScoringStatus.ERROR, error=str(exc) or repr(exc)
            )
            raise
        self.tc.update_use(
            self.grp.id,
            self.ds.id,
            status=ScoringStatus.SCORED,
            version=self.version,
            n_done=result["n_items"],
            n_total=result["n_items"],
            error=None,
        )
        return result

    def _progress(self, report: ProgressFn) -> Callable[[int, int], None]:
        def both(done: int, total: int) -> None:
            report(done, total)
            now = time.monotonic()
            if now - self._last >= _USE_EVERY_S:  # the first call always: the resumed count
                self._last = now
                self.tc.update_use(self.grp.id, self.ds.id, n_done=done)

        return both

    def _score_all(self, report: ProgressFn) -> dict[str, Any]:
        progress = self._progress(report)
        total = int(sum(len(ids) for ids in self.by_table.values()))
        tables = score_tables(self.ws)
        # Open every table's writer first, so the first progress reported counts what earlier
        # runs finished (whole tables, parts), not 0 climbing through them.
        todo = []
        n_resumed = 0
        for table, ids in self.by_table.items():
            if self.version in tables.versions(self.ds.id, self.grp.slug, table):
                n_resumed += len(ids)  # finished by an earlier run that died before recording it
                continue
            names, W, b, thresholds = self._weights(table)
            n_parts = max(1, -(-len(ids) // self.chunk_size))
            try:
                writer = tables.writer(
                    self.ds.id, self.grp.slug, self.version, table,
                    tags=names, thresholds=thresholds, n_parts=n_parts,
                )  # fmt: skip
            except ValidationError:
                # An earlier attempt cut the items into other parts: start this table again.
                writer = tables.writer(
                    self.ds.id, self.grp.slug, self.version, table,
                    tags=names, thresholds=thresholds, n_parts=n_parts, restart=True,
                )  # fmt: skip
            missing = writer.missing_parts()
            n_resumed += len(ids) - sum(len(self._chunk(ids, part)) for part in missing)
            folder = str(self.ws.vectors(self.ds, self.vectors[table].space["name"]).folder)
            todo.append((table, folder, ids, W, b, writer, missing))
        done, n_scored = n_resumed, 0
        progress(done, total)
        shards = [
            ScoreShard(table, part, self._chunk(ids, part), folder, W, b)
            for table, folder, ids, W, b, _, missing in todo
            for part in missing
        ]
        left = {table: len(missing) for table, *_, missing in todo}
        writers = {table: writer for table, *_, writer, _ in todo}
        for table in [t for t, n in left.items() if n == 0]:
            self._finalize(writers[table])  # every part written by an earlier run
        for shard, (table, part, found, scores) in zip(
            shards, self.ws.runner.map(score_part, shards), strict=True
        ):
            writers[table].write_part(part, found, scores)
            n_scored += len(found)
            done += len(shard.ids)
            progress(done, total)
            left[table] -= 1
            if left[table] == 0:
                self._finalize(writers[table])
        return {
            "group": self.grp.name,
            "dataset": self.ds.name,
            "version": self.version,
            "n_items": total,
            "n_scored": n_scored,
            "n_resumed": n_resumed,
            "tables": [self.grp.table(t) for t in self.by_table],
        }

    @staticmethod
    def _finalize(writer: ScoreWriter) -> None:
        # Another run may have finished the same version: its files are whole either way.
        with contextlib.suppress(AlreadyExistsError):
            writer.finalize()

    def _chunk(self, ids: np.ndarray, part: int) -> np.ndarray:
        return ids[part * self.chunk_size : (part + 1) * self.chunk_size]

    def _weights(self, table: str) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, float]]:
        modality = str(tm.prompt_modality(table))
        models = self.frozen["models"]
        names = [t.name for t in self.frozen["tags"]]
        coef = np.array([models[n][modality]["coef"] for n in names], dtype=np.float32)
        intercept = np.array([models[n][modality]["intercept"] for n in names], dtype=np.float32)
        thresholds = {n: self.frozen["thresholds"][n] for n in names}
        return names, coef, intercept, thresholds


# -- the map task: one part, on whichever worker ---------------------------------------------
@dataclass(frozen=True)
class ScoreShard:
    """One part of a score table to compute: its items, where their vectors are, the weights."""

    table: str
    part: int
    ids: np.ndarray
    folder: str  # the vector store of the space (every node sees the workspace at one path)
    W: np.ndarray
    b: np.ndarray


# The vectors of the last space a worker process scored from, by (folder, file stamp): one
# memory map per space and job, not one per part; a space embedded again is read again.
_WORKER_VECTORS: dict[str, tuple[tuple[int, ...], tm.SpaceVectors]] = {}
_WORKER_LOCK = threading.Lock()


def _space_vectors(folder: str) -> tm.SpaceVectors:
    store = VectorStore(folder)
    stat = (store.folder / "vectors.npy").stat()
    # A compaction replaces the file: a new inode (the old one stays mapped here, so it is not
    # reused), whatever the clock's resolution.
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _WORKER_LOCK:
        cached = _WORKER_VECTORS.get(folder)
        if cached is None or cached[0] != stamp:
            ids, X = store.load()
            _WORKER_VECTORS.clear()
            _WORKER_VECTORS[folder] = stamp, tm.SpaceVectors({}, ids, X)
        return _WORKER_VECTORS[folder][1]


def score_part(shard: ScoreShard) -> Iterator[tuple[str, int, np.ndarray, np.ndarray]]:
    """The map task of a scoring job: ``(table, part, ids of the items found, their scores)``
    (an item without a vector has no row)."""
    X, found = _space_vectors(shard.folder).take(shard.ids)
    yield (
        shard.table,
        shard.part,
        shard.ids[found],
        score_matrix(X, shard.W, shard.b, normalize=True),
    )
