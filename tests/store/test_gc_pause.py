"""paused_gc: no cyclic collection inside, the collector back as it was after the last block."""

from __future__ import annotations

import gc
import threading

import pytest

from tagscope.store.gc_pause import paused_gc


def test_nested_blocks_resume_collection_after_the_last_and_on_errors() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with pytest.raises(ValueError), paused_gc():
            raise ValueError("inner")
        assert not gc.isenabled()  # the outer block is still running
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_decorated_function_pauses_on_every_call_and_threads_share_the_count() -> None:
    inside = threading.Event()
    leave = threading.Event()

    @paused_gc()
    def hold() -> bool:
        inside.set()
        leave.wait(5)
        return gc.isenabled()

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(5)
    with paused_gc():
        pass
    assert not gc.isenabled()  # the other thread's block has not ended
    leave.set()
    worker.join(5)
    assert gc.isenabled()
