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
``RESET``, ``CHECKPOINT``, ``EXPORT``/``IMPORT DATABASE``, transactions, several statements at once,
a ``SELECT`` wider than the column limit, and what shows the server's settings or paths
(``current_setting()``, ``pg_settings``, view definitions). Comments before and after the
statement and a trailing ``;`` are dropped.

A session that reads only some datasets (its tables a :class:`SessionTables` that does not
``list_catalog``) is refused the listings of the whole catalog too: ``duckdb_tables()`` and
``pg_class`` count the rows of every dataset, and ``duckdb_columns()``, ``information_schema``,
``SHOW TABLES`` and ``PRAGMA show_tables`` name the score views of tag groups of other datasets;
``DESCRIBE <table>``, ``PRAGMA table_info('<table>')`` and the engine's table list show its own.

A grid filter is compiled (:func:`compile_filter`): parsed as one expression and rendered again by
DuckDB from its parse tree, and the query built around it is checked to have exactly that
expression as its ``WHERE`` (:func:`check_filtered`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
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
    }
)
# What would show the server's settings or paths (the score views' definitions name their files).
_REVEALING = "it shows the server's settings or paths"
TABLE_FUNCTIONS_REVEALING = frozenset({"duckdb_settings", "duckdb_views", "duckdb_databases"})
TABLES_REVEALING = frozenset({"pg_settings", "pg_views", "views"})
# Scalar functions refused by name (DuckDB disables most of these already; say why ourselves).
SCALAR_FUNCTIONS_REFUSED = {
    "getenv": "it reads the environment",
    "query": "it runs SQL",
    "query_table": "it runs SQL",
    "current_setting": _REVEALING,
}
PRAGMAS = frozenset(
    {"table_info", "show", "show_tables", "show_tables_expanded", "version", "platform"}
)
_PRAGMAS_OF_A_TABLE = frozenset({"table_info", "show"})
OPEN_SCHEMAS = frozenset({"information_schema", "pg_catalog"})
# What lists or counts the whole catalog (refused to a session that reads only some datasets).
TABLE_FUNCTIONS_LISTING = frozenset(
    {"duckdb_tables", "duckdb_columns", "duckdb_constraints", "pragma_table_info", "pragma_show"}
)
PRAGMAS_LISTING = frozenset({"show_tables", "show_tables_expanded"})
_LISTING = (
    "it lists or counts the tables of every dataset, and this session reads only some: "
    "DESCRIBE <table> or PRAGMA table_info('<table>') shows one of its tables"
)


class SessionTables(frozenset[str]):
    """The names of a session's tables, and whether it may list the whole catalog
    (``list_catalog``: it reads every dataset). A plain collection of names may."""

    list_catalog: bool

    def __new__(cls, names: Collection[str] = (), *, list_catalog: bool = True) -> SessionTables:
        tables = super().__new__(cls, names)
        tables.list_catalog = list_catalog
        return tables


def _lists_catalog(tables: Collection[str]) -> bool:
    return not isinstance(tables, SessionTables) or tables.list_catalog


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
    "CHECKPOINT": "it writes the database to disk",
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
# Leading words DuckDB parses as another statement type (IMPORT DATABASE as a PRAGMA, RESET as a
# SET, CHECKPOINT as a CALL).
_RENAMED = {"IMPORT": "IMPORT", "RESET": "RESET", "USE": "USE", "INSTALL": "INSTALL",
            "CHECKPOINT": "CHECKPOINT", "FORCE": "CHECKPOINT"}  # fmt: skip
_LOCATION = frozenset({"query_location", "query_location_length"})


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
        word = _LEADING_WORD.match(sql)
        kind = _RENAMED.get(word.group(1).upper(), word.group(1).upper()) if word else ""
        if kind in _REASONS:  # e.g. RESET ALL, which DuckDB cannot parse: refused all the same
            raise _refuse(kind, f"{_REASONS[kind]}; allowed: {ALLOWED}", field) from exc
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
    if kind in {"PRAGMA", "SET", "LOAD", "CALL"}:
        word = _LEADING_WORD.match(statement.query)
        if word and word.group(1).upper() in _RENAMED:
            return _RENAMED[word.group(1).upper()]
    return kind


def _bare(text: str) -> str:
    """``text`` without its leading and trailing comments and trailing ``;`` (DuckDB keeps them
    in a statement): it begins with its first keyword."""
    tokens = duckdb.tokenize(text)
    ends = [pos for pos, _ in tokens[1:]] + [len(text)]
    spans = list(zip(tokens, ends, strict=True))
    first = next((pos for (pos, kind), _ in spans if kind != duckdb.token_type.comment), 0)
    cut = len(text)
    for (pos, kind), end in reversed(spans):
        is_semicolon = kind == duckdb.token_type.operator and not text[pos:end].strip(" \t\r\n;")
        if kind != duckdb.token_type.comment and not is_semicolon:
            break
        cut = pos
    return text[first:cut].strip()


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


