"""Search use cases: text -> items (F-11), item or image -> similar items (F-12), and the most
similar pairs of a dataset (F-13), with a minimum score and a label filter.

Every search runs over one embedding space of one dataset: its vectors (``VectorStore.load``)
searched by ``tagscope.index`` (exact below a size, FAISS above), and queries embedded by the
space's own model. Vectors whose item is no longer in the catalog are ignored.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from tagscope.domain import Hit, NotFoundError, PairHit, ValidationError
from tagscope.embed import load_embedder
from tagscope.embed.phash import MODEL as PHASH_MODEL
from tagscope.embed.phash import (
    N_VARIANTS,
    VARIANT_PENALTY,
    PHashEmbedder,
    to_vectors,
    unpack_hashes,
)
from tagscope.index.flat import check_k
from tagscope.index.pairs import best_pairs, binary_variant_pairs, scan_pairs
from tagscope.index.select import open_index
from tagscope.media.errors import MediaError
from tagscope.media.images import load_rgb
from tagscope.service import policy
from tagscope.service.embeddings import phash_variant_store
from tagscope.service.policy import Action
from tagscope.service.workspace import Workspace
from tagscope.store import grid

log = logging.getLogger(__name__)

LabelMode = Literal["any", "all"]

DEFAULT_MIN_SCORE = {"phash": 0.75, "clip": 0.95, "text": 0.95}
"""Default ``min_score`` of :func:`find_duplicates` by space kind (others: ``OTHER_MIN_SCORE``).

