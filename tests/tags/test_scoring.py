"""The scoring kernel equals a float64 reference, for every dtype, shape and thread count."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tagscope.tags import TagClassifier, normalize_rows, score_matrix, score_with, stack_models


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
def test_equals_float64_reference(dtype, n_threads, k):
    X, W, b = _data(n=3001, k=k, dtype=dtype)  # 3001: the last block is short
    got = score_matrix(X, W, b, n_threads=n_threads, block_rows=256)
    assert got.dtype == np.float32 and got.shape == (3001, k)
    np.testing.assert_allclose(got, _reference(X, W, b), atol=1e-3, rtol=0)


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


def test_read_only_memory_map_and_out_array(tmp_path):
    X, W, b = _data(n=4000)
    path = tmp_path / "vectors.f16"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.float16, mode="r", shape=X.shape)
    out = np.lib.format.open_memmap(tmp_path / "scores.npy", "w+", np.float32, (len(X), 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = score_matrix(mm, W, b, out=out)
    assert got is out
    np.testing.assert_allclose(out, _reference(X, W, b), atol=1e-3, rtol=0)


def test_strided_input():
    X, W, b = _data(n=600, dtype=np.float32)
    view = X[::-2]  # negative stride
    np.testing.assert_allclose(score_matrix(view, W, b), _reference(view, W, b), atol=1e-3)


def test_empty_input():
    _, W, b = _data(n=1)
    assert score_matrix(np.empty((0, 64), np.float16), W, b).shape == (0, 3)


def test_caller_thread_count_is_restored():
    import torch

    before = torch.get_num_threads()
    X, W, b = _data(n=3000)
    score_matrix(X, W, b, n_threads=2, block_rows=128)
    score_matrix(X, W, b, n_threads=1)
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
