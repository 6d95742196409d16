"""`tagscope sql "SELECT ..."`: read-only SQL over items, labels and tag scores."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    handle_errors,
    open_workspace,
    print_json,
    print_sql_result,
    print_table,
)

uc = deferred("tagscope.service.sql")
MEMORY_LIMIT_ENV = "TAGSCOPE_SQL_MEMORY_LIMIT"  # read by the SQL engine (tagscope.store.sql)


@handle_errors
def sql(
    query: str | None = typer.Argument(
        None, help="One read-only statement ('-': read it from stdin)."
    ),
    limit: int = typer.Option(1000, "--limit", help="Rows returned at most."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds the query may run."),
    max_bytes: int = typer.Option(
        64 * 2**20, "--max-bytes", help="Bytes of the result (as Arrow data) at most."
    ),
    max_columns: int = typer.Option(1000, "--max-columns", help="Columns at most."),
    memory_limit: str | None = typer.Option(
        None,
        "--memory-limit",
        envvar=MEMORY_LIMIT_ENV,
        help="Memory the query may use, e.g. 4GB, 512MiB (default 4GB).",
    ),
    tables: bool = typer.Option(False, "--tables", help="List the tables and their columns."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run read-only SQL over items, labels and tag scores (dt_<group>_visual, ...)."""
    if memory_limit:  # before the workspace's engine exists: it reads its limit once
        os.environ[MEMORY_LIMIT_ENV] = memory_limit
    ws = open_workspace(workspace)
    if tables:
        found = uc.list_tables(ws)
        if as_json:
            print_json({t: [{"name": c, "type": k} for c, k in cols] for t, cols in found.items()})
        else:
            rows = [
                {"table": t, "columns": ", ".join(f"{c} {k}" for c, k in cols)}
                for t, cols in found.items()
            ]
            print_table(rows, ["table", "columns"])
        return
    if query is None:
        raise typer.BadParameter("give a SQL statement (or --tables)")
    if query == "-":
        query = sys.stdin.read()
    result = uc.run_sql(
        ws, query, limit=limit, timeout_s=timeout, max_bytes=max_bytes, max_columns=max_columns
    )
    print_sql_result(result, limit=limit, as_json=as_json)
