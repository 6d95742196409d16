"""Embedding use cases: compute a dataset's vectors in a space (F-10), import a user's own.

``compute_embeddings`` is resumable: it embeds only the items that have no vector in the space
yet, and stores each batch as it is done (an atomic chunk of the vector store), so a run that is
killed loses at most the batch in flight and the next run continues from there. The batches are
computed through the workspace runner's ``map`` (here, or on Ray workers: :class:`EmbedTask`),
and stored by this process only, in order.
"""

from __future__ import annotations

import os
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from PIL import Image

from tagscope.domain import Dataset, Job, Modality, NotFoundError, ValidationError
from tagscope.embed import IMPORTED, KINDS, Embedder, load_embedder
from tagscope.embed.phash import PHashEmbedder
from tagscope.embed.text import text_lines
from tagscope.index.select import open_index
from tagscope.jobs.runner import ProgressFn
from tagscope.media.images import load_rgb
from tagscope.service import policy
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store import VectorStore
from tagscope.store.vector_files import VectorFile, open_vector_file

DEFAULT_BATCH_SIZE = {"clip": 64, "text": 256, "phash": 256}
"""Items per batch (and per stored chunk) by kind."""

MAX_PROBLEMS = 1000
"""Problems listed in a job result; ``n_problems`` counts them all."""

IMAGE_MODALITIES = frozenset({Modality.IMAGE, Modality.KEYFRAME})
"""Items an image space embeds: a video's file is not a picture (its keyframes are), and its
shots and transcript cues have no file of their own (their words go to a text space)."""

PHASH_VARIANTS = "phash-variants"
"""The sidecar of a phash space (``VectorStore.sidecar``) that the embedding job fills with each
item's hash then the hashes of its flip and crops, packed (``phash.pack_hashes``): one row of
``(1 + N_VARIANTS) * 8`` = 160 bytes per item, for the near-duplicate search."""


def phash_variant_store(store: VectorStore) -> VectorStore:
    """The packed hashes and variants beside a phash space's vectors ``store``."""
    return store.sidecar(PHASH_VARIANTS, dtype="uint8")


