"""What a request will cost, and its hold: the estimate (the price table, refined by the median
cost of recent jobs of the same shape), the confirmation above ``CONFIRM_ABOVE_USD``, and the
check-and-hold placed with the job in one transaction (``bot.storage.budgets``).

A server's limits are cached for ``ttl`` seconds (and dropped at once when changed here), so a
Discord event costs at most the one indexed lookup of the limits; another process sees a change
within ``ttl``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.budgets import Limit, Member, Rules, Totals, check, money, needs_totals, rules_of
from bot.catalog import Catalog
from bot.domain import ImageSpec
from bot.errors import NeedsConfirmation, OverBudget
from bot.inputs import Request
from bot.prices import list_price, shape_of
from bot.storage import Store
from bot.storage.budgets import Hold, insert_hold, ledger_totals, lock_ledger

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def member_of(user_id: str | None, origin: dict[str, Any]) -> Member:
    """The member behind a request: its server and roles come with the origin (``role_ids``)."""
    roles = tuple(str(r) for r in origin.get("role_ids") or ())
    return Member(origin.get("guild_id"), user_id or origin.get("user_id"), roles)


@dataclass(frozen=True)
class Plan:
    """A request's hold, ready to be placed in the transaction that stores its job."""

    hold: Hold
    member: Member
    rules: Rules
    bot_usd_per_day: float | None

    async def place(self, conn: AsyncConnection, job_id: int) -> None:
        """Check and hold, as one step; raising OverBudget stores nothing."""
        await lock_ledger(conn)
        if needs_totals(self.rules, self.bot_usd_per_day):
            self.refuse_over(await ledger_totals(conn, self.member, self.hold.created_at))
        await insert_hold(conn, job_id, self.hold)

    def refuse_over(self, totals: Totals) -> None:
        """Raise ``OverBudget`` with the figures if this hold would break a limit."""
        refusal = check(
            self.rules,
            self.member,
            totals,
            cost=self.hold.estimate,
            images=self.hold.images,
            now=self.hold.created_at,
            bot_usd_per_day=self.bot_usd_per_day,
        )
        if refusal is not None:
            raise OverBudget(refusal.message(), refusal=refusal)


class Spending:
    """Estimates, cached limits and the plan of each request's hold."""

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        *,
        bot_usd_per_day: float | None = None,
        confirm_above: float = 0.50,
        clock: Clock = utcnow,
        ttl: float = 15.0,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.bot_usd_per_day = bot_usd_per_day
        self.confirm_above = confirm_above
        self.clock = clock  # the tests move it to cross a period's end
        self.ttl = ttl
        self._rules: dict[str, tuple[float, Rules]] = {}

    async def rules(self, guild_id: str | None) -> Rules:
        """A server's limits, from the cache while it is fresh."""
        if not guild_id:
            return Rules()
        cached = self._rules.get(guild_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        rules = rules_of(await self.store.budget_limits(guild_id))
        self._rules[guild_id] = (time.monotonic(), rules)
        return rules

    async def set_limit(self, guild_id: str, limit: Limit) -> None:
        await self.store.set_limit(guild_id, limit)
        self._rules.pop(guild_id, None)

    async def clear_limits(
        self, guild_id: str, scope: str, target_id: str, kinds: tuple[str, ...]
    ) -> int:
        cleared = await self.store.clear_limits(guild_id, scope, target_id, kinds)
        self._rules.pop(guild_id, None)
        return cleared

    async def estimate(self, spec: ImageSpec, inputs: int = 0) -> float:
        """What the job should cost: the recent median of its shape, else the price table."""
        measured = await self.store.median_cost(spec.model, shape_of(spec))
        if measured is not None:
            return measured
        return list_price(self.catalog.get(spec.model), spec, inputs)

    async def plan(self, request: Request, inputs: int) -> Plan:
        """The hold ``request`` would place: its estimate, its member and their server's rules."""
        estimate = await self.estimate(request.spec, inputs)
        member = member_of(request.user_id, request.origin)
        hold = Hold(
            guild_id=member.guild_id,
            user_id=member.user_id,
            model=request.spec.model,
            shape=shape_of(request.spec),
            images=request.spec.n,
            estimate=estimate,
            created_at=self.clock(),
        )
        return Plan(hold, member, await self.rules(member.guild_id), self.bot_usd_per_day)

    async def ask_first(self, plan: Plan, request: Request, *, confirmed: bool) -> None:
        """Above the threshold, a job from Discord waits for Confirm (``NeedsConfirmation``);
        one the budgets would refuse anyway is refused now, not after the press."""
        estimate = plan.hold.estimate
        if confirmed or not request.origin.get("channel_id"):
            return
        if not 0 < self.confirm_above < estimate:
            return
        if needs_totals(plan.rules, plan.bot_usd_per_day):
            totals = await self.store.spend_totals(plan.member, plan.hold.created_at)
            plan.refuse_over(totals)
        raise NeedsConfirmation(
            f"This job would cost about {money(estimate)}, more than "
            f"{money(self.confirm_above)}. Press Confirm to run it.",
            estimate=estimate,
        )

    async def refused(self, job_id: int, plan: Plan, error: OverBudget) -> None:
        """Count the refusal in the ledger (at no cost), for the stats."""
        outcome = getattr(error.refusal, "outcome", "refused")
        await self.store.record_refusal(job_id, plan.hold, outcome)
