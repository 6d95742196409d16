"""Score tables: immutable Parquet files of tag scores per (dataset, tag group, version, modality).

Layout under the workspace's ``scores/`` folder::

    <group slug>/<dataset id>/<modality>/v000003/part-00000.parquet
                                                  part-00001.parquet
                                                  _manifest.json
                                                  _wide/part-00000.parquet ...
                                        v000004.partial/...        (a scoring job under way)

A version is a folder of Parquet parts (a Parquet "dataset", readable as ``v000003/*.parquet`` by
DuckDB, Spark or Trino). A scoring job writes one part per chunk of items into the ``.partial``
folder, each part atomically (written to a file without a name, Linux's ``O_TMPFILE``, then
linked and renamed, so a killed job leaves no temporary file; elsewhere a named temporary file,
removed on resume), and :meth:`ScoreWriter.finalize` renames the folder into place: readers see a
version whole or not at all, a killed job resumes at its missing parts, and a finished version
is never written again (versions are immutable).

Rows are in long format, tag-major within a part (one row group per tag, so a filter on ``tag``
skips the others):

=========  ========  =========================================================
column     type      meaning
=========  ========  =========================================================
item_id    int64     catalog item id
tag        string    tag name
score      float32   relevance in [0, 1]
decision   bool      ``score >= threshold``, compared in float32
threshold  float32   the tag's threshold when the file was written
version    int32     the group version that produced the scores
=========  ========  =========================================================

Each part has a wide twin under ``_wide/`` (a folder Spark and Hive skip, and ``*.parquet``
does not reach): the same items, one row each, ``item_id`` then one float32 column per tag,
named as the tag. The grid's ``tags_<group>`` views read these instead of pivoting the long
rows, so a filter on a tag reads that tag's column and no ``GROUP BY`` runs. A version is
``wide`` (its manifest says so) when every part has its twin and no two parts share an item;
versions written before twins existed, and groups whose tag names clash as columns
(``item_id``, names equal but for case), have none, and the views pivot their long rows.

Thresholds saved after a file was written do not touch the file: the SQL views
(:mod:`tagscope.store.sql`) recompute ``decision`` and ``threshold`` from the catalog's current
thresholds, so a query always sees the decision at today's threshold, while the file keeps the
decision it was written with.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tagscope.domain import AlreadyExistsError, NotFoundError, ValidationError
from tagscope.domain.tags import group_slug

MODALITIES = ("visual", "transcript", "shot", "video")
DEFAULT_THRESHOLD = 0.5
MANIFEST = "_manifest.json"

_VERSION_DIR = re.compile(r"^v(\d{6})$")
_PART_FILE = re.compile(r"^part-(\d{5})\.parquet$")
WIDE_DIR = "_wide"

SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.int64(), nullable=False),
        pa.field("tag", pa.string(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("decision", pa.bool_(), nullable=False),
        pa.field("threshold", pa.float32(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class ScoreVersion:
    """A finished (immutable) version of a group's scores for one dataset and modality."""

    dataset_id: int
    group: str  # the group's slug, as in ``dt_<group>_<modality>``
    version: int
    modality: str
    path: Path
    tags: tuple[str, ...]
    thresholds: dict[str, float]
    n_items: int
    wide: bool = False  # every part has a wide twin, and no item is in two parts

    @property
    def files(self) -> list[Path]:
        """The Parquet parts, in order."""
        return sorted(p for p in self.path.iterdir() if _PART_FILE.match(p.name))

    @property
    def wide_files(self) -> list[Path]:
        """The wide twins of the parts, in order (none unless ``wide``)."""
        if not self.wide:
            return []
        return sorted(p for p in (self.path / WIDE_DIR).iterdir() if _PART_FILE.match(p.name))


def _version_name(version: int) -> str:
    return f"v{version:06d}"


