"""``/api/sql``: the query console (F-41): read-only SQL over items, labels and tag scores.

Refused statements (writes, files, network, settings, several statements), failures and the limits
reached (time, result bytes, columns, memory) answer ``400`` with ``field: "sql"`` and a message
saying why (and how to raise the limit).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tagscope.api.dependencies import WorkspaceDep, needs
from tagscope.service import sql as uc
from tagscope.service.policy import Action

router = APIRouter(prefix="/api/sql", tags=["sql"])


class Query(BaseModel):
    sql: str = Field(description="one read-only statement")
    limit: int = Field(1000, ge=1, le=uc.MAX_ROWS, description="rows returned at most")
    timeout_s: float = Field(10.0, gt=0, le=uc.MAX_TIMEOUT_S)
    max_bytes: int = Field(
        uc.DEFAULT_MAX_BYTES, ge=1, le=uc.MAX_BYTES, description="bytes of the result at most"
    )
    max_columns: int = Field(
        uc.DEFAULT_MAX_COLUMNS, ge=1, le=uc.MAX_COLUMNS, description="columns at most"
    )


class Result(BaseModel):
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    n_rows: int
    truncated: bool = Field(description="there were more rows than the limit")
    elapsed_ms: float


class Column(BaseModel):
    name: str
    type: str


class Table(BaseModel):
    name: str
    columns: list[Column]


def _cell(value: Any) -> Any:
    """A JSON-safe cell: BLOBs are shown as DuckDB prints them (``ab\\xFF``); nested lists and
    structs keep their shape."""
    if isinstance(value, bytes | bytearray | memoryview):
        return "".join(chr(b) if 32 <= b < 127 and b != 92 else f"\\x{b:02X}" for b in bytes(value))
    if isinstance(value, list | tuple):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    return value


@router.post("", openapi_extra=needs(Action.READ))
def run_sql(body: Query, ws: WorkspaceDep) -> Result:
    r = uc.run_sql(
        ws,
        body.sql,
        limit=body.limit,
        timeout_s=body.timeout_s,
        max_bytes=body.max_bytes,
        max_columns=body.max_columns,
    )
    return Result(
        columns=r.columns,
        types=r.types,
        rows=[[_cell(v) for v in row] for row in r.rows],
        n_rows=r.n_rows,
        truncated=r.truncated,
        elapsed_ms=r.elapsed_ms,
    )


@router.get("/tables", openapi_extra=needs(Action.READ))
def list_tables(ws: WorkspaceDep) -> list[Table]:
    """Every table a query can read, with its columns (for the console's schema list)."""
    return [
        Table(name=name, columns=[Column(name=c, type=t) for c, t in columns])
        for name, columns in uc.list_tables(ws).items()
    ]
