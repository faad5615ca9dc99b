"""Paint links and shared web secrets: what a signed paint token stands for, and its one use.

A link is used by one compare-and-set (``used_at IS NULL`` and not expired), so two submits of
one link, in one process or two, make one job; ``release_paint_link`` gives it back when the
edit could not be stored, so the user can fix it and submit again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.schema import paint_links, web_secrets
from bot.storage.base import StoreBase, _insert, _now

KEEP_USED = timedelta(days=1)  # expired links are kept this long, so their page can say why


@dataclass(frozen=True, slots=True)
class PaintLink:
    """One paint link: who may use it, on which image, and what it made."""

    id: str
    user_id: str
    job_id: int | None
    image: str
    prompt: str
    model: str
    origin: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    made_job_id: int | None


class PaintLinks(StoreBase):
    """The ``paint_links`` and ``web_secrets`` tables."""

    async def create_paint_link(self, link: PaintLink) -> None:
        """Store a new link; links expired a day ago go at the same time."""
        async with self._tx() as conn:
            await conn.execute(
                paint_links.delete().where(paint_links.c.expires_at < _now() - KEEP_USED)
            )
            await conn.execute(paint_links.insert().values(asdict(link)))

    async def paint_link(self, link_id: str) -> PaintLink | None:
        async with self._tx() as conn:
            row = (
                await conn.execute(paint_links.select().where(paint_links.c.id == link_id))
            ).first()
        return None if row is None else PaintLink(**row._mapping)

    async def use_paint_link(self, link_id: str, now: datetime | None = None) -> bool:
        """Take the link's one use; False if it is used or expired."""
        now = now or _now()
        stmt = (
            paint_links.update()
            .where(
                paint_links.c.id == link_id,
                paint_links.c.used_at.is_(None),
                paint_links.c.expires_at > now,
            )
            .values(used_at=now)
        )
        async with self._tx() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def release_paint_link(self, link_id: str) -> None:
        """Give a use back: the edit it was for could not be stored."""
        stmt = paint_links.update().where(paint_links.c.id == link_id).values(used_at=None)
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def set_paint_job(self, link_id: str, job_id: int) -> None:
        stmt = paint_links.update().where(paint_links.c.id == link_id).values(made_job_id=job_id)
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def web_secret(self, name: str, candidate: str) -> str:
        """The stored secret called ``name``; ``candidate`` becomes it if there is none yet."""
        async with self._tx() as conn:
            stmt = _insert(conn, web_secrets).values(name=name, value=candidate, created_at=_now())
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=[web_secrets.c.name]))
            value = await conn.scalar(
                sa.select(web_secrets.c.value).where(web_secrets.c.name == name)
            )
        return str(value)
