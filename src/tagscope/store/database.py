"""Engine creation and migrations: SQLite in WAL mode by default, PostgreSQL by URL (pooled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, make_url

from tagscope._env import env_int

_MIGRATIONS = Path(__file__).with_name("migrations")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (labels' geometry, the change log's before and after) through orjson: the
# standard library's json was half the time of a bulk classify of 100,000 items and its undo.
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys,
    PostgreSQL the pool of :func:`pool_settings`."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **_JSON)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            # WAL lets the web server, the CLI and a notebook read while one of them writes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, **_JSON)
    return create_engine(url, **pool_settings(), connect_args=_connect_args(url), **_JSON)


def pool_settings() -> dict[str, Any]:
    """The connection pool of a server catalog, per process: connections open on demand, up to
    ``$TAGSCOPE_DB_POOL_SIZE`` (10) kept open and ``$TAGSCOPE_DB_MAX_OVERFLOW`` (10) more
    under a burst (a web server's threads); a caller waits at most ``$TAGSCOPE_DB_POOL_TIMEOUT``
    seconds (30) for one. A single-threaded process (a CLI, a job's driver) uses one or two:
    many processes fit PostgreSQL's default ``max_connections`` (100)."""
    return {
        "pool_size": env_int("TAGSCOPE_DB_POOL_SIZE", 10),
        "max_overflow": env_int("TAGSCOPE_DB_MAX_OVERFLOW", 10),
        "pool_timeout": env_int("TAGSCOPE_DB_POOL_TIMEOUT", 30),
        # A connection the server or a proxy dropped (restart, idle cut-off) is replaced
        # before use instead of failing the request that drew it.
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "pool_use_lifo": True,  # idle connections beyond the burst age out and get recycled
    }


def _connect_args(url: str) -> dict[str, Any]:
    """libpq settings the URL leaves open: fail fast on an unreachable server, and name the
    connections so that ``pg_stat_activity`` shows whose they are."""
    query = make_url(url).query
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = 10
    if "application_name" not in query:
        args["application_name"] = "tagscope"
    return args


def unit_of_work_engine(engine: Engine) -> Engine:
    """The engine a unit of work runs on: the same pool, at an isolation level where a unit of
    work that read a value cannot commit over a concurrent change of it. PostgreSQL runs it
    SERIALIZABLE (the database refuses one of two conflicting units of work, and
    :mod:`tagscope.store.retry` runs it again); SQLite's ``BEGIN IMMEDIATE`` already runs
    writers one at a time."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="SERIALIZABLE")
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the catalog schema to ``revision`` (default: the latest migration)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # a table SQLite rebuilds is dropped: with foreign keys on, that cascades
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                was = MigrationContext.configure(conn).get_current_revision()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                migrated = MigrationContext.configure(conn).get_current_revision() != was
                # Only after a migration: the check reads every row that has a foreign key.
                if sqlite and migrated:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
