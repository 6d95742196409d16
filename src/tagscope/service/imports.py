"""Import use cases (SPEC F-01, F-02, F-04): images from a folder, CSV and JSON lists, COCO,
YOLO.

Each import reads its source whole first: a source file that is not valid (not JSON, not a COCO
object, not UTF-8) raises :class:`ValidationError` before anything changes. Then it runs as an
``import`` job: files already in the dataset (keyed by absolute path) are not read again but get
the labels and text the source adds; new files are probed (size, dimensions, format, hash) and
given a thumbnail as ``thumbnails`` asks (see :mod:`tagscope.service.thumbnails`: by default
only those that need no decoding, the rest left to the filler) by a map over shards of them on
the workspace's runner (:class:`ProbeFiles`: a few threads per shard, in this process or on Ray
workers), and inserted here in batches with their modification time. A file or record that
cannot be used becomes an :class:`ImportProblem`; the import goes on and keeps what is there.
Files stay inside the folder an import is given: a name with ``..``, an absolute name or a
symbolic link leading out of it is such a problem, unless ``follow_symlinks`` allows links (see
:class:`tagscope.media.paths.ImportFolder`). Items are keyed by their real path. A folder may
be a ``file://`` URI (that local folder) or, for :func:`import_images`, any fsspec URI, whose
images are items by their URI (:mod:`tagscope.media.sources`).

Adding to a dataset needs ``dataset.edit`` on it, creating one ``dataset.create`` on the
workspace (:func:`check_import`): checked before the source is read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagscope.domain import (
    AlreadyExistsError,
    Dataset,
    ImportProblem,
    ImportReport,
    Label,
    LabelKind,
    MediaInfo,
    NewItem,
    NotFoundError,
    ValidationError,
    validate_dataset_name,
)
from tagscope.jobs.runner import ProgressFn
from tagscope.labels.formats.coco import read_coco
from tagscope.labels.formats.csv_list import read_csv_list
from tagscope.labels.formats.folder import scan_folder
from tagscope.labels.formats.json_list import read_json_list
from tagscope.labels.formats.records import Entry, Parsed
from tagscope.labels.formats.yolo import in_pixels, read_yolo
from tagscope.media.errors import MediaError
from tagscope.media.images import IMAGE_SUFFIXES, read_media
from tagscope.media.paths import UnsafePath
from tagscope.media.sources import file_stat, is_uri, list_files, local_path
from tagscope.media.thumbnails import ensure_thumbnail, ready_thumbnail
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.thumbnails import DEFAULT_MODE, ThumbnailMode, thumbnail_mode
from tagscope.service.workspace import Workspace

# Files per batch: one catalog transaction and one progress report each.
_BATCH = 500
# Batches per shard of the probing map: a worker's (or this process's) probing threads stay busy
# while the batches probed before are stored; smaller shards spread over more workers.
_SHARD_BATCHES = 4
# Reading, hashing and decoding release the GIL: a thread per core (a few at most) overlaps
# them with the catalog inserts of the main thread; more only contend for the GIL.
_WORKERS = min(4, os.cpu_count() or 1)
# Writing thumbnails mostly waits on the file system (creating a file can take a millisecond),
# so more threads pay there.
_THUMBNAIL_WORKERS = 4 * _WORKERS
# The job record keeps this many problems (the returned report keeps them all).
_MAX_JOB_PROBLEMS = 1000

PathLike = str | os.PathLike[str]


def import_images(
    ws: Workspace,
    dataset_name: str,
    folder: PathLike,
    *,
    labels_from_folders: bool = False,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import every image under ``folder`` (recursively) into a dataset, creating it if needed.

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    folder : path-like or URI
        Scanned recursively; hidden files are skipped, other non-image files are reported. A
        ``file://`` URI is the local folder it names; another fsspec URI (``s3://bucket/x``)
        is listed through fsspec, and its images are items by their URI.
    labels_from_folders : bool, default False
        The folder holding an image names its main classification label.
    thumbnails : {"defer", "now", "none"} or bool, default "defer"
        ``"defer"``: settle the thumbnails that need no decoding (a small upright JPEG is its
        own, a cached one is reused) and leave the others to
        :func:`tagscope.service.thumbnails.fill_thumbnails` (``tagscope thumbnails``, or
        ``tagscope serve`` in the background; a file by URI gets its own now, from the bytes
        read); ``"now"`` (True): make every one now;
        ``"none"`` (False): none (each is made on its first view). Thumbnails are cached by
        content hash and made once.
    follow_symlinks : bool, default False
        Follow symbolic links leading out of ``folder`` (to image files and folders); without
        it they are reported and never opened.
    progress : callable, optional
        ``progress(n_done, n_total)`` over the files found.

    Returns
    -------
    ImportReport
        ``n_added`` new items, ``n_existing`` files already there, ``n_labels`` new labels,
        ``n_thumbnails_deferred`` thumbnails left to the filler, and a problem per unusable
        file.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder, the dataset name or the ``thumbnails`` mode is invalid.
    """
    check_import(ws, dataset_name)
    if is_uri(folder):
        parsed = scan_uri_folder(str(folder), labels_from_folders=labels_from_folders)
    else:
        parsed = scan_folder(
            local_file(folder, "folder"),
            labels_from_folders=labels_from_folders,
            follow_symlinks=follow_symlinks,
        )
    params = {
        "format": "folder",
        "source": str(folder),
        "labels_from_folders": labels_from_folders,
        "follow_symlinks": follow_symlinks,
    }
    return _import(ws, dataset_name, parsed, params, thumbnails=thumbnails, progress=progress)