def _decode_threads(device: str | None) -> int:
    """Threads decoding images while the model runs. A torch model on the CPU shares the cores
    with them (oversubscribed, torch slows down badly), so they take half; a GPU model or a
    weight-free one (``device`` None) leaves them every core, up to 4."""
    cores = os.cpu_count() or 1
    on_cpu = device is not None and device.startswith("cpu")
    return max(1, min(4, cores // 2 if on_cpu else cores))


_REPORT_EVERY = 1024  # items already done are counted in steps of this many
T = TypeVar("T")


def _batched(items: Iterable[T], n: int) -> Iterator[tuple[T, ...]]:
    """``itertools.batched`` (Python 3.12+)."""
    it = iter(items)
    while batch := tuple(islice(it, n)):
        yield batch


def _resolve(
    ws: Workspace, ds: Dataset, space: str | None, kind: str | None, model: str | None
) -> tuple[str, str, str | None]:
    """(space, kind, model): an existing space keeps its kind and model unless told otherwise."""
    name = space or kind or "clip"
    try:
        existing: dict[str, Any] | None = ws.catalog.get_space(ds.id, name)
    except NotFoundError:
        existing = None
    if existing is not None:
        if existing["kind"] == IMPORTED and kind is None:
            raise ValidationError(
                f"space {name!r} holds imported vectors; embed into another space (--space)",
                field="space",
            )
        if kind is None or kind == existing["kind"]:
            return name, existing["kind"], model or existing["model"]
    kind = kind or (name if name in KINDS else "clip")
    return name, kind, model


MODEL_DIRS_ENV = "TAGSCOPE_MODEL_DIRS"
"""Folders of model folders a server offers besides the workspace's ``models/`` (``os.pathsep``
between them)."""

_MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def model_folders(ws: Workspace) -> list[Path]:
    """The configured model folders: the workspace's ``models/``, then ``$TAGSCOPE_MODEL_DIRS``."""
    extra = [Path(p).expanduser() for p in os.environ.get(MODEL_DIRS_ENV, "").split(os.pathsep)]
    return [ws.paths.models, *(p for p in extra if str(p) not in ("", "."))]


def served_model(ws: Workspace, model: str | None) -> str | None:
    """``model`` as a client of the server may name it: a model folder inside a configured model
    folder (by its name, e.g. ``clip-b32``) or a model id (``org/name``), never a path of the
    server's disk. Returns what :func:`compute_embeddings` takes (``None``: the default).

    Raises
    ------
    ValidationError
        Anything else: one message whatever exists on the disk, so that no answer tells
        whether a path is there.
    """
    if model is None:
        return None
    if _MODEL_ID.fullmatch(model) and ".." not in model:
        for root in model_folders(ws):
            folder = root / model
            if folder.is_dir():
                return str(folder.resolve())
        if not Path(model).exists():  # a relative path of the server's working folder is none
            return model
    raise ValidationError(model_unavailable(ws, model), field="model")


def model_unavailable(ws: Workspace, model: str) -> str:
    """Why a model a client named is not available (the same for every reason)."""
    names = sorted(
        p.name for root in model_folders(ws) if root.is_dir() for p in root.iterdir() if p.is_dir()
    )
    offered = f" ({', '.join(names[:20])})" if names else ""
    return (
        f"model {model!r} is not available on the server: name a model folder of its model "
        f"folders{offered} or a model id (org/name) that it has or can download. A server "
        f"offers the folders in its workspace's models/ folder and in {MODEL_DIRS_ENV}"
    )


def compute_embeddings(
    ws: Workspace,
    dataset_name: str,
    *,
    space: str | None = None,
    kind: str | None = None,
    model: str | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    progress: ProgressFn | None = None,
) -> Job:
    """Embed every item of a dataset that has no vector in ``space`` yet, as an ``embed`` job.

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    space : str, optional
        The space's name; defaults to ``kind``. Several spaces of one kind may coexist
        (e.g. ``clip`` and ``clip-large``).
    kind : {"clip", "text", "phash"}, optional
        Defaults to the kind of the existing ``space``, else to ``space`` when it names a kind,
        else ``"clip"``.
    model : str, optional
        A hub id or a local folder; defaults to the existing space's model, else to the kind's
        default (``openai/clip-vit-base-patch32``, the bundled all-MiniLM-L6-v2).
    batch_size : int, optional
        Items per batch; each batch is stored as it is done. Defaults: clip 64, text 256,
        phash 256.
    device : str, optional
        ``cpu``, ``cuda``, ``cuda:N``, ``mps``; by default the GPU when there is one.
    progress : callable, optional
        ``progress(n_done, n_total)`` over the dataset's items (those done earlier count).

    Returns
    -------
    Job
        Finished, with ``result``: ``space``, ``kind``, ``model``, ``dim``, ``n_items``,
        ``n_existing`` (had a vector already), ``n_embedded`` (embedded by this run),
        ``n_skipped`` (left without a vector: no text in a text space; in an image space a
        video, shot or transcript item, which has no picture of its own, or an unreadable image),
        ``skipped`` (counts per reason), ``problems`` (up to 1000 ``{"item_id", "path",
        "reason"}`` for unreadable files) and ``n_problems``.

    Raises
    ------
    ModelUnavailableError
        The model's weights cannot be found or fetched.
    AlreadyExistsError
        ``space`` exists with another kind or model.
    PermissionDeniedError
        The caller may not edit the dataset (``dataset.edit``).
    """
    ds = policy.dataset(ws, Action.DATASET_EDIT, dataset_name)
    space, kind, model = _resolve(ws, ds, space, kind, model)
    if batch_size is not None and batch_size < 1:
        raise ValidationError("batch size must be at least 1", field="batch_size")
    embedder = load_embedder(kind, model, device=device)
    ws.catalog.ensure_space(ds.id, space, embedder.kind, embedder.model, embedder.dim)
    store = ws.vectors(ds, space)
    size = batch_size or DEFAULT_BATCH_SIZE[kind]
    params = {"space": space, "kind": kind, "model": embedder.model, "batch_size": size}
    if device is not None:
        params["device"] = device

    task = EmbedTask(kind, model, device, size)  # workers load the model by its name

    def work(report: ProgressFn) -> dict[str, Any]:
        done = _EmbedRun(ws, ds, task, embedder.dim, store, report).execute()
        return {"space": space, "kind": kind, "model": embedder.model, **done}

    return ws.runner.run("embed", ds.id, params, work, on_progress=progress)


def embed_into(
    ws: Workspace,
    ds: Dataset,
    embedder: Embedder,
    store: VectorStore,
    *,
    report: ProgressFn,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Embed the dataset's items that ``store`` lacks with ``embedder`` (the work of
    :func:`compute_embeddings`, for a store of no space: a fine-tuned model's own vectors)."""
    size = batch_size or DEFAULT_BATCH_SIZE[embedder.kind]
    task = EmbedTask(embedder.kind, embedder.model, None, size, embedder=embedder)
    return _EmbedRun(ws, ds, task, embedder.dim, store, report).execute()


def _decode(path: str, min_side: int | None) -> Image.Image:
    """Decode to RGB with the EXIF orientation; a JPEG much larger than the model's input is
    decoded at a reduced scale (at least ``min_side`` a side): faster, and far less memory; one
    above the pixel limit is refused from its header."""
    return load_rgb(path, min_side=min_side)


BATCHES_PER_SHARD = 4
"""Batches per shard of an embedding job's map: a shard is what a Ray worker takes at a time
(and retries whole), and within one decoding runs a batch ahead of the model."""


class ItemRef(NamedTuple):
    """What a worker needs of an item to embed it."""

    id: int
    path: str
    modality: str
    text: str | None


@dataclass(frozen=True)
class Skip:
    """An item a batch leaves without a vector: why, and for an unreadable file the error."""

    item_id: int
    path: str
    reason: str
    detail: str | None = None


@dataclass(frozen=True)
class EmbeddedBatch:
    """One batch's results: the vectors of the items embedded (with their phash variants in a
    phash space) and the items skipped; ``n_items`` counts both."""

    n_items: int
    ids: np.ndarray
    vectors: np.ndarray
    variants: np.ndarray | None
    skips: tuple[Skip, ...]


@dataclass(frozen=True)
class EmbedTask:
    """The map task of an embedding job: a shard of item refs -> one :class:`EmbeddedBatch` per
    batch. The model is named (kind, model, device) and loaded once per worker process (the
    embedder registry's cache); ``embedder`` is given instead for one of no registry (a
    fine-tuned tower), which then travels with the task."""

    kind: str
    model: str | None
    device: str | None
    batch_size: int
    embedder: Embedder | None = None

    def __call__(self, shard: Sequence[ItemRef]) -> Iterator[EmbeddedBatch]:
        embedder = self.embedder or load_embedder(self.kind, self.model, device=self.device)
        batches = _batched(shard, self.batch_size)
        if embedder.input == "text":
            return (_embed_texts(embedder, batch) for batch in batches)
        return _embed_images(embedder, batches)


def _embed_texts(embedder: Embedder, batch: Sequence[ItemRef]) -> EmbeddedBatch:
    encode = getattr(embedder, "encode_documents", embedder.encode_texts)
    keep = [it for it in batch if text_lines(it.text)]
    skips = tuple(Skip(it.id, it.path, "no text") for it in batch if not text_lines(it.text))
    vectors = encode([it.text or "" for it in keep])
    return EmbeddedBatch(len(batch), _ids(keep), vectors, None, skips)


def _embed_images(
    embedder: Embedder, batches: Iterable[Sequence[ItemRef]]
) -> Iterator[EmbeddedBatch]:
    """Decode in a thread pool, one batch ahead, so decoding overlaps the model's work."""
    min_side = getattr(embedder, "min_image_side", None)
    pending: deque[tuple[Sequence[ItemRef], list[Future[Image.Image]]]] = deque()
    threads = _decode_threads(getattr(embedder, "device", None))
    with ThreadPoolExecutor(threads, thread_name_prefix="tagscope-decode") as pool:
        for batch in batches:
            futures = [
                pool.submit(_decode, it.path, min_side)
                for it in batch
                if it.modality in IMAGE_MODALITIES
            ]
            pending.append((batch, futures))
            if len(pending) > 1:
                yield _embed_image_batch(embedder, *pending.popleft())
        while pending:
            yield _embed_image_batch(embedder, *pending.popleft())


def _embed_image_batch(
    embedder: Embedder, batch: Sequence[ItemRef], futures: list[Future[Image.Image]]
) -> EmbeddedBatch:
    skips = [
        Skip(it.id, it.path, f"no image ({it.modality})")
        for it in batch
        if it.modality not in IMAGE_MODALITIES
    ]
    pictures = [it for it in batch if it.modality in IMAGE_MODALITIES]
    decoded, images = [], []
    for item, future in zip(pictures, futures, strict=True):
        try:
            images.append(future.result())
            decoded.append(item)
        except Exception as exc:  # any decoding failure is this file's problem only
            skips.append(Skip(item.id, item.path, "unreadable", f"{type(exc).__name__}: {exc}"))
    variants = None
    if not images:
        vectors = np.empty((0, 0), np.float32)
    elif isinstance(embedder, PHashEmbedder):
        vectors, packed = embedder.encode_with_variants(images)
        variants = packed.reshape(len(images), -1)
    else:
        vectors = embedder.encode_images(images)
    return EmbeddedBatch(len(batch), _ids(decoded), vectors, variants, tuple(skips))


def _ids(items: Sequence[ItemRef]) -> np.ndarray:
    return np.array([it.id for it in items], dtype=np.int64)


class _EmbedRun:
    """One pass over a dataset's items: skip those done, embed the rest through the runner's
    map (shards of a few batches) and store each batch's results here, as they come."""

    def __init__(
        self,
        ws: Workspace,
        ds: Dataset,
        task: EmbedTask,
        dim: int,
        store: VectorStore,
        report: ProgressFn,
    ) -> None:
        self.ws, self.ds, self.task, self.dim, self.store = ws, ds, task, dim, store
        self.variants = phash_variant_store(store) if task.kind == "phash" else None
        self.report = report
        self.n_total = ws.catalog.count_items(ds.id)
        self.n_done = self.n_existing = self.n_embedded = 0
        self.skipped: Counter[str] = Counter()
        self.problems: list[dict[str, Any]] = []
        self.n_problems = 0

    def execute(self) -> dict[str, Any]:
        self.report(0, self.n_total)
        shards = _batched(self._todo(), self.task.batch_size * BATCHES_PER_SHARD)
        for batch in self.ws.runner.map(self.task, shards):
            self._commit(batch)
        self.store.compact()
        if self.variants is not None:
            self.variants.compact()
        _build_search_index(self.store)
        self.report(self.n_total, self.n_total)
        return {
            "dim": self.dim,
            "n_items": self.n_total,
            "n_existing": self.n_existing,
            "n_embedded": self.n_embedded,
            "n_skipped": sum(self.skipped.values()),
            "skipped": dict(self.skipped),
            "problems": self.problems,
            "n_problems": self.n_problems,
        }

    def _todo(self) -> Iterator[ItemRef]:
        """The dataset's items without a vector, in id order (those with one count as done).
        In a phash space an item needs its variants too: one embedded before they were stored
        is hashed again."""
        done = self.store.ids()
        if self.variants is not None:
            done = np.intersect1d(done, self.variants.ids())
        for item in self.ws.catalog.iter_items(self.ds.id):
            pos = np.searchsorted(done, item.id)
            if pos < len(done) and done[pos] == item.id:
                self.n_existing += 1
                self.n_done += 1
                if self.n_done % _REPORT_EVERY == 0:
                    self.report(self.n_done, self.n_total)
            else:
                yield ItemRef(item.id, item.path, str(item.modality), item.text)

    def _commit(self, batch: EmbeddedBatch) -> None:
        for skip in batch.skips:
            self.skipped[skip.reason] += 1
            if skip.detail is not None:
                self.n_problems += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(
                        {"item_id": skip.item_id, "path": skip.path, "reason": skip.detail}
                    )
        if len(batch.ids):
            if self.variants is not None and batch.variants is not None:
                # Before the vectors: an item with a vector has its variants, even if killed here.
                self.variants.append(batch.ids, batch.variants)
            self.store.append(batch.ids, batch.vectors)
            self.n_embedded += len(batch.ids)
        self.n_done += batch.n_items
        self.report(self.n_done, self.n_total)


def import_vectors(
    ws: Workspace,
    dataset_name: str,
    space: str,
    file: str | os.PathLike[str],
    *,
    ids_file: str | os.PathLike[str] | None = None,
    kind: str = IMPORTED,
    model: str | None = None,
) -> dict[str, Any]:
    """Import a user's own vectors for a dataset's items into ``space``.

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    space : str
        The space to create or add to; vectors replace those the items had there.
    file : path
        ``.npy``: an (n, d) matrix, with its keys in ``ids_file`` (default ``<stem>.ids.npy``
        beside it): integer item ids or string item paths. ``.parquet``: columns ``item_id``
        (or ``path``) and ``vector`` (a list of d numbers per row).
    kind : str, default="imported"
        ``"imported"`` (no model: the space is searched by item or vector), or the kind of the
        model that made the vectors (``"clip"``, ``"text"``), which lets text and image queries
        be embedded with ``model``.
    model : str, optional
        The model that made the vectors (needed with ``kind`` other than ``"imported"``).

    Returns
    -------
    dict
        ``space``, ``dim``, ``n_imported``, ``n_replaced`` (items that had a vector there).

    Raises
    ------
    ValidationError
        Naming the file and the problem: unreadable or unknown format, keys not items of the
        dataset, duplicate keys, a dimension other than the space's, NaN or infinite values,
        zero vectors. Nothing is stored then.
    PermissionDeniedError
        The caller may not edit the dataset (``dataset.edit``).
    """
    ds = policy.dataset(ws, Action.DATASET_EDIT, dataset_name)
    path = Path(file)
    if kind != IMPORTED and kind not in KINDS:
        raise ValidationError(
            f"unknown kind {kind!r}; use {IMPORTED!r} or one of {', '.join(KINDS)}", field="kind"
        )
    if kind != IMPORTED and not model:
        raise ValidationError(f"vectors of kind {kind!r} need the model that made them")
    source = open_vector_file(path, ids_file)
    ids = _item_ids(ws, ds, path, source.keys)
    _check_vectors(ws, ds, space, source)  # every row, a chunk at a time, before storing any
    ws.catalog.ensure_space(ds.id, space, kind, model or "user vectors", source.dim)
    store = ws.vectors(ds, space)
    n_replaced = int(np.isin(ids, store.ids()).sum())
    for start, block in source.chunks():  # read again: memory stays bounded by a chunk
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        store.append(ids[start : start + len(block)], block)
    store.compact()
    _build_search_index(store)
    return {
        "space": space,
        "dim": source.dim,
        "n_imported": len(ids),
        "n_replaced": n_replaced,
    }


def _build_search_index(store: VectorStore) -> None:
    """Build the space's search index now rather than at its first search.

    Up to ``EXACT_MAX_ROWS`` vectors search is exact and there is nothing to build; above, this
    is the FAISS IVF build (about a minute at a million vectors) and its cache on disk, which
    would otherwise stall the first query of the space.
    """
    _, vectors = store.load()
    if len(vectors):
        open_index(vectors, cache_dir=store.folder)


def _listed(values: np.ndarray | list[Any], n: int = 5) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(values)[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


def _item_ids(ws: Workspace, ds: Dataset, path: Path, keys: np.ndarray) -> np.ndarray:
    """Map the file's keys (item ids or paths) to the dataset's item ids, or say which are not."""
    if len(keys) == 0:
        raise ValidationError(f"{path}: holds no vectors", field="file")
    uniq, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        raise ValidationError(
            f"{path}: items appear more than once: {_listed(uniq[counts > 1])}", field="file"
        )
    if keys.dtype.kind == "U":
        found = ws.catalog.existing_paths(ds.id, [str(k) for k in keys])
        missing = [str(k) for k in keys if str(k) not in found]
        if missing:
            raise ValidationError(
                f"{path}: {len(missing)} paths are not items of dataset {ds.name!r}: "
                f"{_listed(missing)}",
                field="file",
            )
        return np.array([found[str(k)] for k in keys], dtype=np.int64)
    ids = keys.astype(np.int64)
    items = ws.catalog.get_items([int(i) for i in ids])
    missing = [int(i) for i in ids if i not in items or items[i].dataset_id != ds.id]
    if missing:
        raise ValidationError(
            f"{path}: {len(missing)} item ids are not items of dataset {ds.name!r}: "
            f"{_listed(missing)}",
            field="file",
        )
    return ids


def _check_vectors(ws: Workspace, ds: Dataset, space: str, source: VectorFile) -> None:
    """Every row finite and non-zero, of the space's dimension; read a chunk at a time."""
    path = source.path
    if source.dim == 0:
        raise ValidationError(f"{path}: vectors have no components", field="file")
    not_finite, zeros = [], []
    for start, block in source.chunks():  # the file's own errors (ragged rows) first
        finite = np.isfinite(block).all(axis=1)
        not_finite.append(start + np.flatnonzero(~finite))
        zeros.append(start + np.flatnonzero(finite & (np.linalg.norm(block, axis=1) == 0)))
    try:
        dim = ws.catalog.get_space(ds.id, space)["dim"]
    except NotFoundError:
        dim = None
    if dim is not None and source.dim != dim:
        raise ValidationError(
            f"{path}: vectors have {source.dim} dimensions, space {space!r} holds {dim}",
            field="file",
        )
    rows = np.concatenate(not_finite)
    if len(rows):
        raise ValidationError(
            f"{path}: {len(rows)} vectors hold NaN or infinite values (rows {_listed(rows)})",
            field="file",
        )
    rows = np.concatenate(zeros)
    if len(rows):
        raise ValidationError(
            f"{path}: {len(rows)} vectors are all zeros (rows {_listed(rows)})", field="file"
        )
