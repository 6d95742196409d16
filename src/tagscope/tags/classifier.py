"""The tag classifier: a logistic model on unit vectors with the text prompts as its prior.

A tag is learned from text prompts alone, from labelled examples alone (an Autotag), or from both.
The model is a logistic regression on L2-normalised embeddings whose weights are pulled towards
the *prompt direction* instead of towards zero (a Gaussian prior centred on the prompts)::

    minimise  sum_i s_i * log_loss(y_i, x_i . w + b)  +  ||w - w0||^2 / (2 C)
    with      w0 = prompt_scale * (mean(positive prompts) - negative_prompt_weight * mean(negative))

So with no examples the tag ranks items by their cosine to the prompts, a few examples only nudge
that direction (a plain logistic regression on 10 + 10 examples is worse than the prompt alone on
COCO captions), and many examples can move it as far as they need. Negative prompts tilt the prior
away from what they describe. Text prompts also take part as weighted pseudo-examples (anchors
the examples cannot pull to the wrong side), and unlabelled *background* items stand in as weak
negatives when there are few or no negative examples.

Calibration makes 0.5 the default threshold. A raw cut-off ``t`` on the logit is chosen, and the
logit is shifted and scaled so that ``t`` maps to probability 0.5 and one standard deviation of
the background's logits spans ``score_scale`` (scores then mean the same across tags and
embedding spaces). The cut-off:

* with at least ``min_cv_examples`` labelled examples per class, maximises the F-beta score
  (beta=0.5: precision first) of out-of-fold decisions from a ``cv``-fold cross-validation; the
  labelled classes are reweighted to the prevalence the background suggests, because examples
  picked by people are far more often positive than the dataset;
* otherwise (a handful of examples, or prompts alone: nothing to cross-validate on) it is
  ``mean + background_z * std`` of the background's logits, i.e. the tag's positives are the upper
  tail of the dataset. On COCO captions that rule's F0.5 at 0.5 was 0.46 against 0.62 for the best
  threshold in hindsight, where cross-validation on 5 + 5 examples gave 0.37 (a 50/50 labelled set
  says nothing about a 10% prevalence) and a two-Gaussian mixture 0.40.

A tag's calibrated score is thus ``sigmoid(x . coef_ + intercept_)`` for a unit vector ``x``: one
matrix product per tag (see :mod:`tagscope.tags.scoring`).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

__all__ = ["TagClassifier", "fbeta_threshold", "normalize_rows"]


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` scaled to unit L2 norm (zero rows stay zero), as float64."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def fbeta_threshold(
    scores: np.ndarray,
    y_true: np.ndarray,
    *,
    beta: float = 0.5,
    sample_weight: np.ndarray | None = None,
) -> tuple[float, float]:
    """The cut-off on ``scores`` that maximises the F-beta score of ``scores >= t``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Any monotone score (higher means more positive).
    y_true : ndarray of shape (n_samples,)
        1 for positives, 0 for negatives; fractional values are soft labels.
    beta : float, default=0.5
        Weight of recall against precision (0.5: precision counts twice as much).
    sample_weight : ndarray of shape (n_samples,), optional
        Weight of each sample (default 1).

    Returns
    -------
    threshold : float
        Midpoint between the lowest score kept and the highest score dropped (so it generalises
        better than the lowest kept score itself).
    fbeta : float
        The F-beta score at that cut-off.

    Raises
    ------
    ValueError
        If no sample carries positive weight.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.float64)
    w = np.ones_like(scores) if sample_weight is None else np.asarray(sample_weight, np.float64)
    pos_w = w * y
    total_pos = pos_w.sum()
    if total_pos <= 0:
        raise ValueError("cannot choose a threshold without positive samples")
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    tp = np.cumsum(pos_w[order])
    kept = np.cumsum(w[order])
    # Only cut between distinct scores: the last index of each run of equal scores.
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp, kept = tp[last], kept[last]
    b2 = beta * beta
    fbeta = (1 + b2) * tp / (b2 * total_pos + kept)
    best = int(np.argmax(fbeta))
    idx = last[best]
    below = s[idx + 1] if idx + 1 < len(s) else s[idx] - 1.0
    return float((s[idx] + below) / 2.0), float(fbeta[best])


