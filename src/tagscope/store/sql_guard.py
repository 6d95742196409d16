"""The SQL sandbox's statement check: what a query may be before DuckDB runs it.

DuckDB itself is locked down too (no external access but the score files, no extensions, locked
configuration: see :mod:`tagscope.store.sql`); this check comes first and gives each refusal a
clear reason. A statement passes when it is exactly one of:

- ``SELECT`` / ``WITH ... SELECT`` / ``VALUES`` / ``FROM ...`` / ``DESCRIBE`` / ``SHOW`` /
  ``SUMMARIZE``, whose parse tree (DuckDB's ``json_serialize_sql``) reads only the session's tables
  and views, CTEs and ``information_schema``, and calls no table function but a few harmless ones
  (``range``, ``unnest``, ...): no ``read_csv``, ``read_parquet``, ``glob``, ``query``, ...;
- ``EXPLAIN [ANALYZE]`` of such a query;
- ``PRAGMA table_info('<table>')`` and a few other read-only pragmas.

Everything else is refused: writes, DDL, ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``,
``EXPORT``/``IMPORT DATABASE``, transactions, and several statements at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from typing import Any

import duckdb

from tagscope.domain import SqlError, SqlRefusedError

ALLOWED = "SELECT, WITH, VALUES, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE or PRAGMA table_info"

# Table functions that only compute (no files, no network, no dynamic SQL).
TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "json_each",
        "json_tree",
        "pragma_table_info",
        "pragma_show",
        "duckdb_columns",
        "duckdb_constraints",
        "duckdb_functions",
        "duckdb_keywords",
        "duckdb_schemas",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
    }
)
# Scalar functions refused by name (DuckDB disables most of these already; say why ourselves).
SCALAR_FUNCTIONS_REFUSED = frozenset({"getenv", "query", "query_table"})
PRAGMAS = frozenset(
    {"table_info", "show", "show_tables", "show_tables_expanded", "version", "platform"}
)
_PRAGMAS_OF_A_TABLE = frozenset({"table_info", "show"})
OPEN_SCHEMAS = frozenset({"information_schema", "pg_catalog"})

_REASONS = {
    "INSERT": "it writes",
    "UPDATE": "it writes",
    "DELETE": "it writes",
    "MERGE_INTO": "it writes",
    "CREATE": "it creates objects",
    "CREATE_FUNC": "it creates objects",
    "DROP": "it removes objects",
    "ALTER": "it changes objects",
    "COPY": "it reads or writes files",
    "COPY_DATABASE": "it reads or writes files",
    "EXPORT": "it writes files",
    "IMPORT": "it reads files",
    "ATTACH": "it attaches a database (files, network)",
    "DETACH": "it detaches a database",
    "LOAD": "it installs or loads extensions (files, network)",
    "INSTALL": "it installs extensions (network)",
    "EXTENSION": "it manages extensions (files, network)",
    "SET": "it changes settings",
    "RESET": "it changes settings",
    "USE": "it changes settings",
    "VARIABLE_SET": "it changes settings",
    "TRANSACTION": "sessions are read-only",
    "VACUUM": "it writes",
    "ANALYZE": "it writes statistics",
    "CALL": "it calls procedures",
    "PREPARE": "prepared statements are not supported",
    "EXECUTE": "prepared statements are not supported",
    "MULTI": "it runs several statements (a top-level PIVOT creates types)",
}
_FILE_READERS = re.compile(
    r"^(read_|glob$|sniff_csv|parquet_|.*_scan$|iceberg|delta|http|s3|gcs|azure|sqlite|postgres"
    r"|mysql|ducklake|load_)"
)
_PATH_LIKE = re.compile(r"[/\\:.~]")
_EXPLAIN = re.compile(r"^\s*explain\s+(?:\((?:[^()'\"]|'[^']*')*\)\s*)?(?:analy[sz]e\s+)?", re.I)
_PRAGMA = re.compile(
    r"^\s*pragma\s+([a-z_][a-z0-9_]*)\s*(?:\(\s*'((?:[^']|'')*)'\s*\))?\s*;?\s*$", re.I
)
_LEADING_WORD = re.compile(r"^(?:\s|--[^\n]*\n|/\*.*?\*/)*([A-Za-z_]+)", re.S)


def sql_string(value: str) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _refuse(what: str, why: str, field: str) -> SqlRefusedError:
    return SqlRefusedError(f"refused: {what} is not allowed: {why}", field=field)


def _split(sql: str, field: str) -> list[Any]:
    try:
        statements = [s for s in duckdb.extract_statements(sql) if s.query.strip(" \t\n;")]
    except duckdb.ParserException as exc:
        raise SqlError(f"syntax error: {_first_line(exc)}", field=field) from exc
    except (duckdb.Error, ValueError) as exc:  # a statement type the bindings do not know
        raise _refuse("this statement", f"it could not be checked ({exc})", field) from exc
    if not statements:
        raise SqlError("empty query: write one SELECT statement", field=field)
    if len(statements) > 1:
        second = " ".join(statements[1].query.split())[:60]
        raise _refuse(
            f"running {len(statements)} statements at once",
            f"send one statement (the second begins {second!r})",
            field,
        )
    return statements


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _kind(statement: Any) -> str:
    kind = statement.type.name
    if kind in {"PRAGMA", "SET", "LOAD"}:  # IMPORT DATABASE parses as a PRAGMA, RESET as a SET
        word = _LEADING_WORD.match(statement.query)
        if word and word.group(1).upper() in {"IMPORT", "RESET", "USE", "INSTALL"}:
            return word.group(1).upper()
    return kind


def _serialize(con: duckdb.DuckDBPyConnection, sql: str, field: str) -> dict[str, Any]:
    (text,) = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchall()[0]
    tree = json.loads(text)
    if tree.get("error"):
        raise _refuse("this query", f"it could not be checked ({tree.get('error_message')})", field)
    return tree


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(e["key"]).lower() for e in cte_map.get("map", []))
    return names


def check_tree(tree: Any, tables: Collection[str], field: str = "sql") -> None:
    """Refuse a parse tree that reads anything but ``tables`` or calls a refused function."""
    known = {t.lower() for t in tables} | _cte_names(tree)
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in TABLE_FUNCTIONS:
                why = (
                    "it reads files or reaches the network"
                    if _FILE_READERS.match(name)
                    else f"allowed table functions: {', '.join(sorted(TABLE_FUNCTIONS))}"
                )
                raise _refuse(f"the table function {name}()", why, field)
        elif kind == "BASE_TABLE":
            _check_table(node, known, field)
        elif "function_name" in node:
            name = str(node["function_name"]).lower()
            if name in SCALAR_FUNCTIONS_REFUSED:
                raise _refuse(
                    f"the function {name}()", "it reads the environment or runs SQL", field
                )


def _check_table(node: dict[str, Any], known: set[str], field: str) -> None:
    name = str(node.get("table_name", ""))
    schema = str(node.get("schema_name", "")).lower()
    catalog = str(node.get("catalog_name", "")).lower()
    if catalog not in {"", "memory"} or schema not in {"", "main", *OPEN_SCHEMAS}:
        qualified = ".".join(p for p in (catalog, schema, name) if p)
        raise _refuse(f"reading {qualified!r}", "only the session's tables can be read", field)
    if schema in OPEN_SCHEMAS or name.lower() in known:
        return
    if _PATH_LIKE.search(name):
        raise _refuse(f"reading the file {name!r}", "queries read only the session's tables", field)
    listed = ", ".join(sorted(t for t in known if not t.startswith("_")))
    raise SqlError(f"unknown table {name!r}; tables: {listed}", field=field)


def check_statement(
    con: duckdb.DuckDBPyConnection, sql: str, tables: Collection[str], *, field: str = "sql"
) -> str:
    """Return ``sql`` as one statement if the sandbox allows it, else raise.

    Raises :class:`SqlRefusedError` for what the sandbox forbids, :class:`SqlError` for a syntax
    error or an unknown table. ``con`` only parses (``json_serialize_sql``), it runs nothing.
    """
    (statement,) = _split(sql, field)
    kind = _kind(statement)
    text = statement.query.strip().rstrip(";").strip()
    if kind == "SELECT":
        check_tree(_serialize(con, text, field), tables, field)
    elif kind == "EXPLAIN":
        inner = _EXPLAIN.sub("", text, count=1)
        if inner == text or _kind(_split(inner, field)[0]) != "SELECT":
            raise _refuse("this EXPLAIN", "only EXPLAIN [ANALYZE] SELECT ... is allowed", field)
        check_tree(_serialize(con, inner, field), tables, field)
    elif kind == "PRAGMA":
        _check_pragma(text, tables, field)
    else:
        why = _REASONS.get(kind, "the SQL console is read-only")
        raise _refuse(f"{kind.replace('_', ' ')}", f"{why}; allowed: {ALLOWED}", field)
    return text


def _check_pragma(text: str, tables: Collection[str], field: str) -> None:
    match = _PRAGMA.match(text)
    name = match.group(1).lower() if match else ""
    if name not in PRAGMAS:
        raise _refuse(
            f"PRAGMA {name or text[:40]!r}",
            f"only PRAGMA {', '.join(sorted(PRAGMAS))} are allowed",
            field,
        )
    arg = match.group(2) if match else None
    if name in _PRAGMAS_OF_A_TABLE and arg is not None:
        check_tree({"type": "BASE_TABLE", "table_name": arg.replace("''", "'")}, tables, field)


def _has_semicolon(text: str) -> bool:
    """A ``;`` outside string literals and comments."""
    tokens = duckdb.tokenize(text)
    ends = [pos for pos, _ in tokens[1:]] + [len(text)]
    return any(
        kind == duckdb.token_type.operator and ";" in text[pos:end]
        for (pos, kind), end in zip(tokens, ends, strict=True)
    )


def check_expression(
    con: duckdb.DuckDBPyConnection, expr: str, tables: Collection[str], *, field: str = "where"
) -> set[tuple[str, str]]:
    """Check a boolean filter expression (a grid's query bar) and return its qualified column
    references as (qualifier, column) pairs, lowercased (``tags_animals.dog`` →
    ``("tags_animals", "dog")``).

    The expression must be one expression: no second statement, no clause of its own.
    """
    if not expr or not expr.strip():
        raise SqlError("empty filter expression", field=field)
    if _has_semicolon(expr):
        raise _refuse("a ';' in a filter", "a filter is one expression, not statements", field)
    # Newlines end a trailing ``--`` comment before the closing parenthesis.
    wrapped = f"SELECT (\n{expr}\n)"
    (statement,) = _split(wrapped, field)
    if statement.type.name != "SELECT":
        raise _refuse("this filter", "write one boolean expression", field)
    tree = _serialize(con, wrapped, field)
    node = tree["statements"][0]["node"]
    clauses = ("where_clause", "having", "qualify", "sample")
    if (
        len(tree["statements"]) != 1
        or node.get("type") != "SELECT_NODE"
        or len(node.get("select_list", [])) != 1
        or (node.get("from_table") or {}).get("type") != "EMPTY"
        or node.get("modifiers")
        or node.get("group_expressions")
        or any(node.get(c) for c in clauses)
        or (node.get("cte_map") or {}).get("map")
    ):
        raise _refuse("this filter", "write one boolean expression, without clauses", field)
    check_tree(tree, tables, field)
    return {
        (str(n["column_names"][0]).lower(), str(n["column_names"][1]).lower())
        for n in _nodes(tree)
        if n.get("class") == "COLUMN_REF" and len(n.get("column_names", [])) > 1
    }


__all__ = ["check_expression", "check_statement", "check_tree", "sql_ident", "sql_string"]
