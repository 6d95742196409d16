"""Every scoring backend present (the native kernel's AVX2 and AVX-512 paths, torch) equals a
float64 reference, for every dtype, shape, thread count and tail of rows, features or tags."""

from __future__ import annotations

import platform
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tagscope.tags import (
    TagClassifier,
    normalize_rows,
    score_matrix,
    score_with,
    scoring,
    stack_models,
)
from tagscope.tags.scoring import available_backends, native_available


def _native(name: str, why: str):
    return pytest.param(
        name, marks=pytest.mark.skipif(name not in available_backends(), reason=why)
    )


NATIVE = pytest.param(
    "native",
    marks=pytest.mark.skipif(not native_available(), reason="native kernel not built or no AVX2"),
)
NATIVE_PATHS = [
    _native("native-avx2", "native kernel not built or no AVX2"),
    _native("native-avx512", "native kernel not built or no AVX-512F"),
]
BACKENDS = [NATIVE, *NATIVE_PATHS, "torch"]


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split()[2:]) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def _reference(X, W, b, normalize=False, calibrated=True):
    X64 = np.asarray(X, dtype=np.float64)
    if normalize:
        X64 = normalize_rows(X64)
    z = X64 @ np.atleast_2d(W).astype(np.float64).T + np.asarray(b, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z)) if calibrated else z


def _data(n=5000, d=64, k=3, dtype=np.float16, seed=0):
    rng = np.random.default_rng(seed)
    X = normalize_rows(rng.normal(size=(n, d))).astype(dtype)
    W = rng.normal(size=(k, d)) * 4.0
    b = rng.normal(size=k)
    return X, W, b


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 20])
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_equals_float64_reference(dtype, n_threads, k, backend):
    X, W, b = _data(n=3001, k=k, dtype=dtype)  # 3001: the last block is short
    got = score_matrix(X, W, b, n_threads=n_threads, block_rows=256, backend=backend)
    assert got.dtype == np.float32 and got.shape == (3001, k)
    np.testing.assert_allclose(got, _reference(X, W, b), atol=1e-3, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d", [7, 13, 40, 64, 385])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 20, 23])
@pytest.mark.parametrize("normalize", [False, True])
def test_every_tail_of_rows_features_and_tags(backend, d, k, normalize):
    # 3 (AVX2) or 6 (AVX-512) rows a tile, 4 tags a tile, 8 or 16 features a vector, 48 rows a
    # block: every remainder.
    X, W, b = _data(n=151, d=d, k=k)
    X = X * np.linspace(0.5, 2.0, len(X))[:, None].astype(np.float16)  # rows not unit
    got = score_matrix(X, W, b, normalize=normalize, backend=backend, n_threads=2)
    want = _reference(X, W, b, normalize=normalize)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@pytest.mark.parametrize("backend", NATIVE_PATHS)
@pytest.mark.parametrize("n", [1, 2, 3, 47, 48, 49, 70_001])
def test_native_equals_torch(n, backend):
    X, W, b = _data(n=n, d=512, k=20)
    native = score_matrix(X, W, b, backend=backend, calibrated=False)
    torch_ = score_matrix(X, W, b, backend="torch", calibrated=False)
    np.testing.assert_allclose(native, torch_, atol=1e-4, rtol=1e-5)


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64" or not shutil.which("gcc"),
    reason="the native kernel is built where there is an x86-64 Linux with gcc",
)
def test_native_kernel_is_built_here():
    # `pip install -e .` compiles it; optional=True would hide a failed build otherwise.
    assert native_available()


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64" or not shutil.which("gcc"),
    reason="the native kernel is built where there is an x86-64 Linux with gcc",
)
def test_every_instruction_set_of_this_cpu_has_its_path():
    flags = _cpu_flags()
    want = (("native-avx512",) if "avx512f" in flags else ()) + ("native-avx2", "torch")
    assert available_backends() == want


def test_auto_measures_once_and_keeps_a_backend_present(monkeypatch):
    monkeypatch.setattr(scoring, "PROBE_MIN_ROWS", 1000)
    monkeypatch.setattr(scoring, "PROBE_ROWS_PER_THREAD", 256)
    monkeypatch.setattr(scoring, "_auto_choices", {})
    X, W, b = _data(n=3000, k=7)
    got = score_matrix(X, W, b, n_threads=2)
    np.testing.assert_allclose(got, _reference(X, W, b), atol=1e-4, rtol=0)
    (choice,) = scoring._auto_choices.values()
    assert choice in available_backends()
    score_matrix(X, W, b, n_threads=2)  # the same kind of work: no second measurement
    assert len(scoring._auto_choices) == 1
    score_matrix(X.astype(np.float32), W, b, n_threads=2)  # only torch fits: nothing to measure
    assert len(scoring._auto_choices) == 1


def test_backend_choice_and_its_errors():
    X, W, b = _data(n=100)
    want = _reference(X, W, b)
    for backend in ("auto", "torch"):  # strided float16: auto takes the torch path
        got = score_matrix(X[::2], W, b, backend=backend)
        np.testing.assert_allclose(got, want[::2], atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="not C-contiguous float16"):
        score_matrix(X[::2], W, b, backend="native")
    with pytest.raises(ValueError, match="not C-contiguous float16"):
        score_matrix(X.astype(np.float32), W, b, backend="native")
    with pytest.raises(ValueError, match="backend must be"):
        score_matrix(X, W, b, backend="gpu")
    for missing in {"native-avx512", "native-avx2"} - set(available_backends()):
        with pytest.raises(ValueError, match="cannot run here"):
            score_matrix(X, W, b, backend=missing)