def _solve(
    Z: np.ndarray,
    y: np.ndarray,
    s: np.ndarray,
    *,
    C: float,
    w0: np.ndarray,
    b0: float | None,
    init: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, float, int]:
    """Weighted logistic regression with the L2 penalty centred on ``(w0, b0)``; L-BFGS.

    ``b0=None`` leaves the intercept unpenalised.
    """
    d = Z.shape[1]
    inv_c = 1.0 / C
    inv_cb = 0.0 if b0 is None else inv_c
    b_centre = 0.0 if b0 is None else b0

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = Z @ w + b
        dw = w - w0
        db = b - b_centre
        loss = np.dot(s, np.logaddexp(0.0, z) - y * z)
        loss += 0.5 * inv_c * np.dot(dw, dw) + 0.5 * inv_cb * db * db
        g = s * (expit(z) - y)
        return float(loss), np.concatenate([Z.T @ g + inv_c * dw, [g.sum() + inv_cb * db]])

    # The products are small (thousands x hundreds): BLAS threads only add synchronisation, and on
    # a busy machine OpenBLAS' spinning threads make each product 40x slower.
    with threadpool_limits(1, user_api="blas"):
        res = minimize(
            loss_grad,
            init,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": tol},
        )
    return res.x[:d], float(res.x[d]), int(res.nit)


