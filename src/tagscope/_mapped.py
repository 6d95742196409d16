"""Memory-mapped matrices: passes over them that keep the resident set small."""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from pathlib import Path

import numpy as np

PREFETCH_SPARE = 2 << 30
"""Memory (bytes) :func:`prefetch` leaves available after the pages it reads."""
PREFETCH_CHUNK = 8 << 20
"""Bytes :func:`prefetch` reads at a time (one buffer, reused)."""


def drop_pages(matrix: np.ndarray, start: int, stop: int) -> None:
    """Unmap rows ``start:stop`` of a memory-mapped ``matrix`` from this process once read.

    A pass over a memory-mapped file keeps every page it read in the process's resident set
    (10 GB for 10M x 512 float16) until the kernel needs the memory; dropping them as the pass
    goes keeps the resident set at one block. The file's pages stay in the page cache, and the
    rows read back from there on the next access. In-memory arrays are left alone.
    """
    mm = getattr(matrix, "_mmap", None)
    if mm is None or not isinstance(mm, mmap.mmap) or stop <= start:
        return
    base = np.frombuffer(mm, np.uint8).ctypes.data
    row = matrix.strides[0]
    lo = (matrix.ctypes.data + start * row - base) // mmap.PAGESIZE * mmap.PAGESIZE
    hi = min(len(mm), matrix.ctypes.data + stop * row - base)
    mm.madvise(mmap.MADV_DONTNEED, max(lo, 0), hi - max(lo, 0))


def read_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix[rows]`` as float32. Rows of a memory-mapped file (as ``np.load`` maps it) are
    read with ``pread``: a few hundred scattered rows cost a system call each (~3 us from the
    page cache) where touching the mapping costs a page fault each, maps the pages around it,
    and leaves them all in the resident set. Rows not in the page cache are asked of the disk
    all at once first (``POSIX_FADV_WILLNEED``, without read-ahead around them), so their reads
    overlap rather than wait one after another."""
    rows = np.asarray(rows, dtype=np.int64)
    filename, offset = getattr(matrix, "filename", None), getattr(matrix, "offset", None)
    mapped = isinstance(matrix.base, mmap.mmap) and matrix.flags.c_contiguous  # a whole map
    if filename is None or offset is None or not mapped:
        return np.asarray(matrix[rows], dtype=np.float32)
    out = np.empty((len(rows), *matrix.shape[1:]), matrix.dtype)
    size = matrix.strides[0]
    starts = (offset + rows * size).tolist()
    fd = os.open(filename, os.O_RDONLY)
    try:
        if len(starts) > 1:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            for start in starts:
                os.posix_fadvise(fd, start, size, os.POSIX_FADV_WILLNEED)
        for i, start in enumerate(starts):
            data = os.pread(fd, size, start)
            out[i] = np.frombuffer(data, matrix.dtype).reshape(matrix.shape[1:])
    finally:
        os.close(fd)
    return out.astype(np.float32, copy=False)


def prefetch(matrix: np.ndarray, *, spare: int = PREFETCH_SPARE) -> threading.Thread | None:
    """Bring the file behind a memory-mapped ``matrix`` into the page cache, in a daemon
    thread: the chunks not all there yet are read once with ``pread`` (into one buffer, not
    mapped: the resident set of the process does not grow).

    A re-ranking search reads hundreds of scattered rows a query; from the disk each costs tens
    of microseconds even when asked at once (10M x 512 float16, 512 rows: p50 21 ms a query,
    against 3 ms from the page cache). The kernel's own read-ahead (``POSIX_FADV_WILLNEED``
    over the file) drops most of a large file's pages. Returns the thread, or ``None`` when
    every page is there already, when ``mincore`` cannot tell, or when the memory available
    could not hold the missing pages and ``spare`` bytes more.
    """
    mm = getattr(matrix, "_mmap", None)
    filename = getattr(matrix, "filename", None)
    if not isinstance(mm, mmap.mmap) or filename is None:
        return None
    resident = _resident_pages(mm)
    if resident is None or resident.all():
        return None
    missing = int(np.count_nonzero(resident == 0)) * mmap.PAGESIZE
    if missing + spare > _memory_available():
        return None
    per_chunk = PREFETCH_CHUNK // mmap.PAGESIZE
    chunks = [
        i for i in range(0, len(resident), per_chunk) if not resident[i : i + per_chunk].all()
    ]
    # The map starts at the file offset of the array's data, rounded down to a granule.
    offset = int(getattr(matrix, "offset", 0) or 0)
    start = offset - offset % mmap.ALLOCATIONGRANULARITY
    starts = [start + i * mmap.PAGESIZE for i in chunks]
    thread = threading.Thread(
        target=_read_chunks, args=(filename, starts), name="tagscope-prefetch", daemon=True
    )
    thread.start()
    return thread


def cached_share(matrix: np.ndarray) -> float | None:
    """The share of the pages behind a memory-mapped ``matrix`` that are in the page cache
    (``None``: not memory-mapped, or ``mincore`` cannot tell)."""
    mm = getattr(matrix, "_mmap", None)
    resident = _resident_pages(mm) if isinstance(mm, mmap.mmap) else None
    return None if resident is None else float(resident.mean())


_libc = ctypes.CDLL(None, use_errno=True)


def _resident_pages(mm: mmap.mmap) -> np.ndarray | None:
    """One bool a page of the map: whether it is in the page cache (``mincore(2)``)."""
    mincore = getattr(_libc, "mincore", None)
    if mincore is None or len(mm) == 0:
        return None
    vec = np.zeros((len(mm) + mmap.PAGESIZE - 1) // mmap.PAGESIZE, np.uint8)
    base = np.frombuffer(mm, np.uint8).ctypes.data
    ok = mincore(
        ctypes.c_void_p(base), ctypes.c_size_t(len(mm)), vec.ctypes.data_as(ctypes.c_void_p)
    )
    return (vec & 1).astype(bool) if ok == 0 else None


def _memory_available() -> int:
    """The kernel's estimate of memory available without swapping (bytes; 0: unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _read_chunks(filename: str, starts: list[int]) -> None:
    buffer = bytearray(PREFETCH_CHUNK)
    fd = os.open(filename, os.O_RDONLY)
    try:
        for start in starts:
            os.preadv(fd, [buffer], start)
    finally:
        os.close(fd)
