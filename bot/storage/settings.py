"""Per-channel settings: one JSON object per channel, replaced as a whole."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.schema import channel_settings
from bot.storage.base import StoreBase, _insert, _now


class ChannelSettings(StoreBase):
    """The ``channel_settings`` table."""

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
