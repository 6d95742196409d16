"""`tagscope sql "SELECT ..."`: read-only SQL over items, labels and tag scores."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from tagscope.cli.lazy import deferred
from tagscope.cli.output import (
    JsonOpt,
    WorkspaceOpt,
    err_console,
    handle_errors,
    open_workspace,
    print_json,
    print_table,
)

uc = deferred("tagscope.service.sql")


@handle_errors
def sql(
    query: str | None = typer.Argument(
        None, help="One read-only statement ('-': read it from stdin)."
    ),
    limit: int = typer.Option(1000, "--limit", help="Rows returned at most."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds the query may run."),
    tables: bool = typer.Option(False, "--tables", help="List the tables and their columns."),
    workspace: Path | None = WorkspaceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run read-only SQL over items, labels and tag scores (dt_<group>_visual, ...)."""
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
    result = uc.run_sql(ws, query, limit=limit, timeout_s=timeout)
    if as_json:
        print_json(
            {
                "columns": result.columns,
                "types": result.types,
                "rows": result.rows,
                "n_rows": result.n_rows,
                "truncated": result.truncated,
                "elapsed_ms": result.elapsed_ms,
            }
        )
        return
    print_table([dict(zip(result.columns, r, strict=True)) for r in result.rows], result.columns)
    more = f" (cut at {limit}; use --limit)" if result.truncated else ""
    err_console.print(f"{result.n_rows} row(s){more} in {result.elapsed_ms:.0f} ms")
