"""Budgets and the spend ledger: limits per server, holds placed with the job in one transaction,
settled or released in the transaction that ends the job.

The check and the hold are one step: ``lock_ledger`` serialises every placement (SQLite by its
write lock, taken up front; PostgreSQL by a transaction-scoped advisory lock), so the sums read
inside it include every hold another process placed before, and a burst can't overspend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.budgets import PERIODS, Limit, Member, Totals, period_start
from bot.schema import budgets, spend, spend_logs
from bot.storage.base import StoreBase, _insert, _now

LEDGER_LOCK = 0x6561_7365_6C_24  # "easel$": one placement at a time on PostgreSQL
COUNTED = ("held", "settled")
RECENT = 20  # how many recent costs the median estimate looks at


@dataclass(frozen=True)
class Hold:
    """What a job is about to spend, as written to the ledger."""

    guild_id: str | None
    user_id: str | None
    model: str
    shape: str
    images: int
    estimate: float
    created_at: datetime


@dataclass(frozen=True)
class SpendRow:
    job_id: int
    guild_id: str | None
    user_id: str | None
    model: str
    images: int
    amount: float
    state: str
    estimated: bool
    outcome: str | None
    seconds: float | None
    created_at: datetime


class BudgetTables(StoreBase):
    """The ``budgets``, ``spend`` and ``spend_logs`` tables."""

    async def budget_limits(self, guild_id: str) -> list[Limit]:
        """Every limit of one server: one indexed lookup, cached by the caller."""
        stmt = sa.select(budgets).where(budgets.c.guild_id == guild_id)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            Limit(r["scope"], r["target_id"], r["kind"], r["period"], r["amount"]) for r in rows
        ]

    async def set_limit(self, guild_id: str, limit: Limit) -> None:
        """Add or replace one limit."""
        async with self._tx() as conn:
            stmt = _insert(conn, budgets).values(
                guild_id=guild_id,
                scope=limit.scope,
                target_id=limit.target_id,
                kind=limit.kind,
                period=limit.period,
                amount=limit.amount,
                updated_at=_now(),
            )
            keys = ("guild_id", "scope", "target_id", "kind", "period")
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[budgets.c[k] for k in keys],
                    set_={"amount": stmt.excluded.amount, "updated_at": stmt.excluded.updated_at},
                )
            )

    async def clear_limits(
        self, guild_id: str, scope: str, target_id: str, kinds: tuple[str, ...]
    ) -> int:
        """Remove a scope's limits of these kinds; how many there were."""
        stmt = budgets.delete().where(
            budgets.c.guild_id == guild_id,
            budgets.c.scope == scope,
            budgets.c.target_id == target_id,
            budgets.c.kind.in_(kinds),
        )
        async with self._tx() as conn:
            return int((await conn.execute(stmt)).rowcount or 0)

    async def median_cost(self, model: str, shape: str) -> float | None:
        """The median measured cost of the last jobs of this model and shape."""
        c = spend.c
        stmt = (
            sa.select(c.amount)
            .where(c.model == model, c.shape == shape, c.state == "settled", ~c.estimated)
            .order_by(c.created_at.desc())
            .limit(RECENT)
        )
        async with self._tx() as conn:
            costs = sorted(float(x) for x in (await conn.scalars(stmt)).all())
        if not costs:
            return None
        middle = len(costs) // 2
        return costs[middle] if len(costs) % 2 else (costs[middle - 1] + costs[middle]) / 2

    async def spend_totals(self, member: Member, now: datetime) -> Totals:
        """What a member and their server have spent (and hold) in each period holding ``now``."""
        async with self._tx() as conn:
            return await ledger_totals(conn, member, now)

    async def record_refusal(self, job_id: int, hold: Hold, outcome: str) -> None:
        """Keep a refused job in the ledger at no cost, so the stats can count refusals."""
        async with self._tx() as conn:
            await insert_hold(conn, job_id, hold, state="refused", outcome=outcome)

    async def spend_rows(
        self, guild_id: str | None, since: datetime, until: datetime | None = None
    ) -> list[SpendRow]:
        """The ledger of a server (every server: None) from ``since``, oldest first."""
        c = spend.c
        stmt = sa.select(spend).where(c.created_at >= since).order_by(c.created_at, c.job_id)
        if guild_id is not None:
            stmt = stmt.where(c.guild_id == guild_id)
        if until is not None:
            stmt = stmt.where(c.created_at < until)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_row(r) for r in rows]

    async def spend_of(self, job_id: int) -> SpendRow | None:
        async with self._tx() as conn:
            row = (await conn.execute(spend.select().where(spend.c.job_id == job_id))).mappings()
            found = row.first()
        return _row(found) if found else None

    async def log_channel(self, guild_id: str) -> str | None:
        stmt = sa.select(spend_logs.c.channel_id).where(spend_logs.c.guild_id == guild_id)
        async with self._tx() as conn:
            return await conn.scalar(stmt)

    async def set_log_channel(self, guild_id: str, channel_id: str | None) -> None:
        """Log every job of the server in ``channel_id``; None stops."""
        async with self._tx() as conn:
            await conn.execute(spend_logs.delete().where(spend_logs.c.guild_id == guild_id))
            if channel_id is not None:
                values = {"guild_id": guild_id, "channel_id": channel_id, "updated_at": _now()}
                await conn.execute(spend_logs.insert().values(values))


