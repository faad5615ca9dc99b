"""The ``app_state`` table: small facts the bot keeps about itself, one string per key."""

from __future__ import annotations

import sqlalchemy as sa

from bot.schema import app_state
from bot.storage.base import StoreBase, _insert, _now


class AppState(StoreBase):
    """Get and set one value per key (such as the synced command tree's hash)."""

    async def state(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        async with self._tx() as conn:
            value = await conn.scalar(sa.select(app_state.c.value).where(app_state.c.key == key))
        return None if value is None else str(value)

    async def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        async with self._tx() as conn:
            stmt = _insert(conn, app_state).values(key=key, value=value, updated_at=_now())
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[app_state.c.key],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )
