from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from tagscope.domain.errors import ValidationError
from tagscope.service import Workspace
from tagscope.train import HeadClassifier, mean_average_precision, validation_split

# -- scikit-learn's contract ----------------------------------------------------------------------


# The single-label head passes every check (two are skipped by scikit-learn itself: pandas is not
# installed, SCIPY_ARRAY_API is not set). The multi-label head is left out: the generic checks
# feed it class labels, not the 0/1 indicator it is defined on; its own tests are below.
@parametrize_with_checks([HeadClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- data -----------------------------------------------------------------------------------------


def _blobs(seed: int = 0, n: int = 300, d: int = 16, k: int = 3, noise: float = 1.0):
    """Single-label Gaussian blobs: (X float32, y str labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 1.5
    codes = rng.integers(0, k, n)
    X = (centres[codes] + noise * rng.normal(size=(n, d))).astype(np.float32)
    return X, np.array(["cat", "dog", "owl"])[codes]


def _multi(seed: int = 0, n: int = 400, d: int = 24, k: int = 4):
    """Multi-label vectors: the sum of the item's classes' directions plus noise."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(k, d))
    Y = (rng.random((n, k)) < 0.3).astype(int)
    X = (Y @ directions + rng.normal(size=(n, d))).astype(np.float32)
    return X, Y


# -- learning -------------------------------------------------------------------------------------


def test_single_label_learns_and_records_history() -> None:
    X, y = _blobs()
    rows: list[dict] = []
    head = HeadClassifier().fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:], on_epoch=rows.append
    )
    assert list(head.classes_) == ["cat", "dog", "owl"]
    assert head.n_features_in_ == 16
    assert head.score(X[200:], y[200:]) > 0.9
    proba = head.predict_proba(X[200:])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(axis=1), 1)
    assert rows == head.history_ and len(rows) >= head.best_epoch_ >= 1
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
    assert set(rows[0]) == {
        "epoch",
        "train_loss",
        "val_loss",
        "train_metric",
        "val_metric",
        "seconds",
    }
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert head.stop_reason_ in ("early_stopping", "max_epochs")


def test_multi_label_gives_one_sigmoid_per_class() -> None:
    X, Y = _multi()
    head = HeadClassifier(multi_label=True).fit(X[:300], Y[:300], X_val=X[300:], y_val=Y[300:])
    proba = head.predict_proba(X[300:])
    assert proba.shape == (100, 4) and not np.allclose(proba.sum(axis=1), 1)
    assert list(head.classes_) == [0, 1, 2, 3]
    assert head.predict(X[300:]).shape == (100, 4)
    assert average_precision_score(Y[300:], proba) > 0.9
    last = head.history_[-1]
    assert last["val_metric"] == pytest.approx(
        average_precision_score(Y[300:], head.predict_proba(X[300:])), abs=0.05
    )


def test_mean_average_precision_agrees_with_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    Y = rng.random((500, 6)) < [0.5, 0.3, 0.1, 0.05, 0.02, 0.0]
    S = np.round(rng.random((500, 6)) + 0.3 * Y, 1)  # many ties
    expected = np.mean([average_precision_score(Y[:, j], S[:, j]) for j in range(5)])
    assert mean_average_precision(Y, S) == pytest.approx(expected, abs=1e-12)
    assert mean_average_precision(np.zeros((3, 2)), np.ones((3, 2))) is None


def test_hidden_layer_learns_what_a_linear_head_cannot() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)  # XOR of the signs
    kw = {"max_epochs": 300, "patience": 300}
    linear = HeadClassifier(**kw).fit(X[:400], y[:400])
    mlp = HeadClassifier(hidden=32, **kw).fit(X[:400], y[:400])
    assert linear.score(X[400:], y[400:]) < 0.7
    assert mlp.score(X[400:], y[400:]) > 0.9


def test_same_random_state_same_head() -> None:
    X, y = _blobs()
    a = HeadClassifier(hidden=8, batch_size=64, random_state=3).fit(X, y)
    b = HeadClassifier(hidden=8, batch_size=64, random_state=3).fit(X, y)
    c = HeadClassifier(hidden=8, batch_size=64, random_state=4).fit(X, y)
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


# -- stopping -------------------------------------------------------------------------------------