def import_csv(
    ws: Workspace,
    dataset_name: str,
    path: PathLike,
    *,
    base: PathLike | None = None,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import the files a CSV list names, with its classification labels.

    Each row is ``file name, label, ...`` (the first label is the main one); see
    :func:`tagscope.labels.formats.csv_list.read_csv_list`. ``base`` is the folder file names
    are relative to and stay inside (default: the CSV file's folder). Other parameters and the
    result are as for :func:`import_images`.

    Raises
    ------
    ValidationError
        The CSV file is missing or not UTF-8 text, or the dataset name is invalid.
    """
    check_import(ws, dataset_name)
    parsed = read_csv_list(
        local_file(path, "path"),
        base=import_folder(base) if base else None,
        follow_symlinks=follow_symlinks,
    )
    params = _list_params("csv", path, base, follow_symlinks)
    return _import(ws, dataset_name, parsed, params, thumbnails=thumbnails, progress=progress)


def import_json(
    ws: Workspace,
    dataset_name: str,
    path: PathLike,
    *,
    base: PathLike | None = None,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import the files a JSON list names, with their classification labels.

    Entries are ``{"name", "mainClassificationLabel", "classificationLabels"}``; see
    :func:`tagscope.labels.formats.json_list.read_json_list`. ``base`` is the folder names are
    relative to and stay inside (default: the JSON file's folder). Other parameters and the
    result are as for :func:`import_images`.

    Raises
    ------
    ValidationError
        The file is missing, not valid JSON or not a list, or the dataset name is invalid.
    """
    check_import(ws, dataset_name)
    parsed = read_json_list(
        local_file(path, "path"),
        base=import_folder(base) if base else None,
        follow_symlinks=follow_symlinks,
    )
    params = _list_params("json", path, base, follow_symlinks)
    return _import(ws, dataset_name, parsed, params, thumbnails=thumbnails, progress=progress)


def import_coco(
    ws: Workspace,
    dataset_name: str,
    annotations: PathLike,
    *,
    images: PathLike,
    captions: PathLike | None = None,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import the images of a COCO instances file with their boxes, polygons and masks.

    See :mod:`tagscope.labels.formats.coco`. With ``captions`` (a ``captions_*.json`` file),
    each image's captions become its own text, one per line; on images already imported the
    text is replaced. Other parameters and the result are as for :func:`import_images`.

    Parameters
    ----------
    annotations : path-like
        The instances file.
    images : path-like
        The folder its ``file_name`` are relative to and stay inside.
    captions : path-like, optional
        A COCO captions file.

    Raises
    ------
    ValidationError
        A file is missing, not valid JSON or not a COCO object; ``images`` is not a folder; or
        the dataset name is invalid.
    """
    check_import(ws, dataset_name)
    parsed = read_coco(
        local_file(annotations, "annotations"),
        images=import_folder(images),
        captions=local_file(captions, "captions") if captions else None,
        follow_symlinks=follow_symlinks,
    )
    params = {
        "format": "coco",
        "source": str(annotations),
        "images": str(images),
        "captions": str(captions) if captions else None,
        "follow_symlinks": follow_symlinks,
    }
    return _import(ws, dataset_name, parsed, params, thumbnails=thumbnails, progress=progress)


def import_yolo(
    ws: Workspace,
    dataset_name: str,
    root: PathLike,
    *,
    thumbnails: ThumbnailMode | bool = DEFAULT_MODE,
    follow_symlinks: bool = False,
    progress: ProgressFn | None = None,
) -> ImportReport:
    """Import a YOLO dataset folder (``images/``, ``labels/*.txt``, ``data.yaml`` or
    ``classes.txt``) with its boxes and polygons.

    See :mod:`tagscope.labels.formats.yolo`. The normalised coordinates become pixels with the
    size read of each image (the stored one for items already there). Other parameters and the
    result are as for :func:`import_images`.

    Raises
    ------
    ValidationError
        ``root`` or its ``images`` is not a folder, it has no class names, its ``data.yaml`` or
        ``classes.txt`` is malformed, or the dataset name is invalid.
    """
    check_import(ws, dataset_name)
    parsed = read_yolo(local_file(root, "root"), follow_symlinks=follow_symlinks)
    params = {"format": "yolo", "source": str(root), "follow_symlinks": follow_symlinks}
    return _import(
        ws,
        dataset_name,
        parsed,
        params,
        thumbnails=thumbnails,
        progress=progress,
        normalised=True,
    )


def _list_params(
    fmt: str, path: PathLike, base: PathLike | None, follow_symlinks: bool
) -> dict[str, Any]:
    return {
        "format": fmt,
        "source": str(path),
        "base": str(base) if base else None,
        "follow_symlinks": follow_symlinks,
    }


def import_folder(folder: PathLike) -> Path:
    """The local folder an import reads (a path or a ``file://`` URI), checked to be one."""
    path = local_file(folder, "folder")
    if not path.is_dir():
        raise ValidationError(f"{folder} is not a folder", field="folder")
    return path


def local_file(path: PathLike, field: str) -> Path:
    """The local path ``path`` names: itself, or a ``file://`` URI's path.

    Raises
    ------
    ValidationError
        ``path`` is a URI of another file system, or a ``file://`` URI with ``..``.
    """
    try:
        local = local_path(path)
    except UnsafePath as exc:
        raise ValidationError(str(exc), field=field) from None
    if local is None:
        raise ValidationError(
            f"{field} {path}: only a local path or a file:// URI is read here", field=field
        )
    return Path(local).expanduser()


def uri_files(folder: str) -> list[tuple[str, str]]:
    """The files under the folder URI ``folder``: :func:`~tagscope.media.sources.list_files`,
    its refusals as the import's (``field="folder"``).

    Raises
    ------
    ValidationError
        ``folder`` is not a folder, or leads out of one (``..``).
    """
    try:
        return list_files(folder)
    except MediaError as exc:
        raise ValidationError(str(exc), field="folder") from None


def scan_uri_folder(folder: str, *, labels_from_folders: bool = False) -> Parsed:
    """Every image file under the folder URI ``folder`` (any fsspec file system), sorted by
    name, as :func:`~tagscope.labels.formats.folder.scan_folder` finds those of a local one:
    hidden files are skipped, other files reported, and with ``labels_from_folders`` the folder
    holding an image names its main classification label.

    Raises
    ------
    ValidationError
        ``folder`` is not a folder, or leads out of one (``..``).
    """
    files = uri_files(folder)
    parsed = Parsed()
    for uri, name in files:
        suffix = os.path.splitext(name)[1].lower()
        if suffix not in IMAGE_SUFFIXES:
            parsed.problem(uri, f"not an image file type ({suffix or 'no suffix'})")
            continue
        parent = name.rpartition("/")[0].rpartition("/")[2]
        main = Label(LabelKind.CLASSIFICATION, parent, is_main=True)
        parsed.entries.append(Entry(uri, (main,) if labels_from_folders and parent else ()))
    return parsed


def check_import(ws: Workspace, name: str) -> None:
    """Refuse an import into dataset ``name`` that the caller may not do (``PermissionDeniedError``)
    or whose name is invalid (``ValidationError``), before any source is read."""
    validate_dataset_name(name)
    try:
        policy.dataset(ws, Action.DATASET_EDIT, name)
    except NotFoundError:
        policy.workspace(ws, Action.DATASET_CREATE)


def import_dataset(ws: Workspace, name: str) -> Dataset:
    """The dataset an import adds to (``dataset.edit``), created when it does not exist yet
    (``dataset.create``)."""
    try:
        return policy.dataset(ws, Action.DATASET_EDIT, name)
    except NotFoundError:
        pass
    policy.workspace(ws, Action.DATASET_CREATE)
    try:
        return ws.catalog.create_dataset(name)
    except AlreadyExistsError:  # another process created it meanwhile
        return policy.dataset(ws, Action.DATASET_EDIT, name)


def _import(
    ws: Workspace,
    dataset_name: str,
    parsed: Parsed,
    params: dict[str, Any],
    *,
    thumbnails: ThumbnailMode | bool,
    progress: ProgressFn | None,
    normalised: bool = False,
) -> ImportReport:
    """Run ``parsed`` as an import job; ``normalised``: its labels' geometry is in fractions of
    the image's size (YOLO), scaled to pixels when the size is known."""
    mode = thumbnail_mode(thumbnails)
    ds = import_dataset(ws, dataset_name)
    report = ImportReport(problems=list(parsed.problems))
    params = {**params, "thumbnails": mode}

    def work(report_progress: ProgressFn) -> dict[str, Any]:
        run = _ImportRun(
            ws, ds.id, report, thumbnails=mode, progress=report_progress, normalised=normalised
        )
        run.execute(parsed.entries)
        return {
            "n_added": report.n_added,
            "n_existing": report.n_existing,
            "n_labels": report.n_labels,
            "n_thumbnails_deferred": report.n_thumbnails_deferred,
            "n_problems": len(report.problems),
            "problems": [
                {"source": p.source, "reason": p.reason}
                for p in report.problems[:_MAX_JOB_PROBLEMS]
            ],
        }

    ws.runner.run("import", ds.id, params, work, on_progress=progress)
    return report


class _ImportRun:
    """One import job's work over the entries of a source: the new files are probed by a map
    over shards of them (:class:`ProbeFiles`, on the workspace's runner), their rows stored
    here, a batch per transaction."""

    def __init__(
        self,
        ws: Workspace,
        dataset_id: int,
        report: ImportReport,
        *,
        thumbnails: ThumbnailMode,
        progress: ProgressFn,
        normalised: bool = False,
    ) -> None:
        self.ws = ws
        self.normalised = normalised
        self.dataset_id = dataset_id
        self.report = report
        self.mode = thumbnails
        self.folder = ws.paths.thumbnails
        self.progress = progress

    def execute(self, entries: Sequence[Entry]) -> None:
        merged = _merge(entries)
        paths = list(merged)
        known = self.ws.catalog.existing_paths(self.dataset_id, paths)
        n_done = 0
        self.progress(0, len(paths))
        old = [merged[p] for p in paths if p in known]
        for batch in _batches(old):
            self._update(batch, known)
            n_done += len(batch)
            self.progress(n_done, len(paths))
        new = [p for p in paths if p not in known]
        for files in self.ws.runner.map(ProbeFiles(self.mode, self.folder), _shards(new)):
            self._add([merged[f.path] for f in files], files)
            n_done += len(files)
            self.progress(n_done, len(paths))

    def _add(self, batch: list[Entry], files: list[ProbedFile]) -> None:
        """Insert the readable files of a batch with their labels; report the others."""
        items = []
        for entry, file in zip(batch, files, strict=True):
            if file.info is None:
                self.report.problems.append(ImportProblem(entry.path, str(file.reason)))
                continue
            item = NewItem(
                entry.path,
                file.info,
                text=entry.text,
                split=entry.split,
                labels=self._labels(entry, file.info),
                mtime_ns=file.mtime_ns,
            )
            items.append(item)
            self.report.n_thumbnails_deferred += file.deferred
        n_added, n_existing, n_labels = self.ws.catalog.add_items(self.dataset_id, items)
        self.report.n_added += n_added
        self.report.n_existing += n_existing  # added by another process since we looked
        self.report.n_labels += n_labels

    def _labels(self, entry: Entry, media: MediaInfo | None) -> tuple[Label, ...]:
        """The entry's labels, in pixels of its image when the source's are normalised."""
        if not self.normalised or not entry.labels:
            return entry.labels
        if media is None:
            self.report.problems.append(
                ImportProblem(entry.path, "no image size to place its normalised labels")
            )
            return ()
        return tuple(in_pixels(label, media.width, media.height) for label in entry.labels)

    def _update(self, batch: list[Entry], known: dict[str, int]) -> None:
        """Give items already there the labels and text the source adds (files not re-read)."""
        items = self.ws.catalog.get_items([known[e.path] for e in batch])
        self.report.n_existing += len(batch)
        self.report.n_labels += self.ws.catalog.add_labels(
            (known[e.path], label)
            for e in batch
            for label in self._labels(e, items[known[e.path]].media)
        )
        texts = {
            known[e.path]: e.text
            for e in batch
            if e.text is not None and items[known[e.path]].text != e.text
        }
        if texts:
            self.ws.catalog.update_item_text(texts)
        if self.mode == "now":  # deferred ones are the filler's
            shard = [(i.path, i.media.content_hash) for i in items.values() if i.media is not None]
            for path, reason in self.ws.runner.map(MakeThumbnails(self.folder), [shard]):
                self.report.problems.append(ImportProblem(path, reason))


@dataclass(frozen=True, slots=True)
class ProbedFile:
    """What probing a file found (plain values: a worker sends them back): its media info and
    modification time, whether its thumbnail was left to the filler; or, with no ``info``, why
    it cannot be used."""

    path: str
    info: MediaInfo | None = None
    mtime_ns: int | None = None
    deferred: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeFiles:
    """An import's map task over a shard of file paths (or URIs): each file's size, dimensions,
    format and content hash, and its thumbnail made or settled as ``mode`` asks in the folder
    ``thumbnails`` (which every worker shares), from one read of the file, by a few threads.

    Yields a list of :class:`ProbedFile` per batch of the shard, in order: on a local runner,
    the threads probe the next batches while the job stores this one.
    """

    mode: ThumbnailMode
    thumbnails: Path

    def __call__(self, shard: list[str]) -> Iterator[list[ProbedFile]]:
        workers = _THUMBNAIL_WORKERS if self.mode == "now" else _WORKERS
        pool = ThreadPoolExecutor(workers, thread_name_prefix="tagscope-import")
        try:
            futures = [pool.submit(self.probe, path) for path in shard]
            for i in range(0, len(futures), _BATCH):
                yield [f.result() for f in futures[i : i + _BATCH]]
        finally:  # also when the job stops early: no probing goes on behind it
            pool.shutdown(cancel_futures=True)

    def probe(self, path: str) -> ProbedFile:
        """The file's media info (and its thumbnail made or settled, from the same read), or why
        it cannot be used."""
        folder = self.thumbnails
        deferred = False
        # A file by URI gets its thumbnail now from the bytes read here: the filler would read
        # it again from its (remote) file system.
        now = self.mode == "now" or (self.mode == "defer" and is_uri(path))
        try:
            info, data = read_media(path)
            if now:
                ensure_thumbnail(path, info.content_hash, folder, data=data)
            elif self.mode == "defer":
                deferred = ready_thumbnail(path, info.content_hash, folder, data=data) is None
            # Serving checks that the file is still the one imported: by this size and time.
            size, mtime_ns = file_stat(path)
        except MediaError as exc:
            return ProbedFile(path, reason=str(exc))
        if size != info.size:
            return ProbedFile(path, reason="the file changed while it was imported")
        return ProbedFile(path, info, mtime_ns, deferred)


@dataclass(frozen=True, slots=True)
class MakeThumbnails:
    """A map task over a shard of ``(path, content hash)`` of items already imported: makes the
    thumbnails missing from the folder ``thumbnails``; yields ``(path, reason)`` for each that
    cannot be made."""

    thumbnails: Path

    def __call__(self, shard: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        with ThreadPoolExecutor(_THUMBNAIL_WORKERS, thread_name_prefix="tagscope-import") as pool:
            for (path, _), reason in zip(shard, pool.map(self.make, shard), strict=True):
                if reason is not None:
                    yield path, reason

    def make(self, item: tuple[str, str]) -> str | None:
        try:
            ensure_thumbnail(item[0], item[1], self.thumbnails)
        except MediaError as exc:
            return str(exc)
        return None


def _merge(entries: Sequence[Entry]) -> dict[str, Entry]:
    """One entry per path: a file named twice gets the labels of both (and the first text)."""
    merged: dict[str, Entry] = {}
    for entry in entries:
        seen = merged.get(entry.path)
        if seen is None:
            merged[entry.path] = entry
        else:
            labels: tuple[Label, ...] = seen.labels + entry.labels
            merged[entry.path] = Entry(
                entry.path, labels, seen.text or entry.text, seen.split or entry.split
            )
    return merged


def _batches(entries: list[Entry]) -> Iterator[list[Entry]]:
    for i in range(0, len(entries), _BATCH):
        yield entries[i : i + _BATCH]


def _shards(paths: list[str]) -> Iterator[list[str]]:
    step = _BATCH * _SHARD_BATCHES
    for i in range(0, len(paths), step):
        yield paths[i : i + step]
