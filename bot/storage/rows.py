"""Rows to domain objects: ``Job`` (with its images), ``Session``, ``Turn``, ``StoredImage``;
a job's origin replaced without bringing back a token dropped meanwhile."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import Job, JobKind, JobStatus, Session, StoredImage, Turn
from bot.schema import job_images, jobs


def _image(row: RowMapping) -> StoredImage:
    return StoredImage(
        sha256=row["sha256"],
        mime=row["mime"],
        size=row["size"],
        width=row["width"],
        height=row["height"],
    )


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


def _turn(row: RowMapping, images: Sequence[str]) -> Turn:
    return Turn(
        id=row["id"],
        session_id=row["session_id"],
        position=row["position"],
        role=row["role"],
        text=row["text"],
        images=tuple(images),
        reasoning_details=row["reasoning_details"],
        job_id=row["job_id"],
        message_id=row["message_id"],
        status=row["status"],
        version=row["version"],
        created_at=row["created_at"],
    )


async def _get_job(conn: AsyncConnection, job_id: int) -> Job | None:
    found = await _select_jobs(conn, jobs.select().where(jobs.c.id == job_id))
    return found[0] if found else None


async def _select_jobs(conn: AsyncConnection, stmt: sa.Select[Any]) -> list[Job]:
    """Run a SELECT of job rows and attach each job's images in one more query."""
    return await _with_images(conn, (await conn.execute(stmt)).mappings().all())


async def _with_images(conn: AsyncConnection, rows: Sequence[RowMapping]) -> list[Job]:
    """Job rows (read, or returned by an ``UPDATE ... RETURNING``) with their images attached."""
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


def _without_token(origin: Any) -> dict[str, Any] | None:
    """``origin`` without its interaction token; None if it has none."""
    interaction = origin.get("interaction") if isinstance(origin, dict) else None
    if not isinstance(interaction, dict) or "token" not in interaction:
        return None
    kept = {key: value for key, value in interaction.items() if key != "token"}
    return {**origin, "interaction": kept}


async def _set_origin(conn: AsyncConnection, job_id: int, origin: dict[str, Any]) -> None:
    """Replace a job's origin, keeping dropped a token dropped since the caller read the job."""
    # A job can run for longer than its token lives, and its origin was read when it started.
    stored = await conn.scalar(sa.select(jobs.c.origin).where(jobs.c.id == job_id))
    if _without_token(stored) is None:
        origin = _without_token(origin) or origin
    await conn.execute(jobs.update().where(jobs.c.id == job_id).values(origin=origin))
