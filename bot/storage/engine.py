"""The store's engine and schema: SQLite or PostgreSQL, upgraded by Alembic when the store opens.

SQLAlchemy Core on an async engine: SQLite through aiosqlite by default, PostgreSQL through
asyncpg when several processes share one database. The schema is created and upgraded by the
Alembic migrations in ``bot/migrations`` when the store opens; the tables in ``bot.schema``
mirror the latest migration.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

import aiofiles.os
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError

MIGRATIONS = Path(__file__).parent.parent / "migrations"
BUSY_TIMEOUT_S = 30
MIGRATION_LOCK = 0x6561_7365_6C  # "easel": one process migrates at a time on PostgreSQL


def make_engine(database_url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys, a busy timeout and real transactions."""
    try:
        url = sa.make_url(database_url)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(f"DATABASE_URL: {url.get_backend_name()} is not supported.")
        if url.get_backend_name() == "postgresql":
            return create_async_engine(url, pool_pre_ping=True)
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    except (sa.exc.ArgumentError, sa.exc.InvalidRequestError, ImportError) as exc:
        raise ConfigError(
            "DATABASE_URL must be like sqlite+aiosqlite:///path/easel.db or "
            "postgresql+asyncpg://user:password@host/db (with the asyncpg package installed).",
            detail=type(exc).__name__,
        ) from exc
    sa.event.listen(engine.sync_engine, "connect", _sqlite_connect)
    sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # The sqlite3 driver's own transaction handling skips BEGIN before DDL and SELECT; turn it
    # off and emit BEGIN in _sqlite_begin, so migrations and reads are really transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",  # a committed job survives a power cut, like the image files
        "foreign_keys=ON",
        f"busy_timeout={BUSY_TIMEOUT_S * 1000}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), for
    # transactions that read before they write and must not lose a race to another process.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


async def _sqlite_dir(engine: AsyncEngine) -> None:
    """SQLite can't create the directory of its database file; do it."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database:
        return
    if database != ":memory:" and not database.startswith("file:"):
        await aiofiles.os.makedirs(Path(database).parent, exist_ok=True)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration for the packaged migrations; no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


async def _migrate(engine: AsyncEngine) -> None:
    """Upgrade to head, one migration run at a time: per process, per SQLite file, per server."""
    # Alembic keeps the running migration in module globals, so runs in one process take turns.
    lock = _migration_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock, engine.connect() as conn:
        conn = await conn.execution_options(sqlite_immediate=True)
        async with conn.begin():
            await conn.run_sync(_upgrade)


_migration_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _upgrade(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Processes starting together take turns; the second finds the schema up to date.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")
