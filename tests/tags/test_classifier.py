"""TagClassifier: scikit-learn's estimator checks, loud failures, calibration, speed, real data."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import average_precision_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from tagscope.tags import TagClassifier, fbeta_threshold, normalize_rows

# -- scikit-learn's contract ----------------------------------------------------------------------


@parametrize_with_checks([TagClassifier(random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    # Every check passes; two are skipped by scikit-learn itself here (pandas is not installed,
    # SCIPY_ARRAY_API is not set).
    check(estimator)


# -- synthetic tags -------------------------------------------------------------------------------


def _world(seed: int = 0, n: int = 2000, d: int = 32, prevalence: float = 0.1):
    """Items around a concept direction: positives lean towards it, a prompt names it."""
    rng = np.random.default_rng(seed)
    concept = normalize_rows(rng.normal(size=(1, d)))[0]
    y = rng.random(n) < prevalence
    X = rng.normal(size=(n, d)) + np.outer(y, 4.0 * concept)
    prompt = concept + 0.05 * rng.normal(size=d)
    return normalize_rows(X), y, prompt[None, :]


def test_prompt_only_scores_in_unit_interval_with_half_as_threshold():
    X, y, prompt = _world()
    clf = TagClassifier(random_state=0).fit(prompts_pos=prompt, background=X)
    scores = clf.predict_proba(X)[:, 1]
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert clf.threshold_ == 0.5
    assert clf.calibration_ == "background"
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_features_in_ == X.shape[1]
    assert average_precision_score(y, scores) > 0.9
    # 0.5 is a sensible threshold: most of what it keeps is positive, and it keeps a fair share.
    kept = scores >= 0.5
    assert y[kept].mean() > 0.7 and kept[y].mean() > 0.3


def test_calibrated_linear_model_is_the_whole_score():
    X, y, prompt = _world(1)
    clf = TagClassifier(random_state=0).fit(X[:40], y[:40], prompts_pos=prompt, background=X)
    raw = np.asarray(X[:100] * 7.0)  # scale does not matter: rows are normalised
    expected = expit(normalize_rows(raw) @ clf.coef_[0] + clf.intercept_[0])
    np.testing.assert_allclose(clf.predict_proba(raw)[:, 1], expected, rtol=1e-12)
    np.testing.assert_allclose(clf.score_items(raw), expected, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(raw), (expected >= 0.5).astype(int))


def test_examples_alone_autotag_positive_examples_and_background():
    X, y, _ = _world(2)
    pos = np.flatnonzero(y)[:15]
    clf = TagClassifier(random_state=0).fit(X[pos], np.ones(len(pos), int), background=X)
    scores = clf.predict_proba(X)[:, 1]
    assert average_precision_score(y, scores) > 0.8
    assert clf.prior_coef_.tolist() == [0.0] * X.shape[1]


def test_bool_single_class_keeps_bool_classes():
    X, y, _ = _world(3)
    pos = np.flatnonzero(y)[:10]
    clf = TagClassifier(random_state=0).fit(X[pos], np.ones(len(pos), bool), background=X)
    assert clf.classes_.dtype == bool
    assert set(clf.predict(X[:50]).tolist()) <= {False, True}


def test_many_examples_calibrate_by_cross_validation():
    X, y, prompt = _world(4)
    idx = np.r_[np.flatnonzero(y)[:30], np.flatnonzero(~y)[:60]]
    clf = TagClassifier(random_state=0).fit(X[idx], y[idx], prompts_pos=prompt, background=X)
    assert clf.calibration_ == "cv"
    held_out = np.setdiff1d(np.arange(len(y)), idx)
    kept = clf.predict_proba(X[held_out])[:, 1] >= 0.5
    assert y[held_out][kept].mean() > 0.7


def test_without_background_two_labelled_classes_suffice():
    X, y, _ = _world(5)
    idx = np.r_[np.flatnonzero(y)[:5], np.flatnonzero(~y)[:5]]
    clf = TagClassifier(random_state=0).fit(X[idx], y[idx])
    assert clf.calibration_ == "cv"
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_string_labels_positive_is_the_second_class():
    X, y, prompt = _world(6)
    labels = np.where(y, "tag", "other")  # sorted: "other" < "tag"
    idx = np.r_[np.flatnonzero(y)[:10], np.flatnonzero(~y)[:10]]
    clf = TagClassifier(random_state=0).fit(X[idx], labels[idx], prompts_pos=prompt, background=X)
    assert clf.classes_.tolist() == ["other", "tag"]
    assert set(clf.predict(X).tolist()) == {"other", "tag"}


def test_same_seed_same_model():
    X, y, prompt = _world(7)
    a = TagClassifier(random_state=3).fit(X[:30], y[:30], prompts_pos=prompt, background=X)
    b = clone(a).fit(X[:30], y[:30], prompts_pos=prompt, background=X)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


# -- failing loudly -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "score_items"])
def test_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(TagClassifier(), method)(np.ones((2, 4)))


def test_no_positive_signal():
    X, _, _ = _world(8)
    with pytest.raises(ValueError, match="no positive signal"):
        TagClassifier().fit(X[:10], np.zeros(10, int), background=X)
    with pytest.raises(ValueError, match="no positive signal"):
        TagClassifier().fit(background=X)
    with pytest.raises(ValueError, match="no positive signal"):
        TagClassifier().fit(prompts_neg=X[:1], background=X)


def test_no_negative_signal():
    X, _, prompt = _world(9)
    with pytest.raises(ValueError, match="no negative signal"):
        TagClassifier().fit(prompts_pos=prompt)
    with pytest.raises(ValueError, match="no negative signal"):
        TagClassifier().fit(X[:5], np.ones(5, int), prompts_pos=prompt)


def test_single_class_labels_must_say_which_is_positive():
    X, _, prompt = _world(10)
    with pytest.raises(ValueError, match="only one class"):
        TagClassifier().fit(X[:5], np.array(["dog"] * 5), prompts_pos=prompt, background=X)


def test_multiclass_is_refused():
    X, _, prompt = _world(11)
    with pytest.raises(ValueError, match="Only binary"):
        TagClassifier().fit(X[:6], [0, 1, 2, 0, 1, 2], prompts_pos=prompt, background=X)


def test_features_must_agree():
    X, y, prompt = _world(12)
    with pytest.raises(ValueError, match="prompts_pos has 31 features"):
        TagClassifier().fit(X[:10], y[:10], prompts_pos=prompt[:, :31], background=X)
    with pytest.raises(ValueError, match="background has 31 features"):
        TagClassifier().fit(prompts_pos=prompt, background=X[:, :31])
    clf = TagClassifier(random_state=0).fit(prompts_pos=prompt, background=X)
    with pytest.raises(ValueError, match="features"):
        clf.predict_proba(X[:, :31])


def test_invalid_parameters():
    X, _, prompt = _world(13)
    with pytest.raises(ValueError, match="C"):
        TagClassifier(C=0.0).fit(prompts_pos=prompt, background=X)
    with pytest.raises(ValueError, match="beta"):
        TagClassifier(beta=-1.0).fit(prompts_pos=prompt, background=X)


def test_non_finite_inputs():
    X, y, prompt = _world(14)
    bad = X[:10].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TagClassifier().fit(bad, y[:10], prompts_pos=prompt, background=X)
    with pytest.raises(ValueError, match="NaN"):
        # (only the sampled background rows are read: here all of them, fewer than n_background)
        TagClassifier().fit(prompts_pos=prompt, background=np.vstack([X[:100], bad]))


# -- F-beta threshold ---------------------------------------------------------------------------


def test_fbeta_threshold_is_the_best_cut():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.2
    s = rng.normal(y * 1.5, 1.0)
    t, f = fbeta_threshold(s, y, beta=0.5)
    from sklearn.metrics import fbeta_score

    assert fbeta_score(y, s >= t, beta=0.5) == pytest.approx(f)
    best = max(fbeta_score(y, s >= u, beta=0.5) for u in np.unique(s))
    assert f == pytest.approx(best)


def test_fbeta_threshold_needs_a_positive():
    with pytest.raises(ValueError, match="positive"):
        fbeta_threshold(np.arange(3.0), np.zeros(3))


# -- speed ----------------------------------------------------------------------------------------


def test_refit_with_thousands_of_examples_is_well_under_a_second():
    rng = np.random.default_rng(0)
    d = 384
    prompt = rng.normal(size=(1, d))
    X = normalize_rows(rng.normal(size=(3000, d)) + 0.5 * prompt)
    y = (X @ prompt[0] + rng.normal(0, 0.3, 3000)) > np.quantile(X @ prompt[0], 0.8)
    background = normalize_rows(rng.normal(size=(5000, d)))
    clf = TagClassifier(random_state=0)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        clf.fit(X[:2000], y[:2000], prompts_pos=prompt, background=background)
        times.append(time.perf_counter() - t0)
    assert clf.calibration_ == "cv"  # the slowest path: a fit per fold
    assert min(times) < 1.0, times


# -- real data: coco-mini captions, MiniLM -------------------------------------------------------


def test_prompt_a_dog_finds_the_dog_images(coco_text):
    dog = coco_text.labels("dog")
    clf = TagClassifier(random_state=0).fit(
        prompts_pos=coco_text.encode(["a dog"]), background=coco_text.X
    )
    scores = clf.predict_proba(coco_text.X)[:, 1]
    assert average_precision_score(dog, scores) >= 0.7
    # 0.5 is a sensible default: what it keeps is mostly dogs.
    assert dog[scores >= 0.5].mean() >= 0.6


def test_negative_prompt_lowers_what_it_describes(coco_text):
    X, dog, cat = coco_text.X, coco_text.labels("dog"), coco_text.labels("cat")
    animal = coco_text.encode(["an animal"])
    before = TagClassifier(random_state=0).fit(prompts_pos=animal, background=X)
    after = TagClassifier(random_state=0).fit(
        prompts_pos=animal, prompts_neg=coco_text.encode(["a dog"]), background=X
    )
    s0, s1 = before.predict_proba(X)[:, 1], after.predict_proba(X)[:, 1]
    # Dogs fall, and far more than the other animals.
    assert s1[dog].mean() < s0[dog].mean() - 0.15
    assert s0[cat].mean() - s1[cat].mean() < 0.5 * (s0[dog].mean() - s1[dog].mean())
    assert s1[cat].mean() > s1[dog].mean()


def test_negative_examples_lower_the_items_they_resemble(coco_text):
    X, dog = coco_text.X, coco_text.labels("dog")
    prompt = coco_text.encode(["a dog"])
    before = TagClassifier(random_state=0).fit(prompts_pos=prompt, background=X)
    s0 = before.predict_proba(X)[:, 1]
    # The three best-scoring images without a dog are marked negative...
    wrong = [i for i in np.argsort(-s0) if not dog[i]][:3]
    after = TagClassifier(random_state=0).fit(
        X[wrong], np.zeros(3, int), prompts_pos=prompt, background=X
    )
    s1 = after.predict_proba(X)[:, 1]
    assert (s1[wrong] < s0[wrong]).all()
    # ... and the images most like them (not the examples themselves) fall too, on average more
    # than the dog images do.
    similar = [i for i in np.argsort(-(X @ X[wrong].T).max(axis=1)) if i not in wrong][:10]
    drop_similar = (s0[similar] - s1[similar]).mean()
    assert drop_similar > 0
    assert drop_similar > (s0[dog] - s1[dog]).mean()


def test_positive_examples_add_to_the_prompt(coco_text):
    # The benchmark in miniature: 10 + 10 examples with the prompt beat the prompt alone
    # on the 8 most frequent categories, on average over seeds (items not used as examples).
    X = coco_text.X
    cats = sorted(coco_text.present, key=lambda c: -coco_text.present[c].sum())[:8]
    prompts = coco_text.encode(cats)
    gains = []
    for j, cat in enumerate(cats):
        y = coco_text.labels(cat)
        for seed in range(3):
            rng = np.random.default_rng(seed)
            ex = np.r_[
                rng.permutation(np.flatnonzero(y))[:10], rng.permutation(np.flatnonzero(~y))[:10]
            ]
            rest = np.setdiff1d(np.arange(len(y)), ex)
            alone = TagClassifier(random_state=0).fit(prompts_pos=prompts[j : j + 1], background=X)
            both = TagClassifier(random_state=0).fit(
                X[ex], y[ex].astype(int), prompts_pos=prompts[j : j + 1], background=X
            )
            gains.append(
                average_precision_score(y[rest], both.decision_function(X[rest]))
                - average_precision_score(y[rest], alone.decision_function(X[rest]))
            )
    assert np.mean(gains) > 0


def test_empty_prompt_arrays_are_no_prompts():
    X, _, prompt = _world(15)
    empty = np.empty((0, X.shape[1]))
    clf = TagClassifier(random_state=0).fit(prompts_pos=prompt, prompts_neg=empty, background=X)
    assert clf.calibration_ == "background"
    with pytest.raises(ValueError, match="no positive signal"):
        TagClassifier().fit(prompts_pos=empty, background=X)


def test_background_may_be_a_large_memory_map(tmp_path):
    X, y, prompt = _world(16)
    path = tmp_path / "vectors.npy"
    big = np.lib.format.open_memmap(path, "w+", np.float16, (200_000, X.shape[1]))
    big[:] = np.tile(X, (100, 1)).astype(np.float16)
    big.flush()
    mm = np.load(path, mmap_mode="r")
    clf = TagClassifier(random_state=0, n_background=300).fit(prompts_pos=prompt, background=mm)
    assert average_precision_score(y, clf.predict_proba(X)[:, 1]) > 0.9