def _part_name(part: int) -> str:
    return f"part-{part:05d}.parquet"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unnamed_file(folder: Path) -> BinaryIO | None:
    """A file in ``folder`` with no name yet (Linux ``O_TMPFILE``; its data go away with the
    process unless it is linked), or ``None`` where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:  # e.g. EOPNOTSUPP: a file system without unnamed files
        return None
    return os.fdopen(fd, "wb")


def _link_unnamed(f: BinaryIO, path: Path) -> None:
    """Give the unnamed file ``f`` the name ``path``. A directory fd makes ``os.link`` call
    ``linkat`` with ``AT_SYMLINK_FOLLOW``; plain ``link`` would link the /proc symlink itself."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(f"/proc/self/fd/{f.fileno()}", path.name, dst_dir_fd=folder)
    finally:
        os.close(folder)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_key(group: str, version: int, modality: str) -> str:
    slug = group_slug(group)
    if not slug:
        raise ValidationError(f"invalid group name {group!r}", field="group")
    if isinstance(version, bool) or not isinstance(version, int | np.integer) or version < 1:
        raise ValidationError(
            f"a score version is an integer >= 1, got {version!r}", field="version"
        )
    if modality not in MODALITIES:
        raise ValidationError(
            f"unknown score modality {modality!r}; use one of {', '.join(MODALITIES)}",
            field="modality",
        )
    return slug


def _check_tags(tags: Sequence[str], thresholds: Mapping[str, float]) -> dict[str, float]:
    names = list(tags)
    if not names or any(not isinstance(t, str) or not t.strip() for t in names):
        raise ValidationError("give at least one tag, each a non-empty name", field="tags")
    if len(set(names)) != len(names):
        raise ValidationError(f"tag names repeat: {names}", field="tags")
    unknown = set(thresholds) - set(names)
    if unknown:
        raise ValidationError(f"thresholds for unknown tags: {sorted(unknown)}", field="thresholds")
    out = {t: float(thresholds.get(t, DEFAULT_THRESHOLD)) for t in names}
    for tag, value in out.items():
        if not 0.0 <= value <= 1.0:
            raise ValidationError(
                f"threshold of {tag!r} must be within 0..1, got {value}", field="thresholds"
            )
    return out


def _to_table(
    item_ids: np.ndarray,
    tags: Sequence[str],
    scores: np.ndarray,
    thresholds: dict[str, float],
    version: int,
) -> pa.Table:
    """The long, tag-major table of one part."""
    n, n_tags = scores.shape
    limits = np.array([thresholds[t] for t in tags], dtype=np.float32)
    return pa.table(
        {
            "item_id": np.tile(item_ids, n_tags),
            "tag": pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(np.arange(n_tags, dtype=np.int32), n)), pa.array(list(tags))
            ).cast(pa.string()),
            "score": scores.T.reshape(-1),
            # float32 on both sides, as the SQL view compares them.
            "decision": (scores >= limits).T.reshape(-1),
            "threshold": np.repeat(limits, n),
            "version": np.full(n * n_tags, version, dtype=np.int32),
        },
        schema=SCHEMA,
    )


_WIDE_OPTIONS = {
    "row_group_size": 1 << 20,
    "write_statistics": True,
    "use_dictionary": False,  # ids and scores do not repeat
    "compression": "none",  # random scores do not compress; ids ascend (statistics prune)
}


def _wide_table(item_ids: np.ndarray, tags: Sequence[str], scores: np.ndarray) -> pa.Table:
    """The wide twin of a part: ``item_id`` and one float32 column per tag, named as the tag."""
    columns = {"item_id": pa.array(item_ids, pa.int64())}
    columns.update({t: pa.array(scores[:, j], pa.float32()) for j, t in enumerate(tags)})
    return pa.table(columns)


def _wide_names_ok(tags: Sequence[str]) -> bool:
    """Whether the tags can be columns beside ``item_id`` (SQL names ignore case)."""
    names = [t.strip().lower() for t in tags]
    return "item_id" not in names and len(set(names)) == len(names)


