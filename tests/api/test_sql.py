"""``/api/sql``: read-only queries; every refused statement is a clear 400 on field "sql"."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tagscope.api.app import create_app
from tagscope.service import Workspace


def _sql(client: TestClient, sql: str, **options: object):
    return client.post("/api/sql", json={"sql": sql, **options})


def test_select_returns_columns_and_rows(client: TestClient) -> None:
    r = _sql(client, "SELECT dataset, count(*) AS n FROM items GROUP BY dataset ORDER BY dataset")
    assert r.status_code == 200
    body = r.json()
    assert body["columns"] == ["dataset", "n"]
    assert ["coco", 79] in body["rows"]
    assert body["truncated"] is False and body["n_rows"] == len(body["rows"])
    assert body["elapsed_ms"] >= 0


def test_join_items_and_labels(client: TestClient) -> None:
    sql = (
        "SELECT count(DISTINCT i.id) FROM items i JOIN labels l ON l.item_id = i.id "
        "WHERE i.dataset = 'coco' AND l.name = 'dog'"
    )
    labels = client.get("/api/datasets/coco").json()["labels"]
    assert _sql(client, sql).json()["rows"] == [[labels["dog"]]]


def test_limit_truncates(client: TestClient) -> None:
    body = _sql(client, "SELECT id FROM items", limit=5).json()
    assert body["n_rows"] == 5 and body["truncated"] is True


def test_odd_types_come_back_as_json(client: TestClient) -> None:
    sql = "SELECT 'ab\\xFF'::BLOB AS b, DATE '2020-01-02' AS d, [1, 2] AS l, {'k': 1} AS s"
    body = _sql(client, sql).json()
    assert body["rows"] == [["ab\\xFF", "2020-01-02", [1, 2], {"k": 1}]]


def test_tables_lists_items_and_labels(client: TestClient) -> None:
    tables = {t["name"]: t for t in client.get("/api/sql/tables").json()}
    assert {"items", "labels", "datasets"} <= set(tables)
    assert "path" in [c["name"] for c in tables["items"]["columns"]]


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("DELETE FROM items", "DELETE"),
        ("UPDATE items SET path = 'x'", "UPDATE"),
        ("CREATE TABLE t (x INT)", "CREATE"),
        ("COPY items TO '/tmp/items.csv'", "COPY"),
        ("ATTACH '/tmp/other.db' AS other", "ATTACH"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM '/etc/passwd'", "passwd"),
        ("INSTALL httpfs", "INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("SET threads = 1", "SET"),
        ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "read_parquet"),
        ("SELECT 1; DROP TABLE items", "2 statements"),
    ],
)
def test_refused_statements_are_400(client: TestClient, sql: str, words: str) -> None:
    r = _sql(client, sql)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["field"] == "sql"
    assert "refused" in body["message"] and words in body["message"]


@pytest.mark.parametrize(
    ("sql", "words"),
    [("SELEC 1", "syntax error"), ("SELECT * FROM no_such_table", "no_such_table")],
)
def test_failing_statements_are_400(client: TestClient, sql: str, words: str) -> None:
    r = _sql(client, sql)
    assert r.status_code == 400
    assert r.json()["field"] == "sql" and words in r.json()["message"]


def test_time_limit(client: TestClient) -> None:
    sql = "SELECT count(*) FROM range(1000000000) a, range(1000000) b WHERE a.range % 7 = b.range"
    r = _sql(client, sql, timeout_s=0.5)
    assert r.status_code == 400
    assert "time limit" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"sql": ""}, "sql"), ({"sql": "SELECT 1", "limit": 0}, "limit"), ({}, "sql")],
)
def test_bad_request_bodies_are_422(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/api/sql", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == field


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("CHECKPOINT", "CHECKPOINT is not allowed: it writes the database to disk"),
        ("RESET threads", "RESET is not allowed: it changes settings"),
        ("SELECT * FROM pg_catalog.pg_settings", "settings or paths"),
        ("SELECT current_setting('allowed_directories')", "current_setting()"),
        ("SELECT sql FROM duckdb_views()", "duckdb_views()"),
    ],
)
def test_settings_and_maintenance_are_refused(client: TestClient, sql: str, words: str) -> None:
    r = _sql(client, sql)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "sql" and words in r.json()["message"]


@pytest.mark.parametrize("sql", ["SELECT 1 -- note", "SELECT 1; -- x", "SELECT 1 /* c */;"])
def test_trailing_comments_are_accepted(client: TestClient, sql: str) -> None:
    r = _sql(client, sql)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[1]]


def test_result_size_and_column_limits(client: TestClient) -> None:
    big = _sql(client, "SELECT repeat('x', 1000) FROM range(5000)", limit=5000, max_bytes=100_000)
    assert big.status_code == 400
    assert "(max_bytes)" in big.json()["message"] and "max_bytes" in big.json()["message"]
    wide = _sql(client, "SELECT * FROM items, labels", max_columns=3)
    assert wide.status_code == 400
    assert "more than the limit of 3 (max_columns)" in wide.json()["message"]
    assert _sql(client, "SELECT 1, 2, 3", max_columns=3).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sql": "SELECT 1", "max_bytes": 0}, "max_bytes"),
        ({"sql": "SELECT 1", "max_columns": 10**6}, "max_columns"),
    ],
)
def test_bad_limits_are_422(client: TestClient, body: dict, field: str) -> None:
    r = client.post("/api/sql", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_the_memory_limit_of_the_server(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's engine takes its memory limit from TAGSCOPE_SQL_MEMORY_LIMIT."""
    monkeypatch.setenv("TAGSCOPE_SQL_MEMORY_LIMIT", "100MB")
    app = create_app(
        workspace, auth=False, web_dist=tmp_path / "no-web", allowed_hosts=["testserver"]
    )
    r = _sql(TestClient(app), "SELECT list(range) FROM range(30000000)")
    assert r.status_code == 400
    message = r.json()["message"]
    assert "memory limit (100MB, memory_limit)" in message
    assert "TAGSCOPE_SQL_MEMORY_LIMIT" in message
