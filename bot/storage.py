"""The store: jobs, sessions, turns and image lineage in SQL; image bytes on disk, named by hash.

SQLAlchemy Core on an async engine: SQLite through aiosqlite by default, PostgreSQL through
asyncpg when several processes share one database. Every change two processes could race on
(claiming a job, recording where it was posted) is a compare-and-set ``UPDATE ... WHERE`` whose
row count says who won. The schema is created and upgraded by the Alembic migrations in
``bot/migrations`` when the store opens; the tables below mirror the latest migration.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiofiles
import aiofiles.os
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.domain import InputImage, Job, JobKind, JobStatus, Session, StoredImage, Turn
from bot.errors import ConfigError, ImageMissing, NotFound, StorageError
from bot.media import PNG, extension
from bot.schema import (
    channel_settings,
    images,
    job_images,
    jobs,
    sessions,
    turn_images,
    turns,
)

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_S = 30
HASH_IN_THREAD_BYTES = 256 * 1024  # below this, hashing is quicker than a thread hop
MIGRATION_LOCK = 0x6561_7365_6C  # "easel": one process migrates at a time on PostgreSQL
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
_SHA256 = re.compile(r"[0-9a-f]{64}")


SESSION_FIELDS = frozenset(
    {"thread_id", "channel_id", "guild_id", "owner_id", "model", "family", "settings"}
    | {"parent_session_id", "head_turn_id"}
)


# -- the store ---------------------------------------------------------------------------------
class Store:
    """Async access to everything Easel keeps; open with ``await Store.open(url, data_dir)``."""

    def __init__(self, engine: AsyncEngine, data_dir: Path) -> None:
        self._engine = engine
        self.data_dir = data_dir
        self.image_dir = data_dir / "images"

    @classmethod
    async def open(cls, database_url: str, data_dir: Path) -> Store:
        """Connect, create ``data_dir/images`` and bring the schema up to date."""
        engine = make_engine(database_url)
        try:
            await aiofiles.os.makedirs(data_dir / "images", exist_ok=True)
            await _sqlite_dir(engine)
            await _migrate(engine)
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, sa.exc.SQLAlchemyError | OSError):
                where = engine.url.render_as_string(hide_password=True)
                raise StorageError(
                    f"Could not open the database {where}: {type(exc).__name__}"
                ) from exc
            raise
        where = engine.url.render_as_string(hide_password=True)
        log.info("store open: %s, images in %s", where, data_dir)
        return cls(engine, data_dir)

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
            return await aiofiles.os.path.isdir(self.image_dir)
        except (StorageError, OSError):
            return False

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; database errors become ``StorageError``."""
        try:
            async with self._engine.begin() as conn:
                yield conn
        except (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError) as exc:
            orig = getattr(exc, "orig", None) or exc
            raise StorageError(detail=f"{type(exc).__name__}: {str(orig)[:200]}") from exc

    # -- images ----------------------------------------------------------------------------
    def image_path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ImageMissing(detail=f"not an image id: {sha256[:70]!r}")
        return self.image_dir / sha256[:2] / sha256[2:]

    async def put_image(
        self, data: bytes, mime: str, width: int | None = None, height: int | None = None
    ) -> StoredImage:
        """Keep ``data`` once (by SHA-256); the file is complete before the row points at it."""
        if len(data) > HASH_IN_THREAD_BYTES:
            sha256 = (await asyncio.to_thread(hashlib.sha256, data)).hexdigest()
        else:
            sha256 = hashlib.sha256(data).hexdigest()
        path = self.image_path(sha256)
        if not await _file_has_size(path, len(data)):
            try:
                await _write_atomically(path, data)
            except OSError as exc:
                raise StorageError(detail=f"writing image {sha256[:12]}: {exc}") from exc
        async with self._tx() as conn:
            stmt = _insert(conn, images).values(
                sha256=sha256,
                mime=mime,
                size=len(data),
                width=width,
                height=height,
                created_at=_now(),
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[images.c.sha256],
                    set_={
                        "width": sa.func.coalesce(images.c.width, stmt.excluded.width),
                        "height": sa.func.coalesce(images.c.height, stmt.excluded.height),
                    },
                )
            )
            stored = (await conn.execute(images.select().where(images.c.sha256 == sha256))).one()
        return _image(stored._mapping)

    async def image_info(self, sha256: str) -> StoredImage | None:
        self.image_path(sha256)  # refuses anything but a hash
        async with self._tx() as conn:
            row = (await conn.execute(images.select().where(images.c.sha256 == sha256))).first()
        return None if row is None else _image(row._mapping)

    async def get_image(self, sha256: str) -> bytes:
        """The bytes of a stored image; ``ImageMissing`` if unknown, gone or incomplete."""
        info = await self.image_info(sha256)
        if info is None:
            raise ImageMissing(detail=f"image {sha256[:12]} is not in the store")
        try:
            async with aiofiles.open(self.image_path(sha256), "rb") as f:
                data = await f.read()
        except FileNotFoundError as exc:
            raise ImageMissing(detail=f"the file of image {sha256[:12]} is gone") from exc
        except OSError as exc:
            raise StorageError(detail=f"reading image {sha256[:12]}: {exc}") from exc
        if len(data) != info.size:
            raise ImageMissing(
                detail=f"image {sha256[:12]} has {len(data)} bytes on disk, {info.size} expected"
            )
        return data

    async def input_image(self, sha256: str) -> InputImage:
        """A stored image as a router input, named by its type."""
        data = await self.get_image(sha256)
        info = await self.image_info(sha256)
        mime = info.mime if info else PNG
        return InputImage(data=data, mime=mime, name=f"image.{extension(mime)}")

    # -- jobs ------------------------------------------------------------------------------
    async def create_job(
        self,
        *,
        kind: JobKind,
        prompt: str,
        params: dict[str, Any],
        user_id: str | None,
        origin: dict[str, Any],
        input_images: Sequence[str] = (),
        mask_image: str | None = None,
        parent_job_id: int | None = None,
        session_id: int | None = None,
    ) -> Job:
        """Record a queued job; its input images must already be stored."""
        now = _now()
        linked = [("input", i, h) for i, h in enumerate(input_images)]
        linked += [("mask", 0, mask_image)] if mask_image else []
        async with self._tx() as conn:
            job_id = await _insert_id(
                conn,
                jobs,
                kind=JobKind(kind).value,
                status=JobStatus.QUEUED.value,
                prompt=prompt,
                params=dict(params),
                user_id=user_id,
                origin=dict(origin),
                parent_job_id=parent_job_id,
                session_id=session_id,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            await _check_images(conn, [h for _, _, h in linked])
            if linked:
                rows = [
                    {"job_id": job_id, "role": r, "position": p, "sha256": h} for r, p, h in linked
                ]
                await conn.execute(job_images.insert(), rows)
            job = await _get_job(conn, job_id)
        assert job is not None
        return job

    async def get_job(self, job_id: int) -> Job | None:
        async with self._tx() as conn:
            return await _get_job(conn, job_id)

    async def start_job(self, job_id: int, worker: str) -> Job | None:
        """Claim a queued job for ``worker``; None if another worker got it or it isn't queued."""
        now = _now()
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.RUNNING.value,
                    claimed_by=worker,
                    attempts=jobs.c.attempts + 1,
                    started_at=now,
                    updated_at=now,
                )
            )
            return await _get_job(conn, job_id) if result.rowcount == 1 else None

    async def finish_job(
        self,
        job_id: int,
        *,
        result_images: Sequence[str],
        result_text: str | None,
        cost: float | None,
    ) -> Job:
        """Mark an active job done with its images; a job cancelled meanwhile stays cancelled."""
        values: dict[str, Any] = {
            "status": JobStatus.DONE.value,
            "result_text": result_text,
            "cost": cost,
        }
        outputs = [
            {"job_id": job_id, "role": "output", "position": i, "sha256": h}
            for i, h in enumerate(result_images)
        ]
        return await self._finish(job_id, values, outputs)

    async def fail_job(
        self, job_id: int, *, error_code: str, error_message: str, result_text: str | None = None
    ) -> Job:
        """Mark an active job failed; the prompt and parameters stay for Retry."""
        values = {
            "status": JobStatus.FAILED.value,
            "error_code": error_code,
            "error_message": error_message,
            "result_text": result_text,
        }
        return await self._finish(job_id, values, [])

    async def _finish(
        self, job_id: int, values: dict[str, Any], outputs: list[dict[str, Any]]
    ) -> Job:
        now = _now()
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in ACTIVE]))
                .values({**values, "finished_at": now, "updated_at": now})
            )
            if result.rowcount == 1 and outputs:
                await _check_images(conn, [o["sha256"] for o in outputs])
                await conn.execute(job_images.insert(), outputs)
            job = await _get_job(conn, job_id)
        if job is None:
            raise NotFound(detail=f"job {job_id}")
        if result.rowcount != 1:
            log.warning("job %s: already %s; %s not recorded", job_id, job.status, values["status"])
        return job

    async def cancel_job(self, job_id: int) -> bool:
        """Cancel a queued or running job; False if it had already ended (or doesn't exist)."""
        now = _now()
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in ACTIVE]))
                .values(status=JobStatus.CANCELLED.value, finished_at=now, updated_at=now)
            )
        return result.rowcount == 1

    async def requeue_job(self, job_id: int, *, worker: str | None = None) -> Job:
        """Put a running job back in the queue (its worker died); only ``worker``'s if given.

        A job that isn't running (or is claimed by someone else) is returned unchanged.
        """
        conditions = [jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value]
        if worker is not None:
            conditions.append(jobs.c.claimed_by == worker)
        async with self._tx() as conn:
            await conn.execute(
                jobs.update()
                .where(*conditions)
                .values(status=JobStatus.QUEUED.value, claimed_by=None, updated_at=_now())
            )
            job = await _get_job(conn, job_id)
        if job is None:
            raise NotFound(detail=f"job {job_id}")
        return job

    async def jobs_with_status(self, *statuses: JobStatus, limit: int = 1000) -> list[Job]:
        """Jobs in any of ``statuses``, oldest first."""
        if not statuses:
            return []
        stmt = (
            jobs.select()
            .where(jobs.c.status.in_([JobStatus(s).value for s in statuses]))
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(limit)
        )
        async with self._tx() as conn:
            return await _select_jobs(conn, stmt)

    async def set_delivery(
        self, job_id: int, delivery: dict[str, Any], *, only_if_unset: bool = True
    ) -> bool:
        """Record where a result was posted; with ``only_if_unset``, only the first caller wins.

        An empty ``delivery`` clears it, so the next ``only_if_unset`` caller can claim it again.
        """
        conditions = [jobs.c.id == job_id]
        if only_if_unset:
            conditions.append(jobs.c.delivery.is_(None))
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(*conditions)
                .values(delivery=dict(delivery) or None, updated_at=_now())
            )
        return result.rowcount == 1

    async def user_job_counts(self) -> dict[str, int]:
        """Queued plus running jobs per user."""
        stmt = (
            sa.select(jobs.c.user_id, sa.func.count())
            .where(jobs.c.status.in_([s.value for s in ACTIVE]), jobs.c.user_id.is_not(None))
            .group_by(jobs.c.user_id)
        )
        async with self._tx() as conn:
            return {row[0]: row[1] for row in await conn.execute(stmt)}

    async def job_lineage(self, job_id: int, limit: int = 50) -> list[Job]:
        """The job, then its parent, grandparent... at most ``limit`` jobs."""
        chain = (
            sa.select(jobs.c.id, jobs.c.parent_job_id, sa.literal(0, sa.Integer).label("depth"))
            .where(jobs.c.id == job_id)
            .cte("chain", recursive=True)
        )
        parent = jobs.alias("parent")
        chain = chain.union_all(
            sa.select(parent.c.id, parent.c.parent_job_id, chain.c.depth + 1).where(
                parent.c.id == chain.c.parent_job_id, chain.c.depth < limit - 1
            )
        )
        stmt = jobs.select().join(chain, jobs.c.id == chain.c.id).order_by(chain.c.depth)
        async with self._tx() as conn:
            return await _select_jobs(conn, stmt)

    # -- sessions and turns ----------------------------------------------------------------
    async def create_session(
        self,
        *,
        thread_id: str | None,
        channel_id: str | None,
        guild_id: str | None,
        owner_id: str | None,
        model: str,
        family: str,
        settings: dict[str, Any] | None = None,
        parent_session_id: int | None = None,
    ) -> Session:
        now = _now()
        async with self._tx() as conn:
            session_id = await _insert_id(
                conn,
                sessions,
                thread_id=thread_id,
                channel_id=channel_id,
                guild_id=guild_id,
                owner_id=owner_id,
                model=model,
                family=str(family),
                settings=dict(settings or {}),
                parent_session_id=parent_session_id,
                created_at=now,
                updated_at=now,
            )
            return await _one_session(conn, sessions.c.id == session_id)

    async def get_session(self, session_id: int) -> Session | None:
        async with self._tx() as conn:
            row = (await conn.execute(sessions.select().where(sessions.c.id == session_id))).first()
        return None if row is None else _session(row._mapping)

    async def session_by_thread(self, thread_id: str) -> Session | None:
        async with self._tx() as conn:
            stmt = sessions.select().where(sessions.c.thread_id == thread_id)
            row = (await conn.execute(stmt)).first()
        return None if row is None else _session(row._mapping)

    async def update_session(self, session_id: int, **fields: Any) -> Session:
        """Change some of a session's columns (``model``, ``head_turn_id``, ``settings``...)."""
        unknown = set(fields) - SESSION_FIELDS
        if unknown:
            raise TypeError(f"update_session: unknown fields {sorted(unknown)}")
        async with self._tx() as conn:
            result = await conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .values({**fields, "updated_at": _now()})
            )
            if result.rowcount != 1:
                raise NotFound(detail=f"session {session_id}")
            return await _one_session(conn, sessions.c.id == session_id)

    async def add_turn(
        self,
        session_id: int,
        *,
        role: str,
        text: str | None,
        images: Sequence[str],
        reasoning_details: list[Any] | None = None,
        job_id: int | None = None,
        message_id: str | None = None,
        status: str = "ok",
        version: int | None = None,
    ) -> Turn:
        """Append a turn at the end of the session."""
        now = _now()
        async with self._tx() as conn:
            # Touching the session first locks its row, so concurrent appends queue up here
            # instead of both reading the same last position.
            touched = await conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(updated_at=now)
            )
            if touched.rowcount != 1:
                raise NotFound(detail=f"session {session_id}")
            last = await conn.scalar(
                sa.select(sa.func.max(turns.c.position)).where(turns.c.session_id == session_id)
            )
            turn_id = await _insert_id(
                conn,
                turns,
                session_id=session_id,
                position=0 if last is None else last + 1,
                role=role,
                text=text,
                reasoning_details=reasoning_details,
                job_id=job_id,
                message_id=message_id,
                status=status,
                version=version,
                created_at=now,
            )
            await _check_images(conn, images)
            if images:
                rows = [
                    {"turn_id": turn_id, "position": i, "sha256": h} for i, h in enumerate(images)
                ]
                await conn.execute(turn_images.insert(), rows)
            found = await _select_turns(conn, turns.select().where(turns.c.id == turn_id))
        return found[0]

    async def turns(self, session_id: int) -> list[Turn]:
        """The session's turns in order."""
        stmt = turns.select().where(turns.c.session_id == session_id).order_by(turns.c.position)
        async with self._tx() as conn:
            return await _select_turns(conn, stmt)

    # -- channel settings ------------------------------------------------------------------
    async def channel_settings(self, channel_id: str) -> dict[str, Any]:
        """The channel's settings, ``{}`` if none were set."""
        stmt = sa.select(channel_settings.c.settings).where(
            channel_settings.c.channel_id == channel_id
        )
        async with self._tx() as conn:
            settings = await conn.scalar(stmt)
        return dict(settings) if settings else {}

    async def set_channel_settings(self, channel_id: str, settings: dict[str, Any]) -> None:
        """Replace the channel's settings."""
        async with self._tx() as conn:
            stmt = _insert(conn, channel_settings).values(
                channel_id=channel_id, settings=dict(settings), updated_at=_now()
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[channel_settings.c.channel_id],
                    set_={
                        "settings": stmt.excluded.settings,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )


# -- engine and migrations ---------------------------------------------------------------------
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


# -- rows to domain objects --------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """An INSERT that takes ON CONFLICT, in the connection's dialect (SQLite or PostgreSQL)."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def _insert_id(conn: AsyncConnection, table: sa.Table, **values: Any) -> int:
    """Insert one row and return its new ``id``."""
    result = await conn.execute(table.insert().values(values).returning(table.c.id))
    return int(result.scalar_one())


async def _file_has_size(path: Path, size: int) -> bool:
    try:
        return (await aiofiles.os.stat(path)).st_size == size
    except FileNotFoundError:
        return False


async def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: ``path`` is whole or absent."""
    await aiofiles.os.makedirs(path.parent, exist_ok=True)
    temp = path.with_name(f".{path.name[:16]}.{secrets.token_hex(8)}.tmp")
    try:
        async with aiofiles.open(temp, "wb") as f:
            await f.write(data)
            await f.flush()
            await asyncio.to_thread(os.fsync, f.fileno())
        await aiofiles.os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.remove(temp)  # synchronous on purpose: runs even while being cancelled
        raise
    await asyncio.to_thread(_fsync_dir, path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _check_images(conn: AsyncConnection, hashes: Iterable[str]) -> None:
    """A clear error, rather than a foreign-key failure, for images that were never stored."""
    wanted = set(hashes)
    if not wanted:
        return
    stmt = sa.select(images.c.sha256).where(images.c.sha256.in_(wanted))
    missing = wanted - set((await conn.scalars(stmt)).all())
    if missing:
        raise ImageMissing(detail=f"not stored: {', '.join(sorted(h[:12] for h in missing))}")


def _image(row: RowMapping) -> StoredImage:
    return StoredImage(
        sha256=row["sha256"],
        mime=row["mime"],
        size=row["size"],
        width=row["width"],
        height=row["height"],
    )


async def _get_job(conn: AsyncConnection, job_id: int) -> Job | None:
    found = await _select_jobs(conn, jobs.select().where(jobs.c.id == job_id))
    return found[0] if found else None


async def _select_jobs(conn: AsyncConnection, stmt: sa.Select[Any]) -> list[Job]:
    """Run a SELECT of job rows and attach each job's images in one more query."""
    rows = (await conn.execute(stmt)).mappings().all()
    linked: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    if rows:
        ids = [row["id"] for row in rows]
        image_rows = await conn.execute(
            sa.select(job_images.c.job_id, job_images.c.role, job_images.c.sha256)
            .where(job_images.c.job_id.in_(ids))
            .order_by(job_images.c.job_id, job_images.c.role, job_images.c.position)
        )
        for job_id, role, sha256 in image_rows:
            linked[job_id][role].append(sha256)
    return [_job(row, linked[row["id"]]) for row in rows]


def _job(row: RowMapping, linked: Mapping[str, list[str]]) -> Job:
    masks = linked.get("mask", [])
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        prompt=row["prompt"],
        params=row["params"],
        status=JobStatus(row["status"]),
        user_id=row["user_id"],
        origin=row["origin"],
        parent_job_id=row["parent_job_id"],
        session_id=row["session_id"],
        input_images=tuple(linked.get("input", ())),
        mask_image=masks[0] if masks else None,
        result_images=tuple(linked.get("output", ())),
        result_text=row["result_text"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        cost=row["cost"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        delivery=row["delivery"] or {},
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
    )


async def _one_session(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> Session:
    row = (await conn.execute(sessions.select().where(where))).one()
    return _session(row._mapping)


def _session(row: RowMapping) -> Session:
    return Session(
        id=row["id"],
        model=row["model"],
        family=row["family"],
        thread_id=row["thread_id"],
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        owner_id=row["owner_id"],
        settings=row["settings"] or {},
        parent_session_id=row["parent_session_id"],
        head_turn_id=row["head_turn_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _select_turns(conn: AsyncConnection, stmt: sa.Select[Any]) -> list[Turn]:
    rows = (await conn.execute(stmt)).mappings().all()
    linked: dict[int, list[str]] = defaultdict(list)
    if rows:
        image_rows = await conn.execute(
            sa.select(turn_images.c.turn_id, turn_images.c.sha256)
            .where(turn_images.c.turn_id.in_([row["id"] for row in rows]))
            .order_by(turn_images.c.turn_id, turn_images.c.position)
        )
        for turn_id, sha256 in image_rows:
            linked[turn_id].append(sha256)
    return [
        Turn(
            id=row["id"],
            session_id=row["session_id"],
            position=row["position"],
            role=row["role"],
            text=row["text"],
            images=tuple(linked[row["id"]]),
            reasoning_details=row["reasoning_details"],
            job_id=row["job_id"],
            message_id=row["message_id"],
            status=row["status"],
            version=row["version"],
            created_at=row["created_at"],
        )
        for row in rows
    ]