def _check_part(item_ids: object, scores: object, n_tags: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(item_ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValidationError(f"item_ids must be a 1-d integer array, got {ids.dtype} {ids.shape}")
    s = np.asarray(scores, dtype=np.float32)
    if s.shape != (len(ids), n_tags):
        raise ValidationError(
            f"scores must have shape (n_items, n_tags) = ({len(ids)}, {n_tags}), got {s.shape}"
        )
    if len(np.unique(ids)) != len(ids):
        raise ValidationError("item_ids repeat within a part")
    if s.size and not (np.isfinite(s).all() and s.min() >= 0.0 and s.max() <= 1.0):
        raise ValidationError("scores must be finite and within [0, 1]")
    return ids.astype(np.int64, copy=False), np.ascontiguousarray(s)


class ScoreWriter:
    """Writes one version part by part, resumably; created by :meth:`ScoreTables.writer`.

    Examples
    --------
    >>> w = tables.writer(1, "animals", 2, "visual", tags=["dog", "cat"], n_parts=3)
    >>> for part in w.missing_parts():  # after a kill, only the parts not yet written
    ...     ids, scores = score_chunk(part)
    ...     w.write_part(part, ids, scores)
    >>> w.finalize()  # atomically publishes scores/animals/1/visual/v000002/
    """

    def __init__(self, spec: dict, partial: Path, final: Path) -> None:
        self.spec = spec
        self.partial = partial
        self.final = final

    @property
    def tags(self) -> list[str]:
        return list(self.spec["tags"])

    @property
    def n_parts(self) -> int:
        return int(self.spec["n_parts"])

    def done_parts(self) -> list[int]:
        """The parts already written (complete: a part exists only once written whole)."""
        if not self.partial.is_dir():
            raise NotFoundError(
                f"{self.partial} is gone: discarded, or published by another writer"
            )
        found = (_PART_FILE.match(p.name) for p in self.partial.iterdir())
        return sorted(int(m.group(1)) for m in found if m and int(m.group(1)) < self.n_parts)

    def missing_parts(self) -> list[int]:
        """The parts still to write, in order: all of them for a new job."""
        done = set(self.done_parts())
        return [p for p in range(self.n_parts) if p not in done]

    def write_part(self, part: int, item_ids: np.ndarray, scores: np.ndarray) -> Path:
        """Write part ``part`` (0-based): ``item_ids`` (n,), ``scores`` (n, n_tags) in [0, 1].

        Writing a part again replaces it (a resumed job may redo the part it was killed in).
        """
        if not 0 <= part < self.n_parts:
            raise ValidationError(
                f"part must be within 0..{self.n_parts - 1}, got {part}", field="part"
            )
        ids, s = _check_part(item_ids, scores, len(self.tags))
        name = _part_name(part)
        if _wide_names_ok(self.tags):
            # The twin first: a part that exists has its twin (a resumed job skips it).
            (self.partial / WIDE_DIR).mkdir(exist_ok=True)
            wide = _wide_table(ids, self.tags, s)
            _write_parquet(wide, self.partial / WIDE_DIR / name, _WIDE_OPTIONS)
        table = _to_table(ids, self.tags, s, self.spec["thresholds"], self.spec["version"])
        options = {
            "row_group_size": max(len(ids), 1),
            "write_statistics": True,
            # Dictionaries only where values repeat: a score or id dictionary overflows and
            # falls back to plain pages, which costs readers ~2x. Random scores do not compress.
            "use_dictionary": ["tag", "threshold", "version"],
            "compression": {c: "none" if c == "score" else "snappy" for c in SCHEMA.names},
        }
        return _write_parquet(table, self.partial / name, options)

    def finalize(self) -> Path:
        """Publish the version: every part must be there. Returns the version's folder."""
        missing = self.missing_parts()
        if missing:
            raise ValidationError(
                f"cannot finalize {self.final.name}: {len(missing)} of {self.n_parts} parts are "
                f"missing (first: {missing[0]})"
            )
        n_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in self._part_paths())
        spec = {**self.spec, "n_items": n_rows // len(self.tags), "finished_at": _now()}
        if self._wide_whole():
            spec["wide"] = True
        _write_json(self.partial / MANIFEST, spec)
        _fsync_dir(self.partial)
        if self.final.exists():
            raise _exists_error(self.final)
        try:
            # Atomic; fails if another writer published the same version meanwhile.
            os.rename(self.partial, self.final)
        except OSError as exc:
            raise _exists_error(self.final) from exc
        _fsync_dir(self.final.parent)
        return self.final

    def _wide_whole(self) -> bool:
        """Every part has its wide twin and no two parts share an item (their id ranges, from
        the statistics, do not overlap): the twins hold one row per item."""
        twins = [self.partial / WIDE_DIR / _part_name(p) for p in range(self.n_parts)]
        if not all(t.is_file() for t in twins):
            return False
        found = (_part_range(t, t.stat().st_mtime_ns) for t in twins)
        ranges = sorted(r for r in found if r[0] <= r[1])  # an empty part has none
        return all(a[1] < b[0] for a, b in pairwise(ranges))

    def discard(self) -> None:
        """Remove the unfinished parts."""
        shutil.rmtree(self.partial, ignore_errors=True)

    def _part_paths(self) -> list[Path]:
        return [self.partial / _part_name(p) for p in range(self.n_parts)]


def _write_parquet(table: pa.Table, path: Path, options: dict) -> Path:
    """Write ``table`` at ``path`` atomically: a reader sees the file whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    unnamed = _unnamed_file(path.parent)
    if unnamed is None:  # no O_TMPFILE here: a named temporary file, removed on resume
        pq.write_table(table, tmp, **options)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
    else:
        # The part is written to a file without a name, so a job killed while writing it
        # leaves nothing behind; it gets a name only once whole.
        with unnamed as f:
            pq.write_table(table, f, **options)
            f.flush()
            os.fsync(f.fileno())
            tmp.unlink(missing_ok=True)  # left by a killed process of the same pid
            _link_unnamed(f, tmp)
    os.replace(tmp, path)
    return path


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _exists_error(path: Path) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"score version {path.name} already exists at {path}; versions are immutable, "
        "write a new version instead"
    )


class ScoreTables:
    """The score files of a workspace (``root`` is ``WorkspacePaths.scores``).

    ``group`` may be a group's name or its slug: files live under the slug
    (``"Street Scenes"`` → ``street_scenes``), as do the SQL tables ``dt_<slug>_<modality>``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- paths and listing ----------------------------------------------------------------
    def path(self, dataset_id: int, group: str, version: int, modality: str = "visual") -> Path:
        """The folder of a version (it may not exist yet)."""
        slug = _check_key(group, version, modality)
        return self.root / slug / str(int(dataset_id)) / modality / _version_name(version)

    def folder(self, group: str, dataset_id: int | None = None) -> Path:
        """The folder of a group's score files: of every dataset, or of ``dataset_id``'s."""
        folder = self.root / group_slug(group)
        return folder if dataset_id is None else folder / str(int(dataset_id))

    def dataset_folders(self, dataset_id: int) -> list[Path]:
        """The folders of ``dataset_id``'s score files, of every group."""
        if not self.root.is_dir():
            return []
        found = (group / str(int(dataset_id)) for group in self.root.iterdir())
        return sorted(p for p in found if p.is_dir())

    def versions(self, dataset_id: int, group: str, modality: str = "visual") -> list[int]:
        """The finished versions, oldest first."""
        folder = self.root / group_slug(group) / str(int(dataset_id)) / modality
        if not folder.is_dir():
            return []
        found = (_VERSION_DIR.match(p.name) for p in folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def latest(self, dataset_id: int, group: str, modality: str = "visual") -> int | None:
        """The newest finished version, or None when the dataset was never scored."""
        versions = self.versions(dataset_id, group, modality)
        return versions[-1] if versions else None

    def info(
        self, dataset_id: int, group: str, version: int, modality: str = "visual"
    ) -> ScoreVersion:
        """What a finished version holds (tags, thresholds, number of items, folder)."""
        folder = self.path(dataset_id, group, version, modality)
        try:
            spec = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"no score version {version} of group {group!r} for dataset {dataset_id} "
                f"({modality})"
            ) from exc
        return ScoreVersion(
            dataset_id=int(dataset_id),
            group=group_slug(group),
            version=int(version),
            modality=modality,
            tags=tuple(spec["tags"]),
            thresholds={k: float(v) for k, v in spec["thresholds"].items()},
            n_items=int(spec.get("n_items", 0)),
            path=folder,
            wide=bool(spec.get("wide", False)),
        )

    def scored(self, group: str | None = None) -> list[ScoreVersion]:
        """The latest finished version of every (group, dataset, modality) there is."""
        groups = [group_slug(group)] if group else sorted(self._children(self.root))
        out: list[ScoreVersion] = []
        for slug in groups:
            for ds in sorted(self._children(self.root / slug), key=_int_or_zero):
                if not ds.isdigit():
                    continue
                for modality in MODALITIES:
                    v = self.latest(int(ds), slug, modality)
                    if v is not None:
                        out.append(self.info(int(ds), slug, v, modality))
        return out

    @staticmethod
    def _children(folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        return [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]

    # -- writing --------------------------------------------------------------------------
    def writer(
        self,
        dataset_id: int,
        group: str,
        version: int,
        modality: str = "visual",
        *,
        tags: Sequence[str],
        thresholds: Mapping[str, float] | None = None,
        n_parts: int = 1,
        restart: bool = False,
    ) -> ScoreWriter:
        """Start, or resume, writing a version in ``n_parts`` parts.

        Resuming needs the same ``tags``, ``thresholds`` and ``n_parts`` as the first attempt
        (they are frozen in the partial folder); ``restart=True`` discards an earlier attempt.
        Raises :class:`AlreadyExistsError` if the version is already finished.
        """
        spec, final = self._spec(dataset_id, group, version, modality, tags, thresholds, n_parts)
        partial = final.with_name(final.name + ".partial")
        return self._start(spec, partial, final, restart=restart)

    def _spec(
        self,
        dataset_id: int,
        group: str,
        version: int,
        modality: str,
        tags: Sequence[str],
        thresholds: Mapping[str, float] | None,
        n_parts: int,
    ) -> tuple[dict, Path]:
        final = self.path(dataset_id, group, version, modality)
        if final.exists():
            raise _exists_error(final)
        if isinstance(n_parts, bool) or not isinstance(n_parts, int) or n_parts < 1:
            raise ValidationError(
                f"n_parts must be an integer >= 1, got {n_parts!r}", field="n_parts"
            )
        spec = {
            "dataset_id": int(dataset_id),
            "group": group_slug(group),
            "version": int(version),
            "modality": modality,
            "tags": list(tags),
            "thresholds": _check_tags(tags, thresholds or {}),
            "n_parts": n_parts,
        }
        return spec, final

    @staticmethod
    def _start(spec: dict, partial: Path, final: Path, *, restart: bool) -> ScoreWriter:
        if restart:
            shutil.rmtree(partial, ignore_errors=True)
        manifest = partial / MANIFEST
        if manifest.exists():
            before = json.loads(manifest.read_text())
            before.pop("started_at", None)
            if before != spec:
                raise ValidationError(
                    f"an unfinished attempt at {final.name} used other tags, thresholds or "
                    f"parts ({partial}); resume it with the same ones or pass restart=True"
                )
        else:
            partial.mkdir(parents=True, exist_ok=True)
            _write_json(manifest, {**spec, "started_at": _now()})
        for stale in [*partial.glob(".part-*.tmp"), *(partial / WIDE_DIR).glob(".part-*.tmp")]:
            stale.unlink(missing_ok=True)  # a part a killed job was writing
        return ScoreWriter(spec, partial, final)

    def write(
        self,
        dataset_id: int,
        group: str,
        version: int,
        modality: str,
        item_ids: np.ndarray,
        tags: Sequence[str],
        scores: np.ndarray,
        thresholds: Mapping[str, float] | None = None,
    ) -> Path:
        """Write a whole version at once (one part): ``scores`` is (n_items, n_tags).

        Returns the version's folder. Raises :class:`AlreadyExistsError` if it exists.
        """
        spec, final = self._spec(dataset_id, group, version, modality, tags, thresholds, 1)
        # A folder of its own: a one-shot write never touches a resumable job's parts.
        private = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        w = self._start(spec, private, final, restart=True)
        try:
            w.write_part(0, item_ids, scores)
        except BaseException:
            w.discard()
            raise
        return w.finalize()

    # -- reading --------------------------------------------------------------------------
    def scores_of(self, info: ScoreVersion, item_ids: np.ndarray) -> np.ndarray:
        """The scores of ``item_ids`` in a finished version: (n, n_tags) float32, NaN where an
        item has none. Only the parts whose id range holds one of them are read (kept for the
        next call: a grid page reads one or two parts, not the 200M rows of 10M items)."""
        wanted = np.asarray(item_ids, np.int64)
        out = np.full((len(wanted), len(info.tags)), np.nan, dtype=np.float32)
        for path in info.files:
            mtime = path.stat().st_mtime_ns
            lo, hi = _part_range(path, mtime)
            inside = np.flatnonzero((wanted >= lo) & (wanted <= hi))
            if not len(inside):
                continue
            # A part's wide twin holds the same scores as a matrix already: 3x faster to read
            # (a page sorted by a score touches a part per item: 79 parts at 10M items).
            twin = path.parent / WIDE_DIR / path.name
            if info.wide and twin.is_file():
                ids, scores = _cached_part(twin, twin.stat().st_mtime_ns, info.tags, wide=True)
            else:
                ids, scores = _cached_part(path, mtime, info.tags)
            if not len(ids):
                continue
            pos = np.searchsorted(ids, wanted[inside]).clip(max=len(ids) - 1)
            hit = ids[pos] == wanted[inside]
            rows, found = inside[hit], scores[pos[hit]]
            # A later part's score of an item wins, as in :meth:`load`.
            out[rows] = np.where(np.isnan(found), out[rows], found)
        return out

    def load(
        self, dataset_id: int, group: str, version: int, modality: str = "visual"
    ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """A version as arrays: item ids (n,), tag names, scores (n, n_tags) float32.

        Read a part at a time, tag names as the files' dictionary codes: memory stays near the
        result (4 bytes per item and tag, 800 MB for 20 tags of 10M items) plus one part, where
        the whole long table would take ~25 bytes per score (200M rows: 5 GB and more).
        """
        info = self.info(dataset_id, group, version, modality)
        tags = list(info.tags)
        part_ids, part_scores = [], []
        for path in info.files:
            ids, scores = _part_matrix(path, tags)
            part_ids.append(ids)
            part_scores.append(scores)
        if not part_ids:
            return np.empty(0, np.int64), tags, np.empty((0, len(tags)), np.float32)
        all_ids = np.concatenate(part_ids)
        if len(all_ids) < 2 or bool((np.diff(all_ids) > 0).all()):  # parts of ascending ids
            return all_ids, tags, np.concatenate(part_scores)
        ids, where = np.unique(all_ids, return_inverse=True)
        out = np.full((len(ids), len(tags)), np.nan, dtype=np.float32)
        start = 0
        for scores in part_scores:  # a later part's score of an item wins, as rows did
            rows = where[start : start + len(scores)]
            start += len(scores)
            for col in range(len(tags)):
                has = ~np.isnan(scores[:, col])
                out[rows[has], col] = scores[has, col]
        return ids, tags, out


def _part_matrix(path: Path, tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One part as (its item ids ascending, their scores (n, n_tags), NaN where not scored)."""
    table = pq.read_table(path, columns=["item_id", "tag", "score"], read_dictionary=["tag"])
    all_ids = table.column("item_id").to_numpy()
    tag = table.column("tag").combine_chunks()
    codes = tag.indices.to_numpy(zero_copy_only=False)
    found = pc.index_in(tag.dictionary, value_set=pa.array(tags, pa.string()))
    score = table.column("score").to_numpy()
    tag_cols = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    blocks = _tag_blocks(all_ids, codes)
    if blocks is not None and (tag_cols[codes[:: len(blocks[0])]] >= 0).all():
        # As the writer lays a part out: one block of rows per tag, the same ascending ids in
        # each. Columns are the blocks (no search: 10x faster).
        ids, n = blocks[0], len(blocks[0])
        scores = np.full((n, len(tags)), np.nan, dtype=np.float32)
        for j, col in enumerate(tag_cols[codes[::n]]):
            scores[:, col] = score[j * n : (j + 1) * n]
        return ids, scores
    cols = tag_cols[codes]
    ids = np.unique(all_ids)
    scores = np.full((len(ids), len(tags)), np.nan, dtype=np.float32)
    known = cols >= 0  # a tag outside the manifest's list (none is written) is left out
    rows = np.searchsorted(ids, all_ids)
    scores[rows[known], cols[known]] = score[known]
    return ids, scores


def _wide_matrix(path: Path, tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A part's wide twin as (its item ids ascending, their scores (n, n_tags))."""
    table = pq.read_table(path, columns=["item_id", *tags])
    scores = np.empty((table.num_rows, len(tags)), dtype=np.float32)
    for j, tag in enumerate(tags):
        scores[:, j] = table.column(tag).to_numpy()
    return table.column("item_id").to_numpy(), scores


def _tag_blocks(all_ids: np.ndarray, codes: np.ndarray) -> np.ndarray | None:
    """The part's ids as (tag blocks, ids) when it is tag-major with the same strictly
    ascending ids in every block, each block one tag of its own; else None."""
    if len(all_ids) == 0:
        return None
    other = np.flatnonzero(codes != codes[0])
    n = int(other[0]) if len(other) else len(codes)
    if len(all_ids) % n:
        return None
    blocks = all_ids.reshape(-1, n)
    block_codes = codes.reshape(-1, n)
    same = (blocks == blocks[0]).all() and (block_codes == block_codes[:, :1]).all()
    distinct = len(np.unique(block_codes[:, 0])) == len(blocks)
    ascending = n < 2 or bool((np.diff(blocks[0]) > 0).all())
    return blocks if same and distinct and ascending else None


PARTS_KEPT = 256
"""Parts :meth:`ScoreTables.scores_of` keeps read (50,000 items x 20 tags: 4 MB each)."""


@lru_cache(maxsize=16384)
def _part_range(path: Path, mtime_ns: int) -> tuple[float, float]:
    """The lowest and highest item id of a part, from its statistics (no data read)."""
    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("item_id")
    lo, hi = np.inf, -np.inf
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        if stats is None or not stats.has_min_max:
            return -np.inf, np.inf
        lo, hi = min(lo, stats.min), max(hi, stats.max)
    return lo, hi


@lru_cache(maxsize=PARTS_KEPT)
def _cached_part(path: Path, mtime_ns: int, tags: tuple[str, ...], wide: bool = False) -> tuple:
    ids, scores = (_wide_matrix if wide else _part_matrix)(path, list(tags))
    ids.flags.writeable = scores.flags.writeable = False
    return ids, scores


def _int_or_zero(name: str) -> int:
    return int(name) if name.isdigit() else 0


__all__ = ["MODALITIES", "SCHEMA", "WIDE_DIR", "ScoreTables", "ScoreVersion", "ScoreWriter"]
