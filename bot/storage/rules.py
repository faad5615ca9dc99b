"""Per-server rules: one JSON object per guild, with a version for compare-and-set changes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.schema import guild_rules
from bot.storage.base import StoreBase, _insert, _now


class GuildRules(StoreBase):
    """The ``guild_rules`` table."""

    async def guild_rules(self, guild_id: str) -> tuple[dict[str, Any], int]:
        """The server's rules and their version; ``({}, 0)`` if none were set."""
        stmt = sa.select(guild_rules.c.rules, guild_rules.c.version).where(
            guild_rules.c.guild_id == guild_id
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).first()
        return (dict(row.rules), int(row.version)) if row else ({}, 0)

    async def set_guild_rules(self, guild_id: str, rules: dict[str, Any], version: int) -> bool:
        """Store ``rules`` if the stored version is still ``version``; False if it changed."""
        table = guild_rules.c
        async with self._tx() as conn:
            if version == 0:
                stmt = _insert(conn, guild_rules).values(
                    guild_id=guild_id, rules=dict(rules), version=1, updated_at=_now()
                )
                result = await conn.execute(stmt.on_conflict_do_nothing())
            else:
                result = await conn.execute(
                    guild_rules.update()
                    .where(table.guild_id == guild_id, table.version == version)
                    .values(rules=dict(rules), version=version + 1, updated_at=_now())
                )
        return bool(result.rowcount)
