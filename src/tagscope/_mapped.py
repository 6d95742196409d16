"""Memory-mapped matrices: passes over them that keep the resident set small."""

from __future__ import annotations

import mmap
import os

import numpy as np


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