``phash`` (cosine = 1 - hamming / 32): measured on imagenette-dev (500 photos) with 20 of them
planted again resized to 0.7x and re-saved as JPEG quality 60 (tests/service/test_search.py): the
planted copies were 0 to 2 bits from their originals, while the closest pair of different photos
was 12 bits apart (0.625). 0.75 (8 bits) sits between the two with room on both sides. A pair
found through a flip or a crop of one image counts 4 bits more (``VARIANT_PENALTY``).
``clip`` and ``text``: 0.95, the usual cosine for near-duplicates in CLIP-family spaces (no real
CLIP weights here to measure); over COCO captions (MiniLM), the closest two different images
scored 0.91."""

OTHER_MIN_SCORE = 0.95

MAX_PAIRS = 10_000
"""Pairs :func:`find_duplicates` returns at most when ``k`` is not given."""

INDEXED_VARIANT_BITS = 6
"""Matches through a pHash's flip or crops up to this many bits are found by multi-index
hashing (``min_score`` 0.6875 or more); more bits cut the hash into blocks too short to be
selective, so those go through the dense scan."""

UNPACK_ROWS = 1 << 16
"""Stored variants are unpacked this many items at a time (20 MB of bits)."""


@dataclass(frozen=True, slots=True)
class _Space:
    dataset_id: int
    name: str
    kind: str
    model: str | None
    ids: np.ndarray
    vectors: np.ndarray
    folder: Any


def _open_space(ws: Workspace, dataset_name: str, space: str) -> _Space:
    """The vectors of ``space``, once the caller may read the dataset (every search's check)."""
    # The dataset's id without counting its items (``policy.dataset`` does: 0.4 s at 10M).
    dataset_id = grid.dataset_id(ws.catalog, dataset_name)
    if not policy.allows(ws.identity, Action.READ, dataset_id):
        policy.dataset(ws, Action.READ, dataset_name)  # raises, saying why
    info = ws.catalog.get_space(dataset_id, space)
    store = ws.vectors(dataset_id, space)
    ids, vectors = store.load()
    return _Space(dataset_id, space, info["kind"], info["model"], ids, vectors, store.folder)


def _check_options(k: int | None, min_score: float | None, mode: str) -> None:
    if k is not None:
        check_k(k)
    if min_score is not None and (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not math.isfinite(min_score)
    ):
        raise ValidationError(f"min_score must be a number, got {min_score!r}", field="min_score")
    if mode not in ("any", "all"):
        raise ValidationError(f"mode must be 'any' or 'all', got {mode!r}", field="mode")


def _label_mask(
    ws: Workspace, sp: _Space, labels: Sequence[str] | str | None, mode: LabelMode
) -> np.ndarray | None:
    """Rows of the space whose items carry any (or all) of ``labels``; ``None``: no filter."""
    if isinstance(labels, str):
        labels = [labels]
    names = sorted({name for name in labels or () if name})
    if not names:
        return None
    keep = ws.catalog.items_with_labels(sp.dataset_id, names, mode)
    return np.isin(sp.ids, np.fromiter(keep, np.int64, len(keep)))


def _live_mask(ws: Workspace, sp: _Space) -> np.ndarray:
    """Rows whose item is still in the catalog."""
    return np.isin(sp.ids, np.asarray(ws.catalog.item_ids(sp.dataset_id), np.int64))


def _and(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    return a if b is None else a & b


def _score(value: float) -> float:
    """A cosine as a float in [-1, 1] (float16 vectors can overshoot 1 by ~1e-4)."""
    return min(1.0, max(-1.0, float(value)))


def _search(
    ws: Workspace,
    sp: _Space,
    query: np.ndarray,
    k: int,
    min_score: float | None,
    mask: np.ndarray | None,
    exclude: int | None = None,
) -> list[Hit]:
    """The best ``k`` live items for one query vector, at ``min_score`` or more, leaving out
    row ``exclude`` (the query's own item) by asking one more: no mask of every row to build
    and count (10 MB at 10M items) when there is no label filter."""
    query = np.asarray(query, np.float32).reshape(1, -1)
    if query.shape[1] != sp.vectors.shape[1]:
        raise ValidationError(
            f"the query has dimension {query.shape[1]}, space {sp.name!r} holds "
            f"{sp.vectors.shape[1]}-d vectors (was it embedded with another model?)",
            field="space",
        )
    if len(sp.ids) == 0:
        return []
    index = open_index(sp.vectors, cache_dir=sp.folder)
    for attempt in range(2):
        scores, rows = index.search(query, k + (exclude is not None), mask=mask)
        keep = rows[0] >= 0
        if exclude is not None:
            keep &= rows[0] != exclude
        if min_score is not None:
            keep &= scores[0] >= min_score
        keep &= np.cumsum(keep) <= k
        item_ids = sp.ids[rows[0][keep]]
        items = ws.catalog.get_items(item_ids.tolist())
        if len(items) == len(item_ids) or attempt == 1:
            return [
                Hit(int(i), items[int(i)].path, _score(s))
                for i, s in zip(item_ids, scores[0][keep], strict=True)
                if int(i) in items
            ]
        # Vectors of items deleted from the catalog: leave every such vector out, search again.
        mask = _and(mask, _live_mask(ws, sp))
    raise AssertionError("unreachable")


def search_text(
    ws: Workspace,
    dataset_name: str,
    text: str,
    *,
    space: str = "clip",
    k: int = 10,
    min_score: float | None = None,
    labels: Sequence[str] | None = None,
    mode: LabelMode = "any",
) -> list[Hit]:
    """Items best matching ``text`` in ``space``, best first (F-11).

    Parameters
    ----------
    ws : Workspace
    dataset_name : str
    text : str
        The query, embedded by the space's model (a ``clip`` or ``text`` space).
    space : str, default "clip"
        The embedding space to search.
    k : int, default 10
        How many items at most.
    min_score : float, optional
        Leave out items scoring less (cosine, in [-1, 1]).
    labels : sequence of str, optional
        Only items carrying any (``mode="any"``) or all (``mode="all"``) of these labels.

    Returns
    -------
    list of Hit
        Best first; equal scores by item id.

    Raises
    ------
    NotFoundError
        Unknown dataset or space.
    ValidationError
        Empty text, ``k`` <= 0, a bad mode, or a space that cannot embed text (``phash``).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("the search text is empty", field="text")
    _check_options(k, min_score, mode)
    sp = _open_space(ws, dataset_name, space)
    embedder = load_embedder(sp.kind, sp.model)
    query = embedder.encode_texts([text.strip()])
    return _search(ws, sp, query, k, min_score, _label_mask(ws, sp, labels, mode))


# Query images are decoded at a reduced scale keeping this many pixels a side (above the input
# of every image model: CLIP's 224 or 336, phash's 32).
_QUERY_SIDE = 448


def _read_image(image: Any) -> Image.Image:
    try:
        if isinstance(image, Image.Image):
            return image.convert("RGB")
        # Reduced decoding, the pixel limit checked first: a huge upload never decodes whole.
        if isinstance(image, bytes | bytearray | memoryview):
            return load_rgb(bytes(image), min_side=_QUERY_SIDE)
        if isinstance(image, str | os.PathLike):
            return load_rgb(image, min_side=_QUERY_SIDE)
    except MediaError as exc:
        name = "" if isinstance(image, bytes | bytearray | memoryview) else f" {image}"
        raise ValidationError(f"cannot read the image{name}: {exc}", field="image") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the image: {exc}", field="image") from exc
    raise ValidationError(
        f"image must be a path, bytes or a PIL image, not {type(image).__name__}", field="image"
    )


def search_similar(
    ws: Workspace,
    dataset_name: str,
    *,
    item_id: int | None = None,
    image: Any = None,
    space: str = "clip",
    k: int = 10,
    min_score: float | None = None,
    labels: Sequence[str] | None = None,
    mode: LabelMode = "any",
) -> list[Hit]:
    """Items most similar to an item of the dataset or to an image, best first (F-12).

    Parameters
    ----------
    item_id : int, optional
        An item of the dataset with a vector in ``space``; it is left out of the results.
    image : path, bytes or PIL image, optional
        An image from outside the dataset, embedded by the space's model. Give exactly one of
        ``item_id`` and ``image``.
    space, k, min_score, labels, mode
        As in :func:`search_text`.

    Raises
    ------
    NotFoundError
        Unknown dataset, space, or item (or an item of another dataset).
    ValidationError
        Neither or both of ``item_id`` and ``image``, an unreadable image, an item without a
        vector in the space, ``k`` <= 0, a bad mode.
    """
    if (item_id is None) == (image is None):
        raise ValidationError("give exactly one of an item id and an image", field="item_id")
    _check_options(k, min_score, mode)
    sp = _open_space(ws, dataset_name, space)
    mask = _label_mask(ws, sp, labels, mode)
    row: int | None = None
    if item_id is not None:
        item = ws.catalog.get_item(int(item_id))
        if item.dataset_id != sp.dataset_id:
            raise NotFoundError(f"item {item_id} is not in dataset {dataset_name!r}")
        row = int(np.searchsorted(sp.ids, item.id))
        if row >= len(sp.ids) or sp.ids[row] != item.id:
            raise ValidationError(
                f"item {item_id} has no vector in space {space!r}; run `tagscope embed` "
                f"(it may have been skipped: no text, or an unreadable file)",
                field="item_id",
            )
        query = np.asarray(sp.vectors[row], np.float32)
    else:
        picture = _read_image(image)
        query = load_embedder(sp.kind, sp.model).encode_images([picture])
    return _search(ws, sp, query, k, min_score, mask, exclude=row)


def default_min_score(kind: str) -> float:
    """The default ``min_score`` of :func:`find_duplicates` for a space of ``kind``."""
    return DEFAULT_MIN_SCORE.get(kind, OTHER_MIN_SCORE)


def find_duplicates(
    ws: Workspace,
    dataset_name: str,
    *,
    space: str = "phash",
    min_score: float | None = None,
    k: int | None = None,
    labels: Sequence[str] | None = None,
    mode: LabelMode = "any",
) -> list[PairHit]:
    """The most similar pairs of items (near-duplicates), best first (F-13).

    Exact: every pair is scored once (blocked products over the upper triangle). In a ``phash``
    space a pair also counts when one image is a mirror image or a crop of the other: through
    the hashes of each item's flip and crops (``phash.CROPS``) that the embedding job stored, a
    pair scores the best of its two hashes' cosine and, less ``VARIANT_PENALTY`` (4 bits), each
    variant's cosine with the other hash. Items embedded before the variants were stored (or
    whose vector changed since) have their image read again to hash them, and those whose file
    cannot be read now keep only their stored hash; embedding the space again stores theirs.

    Parameters
    ----------
    space : str, default "phash"
    min_score : float, optional
        Pairs scoring less are left out; default :func:`default_min_score` of the space's kind
        (phash 0.75, i.e. at most 8 of 64 bits apart, or 4 through a flip or crop; clip and
        text 0.95).
    k : int, optional
        How many pairs at most (default ``MAX_PAIRS``).
    labels, mode
        Both items of a pair must pass the label filter.

    Returns
    -------
    list of PairHit
        ``a`` is the item with the lower id; best first, equal scores by ids.
    """
    _check_options(k, min_score, mode)
    sp = _open_space(ws, dataset_name, space)
    if min_score is None:
        min_score = default_min_score(sp.kind)
    if len(sp.ids) < 2:
        return []
    mask = _and(_live_mask(ws, sp), _label_mask(ws, sp, labels, mode))
    scores, a_rows, b_rows = _best_pairs(ws, sp, k or MAX_PAIRS, min_score, mask)
    a_ids, b_ids = sp.ids[a_rows], sp.ids[b_rows]
    items = ws.catalog.get_items(sorted(set(a_ids.tolist()) | set(b_ids.tolist())))
    return [
        PairHit(Hit(int(a), items[int(a)].path, sc), Hit(int(b), items[int(b)].path, sc), sc)
        for a, b, sc in ((a, b, _score(s)) for a, b, s in zip(a_ids, b_ids, scores, strict=True))
    ]


def _phash_variants(ws: Workspace, sp: _Space, mask: np.ndarray | None) -> np.ndarray | None:
    """For a space of our pHash: the hashes of each item's flip and crops, (n, v, 64) float16,
    zero for rows out of ``mask``; stored by the embedding job, else hashed from the item's file
    (zero where it cannot be read); ``None`` for other spaces."""
    if sp.kind != "phash" or sp.model not in (None, PHASH_MODEL):
        return None
    rows = np.arange(len(sp.ids)) if mask is None else np.flatnonzero(mask)
    out = np.zeros((len(sp.ids), N_VARIANTS, sp.vectors.shape[1]), np.float16)
    rows = _stored_variants(ws, sp, rows, out)
    if not len(rows):
        return out
    log.info(
        "near-duplicates: %d items of space %r have no stored flip and crops: hashing their "
        "images (embed the space again to store them)",
        len(rows),
        sp.name,
    )
    items = ws.catalog.get_items(sp.ids[rows].tolist())
    rows = np.array([r for r in rows if int(sp.ids[r]) in items], np.int64)  # deleted meanwhile
    paths = [items[int(sp.ids[r])].path for r in rows]
    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        for row, vectors in zip(rows, pool.map(_variants_of, paths), strict=True):
            if vectors is not None:
                out[row] = vectors
    return out


def _stored_variants(ws: Workspace, sp: _Space, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out[rows]`` with the variants the embedding job stored, where the hash stored with
    them is still the row's vector; return the rows left (none stored, or stale)."""
    ids, packed = phash_variant_store(ws.vectors(sp.dataset_id, sp.name)).load()
    if not len(ids) or not len(rows):
        return rows
    at = np.searchsorted(ids, sp.ids[rows]).clip(max=len(ids) - 1)
    have = ids[at] == sp.ids[rows]
    left, found, at = [rows[~have]], rows[have], at[have]
    for start in range(0, len(found), UNPACK_ROWS):
        r = found[start : start + UNPACK_ROWS]
        bits = unpack_hashes(packed[at[start : start + UNPACK_ROWS]].reshape(len(r), -1, 8))
        fresh = (bits[:, 0] == (np.asarray(sp.vectors[r]) > 0)).all(axis=1)
        out[r[fresh]] = to_vectors(bits[fresh, 1:])
        left.append(r[~fresh])
    return np.sort(np.concatenate(left))


def _variants_of(path: str) -> np.ndarray | None:
    embedder = PHashEmbedder()
    try:
        image = load_rgb(path, min_side=embedder.min_image_side)
    except MediaError as exc:
        log.warning("near-duplicates: %s is compared without its flip and crops: %s", path, exc)
        return None
    return embedder.encode_variants([image])[0]


def _best_pairs(
    ws: Workspace, sp: _Space, k: int, min_score: float, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` best pairs of rows at ``min_score`` or more: (scores, a, b), with the variants
    of a pHash space. Variants within ``INDEXED_VARIANT_BITS`` of another hash (the default
    threshold asks for 4) are found by multi-index hashing, 4x (1,478 real photos) to 10x
    (10,000 random hashes) faster than the dense scan of every variant against every row, which
    a lower ``min_score`` needs."""
    variants = _phash_variants(ws, sp, mask)
    dim = sp.vectors.shape[1]
    max_bits = math.floor(dim / 2 * (1 - min_score - VARIANT_PENALTY) + 1e-6)
    if variants is None or max_bits > INDEXED_VARIANT_BITS:
        scan = scan_pairs(
            sp.vectors,
            k_pairs=k,
            min_score=min_score,
            mask=mask,
            variants=variants,
            variant_penalty=VARIANT_PENALTY,
        )
        return scan.pair_scores, scan.pair_a, scan.pair_b
    scan = scan_pairs(sp.vectors, k_pairs=k, min_score=min_score, mask=mask)
    va, vb, bits = binary_variant_pairs(sp.vectors, variants, max_bits, mask=mask)
    via = (1 - 2 * bits / dim - VARIANT_PENALTY).astype(np.float32)
    return best_pairs(
        np.concatenate([scan.pair_a, va]),
        np.concatenate([scan.pair_b, vb]),
        np.concatenate([scan.pair_scores, via]),
        k,
    )
