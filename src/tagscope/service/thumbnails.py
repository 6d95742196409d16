"""Thumbnails of a dataset: when an import makes them, and the filler that makes the rest.

An import's ``thumbnails`` choice (:func:`thumbnail_mode`):

- ``"defer"`` (the default) settles at import the thumbnails that cost no decoding (a small
  upright JPEG is its own; one already cached) and leaves the others to :func:`fill_thumbnails`:
  decoding a 640x480 photo takes 2-4 ms, ten times what the rest of its import costs.
- ``"now"`` (``True``) makes every thumbnail during the import.
- ``"none"`` (``False``) makes none; the thumbnail endpoint makes one on its first view.

:func:`fill_thumbnails` is a resumable ``thumbnails`` job over a dataset's items: it makes every
missing thumbnail, in parallel, and records the last item it covered, so the next run starts
after it (a second run does nothing; a killed run is redone from its start, skipping the
thumbnails already made). ``tagscope serve`` starts it for datasets a deferring import left
thumbnails to (:func:`start_missing_thumbnails`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from tagscope.domain import Item, Job, JobStatus, ValidationError
from tagscope.jobs.runner import ProgressFn
from tagscope.media.errors import MediaError
from tagscope.media.paths import changed_since_import
from tagscope.media.thumbnails import ensure_thumbnail
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace

log = logging.getLogger(__name__)

ThumbnailMode = Literal["now", "defer", "none"]
MODES: tuple[ThumbnailMode, ...] = ("now", "defer", "none")
DEFAULT_MODE: ThumbnailMode = "defer"
JOB_KIND = "thumbnails"

# Pillow releases the GIL while it decodes, resizes and encodes: a thread per core.
_WORKERS = os.cpu_count() or 1
# Items fetched from the catalog and reported as progress at a time.
_CHUNK = 256
# The job record keeps this many problems.
_MAX_JOB_PROBLEMS = 1000


def thumbnail_mode(value: ThumbnailMode | bool) -> ThumbnailMode:
    """The import mode ``value`` names: ``True`` is ``"now"``, ``False`` is ``"none"``.

    Raises
    ------
    ValidationError
        ``value`` is none of ``now``, ``defer``, ``none``, True or False.
    """
    if value is True:
        return "now"
    if value is False:
        return "none"
    if value in MODES:
        return value
    raise ValidationError(
        f"thumbnails must be one of now, defer, none (or True / False), not {value!r}",
        field="thumbnails",
    )


def fill_thumbnails(ws: Workspace, dataset: str, *, progress: ProgressFn | None = None) -> Job:
    """Make the missing thumbnails of ``dataset``'s items, in parallel, as a ``thumbnails`` job.

    Covers the items added since the last finished run. An item whose file is missing or
    changed since its import, or cannot be decoded, gets no thumbnail and is listed in the
    job's ``problems``.

    Returns
    -------
    Job
        Done (or queued, on a background workspace); its ``result`` holds ``n_items`` checked,
        ``n_made``, ``n_present`` (own or cached already), ``n_problems``, ``problems`` and
        ``last_item_id``, where the next run starts.
    """
    ds = policy.dataset(ws, Action.DATASET_EDIT, dataset)
    since = filled_up_to(ws, ds.id)

    def work(report: ProgressFn) -> dict[str, Any]:
        ids = [i for i in ws.catalog.item_ids(ds.id) if i > since]
        counts = {"made": 0, "present": 0}
        problems: list[dict[str, str]] = []
        report(0, len(ids))
        with ThreadPoolExecutor(_WORKERS, thread_name_prefix="tagscope-thumbnails") as pool:
            for n_done, items in _chunks(ws, ids):
                for item, outcome in zip(items, pool.map(_fill_one(ws), items), strict=True):
                    if outcome in counts:
                        counts[outcome] += 1
                    else:
                        problems.append({"source": item.path, "reason": outcome})
                report(n_done, len(ids))
        return {
            "n_items": len(ids),
            "n_made": counts["made"],
            "n_present": counts["present"],
            "n_problems": len(problems),
            "problems": problems[:_MAX_JOB_PROBLEMS],
            "last_item_id": ids[-1] if ids else since,
        }

    return ws.runner.run(JOB_KIND, ds.id, {"since_item_id": since}, work, on_progress=progress)


def filled_up_to(ws: Workspace, dataset_id: int) -> int:
    """The last item id the latest finished ``thumbnails`` job covered (0: none ran)."""
    for job in ws.catalog.list_jobs(dataset_id):  # newest first
        if job.kind == JOB_KIND and job.status == JobStatus.DONE:
            return int(job.result.get("last_item_id", 0))
    return 0


def needs_filling(ws: Workspace, dataset_id: int) -> bool:
    """Whether an import deferred thumbnails to the filler and items remain beyond its last run."""
    jobs = ws.catalog.list_jobs(dataset_id)
    if not any(j.kind == "import" and j.params.get("thumbnails") == "defer" for j in jobs):
        return False
    ids = ws.catalog.item_ids(dataset_id)
    return bool(ids) and ids[-1] > filled_up_to(ws, dataset_id)


def fill_missing_thumbnails(ws: Workspace) -> None:
    """:func:`fill_thumbnails` on every dataset that :func:`needs_filling`, one after another.

    A dataset whose job fails is logged (its job records the error) and the others go on.
    """
    for ds in ws.catalog.list_datasets():
        try:
            if needs_filling(ws, ds.id):
                fill_thumbnails(ws, ds.name)
        except Exception:
            log.exception("filling the thumbnails of dataset %s failed", ds.name)


def start_missing_thumbnails(ws: Workspace) -> threading.Thread:
    """:func:`fill_missing_thumbnails` in a daemon thread (a server answers meanwhile; its
    thumbnail endpoint makes on first view any the filler has not reached)."""
    thread = threading.Thread(
        target=fill_missing_thumbnails, args=(ws,), name="tagscope-thumbnail-filler", daemon=True
    )
    thread.start()
    return thread


def _chunks(ws: Workspace, ids: list[int]) -> Iterator[tuple[int, list[Item]]]:
    """The items of ``ids`` a chunk at a time, with the number done after each chunk."""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = ws.catalog.get_items(chunk)
        # Not there: deleted meanwhile; no media: nothing to show (a video's shot or cue).
        items = [found[i] for i in chunk if i in found and found[i].media is not None]
        yield start + len(chunk), items


def _fill_one(ws: Workspace) -> Callable[[Item], str]:
    folder = ws.paths.thumbnails

    def fill(item: Item) -> str:
        """``made``, ``present``, or why the item gets no thumbnail."""
        if item.media is None:
            return "no image to make a thumbnail of"
        # As when serving: a thumbnail is made only from the file that was imported.
        reason = changed_since_import(item.path, item.media.size, item.mtime_ns)
        if reason is not None:
            return reason
        try:
            _, made = ensure_thumbnail(item.path, item.media.content_hash, folder)
        except MediaError as exc:
            return str(exc)
        return "made" if made else "present"

    return fill
