"""Sessions (a conversation in a thread) and their turns, in order, with the images of each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain import Session, Turn
from bot.errors import NotFound
from bot.schema import sessions, turn_images, turns
from bot.storage.base import StoreBase, _insert_id, _now
from bot.storage.files import _check_images
from bot.storage.rows import _session, _turn

SESSION_FIELDS = frozenset(
    {"thread_id", "channel_id", "guild_id", "owner_id", "model", "family", "settings"}
    | {"parent_session_id", "head_turn_id"}
)


class SessionTables(StoreBase):
    """The ``sessions`` and ``turns`` tables, and each turn's images (``turn_images``)."""

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
            position = await _next_position(conn, session_id, now)
            turn_id = await _insert_id(
                conn,
                turns,
                session_id=session_id,
                position=position,
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


async def _one_session(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> Session:
    row = (await conn.execute(sessions.select().where(where))).one()
    return _session(row._mapping)


async def _next_position(conn: AsyncConnection, session_id: int, now: datetime) -> int:
    """The position after the session's last turn, once the session's row is locked."""
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
    return 0 if last is None else last + 1


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
    return [_turn(row, linked[row["id"]]) for row in rows]