@pytest.mark.parametrize("block_rows", [1, 7, 512, 100_000])
def test_block_sizes(block_rows):
    X, W, b = _data(n=1000)
    got = score_matrix(X, W, b, block_rows=block_rows, n_threads=2)
    np.testing.assert_allclose(got, _reference(X, W, b), atol=1e-3, rtol=0)


def test_normalize_scores_unit_rows():
    X, W, b = _data(n=2000, dtype=np.float32)
    X = X * np.random.default_rng(1).uniform(0.5, 3.0, (len(X), 1)).astype(np.float32)
    got = score_matrix(X, W, b, normalize=True)
    np.testing.assert_allclose(got, _reference(X, W, b, normalize=True), atol=1e-3, rtol=0)


def test_logits_when_not_calibrated():
    X, W, b = _data(n=500)
    got = score_matrix(X, W, b, calibrated=False)
    np.testing.assert_allclose(got, _reference(X, W, b, calibrated=False), atol=1e-2, rtol=1e-3)


def test_one_dimensional_coef_and_scalar_intercept():
    X, W, _ = _data(n=100)
    got = score_matrix(X, W[0], 0.25)
    assert got.shape == (100, 1)
    np.testing.assert_allclose(got[:, 0], _reference(X, W[0], 0.25)[:, 0], atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_read_only_memory_map_and_out_array(tmp_path, backend):
    X, W, b = _data(n=4000)
    path = tmp_path / "vectors.f16"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float16, mode="r", shape=X.shape)
    out = np.lib.format.open_memmap(tmp_path / "scores.npy", "w+", np.float32, (len(X), 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_matrix(mm, W, b, out=out, backend=backend)
    assert got is out
    np.testing.assert_allclose(out, _reference(X, W, b), atol=1e-3, rtol=0)


def test_strided_input():
    X, W, b = _data(n=600, dtype=np.float32)
    view = X[::-2]  # negative stride
    np.testing.assert_allclose(score_matrix(view, W, b), _reference(view, W, b), atol=1e-3)


def test_empty_input():
    _, W, b = _data(n=1)
    assert score_matrix(np.empty((0, 64), np.float16), W, b).shape == (0, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_caller_thread_count_is_restored(backend):
    import torch

    before = torch.get_num_threads()
    X, W, b = _data(n=3000)
    score_matrix(X, W, b, n_threads=2, block_rows=128, backend=backend)
    score_matrix(X, W, b, n_threads=1, backend=backend)
    assert torch.get_num_threads() == before


def test_score_with_fitted_classifiers_equals_predict_proba():
    rng = np.random.default_rng(0)
    X = normalize_rows(rng.normal(size=(3000, 48)))
    models = []
    for seed in range(4):
        prompt = rng.normal(size=(1, 48))
        models.append(TagClassifier(random_state=seed).fit(prompts_pos=prompt, background=X))
    coef, intercept = stack_models(models)
    assert coef.shape == (4, 48) and intercept.shape == (4,)
    raw = (X * 3.0).astype(np.float16)  # not unit rows: score_with normalises like the models
    got = score_with(models, raw)
    expected = np.column_stack([m.predict_proba(raw.astype(np.float64))[:, 1] for m in models])
    np.testing.assert_allclose(got, expected, atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"X": np.ones(5, np.float16)}, "2-d"),
        ({"X": np.ones((5, 4), np.int8)}, "float16"),
        ({"coef": np.ones((2, 3))}, "features"),
        ({"coef": np.full((1, 4), np.inf)}, "finite"),
        ({"block_rows": 0}, "block_rows"),
        ({"out": np.empty((5, 2), np.float32)}, "out"),
        ({"out": np.empty((5, 1), np.float64)}, "out"),
    ],
)
def test_bad_inputs_fail_loudly(kwargs, message):
    args = {"X": np.ones((5, 4), np.float16), "coef": np.ones((1, 4)), **kwargs}
    with pytest.raises(ValueError, match=message):
        score_matrix(**args)


def test_stack_models_needs_fitted_models():
    with pytest.raises(ValueError, match="at least one"):
        stack_models([])
    with pytest.raises(ValueError, match="not fitted"):
        stack_models([TagClassifier()])


def test_without_the_kernel_torch_serves(monkeypatch):
    # As where the extension was not built (no C compiler, another architecture).
    monkeypatch.setattr(scoring, "_score_kernel", None)
    monkeypatch.setattr(scoring, "PROBE_MIN_ROWS", 1000)
    assert available_backends() == ("torch",) and not native_available()
    X, W, b = _data(n=3000)
    np.testing.assert_allclose(score_matrix(X, W, b), _reference(X, W, b), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="cannot run here"):
        score_matrix(X, W, b, backend="native")


def _rss_file_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile in /proc/self/status")


def test_a_memory_mapped_matrix_leaves_the_resident_set_once_scored(tmp_path):
    """Scoring 10M x 512 float16 reads 10 GB of a memory-mapped file: the pages it read go
    out of the process's resident set as it ends, not stay there (the score job's peak)."""
    x = np.random.default_rng(0).standard_normal((65_536, 512)).astype(np.float16)  # 64 MiB
    np.save(tmp_path / "v.npy", x)
    X = np.load(tmp_path / "v.npy", mmap_mode="r")
    w = np.random.default_rng(1).standard_normal((3, 512)).astype(np.float32)
    want = score_matrix(x, w, normalize=True)  # first: loads the kernels' libraries
    before = _rss_file_kib()
    got = score_matrix(X, w, normalize=True)
    assert _rss_file_kib() - before < 16 * 1024
    np.testing.assert_allclose(got, want, atol=1e-6)