def test_early_stopping_stops_when_the_validation_loss_stops_improving() -> None:
    # Few items in many dimensions with noisy labels: the head overfits, the validation loss
    # turns up while the training loss keeps falling.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(260, 200)).astype(np.float32)
    y = ((X[:, 0] + 1.5 * rng.normal(size=260)) > 0).astype(int)
    head = HeadClassifier(weight_decay=0.0, patience=5).fit(
        X[:60], y[:60], X_val=X[60:], y_val=y[60:]
    )
    h = head.history_
    val = [r["val_loss"] for r in h]
    assert head.stop_reason_ == "early_stopping"
    assert len(h) == head.best_epoch_ + 5 < head.max_epochs
    assert val[head.best_epoch_ - 1] == min(val)
    assert all(v > min(val) for v in val[head.best_epoch_ :])
    assert h[-1]["train_loss"] < h[head.best_epoch_ - 1]["train_loss"]
    # The kept weights are those of the best epoch, not the last.
    proba = head.predict_proba(X[60:])[:, 1]
    loss = -np.mean(np.log(np.where(y[60:] == 1, proba, 1 - proba)))
    assert loss == pytest.approx(val[head.best_epoch_ - 1], rel=1e-4)


def test_a_linear_multi_label_head_keeps_each_class_at_its_own_best_epoch() -> None:
    # Class 0 is learnable and keeps improving; class 1 is noise and overfits at once.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, 60)).astype(np.float32)
    Y = np.stack([(X[:, 0] + 0.3 * rng.normal(size=160)) > 0, rng.random(160) < 0.5], axis=1)
    Y = Y.astype(int)
    # C explicit: the replays have no validation data (whose default C differs).
    kw = {"multi_label": True, "C": 1e4, "patience": 3}
    head = HeadClassifier(**kw).fit(X[:80], Y[:80], X_val=X[80:], y_val=Y[80:])
    n_epochs = len(head.history_)
    assert head.stop_reason_ == "early_stopping"

    def val_losses(model: HeadClassifier) -> np.ndarray:
        p = np.clip(model.predict_proba(X[80:]), 1e-12, 1 - 1e-12)
        return -np.mean(np.where(Y[80:] == 1, np.log(p), np.log(1 - p)), axis=0)

    # Training is deterministic, so stopping after e epochs replays epoch e of that run.
    per_epoch = np.array(
        [
            val_losses(HeadClassifier(**kw, max_epochs=e).fit(X[:80], Y[:80]))
            for e in range(1, n_epochs + 1)
        ]
    )
    kept = val_losses(head)
    best = per_epoch.argmin(axis=0)
    assert best[1] < best[0]  # the noise class stopped improving first...
    assert kept == pytest.approx(per_epoch.min(axis=0), rel=1e-3)  # ...each kept at its best
    assert best[1] + 1 < head.best_epoch_ <= best[0] + 1  # (improvements under 1e-4 not counted)


def test_should_stop_stops_and_keeps_the_best() -> None:
    X, y = _blobs()
    calls: list[int] = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 3

    head = HeadClassifier(patience=50).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:], should_stop=stop
    )
    assert head.stop_reason_ == "stopped"
    assert len(head.history_) == 3 and head.best_epoch_ <= 3


def test_time_limit_stops_after_the_epoch_that_reaches_it() -> None:
    X, y = _blobs()
    head = HeadClassifier(time_limit=1e-9).fit(X, y)
    assert head.stop_reason_ == "time_limit" and len(head.history_) == 1


def test_max_epochs() -> None:
    X, y = _blobs()
    head = HeadClassifier(max_epochs=4, patience=10).fit(X, y)
    assert head.stop_reason_ == "max_epochs" and len(head.history_) == 4


