"""The SQL use cases see only the datasets the caller may read (F-90): a viewer of ``alpha``, a
token tied to ``alpha``, a user without roles, the owner; the grid's filters likewise."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from tagscope.domain import Label, LabelKind, MediaInfo, NewItem, SqlError
from tagscope.domain.access import Identity, Role, Scope
from tagscope.service import Workspace, browse
from tagscope.service.sql import list_tables, run_sql
from tagscope.store.scores import ScoreTables

ORACLE = "EXISTS (SELECT 1 FROM items b WHERE b.dataset = 'bravo')"


@pytest.fixture()
def ws(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Datasets ``alpha`` (3 items) and ``bravo`` (2), labelled, scored in ``animals``; the
    group ``secret`` is scored on ``bravo`` only."""
    monkeypatch.setenv("TAGSCOPE_DATABASE_URL", database_url)
    ws = Workspace.open(tmp_path / "ws")
    scores = ScoreTables(ws.paths.scores)
    for name, n in (("alpha", 3), ("bravo", 2)):
        ds = ws.catalog.create_dataset(name)
        label = (Label(LabelKind.CLASSIFICATION, f"{name}-cat", is_main=True),)
        paths = [f"/{name}/{i}.jpg" for i in range(n)]
        media = [MediaInfo(10, 8, 8, "jpeg", f"{name}{i}") for i in range(n)]
        ws.catalog.add_items(
            ds.id, [NewItem(p, m, labels=label) for p, m in zip(paths, media, strict=True)]
        )
        ids = np.array(sorted(ws.catalog.existing_paths(ds.id, paths).values()))
        scores.write(ds.id, "Animals", 1, "visual", ids, ["dog"], np.full((n, 1), 0.5))
        if name == "bravo":
            scores.write(ds.id, "Secret", 1, "visual", ids, ["bravo tag"], np.ones((n, 1)))
    return ws


def _id(ws: Workspace, name: str) -> int:
    return ws.catalog.get_dataset(name).id


def _viewer_of_alpha(ws: Workspace) -> Workspace:
    roles = MappingProxyType({_id(ws, "alpha"): Role.VIEWER})
    return ws.acting_as(Identity(name="v", role=None, dataset_roles=roles, user_id=1))


def _datasets_seen(ws: Workspace) -> list[list[object]]:
    return run_sql(
        ws,
        "SELECT DISTINCT i.dataset FROM items i JOIN labels l ON l.item_id = i.id "
        "JOIN dt_animals_visual s ON s.item_id = i.id ORDER BY 1",
    ).rows


def test_a_viewer_of_one_dataset_queries_only_it(ws: Workspace) -> None:
    viewer = _viewer_of_alpha(ws)
    assert _datasets_seen(ws) == [["alpha"], ["bravo"]]  # the owner sees both
    assert _datasets_seen(viewer) == [["alpha"]]
    counts = (
        "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM labels), "
        "(SELECT count(*) FROM tags_animals), (SELECT string_agg(name ORDER BY name) FROM datasets)"
    )
    assert run_sql(viewer, counts).rows == [[3, 3, 3, "alpha"]]
    assert run_sql(ws, counts).rows == [[5, 5, 5, "alpha,bravo"]]


def test_a_viewer_lists_only_the_tables_of_its_datasets(ws: Workspace) -> None:
    assert {"dt_secret_visual", "tags_secret"} <= set(list_tables(ws))
    tables = list_tables(_viewer_of_alpha(ws))
    assert {"items", "labels", "dt_animals_visual", "tags_animals"} <= set(tables)
    assert not {"dt_secret_visual", "tags_secret"} & set(tables)
    with pytest.raises(SqlError, match="unknown table 'tags_secret'"):
        run_sql(_viewer_of_alpha(ws), "SELECT * FROM tags_secret")


def test_a_token_tied_to_one_dataset_queries_only_it(ws: Workspace) -> None:
    token = Identity(
        name="ci", role=Role.EDITOR, scope=Scope.READ, token_dataset=_id(ws, "alpha"),
        user_id=2, token_id=7,
    )  # fmt: skip
    assert _datasets_seen(ws.acting_as(token)) == [["alpha"]]
    user = Identity(name="ci", role=Role.EDITOR, user_id=2)  # the same user, by password
    assert _datasets_seen(ws.acting_as(user)) == [["alpha"], ["bravo"]]


def test_a_user_without_roles_sees_no_row(ws: Workspace) -> None:
    stranger = ws.acting_as(Identity(name="s", role=None, user_id=3))
    result = run_sql(stranger, "SELECT (SELECT count(*) FROM items), count(*) FROM datasets")
    assert result.rows == [[0, 0]]
    assert not any(t.startswith(("dt_", "tags_")) for t in list_tables(stranger))


def test_the_grid_filter_of_a_viewer_cannot_probe_another_dataset(ws: Workspace) -> None:
    assert browse.list_items(ws, "alpha", where=ORACLE).total == 3
    assert browse.list_items(_viewer_of_alpha(ws), "alpha", where=ORACLE).total == 0
    assert browse.list_items(_viewer_of_alpha(ws), "alpha", where="true").total == 3
    assert browse.label_counts(_viewer_of_alpha(ws), "alpha", ORACLE) == {}
    assert browse.label_counts(ws, "alpha", ORACLE) == {"alpha-cat": 3}
