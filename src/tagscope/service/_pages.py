"""Paging helpers of the grid (:mod:`tagscope.service.browse`): cursors and filtered snapshots.

A cursor is an opaque token naming where the previous page ended. Filtered listings are
snapshots: their first page asks the SQL engine for how many items match and the ordered ids of
the first :data:`SNAPSHOT_CHUNK` (one pass that keeps the best ids, as cheap as one page: the
filter is evaluated whole either way, but the matches are not sorted), which are kept here for
a while, so later pages are slices of that list, and scrolling shows each item once even while
the catalog changes. A page past the snapshot's end extends it by the next chunk (by offset, up
to :data:`SNAPSHOT_MAX_IDS`). A cursor whose snapshot is gone (evicted, another server process)
falls back to asking the engine for its page by offset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np

from tagscope.domain import ValidationError

SNAPSHOT_MAX_IDS = 100_000
"""Filtered listings with more matches are paged by offset past these."""
SNAPSHOT_CHUNK = 10_000
"""Ids a snapshot starts with, and gains when a page goes past its end (100 pages of 100)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the sort order and filter it belongs to, the sort value and id of the
    last item (keyset pages), the next offset and snapshot (filtered pages), and the first
    page's total (counting is linear in the dataset: later pages do not count again)."""

    sort: str
    descending: bool
    where: str
    value: Any
    item_id: int
    total: int
    offset: int = 0
    snapshot: str = ""

    def encode(self) -> str:
        blob = json.dumps(astuple(self))
        return base64.urlsafe_b64encode(blob.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: str, descending: bool, where: str) -> Cursor:
        """The cursor of ``token``, which must belong to the same sort, order and filter."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            cursor = cls(*json.loads(raw))
            if (cursor.sort, cursor.descending, cursor.where) != (sort, descending, where):
                raise ValueError("cursor of another sort order or filter")
            numbers = (cursor.item_id, cursor.total, cursor.offset)
            if not all(isinstance(n, int) and n >= 0 for n in numbers):
                raise ValueError("malformed cursor")
        except (ValueError, TypeError, binascii.Error) as exc:
            raise ValidationError(
                f"invalid cursor {token!r}: pass back the next_cursor of a page of the same "
                "sort, order and filter",
                field="cursor",
            ) from exc
        return cursor


def digest(where: str) -> str:
    """A short fingerprint of a filter, binding cursors to it."""
    return hashlib.sha1(where.encode()).hexdigest()[:16] if where else ""


class Snapshots:
    """The ordered ids of recent filtered listings, least recently used dropped first."""

    def __init__(self, *, capacity: int = 64, ttl_s: float = 900.0) -> None:
        self.capacity = capacity
        self.ttl_s = ttl_s
        self._lists: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, ids: np.ndarray) -> str:
        token = uuid.uuid4().hex[:16]
        with self._lock:
            self._lists[token] = (time.monotonic(), ids)
            while len(self._lists) > self.capacity:
                self._lists.popitem(last=False)
        return token

    def extend(self, token: str, ids: np.ndarray) -> np.ndarray | None:
        """Append to a snapshot the ``ids`` it does not hold (the next chunk of its listing,
        which may overlap it when the catalog changed); None when it is gone."""
        with self._lock:
            found = self._lists.get(token)
            if found is None:
                return None
            old = found[1]
            grown = np.concatenate([old, ids[~np.isin(ids, old)]])
            self._lists[token] = (found[0], grown)
            return grown

    def get(self, token: str) -> np.ndarray | None:
        with self._lock:
            found = self._lists.get(token)
            if found is None or time.monotonic() - found[0] > self.ttl_s:
                self._lists.pop(token, None)
                return None
            self._lists.move_to_end(token)
            return found[1]


__all__ = ["SNAPSHOT_CHUNK", "SNAPSHOT_MAX_IDS", "Cursor", "Snapshots", "digest"]
