"""What retention removes from the jobs table: old finished jobs nothing needs, and interaction
tokens once they have expired. Found in batches without a lock, changed under one."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.domain import JobStatus
from bot.schema import jobs, turns
from bot.storage.base import StoreBase
from bot.storage.rows import _without_token

FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
SETTLED = (
    "posted",
    "failed",
    "launched",
    "answered",
)  # delivery states after which nothing posts a job


class JobSweeps(StoreBase):
    """Deleting and trimming old job rows, a batch at a time."""

    async def delete_finished_jobs(
        self, before: datetime, below_id: int | None = None, *, limit: int = 500
    ) -> tuple[int, int | None]:
        """Delete what retention may of ``limit`` jobs below ``below_id``: (count, lowest id)."""
        # From the newest down; the lowest id is None once past the oldest. Retention may
        # delete a job finished before ``before`` that nothing needs (see _deletable).
        walk = sa.select(jobs.c.id).order_by(jobs.c.id.desc()).limit(limit)
        if below_id is not None:
            walk = walk.where(jobs.c.id < below_id)
        async with self._tx() as conn:  # looked at without a lock, deleted under one
            ids = list(await conn.scalars(walk))
        if not ids:
            return 0, None
        stmt = jobs.delete().where(jobs.c.id.in_(ids), _deletable(before))
        deleted = 0
        async with self._tx(immediate=True) as conn:  # the FTS5 index is written too
            # A job goes once its children have: they are newer, so in an earlier batch or
            # in this one, deleted (job_images by ON DELETE CASCADE) until nothing more goes.
            while count := (await conn.execute(stmt)).rowcount:
                deleted += count
        return deleted, ids[-1]

    async def drop_expired_tokens(
        self, before: datetime, after_id: int | None = None, *, limit: int = 500
    ) -> tuple[int, int | None]:
        """Drop tokens of ``limit`` jobs after ``after_id`` made before ``before``: (count, id)."""
        has_token = jobs.c.origin[("interaction", "token")].as_string().is_not(None)
        found = sa.select(jobs.c.id).where(jobs.c.id > (after_id or 0), jobs.c.created_at < before)
        # Found without a lock (the scan may be long after a restart), then edited under one.
        async with self._tx() as conn:
            ids = list(await conn.scalars(found.where(has_token).order_by(jobs.c.id).limit(limit)))
        if not ids:
            return 0, None
        locked = sa.select(jobs.c.id, jobs.c.origin).where(jobs.c.id.in_(ids)).with_for_update()
        async with self._tx(immediate=True) as conn:
            rows = (await conn.execute(locked)).all()
            edits = [{"job": job, "origin_": _without_token(origin)} for job, origin in rows]
            edits = [edit for edit in edits if edit["origin_"] is not None]
            if edits:
                stmt = jobs.update().where(jobs.c.id == sa.bindparam("job"))
                await conn.execute(stmt.values(origin=sa.bindparam("origin_")), edits)
        return len(edits), ids[-1]


def _deletable(before: datetime) -> sa.ColumnElement[bool]:
    """Finished before ``before``, referred to by no turn or job, and never to be posted."""
    child = jobs.alias("child")
    state = jobs.c.delivery["state"].as_string()
    return sa.and_(
        jobs.c.status.in_([s.value for s in FINISHED]),
        jobs.c.created_at < before,
        jobs.c.finished_at < before,
        ~sa.exists().where(turns.c.job_id == jobs.c.id),
        ~sa.exists().where(child.c.parent_job_id == jobs.c.id),
        sa.or_(
            state.in_(SETTLED),
            jobs.c.origin["channel_id"].as_string().is_(None),  # the CLI's: never posted
            # Only done and failed jobs are posted after a restart, so a cancelled one that
            # nobody started posting (a draft never started) never will be.
            sa.and_(jobs.c.status == JobStatus.CANCELLED.value, state.is_(None)),
        ),
    )
