"""The models table and the models' files, on SQLite and (in CI) PostgreSQL; the ``pred_`` views."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagscope.domain import AlreadyExistsError, NewItem, NotFoundError
from tagscope.domain.models import ModelKind, ModelStatus
from tagscope.store import Catalog
from tagscope.store.models import ModelCatalog, ModelFiles, prediction_tables
from tagscope.store.scores import ScoreTables
from tagscope.store.sql import SqlEngine, pred_view


@pytest.fixture()
def catalog(database_url: str) -> Catalog:
    return Catalog.connect(database_url)


def _dataset(catalog: Catalog, name: str, n: int = 3) -> tuple[int, list[int]]:
    ds = catalog.create_dataset(name)
    catalog.add_items(ds.id, [NewItem(f"/{name}/{i}.jpg", None) for i in range(n)])
    return ds.id, [it.id for it in catalog.iter_items(ds.id)]


def test_create_get_update_and_restart_as_a_new_version(catalog: Catalog) -> None:
    ds, _ = _dataset(catalog, "d")
    models = ModelCatalog(catalog)
    made = models.create(
        ds, "m", kind=ModelKind.MULTI_LABEL, space="clip", params={"a": 1}, created_by="ann"
    )
    assert (made.status, made.version, made.created_by, made.dataset) == (
        ModelStatus.TRAINING, 1, "ann", "d"
    )  # fmt: skip
    with pytest.raises(AlreadyExistsError, match="--restart"):
        models.create(ds, "m", kind=ModelKind.MULTI_LABEL, space="clip", params={}, created_by=None)
    models.update(ds, "m", status=ModelStatus.READY, classes=["a", "b"], thresholds={"a": 0.3})
    assert models.get(ds, "m").thresholds == {"a": 0.3}
    assert models.thresholds() == {(ds, "m"): {"a": 0.3}}
    again = models.create(
        ds, "m", kind=ModelKind.DETECTOR, space=None, params={}, created_by="bo", replace=True
    )
    assert (again.version, again.status, again.classes, again.kind) == (
        2, ModelStatus.TRAINING, (), ModelKind.DETECTOR
    )  # fmt: skip
    assert models.thresholds() == {}  # only ready models have views
    assert not models.stop_requested(ds, "m")
    models.request_stop(ds, "m")
    assert models.stop_requested(ds, "m")
    models.delete(ds, "m")
    with pytest.raises(NotFoundError, match="has no model 'm'"):
        models.get(ds, "m")


def test_files_are_replaced_whole_and_cleared(tmp_path: Path) -> None:
    files = ModelFiles(tmp_path, 7, "m")
    files.write_statistics({"validation": {"map": 0.5}})
    files.save("best", lambda p: (p.mkdir(), (p / "w.bin").write_bytes(b"1")))
    files.save("best", lambda p: (p.mkdir(), (p / "w.bin").write_bytes(b"2")))
    assert (files.folder / "best" / "w.bin").read_bytes() == b"2"
    assert sorted(p.name for p in files.folder.iterdir()) == ["best", "statistics.json"]
    assert files.statistics() == {"validation": {"map": 0.5}}
    files.clear()
    assert not files.folder.exists() and files.statistics() is None


def _predictions(item_ids: list[int], version: int = 1) -> dict[str, list]:
    n = len(item_ids)
    return {
        "item_id": [i for i in item_ids for _ in (0, 1)],
        "class": ["cat", "dog"] * n,
        "score": [0.9, 0.2] * n,
        "top": [True, False] * n,
        "split": ["train", "train"] * n,
        "truth": [True, False] * n,
        "version": [version] * 2 * n,
        "bbox": [None] * 2 * n,
    }


def test_pred_views_decide_at_current_thresholds_and_hide_other_datasets(
    catalog: Catalog, tmp_path: Path
) -> None:
    scores = tmp_path / "scores"
    models = ModelCatalog(catalog)
    a, a_items = _dataset(catalog, "a")
    b, b_items = _dataset(catalog, "b", 2)
    for ds, items in ((a, a_items), (b, b_items)):
        models.create(ds, "My-Model", kind=ModelKind.SINGLE_LABEL, space="s", params={},
                      created_by=None)  # fmt: skip
        models.update(ds, "My-Model", status=ModelStatus.READY, thresholds={"cat": 0.5})
        ModelFiles(scores, ds, "My-Model").write_predictions(_predictions(items))
    assert [p.dataset_id for p in prediction_tables(catalog, scores)] == [a, b]
    engine = SqlEngine(catalog, ScoreTables(scores))
    view = pred_view("My-Model")
    assert view == "pred_my_model"
    with engine.session() as s:
        rows = s.execute(
            f"SELECT dataset, class, decision, threshold FROM {view} WHERE item_id = {a_items[0]}"
        ).rows
    assert sorted(rows) == [("a", "cat", True, 0.5), ("a", "dog", False, 0.5)]
    models.set_thresholds(a, "My-Model", {"cat": 0.95})
    with engine.session() as s:
        decided = s.execute(f"SELECT count(*) FROM {view} WHERE decision").rows[0][0]
    assert decided == len(b_items)  # a's cats are below 0.95 now
    with engine.session(datasets={b}) as s:
        seen = s.execute(f"SELECT DISTINCT dataset FROM {view}").rows
    assert seen == [("b",)]
    with engine.session(datasets=set()) as s:
        assert view not in s.tables()


def test_one_training_lock_at_a_time(tmp_path: Path) -> None:
    files = ModelFiles(tmp_path, 7, "m")
    assert not files.is_locked()
    with files.training_lock() as held:
        assert held and files.is_locked()
        with ModelFiles(tmp_path, 7, "m").training_lock() as second:
            assert not second
    assert not files.is_locked()
