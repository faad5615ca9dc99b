"""Jobs: queued, claimed by a worker, finished or failed, and where each result was posted.

Claims and deliveries are compare-and-set ``UPDATE ... WHERE`` statements: the row count says
which process won.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import GeneratedImage, Job, JobKind, JobStatus
from bot.errors import NotFound
from bot.schema import job_images, jobs
from bot.storage.base import _now, log
from bot.storage.budgets import close_hold
from bot.storage.files import ImageFiles, _check_images, _key
from bot.storage.rows import _get_job, _job, _select_jobs, _set_origin, _with_images

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
# What a restart must still post: finished and unclaimed, half posted, or waiting for Discord.
UNDELIVERED = ("due", "posting", "retrying")
# A finished job keeps the state of a delivery claimed early (a mask draft); else it is due.
_DUE = sa.case((jobs.c.delivery.is_(None), "due"), else_=jobs.c.delivery_state)
# Places a job's budget hold in the transaction that stores the job (bot.spending); raising
# refuses the job, and nothing of it is stored.
PlaceHold = Callable[[AsyncConnection, int], Awaitable[None]]


class JobTables(ImageFiles):
    """The ``jobs`` table and the images each job took and made (``job_images``)."""

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
        hold: PlaceHold | None = None,
    ) -> Job:
        """Record a queued job; its input images must already be stored."""
        now = _now()
        linked = [("input", i, h) for i, h in enumerate(input_images)]
        linked += [("mask", 0, mask_image)] if mask_image else []
        # IMMEDIATE: the insert also feeds SQLite's FTS5 index (migration 0009), which reads
        # its own tables first; a reader that fell behind could then not become the writer.
        async with self._tx(immediate=True) as conn:
            values = {
                "kind": JobKind(kind).value,
                "status": JobStatus.QUEUED.value,
                "prompt": prompt,
                "params": dict(params),
                "user_id": user_id,
                "origin": dict(origin),
                "parent_job_id": parent_job_id,
                "session_id": session_id,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            inserted = await conn.execute(jobs.insert().values(values).returning(*jobs.c))
            row = inserted.mappings().one()
            job_id = row["id"]
            await _check_images(conn, [h for _, _, h in linked])
            if linked:
                rows = [
                    {"job_id": job_id, "role": r, "position": p, "sha256": h} for r, p, h in linked
                ]
                await conn.execute(job_images.insert(), rows)
            if hold is not None:
                await hold(conn, job_id)
        images: dict[str, list[str]] = {"input": list(input_images)}
        return _job(row, images | ({"mask": [mask_image]} if mask_image else {}))

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
                .returning(*jobs.c)
            )
            rows = result.mappings().all()
            return (await _with_images(conn, rows))[0] if rows else None

    async def finish_job(
        self,
        job_id: int,
        *,
        result_images: Sequence[str],
        result_text: str | None,
        cost: float | None,
        origin: dict[str, Any] | None = None,
        kept: Sequence[GeneratedImage] = (),
    ) -> Job:
        """Mark an active job done with its images (and, if given, its origin with what the
        user should be told); a job cancelled meanwhile stays cancelled. ``kept`` images are
        stored first (their files written, then their rows in the job's own transaction) and
        come after ``result_images``."""
        rows = [await self._keep_file(image) for image in kept]
        result_images = [*result_images, *(row["sha256"] for row in rows)]
        values: dict[str, Any] = {
            "status": JobStatus.DONE.value,
            "result_text": result_text,
            "cost": cost,
        }
        if origin is not None:
            values["origin"] = origin
        outputs = [
            {"job_id": job_id, "role": "output", "position": i, "sha256": h}
            for i, h in enumerate(result_images)
        ]
        job = await self._finish(job_id, values, outputs, rows)
        for image, row in zip(kept, rows, strict=True):  # see ImageFiles._image_rows
            await self._ensure(_key(row["sha256"]), row["sha256"], image.data)
        return job

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
        self,
        job_id: int,
        values: dict[str, Any],
        outputs: list[dict[str, Any]],
        image_rows: Sequence[dict[str, Any]] = (),
    ) -> Job:
        now = _now()
        origin = values.pop("origin", None)
        async with self._tx() as conn:
            await self._image_rows(conn, image_rows)
            result = await conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in ACTIVE]))
                .values({**values, "finished_at": now, "updated_at": now, "delivery_state": _DUE})
                .returning(*jobs.c)
            )
            if ended := result.mappings().all():
                started = ended[0]["started_at"]
                await close_hold(conn, job_id, values["status"], values.get("cost"), now, started)
            if ended and origin is not None:
                await _set_origin(conn, job_id, origin)
            if ended and outputs:
                kept = {row["sha256"] for row in image_rows}  # stored just now: no check
                await _check_images(conn, [o["sha256"] for o in outputs if o["sha256"] not in kept])
                await conn.execute(job_images.insert(), outputs)
            if ended and origin is None:  # the row as updated, with its images as now linked
                job: Job | None = (await _with_images(conn, ended))[0]
            else:
                job = await _get_job(conn, job_id)
        if job is None:
            raise NotFound(detail=f"job {job_id}")
        if not ended:
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
                .returning(jobs.c.started_at)
            )
            if ended := result.all():
                status = JobStatus.CANCELLED.value
                await close_hold(conn, job_id, status, None, now, ended[0].started_at)
        return bool(ended)

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

    async def active_jobs_of(self, user_id: str) -> int:
        """How many of the user's jobs are waiting or running."""
        stmt = sa.select(sa.func.count()).where(
            jobs.c.user_id == user_id, jobs.c.status.in_([s.value for s in ACTIVE])
        )
        async with self._tx() as conn:
            return int(await conn.scalar(stmt) or 0)

    async def undelivered_jobs(self) -> list[Job]:
        """Finished jobs whose outcome was never (or only half) posted, newest first."""
        async with self._tx() as conn:
            return await _select_jobs(conn, undelivered_query())

    async def set_delivery(
        self,
        job_id: int,
        delivery: dict[str, Any],
        *,
        only_if_unset: bool = True,
        only_if_state: str | None = None,
    ) -> bool:
        """Record where a result was posted; with ``only_if_unset``, only the first caller wins
        (with ``only_if_state``, only a caller that finds that state).

        An empty ``delivery`` clears it, so the next ``only_if_unset`` caller can claim it again.
        """
        conditions = [jobs.c.id == job_id]
        if only_if_state is not None:
            conditions.append(jobs.c.delivery["state"].as_string() == only_if_state)
        elif only_if_unset:
            conditions.append(jobs.c.delivery.is_(None))
        async with self._tx() as conn:
            result = await conn.execute(
                jobs.update()
                .where(*conditions)
                .values(
                    delivery=dict(delivery) or None,
                    delivery_state=_state_of(delivery),
                    updated_at=_now(),
                )
            )
        return result.rowcount == 1

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


def undelivered_query() -> sa.Select[Any]:
    """Jobs still to post, newest first: answered by ix_jobs_delivery_state_id alone."""
    return jobs.select().where(jobs.c.delivery_state.in_(UNDELIVERED)).order_by(jobs.c.id.desc())


def _state_of(delivery: dict[str, Any]) -> Any:
    """The indexed mirror of a delivery: its state; cleared, "due" again once the job ended."""
    if delivery:
        return str(delivery.get("state") or "set")[:16]
    ended = jobs.c.status.in_([JobStatus.DONE.value, JobStatus.FAILED.value])
    return sa.case((ended, "due"), else_=None)
