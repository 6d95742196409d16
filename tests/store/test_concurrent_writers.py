"""Concurrent writers (issue 14): 16 processes, each opening the workspace on the same catalog
as its own actor, make review decisions, label edits of the same items and labels, bulk
classifications and counted label additions for a few seconds; afterwards the catalog is the
replay of the change log, every write reported committed is in the log exactly once, and N
additions left N labels. On PostgreSQL (units of work SERIALIZABLE, refused ones run again)
and SQLite WAL (one writer at a time)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tagscope.service import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # spawned writers too
import _team_load as load

WRITERS, SECONDS = 16, 3.0


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_sixteen_writers_lose_nothing_and_write_nothing_twice(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = None if database_url.startswith("sqlite") else database_url
    if url is None:
        monkeypatch.delenv("TAGSCOPE_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("TAGSCOPE_DATABASE_URL", url)
    root = tmp_path / "ws"
    ws = Workspace.open(root)
    plan = load.setup(ws)

    results = load.run_writers(url, root, plan, WRITERS, SECONDS)

    assert load.problems(ws, plan, results) == []
    committed = [cs for r in results for _, cs, _ in r["ops"] if cs is not None]
    by_op = {op for r in results for op, cs, _ in r["ops"] if cs is not None}
    # Every writer got work through, of every kind; a test that wrote little proves little.
    assert all(r["ops"] for r in results)
    assert by_op == set(load.OPS)
    assert len(committed) >= WRITERS
    if url is not None:  # the same labels edited at once: PostgreSQL refused some, run again
        assert sum(r["retries"] for r in results) > 0
