"""Worker leases: which live process holds each WORKER_ID, renewed by heartbeats.

Claiming is one compare-and-set upsert: the row is inserted, or taken over when its heartbeat
is older than ``stale_after`` or it names this very process; otherwise nothing changes and the
row count (0) says the id is held by someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.schema import workers
from bot.storage.base import StoreBase, _insert, _now

STALE_AFTER_S = 60.0  # four missed heartbeats at the bot's 15 s


@dataclass(frozen=True, slots=True)
class WorkerLease:
    """Who holds a WORKER_ID: the process's host and pid, and when it was last heard from."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


class WorkerLeases(StoreBase):
    """The ``workers`` table."""

    async def claim_worker(
        self,
        worker_id: str,
        host: str,
        pid: int,
        now: datetime | None = None,
        stale_after: float = STALE_AFTER_S,
    ) -> bool:
        """Take ``worker_id`` for host+pid; False if another process holds it and is fresh."""
        now = now or _now()
        async with self._tx(immediate=True) as conn:
            stmt = _insert(conn, workers).values(
                id=worker_id, host=host, pid=pid, started_at=now, heartbeat_at=now
            )
            current = workers.c
            stmt = stmt.on_conflict_do_update(
                index_elements=[current.id],
                set_={
                    "host": stmt.excluded.host,
                    "pid": stmt.excluded.pid,
                    "started_at": stmt.excluded.started_at,
                    "heartbeat_at": stmt.excluded.heartbeat_at,
                },
                # The compare in compare-and-set: a dead holder, or this process claiming again.
                where=sa.or_(
                    current.heartbeat_at < now - timedelta(seconds=stale_after),
                    sa.and_(current.host == host, current.pid == pid),
                ),
            )
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def heartbeat(self, worker_id: str, pid: int, now: datetime | None = None) -> bool:
        """Renew ``pid``'s lease on ``worker_id``; False if it no longer holds it."""
        stmt = (
            workers.update()
            .where(workers.c.id == worker_id, workers.c.pid == pid)
            .values(heartbeat_at=now or _now())
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def release_worker(self, worker_id: str, pid: int) -> bool:
        """Give up ``pid``'s lease on ``worker_id``; False if it didn't hold it."""
        stmt = workers.delete().where(workers.c.id == worker_id, workers.c.pid == pid)
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def worker_lease(self, worker_id: str) -> WorkerLease | None:
        """Who holds ``worker_id`` now, None if nobody."""
        async with self._tx() as conn:
            row = (await conn.execute(workers.select().where(workers.c.id == worker_id))).first()
        if row is None:
            return None
        return WorkerLease(row.id, row.host, row.pid, row.started_at, row.heartbeat_at)