def check_tree(
    tree: Any, tables: Collection[str], field: str = "sql", max_columns: int | None = None
) -> None:
    """Refuse a parse tree that reads anything but ``tables``, calls a refused function or
    selects more than ``max_columns`` expressions in one list.

    One walk over the tree (a wide statement is refused at its first node); the tables it reads
    are checked after it, once every CTE name is known.
    """
    known, read = {t.lower() for t in tables}, []
    listing = _lists_catalog(tables)
    for node in _nodes(tree):
        kind = node.get("type")
        width = len(node.get("select_list") or ())
        if max_columns is not None and width > max_columns:
            raise column_limit(width, max_columns, field)
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            known.update(str(e["key"]).lower() for e in cte_map.get("map", []))
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name in TABLE_FUNCTIONS_REVEALING:
                raise _refuse(f"the table function {name}()", _REVEALING, field)
            if not listing and name in TABLE_FUNCTIONS_LISTING:
                raise _refuse(f"the table function {name}()", _LISTING, field)
            if name not in TABLE_FUNCTIONS:
                why = (
                    "it reads files or reaches the network"
                    if _FILE_READERS.match(name)
                    else f"allowed table functions: {', '.join(sorted(TABLE_FUNCTIONS))}"
                )
                raise _refuse(f"the table function {name}()", why, field)
        elif kind == "BASE_TABLE":
            read.append(node)
        elif kind == "SHOW_REF" and node.get("show_type") == "SHOW_SPECIAL" and not listing:
            raise _refuse("SHOW TABLES", _LISTING, field)
        elif "function_name" in node:
            name = str(node["function_name"]).lower()
            if node.get("catalog"):  # system.main.repeat() would pass the session's own macros
                qualified = ".".join(str(node[k]) for k in ("catalog", "schema") if node.get(k))
                raise _refuse(
                    f"the function {qualified}.{name}()", "call functions by their name", field
                )
            if name in SCALAR_FUNCTIONS_REFUSED:
                raise _refuse(f"the function {name}()", SCALAR_FUNCTIONS_REFUSED[name], field)
    for node in read:
        _check_table(node, known, field, listing)


def column_limit(width: int, max_columns: int, field: str) -> SqlError:
    """The error of a query wider than the column limit."""
    return SqlError(
        f"the query has {width} columns, more than the limit of {max_columns} (max_columns): "
        "select fewer columns, or raise the limit (tagscope sql --max-columns, the API's and "
        "the SDK's max_columns)",
        field=field,
    )


def _check_table(node: dict[str, Any], known: set[str], field: str, listing: bool) -> None:
    name = str(node.get("table_name", ""))
    schema = str(node.get("schema_name", "")).lower()
    catalog = str(node.get("catalog_name", "")).lower()
    if catalog not in {"", "memory"} or schema not in {"", "main", *OPEN_SCHEMAS}:
        qualified = ".".join(p for p in (catalog, schema, name) if p)
        raise _refuse(f"reading {qualified!r}", "only the session's tables can be read", field)
    if name.lower() in TABLES_REVEALING and (schema in OPEN_SCHEMAS or name.lower() not in known):
        raise _refuse(f"reading {'.'.join(p for p in (schema, name) if p)!r}", _REVEALING, field)
    if schema in OPEN_SCHEMAS and not listing:
        raise _refuse(f"reading {schema}.{name}", _LISTING, field)
    if schema in OPEN_SCHEMAS or name.lower() in known:
        return
    if _PATH_LIKE.search(name):
        raise _refuse(f"reading the file {name!r}", "queries read only the session's tables", field)
    listed = ", ".join(sorted(t for t in known if not t.startswith("_")))
    raise SqlError(f"unknown table {name!r}; tables: {listed}", field=field)


def check_statement(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    tables: Collection[str],
    *,
    field: str = "sql",
    max_columns: int | None = None,
) -> str:
    """Return ``sql`` as one statement (without comments around it) if the sandbox allows it.

    Raises :class:`SqlRefusedError` for what the sandbox forbids, :class:`SqlError` for a syntax
    error, an unknown table or a select list wider than ``max_columns``. ``con`` only parses
    (``json_serialize_sql``), it runs nothing.
    """
    (statement,) = _split(sql, field)
    kind = _kind(statement)
    text = _bare(statement.query)
    if kind == "SELECT":
        check_tree(_serialize(con, text, field), tables, field, max_columns)
    elif kind == "EXPLAIN":
        inner = _EXPLAIN.sub("", text, count=1)
        if inner == text or _kind(_split(inner, field)[0]) != "SELECT":
            raise _refuse("this EXPLAIN", "only EXPLAIN [ANALYZE] SELECT ... is allowed", field)
        check_tree(_serialize(con, inner, field), tables, field, max_columns)
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
    if name in PRAGMAS_LISTING and not _lists_catalog(tables):
        raise _refuse(f"PRAGMA {name}", _LISTING, field)
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


