"""Score many items against many tags at memory bandwidth.

A fitted tag is linear: its calibrated score of a unit vector ``x`` is
``sigmoid(x . coef + intercept)`` (see :class:`~tagscope.tags.classifier.TagClassifier`). Scoring
a dataset is therefore one matrix product, ``sigmoid(X @ coef.T + intercept)``, over a float16
(or float32) matrix of millions of rows. The work is reading the matrix, so the kernels are built
to read it once, at full speed. Two backends:

* ``native``: :mod:`tagscope.index._score_kernel`, a small C kernel that converts 48 float16 rows
  at a time into an L2-resident buffer and multiplies them by the tags in register tiles, with
  a 256-bit path (``native-avx2``: AVX2, FMA, F16C) and a 512-bit one (``native-avx512``:
  AVX-512F), both in one binary, each run only where the CPU has it. It needs an x86-64 CPU and
  a C compiler at install time; one tag then runs at about the speed of reading the matrix.
* ``torch``: everywhere else, and for float32/float64 input. numpy's float16 ``X @ w`` converts
  half to float one element at a time (2 GB take ~2 s where reading them takes ~0.1 s); PyTorch
  converts with vector instructions, so each block is converted by ``torch.Tensor.float()`` and
  multiplied by an MKL ``sgemm``, blocks small enough to stay in the core's L2 cache.

Which is fastest depends on the machine and the tag count, so ``backend="auto"`` times the
backends present once per process and keeps the fastest. Either way every core takes a
contiguous share of the rows in its own thread (both kernels release the GIL) with
single-threaded torch kernels; letting torch parallelise each small block instead costs a
synchronisation per block and is several times slower.

``bench/bench_tag_scoring.py`` measures both against the read-once limit and the alternatives
(numpy, torch's own half-precision matmul, int8).
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tagscope._env import usable_cpus
from tagscope._lazy import deferred
from tagscope._mapped import drop_pages

if TYPE_CHECKING:
    import torch
else:
    torch = deferred("torch")  # loads on the first scoring, not on import

try:
    from tagscope.index import _score_kernel
except ImportError:  # not built (no C compiler, another platform): the torch path serves
    _score_kernel = None

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "available_backends",
    "native_available",
    "score_matrix",
    "score_with",
    "stack_models",
]

DEFAULT_BLOCK_ROWS = 512
"""Rows per block of the torch path: 512 x 512 float32 is 1 MiB, one L2 cache."""
NATIVE_CHUNK_ROWS = 32_768
"""Rows per call of the native kernel: its output (x 20 tags) stays in L2/L3 for the sigmoid."""

PROBE_MIN_ROWS = 1_000_000
"""From this many rows, ``auto`` times the backends present once (per tag count, threads and
width) and keeps the fastest; below, it takes the widest native path without measuring (the
measurement, ~40 ms, would cost more than a wrong choice could)."""
PROBE_ROWS_PER_THREAD = 16_384
"""Rows each backend scores per thread in that one-time measurement."""

Backend = Literal["auto", "native", "native-avx512", "native-avx2", "torch"]
_LEVELS = {"native-avx512": 2, "native-avx2": 1}  # the kernel's `level` argument


def native_available() -> bool:
    """Whether the native kernel is built and this CPU runs it (AVX2, FMA, F16C)."""
    return _score_kernel is not None and bool(_score_kernel.supported())


def available_backends() -> tuple[str, ...]:
    """The explicit backends this machine runs, widest native path first, ``torch`` last: e.g.
    ``("native-avx512", "native-avx2", "torch")`` on a CPU with AVX-512."""
    levels = _score_kernel.levels() if _score_kernel is not None else ()
    return (*(f"native-{level}" for level in levels), "torch")


_SUPPORTED = (np.float16, np.float32, np.float64)


def stack_models(models: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The weights of fitted tag classifiers stacked for :func:`score_matrix`.

    Parameters
    ----------
    models : sequence of fitted TagClassifier (or anything with ``coef_`` of shape
        (1, n_features) and ``intercept_`` of shape (1,))

    Returns
    -------
    coef : ndarray of shape (n_tags, n_features), float32
    intercept : ndarray of shape (n_tags,), float32
    """
    if not models:
        raise ValueError("give at least one fitted tag model")
    for model in models:
        if not hasattr(model, "coef_"):
            raise ValueError(f"{type(model).__name__} is not fitted (no coef_)")
    coef = np.vstack([np.asarray(m.coef_, dtype=np.float32).reshape(1, -1) for m in models])
    intercept = np.array([float(np.ravel(m.intercept_)[0]) for m in models], dtype=np.float32)
    return coef, intercept


