"""Taking the next job from the shared store, fairly across every process; taking over the jobs
of a worker that died.

``claim_next`` picks, in one transaction, the oldest queued job of the user with the fewest
running jobs (anywhere), skipping users at ``MAX_JOBS_PER_USER`` and refine turns whose earlier
turn is still waiting or running. On PostgreSQL the row is locked with ``FOR UPDATE SKIP
LOCKED``, so workers claiming at once each get a different job without waiting on each other;
SQLite takes the write lock up front (``BEGIN IMMEDIATE``) instead. The claim is the same
compare-and-set as ``start_job``: queued → running under this worker's id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.domain import Job, JobStatus
from bot.schema import jobs, workers
from bot.storage.base import StoreBase, _now
from bot.storage.rows import _get_job

QUEUED, RUNNING = JobStatus.QUEUED.value, JobStatus.RUNNING.value


def _next_query(max_per_user: int) -> sa.Select[tuple[int]]:
    # Running jobs per user, counted once (the status index), not once per queued row.
    busy = (
        sa.select(jobs.c.user_id.label("user_id"), sa.func.count().label("n"))
        .where(jobs.c.status == RUNNING)
        .group_by(jobs.c.user_id)
        .subquery("busy")
    )
    running = sa.func.coalesce(busy.c.n, 0)
    earlier = sa.alias(jobs, "earlier")
    turn_waits = sa.and_(  # a refine session's turns run one at a time, in order
        jobs.c.session_id.is_not(None),
        sa.exists().where(
            earlier.c.session_id == jobs.c.session_id,
            earlier.c.status.in_([QUEUED, RUNNING]),
            earlier.c.id < jobs.c.id,
        ),
    )
    return (
        sa.select(jobs.c.id)
        .select_from(jobs.outerjoin(busy, busy.c.user_id == jobs.c.user_id))
        .where(jobs.c.status == QUEUED, running < max_per_user, ~turn_waits)
        .order_by(running, jobs.c.id)
        .limit(1)
    )


class JobClaims(StoreBase):
    """Claims across processes."""

    async def claim_next(self, worker: str, max_per_user: int) -> Job | None:
        """Claim the fairest queued job for ``worker``; None when nothing may start now."""
        query = _next_query(max_per_user)
        async with self._tx(immediate=True) as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(of=jobs, skip_locked=True)
            job_id: int | None = await conn.scalar(query)
            if job_id is None:
                return None
            now = _now()
            changed = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                .values(
                    status=RUNNING,
                    claimed_by=worker,
                    attempts=jobs.c.attempts + 1,
                    started_at=now,
                    updated_at=now,
                )
            )
            return await _get_job(conn, job_id) if changed.rowcount == 1 else None

    async def requeue_orphans(self, stale_after: float, now: datetime | None = None) -> list[int]:
        """Queue again the running jobs of workers whose lease went stale (a killed process)."""
        cutoff = (now or _now()) - timedelta(seconds=stale_after)
        dead = sa.select(workers.c.id).where(workers.c.heartbeat_at < cutoff)
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.status == RUNNING, jobs.c.claimed_by.in_(dead))
                .values(status=QUEUED, claimed_by=None, updated_at=_now())
                .returning(jobs.c.id)
            )
            return sorted(result.scalars())

    async def job_counts(self) -> dict[str, int]:
        """How many stored jobs are in each state (for /metrics)."""
        stmt = sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        async with self._tx() as conn:
            return {str(status): int(n) for status, n in (await conn.execute(stmt)).all()}