@dataclass(frozen=True, slots=True)
class Filter:
    """A compiled grid filter: DuckDB's own rendering of the parsed expression (no comments, no
    unbalanced parenthesis), its parse tree and its qualified column references as (qualifier,
    column) pairs, lowercased (``tags_animals.dog`` -> ``("tags_animals", "dog")``)."""

    sql: str
    node: dict[str, Any]
    columns: frozenset[tuple[str, str]]
    unqualified: bool = False
    """Whether some column reference has no qualifier (``width``, a subquery's own columns)."""

    def reads_only(self) -> str | None:
        """The one qualifier of every column the filter reads, when it reads no other column;
        else ``None``."""
        qualifiers = {q for q, _ in self.columns}
        return qualifiers.pop() if len(qualifiers) == 1 and not self.unqualified else None


def compile_filter(
    con: duckdb.DuckDBPyConnection, expr: str, tables: Collection[str], *, field: str = "where"
) -> Filter:
    """Compile a boolean filter expression (a grid's query bar): exactly one expression, no
    second statement, no clause of its own, reading only ``tables``."""
    if not expr or not expr.strip():
        raise SqlError("empty filter expression", field=field)
    if _has_semicolon(expr):
        raise _refuse("a ';' in a filter", "a filter is one expression, not statements", field)
    node = _expression(con, f"SELECT (\n{expr}\n)", field)  # newlines end a trailing ``--``
    tree = {"error": False, "statements": [{"node": _select_of(node), "named_param_map": []}]}
    check_tree(tree, tables, field)
    ((rendered,),) = con.execute(
        "SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]
    ).fetchall()
    if not rendered.startswith("SELECT "):
        raise _refuse("this filter", "it could not be checked", field)
    sql = f"({rendered.removeprefix('SELECT ')})"
    refs = [n["column_names"] for n in _nodes(node) if n.get("class") == "COLUMN_REF"]
    columns = frozenset((str(r[0]).lower(), str(r[1]).lower()) for r in refs if len(r) > 1)
    return Filter(
        sql=sql,
        node=_expression(con, f"SELECT {sql}", field),
        columns=columns,
        unqualified=any(len(r) != 2 for r in refs),
    )


def _expression(con: duckdb.DuckDBPyConnection, wrapped: str, field: str) -> dict[str, Any]:
    """The one expression of ``SELECT (<expression>)``; refuses anything else."""
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
    return node["select_list"][0]


def _select_of(expression: dict[str, Any]) -> dict[str, Any]:
    empty = {"type": "EMPTY", "alias": "", "sample": None}
    return {
        "type": "SELECT_NODE", "modifiers": [], "cte_map": {"map": []},
        "select_list": [expression], "from_table": empty, "where_clause": None,
        "group_expressions": [], "group_sets": [], "aggregate_handling": "STANDARD_HANDLING",
        "having": None, "sample": None, "qualify": None,
    }  # fmt: skip


def _shape(node: Any) -> Any:
    """A parse tree without its positions in the text."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in _LOCATION}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def check_filtered(
    con: duckdb.DuckDBPyConnection,
    build: Callable[[str], str],
    where: Filter | None,
    tables: Collection[str],
    *,
    field: str = "where",
) -> str:
    """The query ``build(condition)`` with the filter as its condition, checked: the sandbox
    allows it, and its top ``WHERE`` is exactly the filter while all else is as built with
    ``true`` (no filter text can reach outside its ``WHERE``)."""
    query = build(where.sql if where else "true")
    check_statement(con, query, tables, field=field)
    if where is None:
        return query
    built = _serialize(con, query, field)["statements"][0]["node"]
    plain = _serialize(con, build("true"), field)["statements"][0]["node"]
    if _shape(built.get("where_clause")) != _shape(where.node) or _shape(
        {**built, "where_clause": None}
    ) != _shape({**plain, "where_clause": None}):
        raise _refuse("this filter", "it reaches outside its WHERE clause", field)
    return query


__all__ = [
    "Filter",
    "SessionTables",
    "check_filtered",
    "check_statement",
    "check_tree",
    "column_limit",
    "compile_filter",
    "sql_ident",
    "sql_string",
]
