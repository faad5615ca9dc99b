"""The store's shared core: the engine, one-transaction helper, opening and closing.

Every change two processes could race on (claiming a job, recording where it was posted) is a
compare-and-set ``UPDATE ... WHERE`` whose row count says who won.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiofiles.os
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import StorageError
from bot.storage.blobs import Blobs, LocalBlobs, open_blobs
from bot.storage.engine import _migrate, _sqlite_dir, make_engine

log = logging.getLogger("bot.storage")  # one logger for the whole store, as before the split


class StoreBase:
    """The engine and data directory every table family works through."""

    def __init__(self, engine: AsyncEngine, data_dir: Path, blobs: Blobs | None = None) -> None:
        self._engine = engine
        self.data_dir = data_dir
        self.image_dir = data_dir / "images"
        self.blobs: Blobs = blobs or LocalBlobs(self.image_dir)

    @classmethod
    async def open(
        cls,
        database_url: str,
        data_dir: Path,
        *,
        image_store: str | None = None,
        s3_endpoint: str | None = None,
    ) -> Self:
        """Connect, open the image store and bring the schema up to date."""
        engine = make_engine(database_url)
        blobs: Blobs | None = None
        try:
            await aiofiles.os.makedirs(data_dir, exist_ok=True)
            blobs = await open_blobs(image_store, data_dir, s3_endpoint)
            await _sqlite_dir(engine)
            await _migrate(engine)
        except BaseException as exc:
            await engine.dispose()
            if blobs is not None:
                await blobs.close()
            if isinstance(exc, sa.exc.SQLAlchemyError | OSError):
                where = engine.url.render_as_string(hide_password=True)
                raise StorageError(
                    f"Could not open the database {where}: {type(exc).__name__}"
                ) from exc
            raise
        where = engine.url.render_as_string(hide_password=True)
        log.info("store open: %s, images in %s", where, blobs.where)
        return cls(engine, data_dir, blobs)

    async def close(self, grace: float = 5.0) -> None:
        """Close the pool once work still holding a connection has returned it (bounded)."""
        pool = self._engine.pool
        checkedout = getattr(pool, "checkedout", None)
        deadline = asyncio.get_running_loop().time() + grace
        while checkedout is not None and checkedout() > 0:
            if asyncio.get_running_loop().time() > deadline:
                log.warning("closing the store with %d connection(s) still in use", checkedout())
                break
            await asyncio.sleep(0.02)
        await self._engine.dispose()
        await self.blobs.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def ping(self) -> bool:
        """True when the database answers and the image directory is there."""
        try:
            async with self._tx() as conn:
                await conn.execute(sa.select(1))
            return await self.blobs.ready()
        except (StorageError, OSError):
            return False

    @asynccontextmanager
    async def _tx(self, *, immediate: bool = False) -> AsyncIterator[AsyncConnection]:
        """One transaction; database errors become ``StorageError``."""
        try:
            async with self._engine.connect() as conn:
                if immediate:
                    # SQLite can't turn a reader that fell behind into a writer, so a
                    # transaction that reads rows and then writes them takes the lock first.
                    conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    yield conn
        except (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError) as exc:
            orig = getattr(exc, "orig", None) or exc
            raise StorageError(detail=f"{type(exc).__name__}: {str(orig)[:200]}") from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that takes ON CONFLICT, in the connection's dialect (SQLite or PostgreSQL)."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def _insert_id(conn: AsyncConnection, table: sa.Table, **values: Any) -> int:
    """Insert one row and return its new ``id``."""
    result = await conn.execute(table.insert().values(values).returning(table.c.id))
    return int(result.scalar_one())
