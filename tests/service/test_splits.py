"""The validation set: setting items' split is one change-set, shown in the grid and SQL, and
undone from the history; on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from tagscope.domain import MediaInfo, NewItem, PermissionDeniedError, ValidationError
from tagscope.domain.access import Identity, Role
from tagscope.domain.changes import UndoConflictError
from tagscope.service import Workspace
from tagscope.service import collections as col
from tagscope.service import history as hist
from tagscope.service.browse import list_items
from tagscope.service.splits import set_split
from tagscope.service.sql import run_sql

SQL = "SELECT id, split FROM items ORDER BY id"


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    return Workspace.open(tmp_path / "ws")


def _ids(ws: Workspace, name: str = "d") -> list[int]:
    """Four items: the first in ``train``, the others in no split."""
    ds = ws.catalog.create_dataset(name)
    splits = ["train", None, None, None]
    ws.catalog.add_items(
        ds.id,
        [
            NewItem(f"/{name}/{i}.jpg", MediaInfo(1, 1, 1, "JPEG", f"{name}{i}"), split=s)
            for i, s in enumerate(splits)
        ],
    )
    return ws.catalog.item_ids(ds.id)


def _splits(ws: Workspace) -> list[str | None]:
    return [row[1] for row in run_sql(ws, SQL).rows]


def test_adding_to_the_validation_set_is_one_undoable_change_set(ws: Workspace) -> None:
    ids = _ids(ws)
    assert _splits(ws) == ["train", None, None, None]  # the SQL copy is made before the edit
    result = set_split(ws, "d", [ids[0], ids[1], ids[2]], "validation")
    assert result.n_changed == 3 and result.change_set is not None
    assert _splits(ws) == ["validation", "validation", "validation", None]
    page = list_items(ws, "d", where="split = 'validation'")
    assert [g.item.id for g in page.items] == ids[:3]
    cs = hist.get_change_set(ws, "d", result.change_set)
    assert cs.action == "split" and {c.entity for c in cs.changes} == {"split"}
    assert {c.item_id: (c.before, c.after) for c in cs.changes} == {
        ids[0]: ({"split": "train"}, {"split": "validation"}),
        ids[1]: (None, {"split": "validation"}),
        ids[2]: (None, {"split": "validation"}),
    }
    undone = hist.undo(ws, "d", result.change_set)
    assert undone.n_restored == 3
    assert _splits(ws) == ["train", None, None, None]


def test_items_already_there_are_left_and_null_clears(ws: Workspace) -> None:
    ids = _ids(ws)
    assert set_split(ws, "d", [ids[0]], "train").change_set is None
    cleared = set_split(ws, "d", ids, None)
    assert cleared.n_changed == 1 and _splits(ws) == [None] * 4


def test_a_collection_goes_to_the_test_split(ws: Workspace) -> None:
    ids = _ids(ws)
    col.create_collection(ws, "d", "held out", item_ids=ids[2:])
    assert set_split(ws, "d", split="test", collection="held out").n_changed == 2
    assert _splits(ws) == ["train", None, "test", "test"]


def test_an_undo_refuses_items_changed_since(ws: Workspace) -> None:
    ids = _ids(ws)
    first = set_split(ws, "d", ids[1:3], "validation")
    set_split(ws, "d", [ids[1]], "test")
    with pytest.raises(UndoConflictError, match="1 item"):
        hist.undo(ws, "d", first.change_set)


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"split": "holdout"}, "split", "unknown split 'holdout'"),
        ({"item_ids": []}, "item_ids", "no items"),
        ({"item_ids": [999_999]}, "item_ids", "not items of the dataset: 999999"),
        ({"collection": "x"}, "item_ids", "not both"),
    ],
)
def test_bad_input_is_named(ws: Workspace, kwargs: dict, field: str, message: str) -> None:
    ids = _ids(ws)
    args = {"item_ids": ids[:1], "split": "validation", **kwargs}
    with pytest.raises(ValidationError, match=message) as err:
        set_split(ws, "d", args.pop("item_ids"), args.pop("split"), **args)
    assert err.value.field == field


def test_a_viewer_is_refused(ws: Workspace) -> None:
    ids = _ids(ws)
    ds = ws.dataset("d")
    viewer = ws.acting_as(Identity("vera", None, MappingProxyType({ds.id: Role.VIEWER}), user_id=7))
    with pytest.raises(PermissionDeniedError, match=r"labels\.edit"):
        set_split(viewer, "d", ids[:1], "validation")
    assert _splits(ws)[0] == "train"