class TagClassifier(ClassifierMixin, BaseEstimator):
    """A binary tag learned from text prompts, labelled examples, or both; calibrated scores.

    Parameters
    ----------
    C : float, default=3.0
        Inverse strength of the prior: how far the examples may pull the weights away from the
        prompt direction (larger trusts the examples more). Without prompts the prior is zero and
        this is the usual inverse L2 regularisation. On COCO captions 1.0 gained a little more from
        5 + 5 random examples and 3.0 far more from labels picked off the uncertain list.
    class_weight : "balanced", dict or None, default="balanced"
        Weights of the labelled classes; "balanced" gives each class the same total weight.
    prompt_scale : float, default=10.0
        Norm of the prior weights ``w0`` along the mean positive prompt: the sharpness of the
        prompt-only model (a cosine difference of 0.1 is a logit difference of 1 at 10).
    negative_prompt_weight : float, default=0.5
        Share of the mean negative prompt subtracted from the prior direction. At 0.5, "an
        animal" minus "a dog" still finds cats but ranks dogs far lower; at 1.0 a negative prompt
        close to the positive one cancels it.
    prompt_weight : float, default=1.0
        Weight of each text prompt as a pseudo-example, in units of one labelled example.
    background_weight : float, default=1.0
        Total weight of the background items as negatives, in units of one labelled example.
    n_background : int, default=256
        At most this many background rows are used (a random sample, drawn before the rows are
        read, so ``background`` may be a memory map of the whole dataset).
    beta : float, default=0.5
        The F-beta score the cross-validated calibration maximises (0.5 favours precision).
    cv : int, cross-validation generator or iterable of splits, default=5
        Folds of the cross-validation that picks the threshold from labelled examples (an int
        gives shuffled stratified folds, fewer when a class has fewer examples).
    min_cv_examples : int, default=20
        Labelled examples needed in each class to calibrate by cross-validation; below that the
        background decides (``background_z``). Without background, 2 per class suffice.
    background_z : float, default=1.5
        Without enough examples, the cut-off is this many standard deviations above the mean
        background logit.
    score_scale : float, default=2.0
        Calibrated logit per standard deviation of the background's logits: 2.0 puts the
        background's mean at ``sigmoid(-2 * background_z)`` (0.05 at the defaults).
    normalize : bool, default=True
        Scale every input row (examples, prompts, background, items scored) to unit norm.
    max_iter : int, default=200
        L-BFGS iterations per fit.
    tol : float, default=1e-6
        L-BFGS gradient tolerance.
    random_state : int, RandomState instance or None, default=None
        Seeds the background sample and the folds.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels; ``classes_[1]`` is the positive class (the tag applies).
    coef_ : ndarray of shape (1, n_features)
        Calibrated weights: ``decision_function(X) = X @ coef_.T + intercept_`` on unit rows.
    intercept_ : ndarray of shape (1,)
        Calibrated intercept: the decision is 0 (probability 0.5) at the F-beta-optimal cut-off.
    threshold_ : float
        The recommended threshold on ``predict_proba(X)[:, 1]``: 0.5 by construction.
    raw_threshold_ : float
        The cut-off on the uncalibrated logit (what maps to 0.5).
    raw_scale_ : float
        Factor from the uncalibrated to the calibrated logit.
    calibration_ : {"cv", "background", "logistic"}
        How the cut-off was chosen: cross-validation, the background's tail, or (no background
        and too few examples) the logistic model's own 0.5.
    prior_coef_ : ndarray of shape (n_features,)
        The prompt prior ``w0`` (zeros without prompts).
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_iter_ : int
        L-BFGS iterations of the final fit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> prompt = rng.normal(size=(1, 8))
    >>> items = rng.normal(size=(200, 8)) + np.outer(rng.random(200) > 0.8, prompt)
    >>> clf = TagClassifier(random_state=0).fit(prompts_pos=prompt, background=items)
    >>> clf.predict_proba(items).shape
    (200, 2)
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "prompt_scale": [Interval(Real, 0, None, closed="left")],
        "negative_prompt_weight": [Interval(Real, 0, None, closed="left")],
        "prompt_weight": [Interval(Real, 0, None, closed="left")],
        "background_weight": [Interval(Real, 0, None, closed="left")],
        "n_background": [Interval(Integral, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="neither")],
        "cv": [Interval(Integral, 2, None, closed="left"), "cv_object"],
        "min_cv_examples": [Interval(Integral, 2, None, closed="left")],
        "background_z": [Real],
        "score_scale": [Interval(Real, 0, None, closed="neither")],
        "normalize": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        C: float = 3.0,
        class_weight: str | dict | None = "balanced",
        prompt_scale: float = 10.0,
        negative_prompt_weight: float = 0.5,
        prompt_weight: float = 1.0,
        background_weight: float = 1.0,
        n_background: int = 256,
        beta: float = 0.5,
        cv: int = 5,
        min_cv_examples: int = 20,
        background_z: float = 1.5,
        score_scale: float = 2.0,
        normalize: bool = True,
        max_iter: int = 200,
        tol: float = 1e-6,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.prompt_scale = prompt_scale
        self.negative_prompt_weight = negative_prompt_weight
        self.prompt_weight = prompt_weight
        self.background_weight = background_weight
        self.n_background = n_background
        self.beta = beta
        self.cv = cv
        self.min_cv_examples = min_cv_examples
        self.background_z = background_z
        self.score_scale = score_scale
        self.normalize = normalize
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    # -- fitting --------------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X: np.ndarray | None = None,
        y: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        *,
        prompts_pos: np.ndarray | None = None,
        prompts_neg: np.ndarray | None = None,
        background: np.ndarray | None = None,
    ) -> TagClassifier:
        """Learn the tag.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), optional
            Labelled examples (visual prompts). ``None`` or zero rows: prompts only.
        y : array-like of shape (n_samples,), optional
            Their labels, two classes; with a single class the labels must be 0/1 or bool (1 or
            True: positive), so that a tag can learn from positive examples and background alone.
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each example (multiplied by ``class_weight``).
        prompts_pos : array-like of shape (n_prompts, n_features), optional
            Embeddings of the positive text prompts, in the items' space.
        prompts_neg : array-like of shape (n_prompts, n_features), optional
            Embeddings of the negative text prompts (what to ignore).
        background : array-like of shape (n_background, n_features), optional
            Unlabelled items (e.g. the whole dataset): a random ``n_background`` of them act as
            weak negatives and calibrate a tag that has too few labelled examples.

        Returns
        -------
        self : TagClassifier

        Raises
        ------
        ValueError
            No positive signal (neither positive examples nor positive prompts), no negative
            signal (no negative examples, negative prompts nor background), malformed inputs.
        """
        rng = check_random_state(self.random_state)
        X, y, sw = self._validate_examples(
            X, y, sample_weight, (prompts_pos, prompts_neg, background)
        )
        d = self.n_features_in_
        P = self._side_input(prompts_pos, d, "prompts_pos")
        N = self._side_input(prompts_neg, d, "prompts_neg")
        B = self._side_input(self._sample_rows(background, rng), d, "background")
        if not (y == 1).any() and not len(P):
            raise ValueError(
                "no positive signal: give at least one positive example or positive text prompt"
            )
        if not (y == 0).any() and not len(N) and not len(B):
            raise ValueError(
                "no negative signal: a tag needs negative examples, negative text prompts or "
                "background items (got only one class)"
            )

        w0 = np.zeros(d)
        if len(P):
            w0 += P.mean(axis=0)
        if len(N):
            w0 -= self.negative_prompt_weight * N.mean(axis=0)
        w0 *= self.prompt_scale
        self.prior_coef_ = w0
        # Side rows: prompts as pseudo-examples, background as weak negatives.
        side_Z = np.vstack([P, N, B])
        side_y = np.r_[np.ones(len(P)), np.zeros(len(N) + len(B))]
        side_s = np.r_[
            np.full(len(P) + len(N), self.prompt_weight),
            np.full(len(B), self.background_weight / max(len(B), 1)),
        ]
        # The prior's intercept puts the background's tail (where the tag's positives are) at the
        # logistic model's 0.5, so examples near the boundary weigh fully in the loss.
        b0 = None
        if len(B) > 1 and w0.any():
            prior_bg = B @ w0
            b0 = -float(prior_bg.mean() + self.background_z * prior_bg.std())
        prior = (w0, b0)
        w, b, self.n_iter_ = self._fit_raw(X, y, sw, side_Z, side_y, side_s, prior, None)

        raw_t, scale, how = self._calibrate(X, y, sw, side_Z, side_y, side_s, prior, w, b, B, rng)
        self.raw_threshold_ = raw_t
        self.raw_scale_ = scale
        self.calibration_ = how
        self.coef_ = (scale * w).reshape(1, -1)
        self.intercept_ = np.array([scale * (b - raw_t)])
        self.threshold_ = 0.5
        return self

    def _validate_examples(
        self,
        X: np.ndarray | None,
        y: np.ndarray | None,
        sample_weight: np.ndarray | None,
        side: tuple[np.ndarray | None, ...],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if X is None or (hasattr(X, "shape") and X.shape[0] == 0 and y is not None):
            if X is None and y is not None:
                raise ValueError("y was given without X")
            shapes = [np.shape(a) for a in (X, *side) if a is not None]
            widths = [shape[1] for shape in shapes if len(shape) == 2]
            if not widths:
                raise ValueError(
                    "no positive signal: give labelled examples X, y or positive text prompts"
                )
            n_features = widths[0]
            self.n_features_in_ = n_features
            self.classes_ = np.array([0, 1])
            return np.empty((0, n_features)), np.empty(0), np.empty(0)
        X, y_raw = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y_raw)
        target = type_of_target(y_raw)
        if target not in ("binary",):
            raise ValueError(
                f"Only binary classification is supported: a tag applies or not (got a {target} "
                "target)"
            )
        classes = np.unique(y_raw)
        if len(classes) == 1:
            label = classes[0]
            if isinstance(label, str) or label not in (0, 1):
                raise ValueError(
                    "only one class in y: with a single class the labels must be 0/1 or bool "
                    f"(1/True = the tag applies); got {label!r}"
                )
            classes = np.array([False, True]) if y_raw.dtype == bool else np.array([0, 1])
            y = (y_raw == 1).astype(np.float64)
        else:
            y = (y_raw == classes[1]).astype(np.float64)
        self.classes_ = classes
        sw = (
            np.ones(len(y))
            if sample_weight is None
            else check_array(sample_weight, ensure_2d=False, dtype=np.float64)
        )
        if sw.shape != y.shape:
            raise ValueError(f"sample_weight has shape {sw.shape}, expected {y.shape}")
        if (sw < 0).any():
            raise ValueError("sample_weight cannot be negative")
        if len(sw) and not sw.any():
            raise ValueError("sample weights are all zero: no example would count")
        sw = sw * self._class_weights(y, y_raw, sw)
        if self.normalize:
            X = normalize_rows(X)
        return X, y, sw

    def _class_weights(self, y: np.ndarray, y_raw: np.ndarray, sw: np.ndarray) -> np.ndarray:
        """Per-example class weights; "balanced" counts examples by their sample weights."""
        if self.class_weight is None:
            return np.ones(len(y))
        if self.class_weight == "balanced":
            pos, neg = sw[y == 1].sum(), sw[y == 0].sum()
            if pos == 0 or neg == 0:
                return np.ones(len(y))
            return np.where(y == 1, (pos + neg) / (2 * pos), (pos + neg) / (2 * neg))
        return np.array([float(self.class_weight.get(label, 1.0)) for label in y_raw])

    def _sample_rows(self, A: np.ndarray | None, rng: np.random.RandomState) -> np.ndarray | None:
        """At most ``n_background`` random rows of ``A``, read before any conversion (``A`` may
        be a memory map of millions of rows)."""
        if A is None or not hasattr(A, "shape") or A.ndim != 2 or len(A) <= self.n_background:
            return A
        pick = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        rows = np.sort(pick.choice(len(A), self.n_background, replace=False))
        return A[rows]

    def _side_input(self, A: np.ndarray | None, d: int, name: str) -> np.ndarray:
        if A is None:
            return np.empty((0, d))
        A = check_array(A, dtype=np.float64, ensure_min_samples=0, input_name=name)
        if A.shape[1] != d:
            raise ValueError(f"{name} has {A.shape[1]} features, the examples have {d}")
        return normalize_rows(A) if self.normalize else A

    def _fit_raw(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray,
        side_Z: np.ndarray,
        side_y: np.ndarray,
        side_s: np.ndarray,
        prior: tuple[np.ndarray, float | None],
        init: np.ndarray | None,
    ) -> tuple[np.ndarray, float, int]:
        Z = np.vstack([X, side_Z])
        yy = np.r_[y, side_y]
        s = np.r_[sw, side_s]
        w0, b0 = prior
        if init is None:
            init = np.r_[w0, b0 or 0.0]
        return _solve(
            Z, yy, s, C=self.C, w0=w0, b0=b0, init=init, max_iter=self.max_iter, tol=self.tol
        )

    def _calibrate(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray,
        side_Z: np.ndarray,
        side_y: np.ndarray,
        side_s: np.ndarray,
        prior: tuple[np.ndarray, float | None],
        w: np.ndarray,
        b: float,
        B: np.ndarray,
        rng: np.random.RandomState,
    ) -> tuple[float, float, str]:
        """(raw cut-off, logit scale, how): see the module's docstring."""
        n_min = int(min(y.sum(), len(y) - y.sum())) if len(y) else 0
        bg = B @ w + b
        spread = float(bg.std()) if len(bg) > 1 else 0.0
        scale = self.score_scale / spread if spread > 0 else 1.0
        tail = float(bg.mean()) + self.background_z * spread if len(bg) else 0.0
        if n_min >= (self.min_cv_examples if len(bg) else 2):
            if isinstance(self.cv, Integral):
                folds = StratifiedKFold(min(self.cv, n_min), shuffle=True, random_state=rng)
            else:
                folds = check_cv(self.cv, y, classifier=True)
            oof = np.empty(len(y))
            init = np.r_[w, b]
            for train, test in folds.split(X, y):
                wf, bf, _ = self._fit_raw(
                    X[train], y[train], sw[train], side_Z, side_y, side_s, prior, init
                )
                oof[test] = X[test] @ wf + bf
            weight = sw
            if len(bg):
                # Reweight the labelled classes to the background's prevalence.
                prevalence = float(np.clip((bg >= tail).mean(), 1 / len(bg), 0.5))
                pos_total, neg_total = sw[y == 1].sum(), sw[y == 0].sum()
                weight = sw * np.where(y == 1, prevalence / pos_total, (1 - prevalence) / neg_total)
            return fbeta_threshold(oof, y, beta=self.beta, sample_weight=weight)[0], scale, "cv"
        if len(bg):
            return tail, scale, "background"
        return 0.0, scale, "logistic"

    # -- prediction -----------------------------------------------------------------------------

    def _transform_input(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return normalize_rows(X) if self.normalize else X

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Calibrated logit: positive where the tag applies at the default threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        Xn = self._transform_input(X)
        return Xn @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities; column 1 is the tag's score in [0, 1].

        Returns
        -------
        ndarray of shape (n_samples, 2)
        """
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict_log_proba(self, X: np.ndarray) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, shape (n_samples, 2)."""
        z = self.decision_function(X)
        return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``classes_[1]`` where the calibrated score is at least :attr:`threshold_` (0.5)."""
        positive = self.decision_function(X) >= 0
        return self.classes_[positive.astype(int)]

    def score_items(self, X: np.ndarray) -> np.ndarray:
        """The tag's calibrated score of each item, float32 in [0, 1], shape (n_samples,)."""
        return expit(self.decision_function(X)).astype(np.float32)
