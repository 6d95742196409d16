"""Pause Python's cyclic garbage collector while a bulk operation builds many records.

Reading or writing 100,000 label records allocates millions of dicts and lists: each allocation
burst triggers a collection of the oldest generation, which walks every object alive, so the
cost grows faster than the number of records (a bulk classify of 100,000 items and its undo
spent about a third of their time collecting, none of it reclaiming anything). Reference
counting still frees everything; only cycles wait until the collector runs again.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block (nested and concurrent blocks count: the
    collector runs again when the last one ends, if it ran before the first). Also a
    decorator: ``@paused_gc()``."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


__all__ = ["paused_gc"]
