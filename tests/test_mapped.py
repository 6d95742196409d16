"""Memory-mapped matrices: dropping the pages a pass has read, reading scattered rows, and
bringing a file back into the page cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tagscope import _mapped
from tagscope._mapped import cached_share, drop_pages, prefetch, read_rows


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


def test_dropped_rows_leave_the_resident_set_and_read_back_the_same(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((32_768, 512)).astype(np.float16)  # 32 MiB
    np.save(tmp_path / "v.npy", x)
    m = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert float(m.astype(np.float32).sum()) == float(x.astype(np.float32).sum())  # all read
    before = _rss_file_kib()
    drop_pages(m, 0, len(m))
    assert before - _rss_file_kib() > 24 * 1024  # most of the 32 MiB left the resident set
    np.testing.assert_array_equal(m[1000:1010], x[1000:1010])  # read back from the file


def test_only_the_rows_asked_go_and_memory_arrays_are_untouched(tmp_path: Path) -> None:
    x = np.arange(4096 * 64, dtype=np.float32).reshape(4096, 64)
    np.save(tmp_path / "v.npy", x)
    m = np.load(tmp_path / "v.npy", mmap_mode="r")[100:]  # a view keeps its mapping
    drop_pages(m, 10, 2000)
    np.testing.assert_array_equal(m, x[100:])
    y = x.copy()
    drop_pages(y, 0, len(y))  # not memory-mapped: nothing to drop, nothing lost
    np.testing.assert_array_equal(y, x)


def test_rows_read_from_the_file_equal_the_mapped_rows_and_map_nothing(tmp_path: Path) -> None:
    x = np.random.default_rng(1).standard_normal((65_536, 512)).astype(np.float16)  # 64 MiB
    np.save(tmp_path / "v.npy", x)
    m = np.load(tmp_path / "v.npy", mmap_mode="r")
    rows = np.sort(np.random.default_rng(2).choice(len(x), 300, replace=False))
    before = _rss_file_kib()
    got = read_rows(m, rows)
    assert _rss_file_kib() - before < 1024  # no page of the file mapped
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x[rows].astype(np.float32))
    view = m[10:]  # a view of the map, and an array in memory: plain indexing
    np.testing.assert_array_equal(read_rows(view, rows[:5]), x[10:][rows[:5]].astype(np.float32))
    np.testing.assert_array_equal(read_rows(x, rows), x[rows].astype(np.float32))


def _evict(path: Path) -> None:
    """This file's pages leave the page cache (written to the disk first)."""
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def test_rows_out_of_the_page_cache_are_read_back_exactly(tmp_path: Path) -> None:
    """Rows not cached are asked of the disk all at once (no read-ahead), then read in order."""
    x = np.random.default_rng(3).standard_normal((20_000, 256)).astype(np.float16)
    np.save(tmp_path / "v.npy", x)
    m = np.load(tmp_path / "v.npy", mmap_mode="r")
    _evict(tmp_path / "v.npy")
    rows = np.array([0, 7, 7, 4_095, 19_999])  # first, repeated, last
    np.testing.assert_array_equal(read_rows(m, rows), x[rows].astype(np.float32))
    np.testing.assert_array_equal(read_rows(m, rows[3:4]), x[rows[3:4]].astype(np.float32))
    assert read_rows(m, np.array([], np.int64)).shape == (0, 256)


def test_a_file_out_of_the_page_cache_is_read_back_into_it_without_mapping_it(
    tmp_path: Path,
) -> None:
    x = np.random.default_rng(4).standard_normal((40_000, 512)).astype(np.float16)  # 39 MiB
    np.save(tmp_path / "v.npy", x)
    m = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert prefetch(m) is None  # just written: all there already
    _evict(tmp_path / "v.npy")
    assert cached_share(m) < 0.1
    before = _rss_file_kib()
    warming = prefetch(m)
    assert warming is not None
    warming.join(timeout=60)
    assert cached_share(m) == 1.0
    assert _rss_file_kib() - before < 1024  # read, not mapped
    np.testing.assert_array_equal(m[39_990:], x[39_990:])
    assert prefetch(x) is None and cached_share(x) is None  # an array in memory


def test_no_prefetch_where_the_memory_could_not_hold_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np.save(tmp_path / "v.npy", np.zeros((8192, 256), np.float16))  # 4 MiB
    m = np.load(tmp_path / "v.npy", mmap_mode="r")
    _evict(tmp_path / "v.npy")
    monkeypatch.setattr(_mapped, "_memory_available", lambda: 3 << 20)
    assert prefetch(m, spare=0) is None
    assert cached_share(m) < 0.5