# -- checkpoints and files ------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from tagscope.train import HeadClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 32)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) + rng.normal(size=300) > 0).astype(int)

    def report(row):
        print(row["epoch"], flush=True)
        time.sleep(0.05)

    HeadClassifier(hidden=8, batch_size=64, max_epochs=40, patience=100, learning_rate=0.1).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:], on_epoch=report,
        checkpoint_path=sys.argv[1],
    )
    """
)


def _child_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 32)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) + rng.normal(size=300) > 0).astype(int)
    return X, y


def test_a_training_killed_mid_way_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    checkpoint = tmp_path / "ckpt" / "head.pt"
    child = subprocess.Popen(
        [sys.executable, str(script), str(checkpoint)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 5:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    assert checkpoint.exists()

    X, y = _child_data()
    params = {
        "hidden": 8,
        "batch_size": 64,
        "max_epochs": 40,
        "patience": 100,
        "learning_rate": 0.1,
    }
    seen: list[int] = []
    resumed = HeadClassifier(**params).fit(
        X[:200],
        y[:200],
        X_val=X[200:],
        y_val=y[200:],
        checkpoint_path=checkpoint,
        on_epoch=lambda row: seen.append(row["epoch"]),
    )
    assert 5 <= seen[0] - 1 < 40 and seen[-1] == 40  # it went on from where it was killed
    whole = HeadClassifier(**params).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])

    def strip(h):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in h]

    assert strip(resumed.history_) == strip(whole.history_)
    assert np.array_equal(resumed.predict_proba(X), whole.predict_proba(X))
    assert resumed.stop_reason_ == whole.stop_reason_ == "max_epochs"

    # A finished checkpoint is restored as it ended; other data may not reuse it.
    again = HeadClassifier(**params).fit(
        X[:200], y[:200], X_val=X[200:], y_val=y[200:], checkpoint_path=checkpoint
    )
    assert np.array_equal(again.predict_proba(X), whole.predict_proba(X))
    with pytest.raises(ValidationError, match="other data or parameters"):
        HeadClassifier(**params).fit(
            X[:199], y[:199], X_val=X[200:], y_val=y[200:], checkpoint_path=checkpoint
        )


def test_a_crashed_multi_label_training_resumes_to_the_same_head(tmp_path: Path) -> None:
    X, Y = _multi()
    kw = {"X_val": X[300:], "y_val": Y[300:], "checkpoint_path": tmp_path / "state.pt"}

    def crash(row: dict) -> None:
        if row["epoch"] == 4:
            raise KeyboardInterrupt

    head = HeadClassifier(multi_label=True, batch_size=128)
    with pytest.raises(KeyboardInterrupt):
        head.fit(X[:300], Y[:300], on_epoch=crash, **kw)
    epochs: list[int] = []
    head.fit(X[:300], Y[:300], on_epoch=lambda row: epochs.append(row["epoch"]), **kw)
    whole = HeadClassifier(multi_label=True, batch_size=128).fit(
        X[:300], Y[:300], X_val=X[300:], y_val=Y[300:]
    )
    assert epochs[0] == 5 and len(head.history_) == len(whole.history_)
    assert head.best_epoch_ == whole.best_epoch_
    assert np.array_equal(head.predict_proba(X), whole.predict_proba(X))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    X, y = _blobs()
    head = HeadClassifier(hidden=8).fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    head.save(tmp_path / "head.pt")
    HeadClassifier().fit(X, y, checkpoint_path=tmp_path / "ckpt.pt")  # a checkpoint is no head
    loaded = HeadClassifier.load(tmp_path / "head.pt")
    assert np.array_equal(loaded.predict_proba(X), head.predict_proba(X))
    assert list(loaded.predict(X)) == list(head.predict(X))
    assert loaded.get_params() == head.get_params()
    assert loaded.history_ == head.history_
    assert (loaded.best_epoch_, loaded.stop_reason_) == (head.best_epoch_, head.stop_reason_)
    Xm, Ym = _multi()
    multi = HeadClassifier(multi_label=True).fit(Xm, Ym)
    multi.save(tmp_path / "multi.pt")
    assert np.array_equal(
        HeadClassifier.load(tmp_path / "multi.pt").predict_proba(Xm), multi.predict_proba(Xm)
    )
    (tmp_path / "other.pt").write_bytes(b"not a head")
    with pytest.raises(ValidationError, match="is not a saved head"):
        HeadClassifier.load(tmp_path / "other.pt")
    with pytest.raises(ValidationError, match="is not a saved head"):
        HeadClassifier.load(tmp_path / "ckpt.pt")


# -- errors ---------------------------------------------------------------------------------------


def test_errors_name_the_problem() -> None:
    X, y = _blobs()
    with pytest.raises(ValidationError, match="at least 2 classes, got 1 class") as e:
        HeadClassifier().fit(X, np.full(len(X), "cat"))
    assert e.value.field == "y" and isinstance(e.value, ValueError)
    Xm, Ym = _multi()
    Ym[:, 2] = 0
    with pytest.raises(ValidationError, match="class column 2 has no positive"):
        HeadClassifier(multi_label=True).fit(Xm, Ym)
    Ym[:, 2] = 1
    with pytest.raises(ValidationError, match="class column 2 has no negative"):
        HeadClassifier(multi_label=True).fit(Xm, Ym)
    Xn = X.copy()
    Xn[3, 4] = np.nan
    with pytest.raises(ValidationError, match="NaN") as e:
        HeadClassifier().fit(Xn, y)
    assert e.value.field == "X"
    with pytest.raises(
        ValidationError, match="X_val has 15 features, the training vectors have 16"
    ):
        HeadClassifier().fit(X, y, X_val=X[:, :15], y_val=y)
    with pytest.raises(ValidationError, match="absent from training"):
        HeadClassifier().fit(X, y, X_val=X, y_val=np.full(len(X), "emu"))
    with pytest.raises(ValidationError, match="come together"):
        HeadClassifier().fit(X, y, X_val=X)
    with pytest.raises(ValidationError, match="indicator with 4 columns"):
        HeadClassifier(multi_label=True).fit(Xm, _multi()[1], X_val=Xm, y_val=Ym[:, :3])


# -- the protocol: coco-mini captions, against a logistic regression -----------------------


def _coco_text(ws: Workspace) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All of coco-mini (the fixture's ``coco`` and ``coco-train``): text-space vectors and the
    0/1 matrix of the classes named by each item's ground-truth labels."""
    parts, indicators, names = [], [], set()
    for name in ("coco", "coco-train"):
        names |= set(ws.catalog.label_names(ws.dataset(name).id))
    classes = sorted(names)
    for name in ("coco", "coco-train"):
        ds = ws.dataset(name)
        ids, X = ws.vectors(ds, "text").load()
        row = {int(i): r for r, i in enumerate(ids)}
        Y = np.zeros((len(ids), len(classes)), dtype=int)
        for j, c in enumerate(classes):
            Y[[row[i] for i in ws.catalog.items_with_labels(ds.id, [c]) if i in row], j] = 1
        parts.append(np.asarray(X, dtype=np.float32))
        indicators.append(Y)
    return np.concatenate(parts), np.concatenate(indicators), classes


