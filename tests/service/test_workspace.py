"""Workspace: one SQL engine per workspace, shared by queries and grid filters, built once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tagscope.service import Workspace
from tagscope.service.sql import run_sql


def test_concurrent_first_queries_share_one_engine(workspace: Workspace) -> None:
    with ThreadPoolExecutor(8) as pool:
        engines = list(pool.map(lambda _: workspace.sql_engine(), range(8)))
    assert all(e is engines[0] for e in engines)


def test_engine_sees_datasets_created_after_it(workspace: Workspace) -> None:
    assert run_sql(workspace, "SELECT count(*) AS n FROM datasets").rows == [[0]]
    workspace.catalog.create_dataset("later")
    result = run_sql(workspace, "SELECT name FROM datasets")
    assert result.rows == [["later"]]


def test_each_workspace_has_its_own_engine(workspace: Workspace, tmp_path: Path) -> None:
    other = Workspace.open(tmp_path / "other")
    other.catalog.create_dataset("only-here")
    assert workspace.sql_engine() is not other.sql_engine()
    assert run_sql(workspace, "SELECT count(*) FROM datasets").rows == [[0]]
    assert run_sql(other, "SELECT count(*) FROM datasets").rows == [[1]]


def test_a_background_copy_shares_the_engine(workspace: Workspace) -> None:
    from tagscope.service.background import in_background

    assert in_background(workspace).sql_engine() is workspace.sql_engine()
