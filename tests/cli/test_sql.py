"""`tagscope sql`: its limits (rows, seconds, bytes, columns, memory) and the sandbox's answers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tagscope.cli.main import app
from tagscope.service import Workspace

runner = CliRunner()


def _sql(ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sql", *args, "-w", str(ws.paths.root)])
    return result.exit_code, " ".join(result.output.split())


def test_a_query_and_its_json(workspace: Workspace) -> None:
    code, out = _sql(workspace, "SELECT 42 AS answer -- a trailing comment", "--json")
    assert code == 0, out
    assert json.loads(out)["rows"] == [[42]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["SELECT 1, 2, 3", "--max-columns", "2"], "more than the limit of 2 (max_columns)"),
        (["SELECT 1, 2, 3", "--max-columns", "2"], "--max-columns"),
        (
            ["SELECT repeat('x', 1000) FROM range(1000)", "--max-bytes", "10000"],
            "larger than the limit of 10,000 bytes (max_bytes)",
        ),
        (["SELECT count(*) FROM range(1000000000000)", "--timeout", "0.3"], "--timeout"),
        (["CHECKPOINT"], "CHECKPOINT is not allowed: it writes the database to disk"),
        (["RESET threads"], "RESET is not allowed"),
        (["SELECT * FROM pg_catalog.pg_settings"], "settings or paths"),
    ],
)
def test_limits_and_refusals_exit_1_with_the_reason(
    workspace: Workspace, args: list[str], words: str
) -> None:
    code, out = _sql(workspace, *args)
    assert code == 1
    assert words in out


def test_the_memory_limit_option(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGSCOPE_SQL_MEMORY_LIMIT", "4GB")  # restored after the test
    code, out = _sql(
        workspace, "SELECT list(range) FROM range(30000000)", "--memory-limit", "100MB"
    )
    assert code == 1
    assert "memory limit (100MB, memory_limit)" in out and "--memory-limit" in out
    code, out = _sql(workspace, "SELECT 1", "--memory-limit", "lots")
    assert code == 1 and "memory_limit must be a size such as 4GB" in out