def test_multi_label_head_matches_logistic_regression_on_coco_captions(
    coco_text_ws: Workspace,
) -> None:
    X, Y, classes = _coco_text(coco_text_ws)
    keep = Y.sum(axis=0) >= 4
    Y, classes = Y[:, keep], [c for c, k in zip(classes, keep, strict=True) if k]
    val = validation_split(Y, fraction=0.3, random_state=0)
    train = ~val
    lr = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X[train], Y[train])
    # "blind": like LR, the head never sees the validation items (it watches its training loss);
    # "app": as the app trains it, early stopping on the validation loss.
    blind = HeadClassifier(multi_label=True).fit(X[train], Y[train])
    app = HeadClassifier(multi_label=True).fit(X[train], Y[train], X_val=X[val], y_val=Y[val])
    scored = [j for j in range(len(classes)) if Y[val, j].any()]
    ap = {
        name: {classes[j]: average_precision_score(Y[val, j], P[:, j]) for j in scored}
        for name, P in (
            ("lr", lr.predict_proba(X[val])),
            ("blind", blind.predict_proba(X[val])),
            ("app", app.predict_proba(X[val])),
        )
    }
    report = "\n".join(
        f"{c:>16} n_val={Y[val, classes.index(c)].sum():2d} "
        + " ".join(f"{name} {ap[name][c]:.3f}" for name in ap)
        for c in ap["lr"]
    )
    mean = {name: float(np.mean(list(v.values()))) for name, v in ap.items()}
    print(f"\n{len(X)} items, {len(scored)} classes\n{report}\nmean AP {mean}")
    assert len(scored) >= 20
    assert mean["blind"] >= mean["lr"], report
    assert mean["app"] >= mean["lr"], report


@pytest.mark.parametrize("multi_label", [False, True])
def test_lbfgs_at_c_1_without_validation_is_scikit_learns_logistic_regression(
    multi_label: bool,
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    if multi_label:
        y = (X[:, :3] + 0.3 * rng.normal(size=(300, 3)) > 0).astype(int)
        lr = OneVsRestClassifier(LogisticRegression(max_iter=5000, tol=1e-10)).fit(X, y)
    else:
        y = np.argmax(X[:, :3] + 0.3 * rng.normal(size=(300, 3)), axis=1)
        lr = LogisticRegression(max_iter=5000, tol=1e-10).fit(X, y)
    head = HeadClassifier(multi_label=multi_label, C=1.0, patience=50, max_epochs=500).fit(X, y)
    # The kept epoch is the last to lower the objective by more than 1e-4: near LR's optimum.
    np.testing.assert_allclose(head.predict_proba(X), lr.predict_proba(X), atol=1e-2)
    head.module_.load_state_dict(head.last_weights_)  # the last epoch: at the optimum
    np.testing.assert_allclose(head.predict_proba(X), lr.predict_proba(X), atol=1e-3)


def test_the_sgd_solver_learns_a_linear_head_too() -> None:
    X, y = _blobs()
    head = HeadClassifier(solver="sgd").fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    assert (head.predict(X[200:]) == y[200:]).mean() > 0.9