def score_with(models: Sequence[Any], X: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Calibrated scores of the rows of ``X`` for each of ``models``: shape (n_items, n_tags).

    Shorthand for ``score_matrix(X, *stack_models(models), **kwargs)``; each model must use
    normalised inputs (TagClassifier's default), so ``normalize`` defaults to True here.
    """
    kwargs.setdefault("normalize", True)
    return score_matrix(X, *stack_models(models), **kwargs)


def score_matrix(
    X: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray | float = 0.0,
    *,
    normalize: bool = False,
    calibrated: bool = True,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    n_threads: int | None = None,
    out: np.ndarray | None = None,
    backend: Backend = "auto",
) -> np.ndarray:
    """``sigmoid(X @ coef.T + intercept)`` for a large float16/float32 ``X``, fast.

    Parameters
    ----------
    X : ndarray of shape (n_items, n_features), float16, float32 or float64
        The item vectors, e.g. a memory-mapped vector file. C-contiguous rows read fastest.
    coef : ndarray of shape (n_tags, n_features) or (n_features,)
        One row of weights per tag (a TagClassifier's ``coef_``).
    intercept : ndarray of shape (n_tags,) or float, default=0.0
        One intercept per tag.
    normalize : bool, default=False
        Divide each row's products by the row's L2 norm first, i.e. score ``x / |x|``. Leave it
        off for rows that are already unit vectors (as the vector store keeps them); turning it
        on costs one more pass over each cached block.
    calibrated : bool, default=True
        Apply the sigmoid (scores in [0, 1]); False returns the logits.
    block_rows : int, default=512
        Rows converted and multiplied at a time by one thread (torch path).
    n_threads : int, optional
        Worker threads; default: the CPUs this process may use.
    out : ndarray of shape (n_items, n_tags), float32, optional
        Where to write the scores (e.g. a memory map); a new array otherwise.
    backend : {"auto", "native", "native-avx512", "native-avx2", "torch"}, default="auto"
        ``auto``: for C-contiguous float16 rows, the fastest of :func:`available_backends` for
        this tag count, timed once per process on the first large input (see
        ``_auto_backend``); torch for everything else. ``native``: the widest native path;
        ``native-avx512`` / ``native-avx2`` one path. A native backend fails where it cannot
        run.

    Returns
    -------
    ndarray of shape (n_items, n_tags), float32
        A 1-d ``coef`` still gives shape (n_items, 1).

    Raises
    ------
    ValueError
        Shapes that do not match, an unsupported dtype, a wrong ``out``, ``backend="native"``
        where the native kernel cannot run.
    """
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n_items, n_features), got shape {X.shape}")
    if X.dtype not in _SUPPORTED:
        raise ValueError(f"X must be float16, float32 or float64, got {X.dtype}")
    W = np.ascontiguousarray(np.atleast_2d(np.asarray(coef, dtype=np.float32)))
    n, d = X.shape
    if W.shape[1] != d:
        raise ValueError(f"coef has {W.shape[1]} features, X has {d}")
    k = W.shape[0]
    b = np.broadcast_to(np.asarray(intercept, dtype=np.float32), (k,)).copy()
    if not np.isfinite(W).all() or not np.isfinite(b).all():
        raise ValueError("coef and intercept must be finite")
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    if out is None:
        out = np.empty((n, k), dtype=np.float32)
    elif out.shape != (n, k) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {(n, k)}")
    if backend not in ("auto", "native", *_LEVELS, "torch"):
        raise ValueError(
            f"backend must be 'auto', 'native', 'native-avx512', 'native-avx2' or 'torch', "
            f"got {backend!r}"
        )
    if n == 0:
        return out
    native_fits = X.dtype == np.float16 and X.flags.c_contiguous
    present = available_backends()
    if backend == "native" and native_fits and len(present) > 1:
        backend = present[0]
    if backend not in ("auto", "torch") and not (native_fits and backend in present):
        why = "X is not C-contiguous float16" if not native_fits else "the kernel cannot run here"
        raise ValueError(f"the {backend} scoring kernel cannot score this: {why}")
    n_threads = n_threads or usable_cpus()
    n_threads = max(1, min(n_threads, -(-n // block_rows)))
    if backend == "auto":
        candidates = present if native_fits else ("torch",)
        backend = _auto_backend(X, W, b, normalize, block_rows, n_threads, candidates)
    _run(backend, X, W, b, out, normalize, calibrated, block_rows, n_threads)
    drop_pages(X, 0, n)  # a memory-mapped X read once: out of the resident set (10 GB at 10M)
    return out


_auto_choices: dict[tuple[int, int, bool, int, tuple[str, ...]], str] = {}


def _auto_backend(
    X: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    normalize: bool,
    block_rows: int,
    n_threads: int,
    candidates: tuple[str, ...],
) -> str:
    """The fastest of ``candidates`` for this shape of work, measured once per process.

    Which is fastest depends on the CPU (an AVX-512 Xeon ran torch's MKL path faster than the
    AVX2 kernel at 20 tags, a 2-core one the reverse) and on the tag count (the 512-bit path
    pays from a few tags up, one tag reads memory as fast with AVX2), so ``auto`` measures
    instead of guessing: each candidate scores the same first rows, in turns, best of three.
    """
    if len(candidates) == 1:
        return candidates[0]
    n, d = X.shape
    k = len(W)
    key = (d, k if k <= 8 else 1 << (k - 1).bit_length(), normalize, n_threads, candidates)
    choice = _auto_choices.get(key)
    if choice is not None:
        return choice
    if n < PROBE_MIN_ROWS:
        return candidates[0]  # too little work to be worth measuring: the widest native path
    rows = min(n, PROBE_ROWS_PER_THREAD * n_threads)
    part, scratch = X[:rows], np.empty((rows, k), np.float32)
    times = {name: math.inf for name in candidates}
    for _ in range(3):
        for name in candidates:
            t0 = time.perf_counter()
            _run(name, part, W, b, scratch, normalize, True, block_rows, n_threads)
            times[name] = min(times[name], time.perf_counter() - t0)
    choice = min(candidates, key=times.__getitem__)
    _auto_choices[key] = choice
    return choice


def _run(
    backend: str,
    X: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    out: np.ndarray,
    normalize: bool,
    calibrated: bool,
    block_rows: int,
    n_threads: int,
) -> None:
    """Score all of ``X`` into ``out`` with one explicit backend, one share of rows a thread."""
    n, d = X.shape
    out_t = torch.from_numpy(out)
    level = _LEVELS.get(backend, 0)

    def work_native(start: int, stop: int) -> None:
        torch.set_num_threads(1)  # for the sigmoid; the caller's count is restored below
        for i in range(start, stop, NATIVE_CHUNK_ROWS):
            j = min(i + NATIVE_CHUNK_ROWS, stop)
            _score_kernel.logits_f16(X[i:j], W, b, out[i:j], d, normalize, level)
            if calibrated:
                torch.sigmoid_(out_t[i:j])

    Wt = torch.from_numpy(np.ascontiguousarray(W.T))  # (d, k)
    bt = torch.from_numpy(b)
    with warnings.catch_warnings():  # read-only memory maps: torch warns, we never write to X
        warnings.simplefilter("ignore", UserWarning)
        Xt = torch.from_numpy(X if min(X.strides) >= 0 else np.ascontiguousarray(X))

    def work_torch(start: int, stop: int) -> None:
        torch.set_num_threads(1)  # per thread (OpenMP); the caller's count is restored below
        for i in range(start, stop, block_rows):
            j = min(i + block_rows, stop)
            block = Xt[i:j]
            if block.dtype != torch.float32:
                block = block.float()
            dest = out_t[i:j]
            if normalize:
                torch.matmul(block, Wt, out=dest)
                norms = torch.linalg.vector_norm(block, dim=1, keepdim=True).clamp_(min=1e-12)
                dest.div_(norms).add_(bt)
            else:
                torch.addmm(bt, block, Wt, out=dest)
            if calibrated:
                torch.sigmoid_(dest)

    work = work_native if level else work_torch
    saved = torch.get_num_threads()
    try:
        if n_threads == 1:
            work(0, n)
            return
        bounds = np.linspace(0, n, n_threads + 1).astype(int)
        # Align the shares to blocks so no block straddles two threads.
        bounds[1:-1] = (bounds[1:-1] // block_rows) * block_rows
        list(_pool(n_threads).map(work, bounds[:-1], bounds[1:]))
    finally:
        # MKL's thread count is process-wide: give the caller back its own.
        torch.set_num_threads(saved)


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(n_threads: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``n_threads`` scoring threads, created on first use."""
    with _pools_lock:
        pool = _pools.get(n_threads)
        if pool is None:
            pool = ThreadPoolExecutor(n_threads, thread_name_prefix="tagscope-score")
            _pools[n_threads] = pool
        return pool