def _row(r: Any) -> SpendRow:
    return SpendRow(
        r["job_id"],
        r["guild_id"],
        r["user_id"],
        r["model"],
        r["images"],
        float(r["amount"]),
        r["state"],
        bool(r["estimated"]),
        r["outcome"],
        r["seconds"],
        r["created_at"],
    )


async def lock_ledger(conn: AsyncConnection) -> None:
    """Serialise placements; SQLite's transaction already holds the write lock (immediate)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})


async def ledger_totals(conn: AsyncConnection, member: Member, now: datetime) -> Totals:
    """The sums ``bot.budgets.check`` needs, in one indexed query over the longest period."""
    c = spend.c
    guild = c.guild_id == member.guild_id if member.guild_id else c.guild_id.is_(None)
    mine = sa.and_(guild, c.user_id == member.user_id)
    columns: list[Any] = []
    for period in PERIODS:
        recent = c.created_at >= period_start(period, now)
        for value in (c.amount, c.images):
            columns.append(sa.func.sum(value).filter(sa.and_(mine, recent)))
            columns.append(sa.func.sum(value).filter(sa.and_(guild, recent)))
    columns.append(sa.func.sum(c.amount).filter(c.created_at >= period_start("day", now)))
    columns.append(sa.func.max(c.created_at).filter(mine))
    since = min(period_start(p, now) for p in PERIODS)
    stmt = sa.select(*columns).where(c.state.in_(COUNTED), c.created_at >= since)
    row = (await conn.execute(stmt)).one()
    totals = Totals(bot_day_usd=float(row[-2] or 0))
    totals.last_job_at = row[-1]
    for i, period in enumerate(PERIODS):
        user_usd, server_usd, user_images, server_images = row[i * 4 : i * 4 + 4]
        totals.user_usd[period] = float(user_usd or 0)
        totals.server_usd[period] = float(server_usd or 0)
        totals.user_images[period] = int(user_images or 0)
        totals.server_images[period] = int(server_images or 0)
    return totals


async def insert_hold(
    conn: AsyncConnection,
    job_id: int,
    hold: Hold,
    *,
    state: str = "held",
    outcome: str | None = None,
) -> None:
    await conn.execute(
        spend.insert().values(
            job_id=job_id,
            guild_id=hold.guild_id,
            user_id=hold.user_id,
            model=hold.model,
            shape=hold.shape,
            images=hold.images,
            estimate=hold.estimate,
            amount=hold.estimate if state == "held" else 0.0,
            state=state,
            estimated=False,
            outcome=outcome,
            created_at=hold.created_at,
        )
    )


async def close_hold(
    conn: AsyncConnection,
    job_id: int,
    status: str,
    cost: float | None,
    now: datetime,
    started: datetime | None,
) -> None:
    """In the transaction that ends a job (begun at ``started``, if it ran): a done job's hold
    becomes its cost (the estimate, marked estimated, if the router gave none); a failed or
    cancelled one's is released."""
    c = spend.c
    seconds = (now - started).total_seconds() if started is not None else None
    values: dict[str, Any] = {"settled_at": now, "outcome": status, "seconds": seconds}
    if status == "done":
        amount = c.estimate if cost is None else sa.literal(float(cost), sa.Float)
        values |= {"state": "settled", "amount": amount, "estimated": cost is None}
    else:
        values |= {"state": "released", "amount": 0.0}
    await conn.execute(spend.update().where(c.job_id == job_id, c.state == "held").values(values))
