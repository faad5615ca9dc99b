"""Budget policy, with no store and no Discord: UTC calendar periods, whose allowance applies to
a member, and the refusal a job meets when it would go over one.

A member's allowance for a period is their own limit if set, else the largest of their roles',
else the server's per-member default; the server's own limit caps the sum over all members, and
``BUDGET_USD_PER_DAY`` caps the whole bot. Images quotas follow the same rule; a cooldown takes
the user's own, else the shortest of their roles', else the server's default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

PERIODS = ("day", "week", "month")
KINDS = ("usd", "images", "cooldown")
SCOPES = ("server", "member", "role", "user")
WHO = {
    "your": "user",
    "your role's": "role",
    "the server's per-member": "member",
    "the server's": "server",
    "the bot's": "bot",
}
ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly"}


def period_start(period: str, now: datetime) -> datetime:
    """The start of the UTC calendar day, week (Monday) or month holding ``now``."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(period: str, now: datetime) -> datetime:
    """When the period holding ``now`` resets."""
    start = period_start(period, now)
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(weeks=1)
    return (start + timedelta(days=32)).replace(day=1)


def money(amount: float) -> str:
    """Dollars as people read them: $0.042, $1.25."""
    return f"${amount:,.2f}" if abs(amount) >= 10 else f"${amount:,.3f}"


def timestamp(when: datetime) -> str:
    """A Discord timestamp each reader sees in their own time (relative: "in 3 hours")."""
    return f"<t:{int(when.timestamp())}:R>"


@dataclass(frozen=True)
class Limit:
    """One stored limit: for a scope (and its role or user id), a kind and a period."""

    scope: str
    target_id: str
    kind: str
    period: str
    amount: float


@dataclass(frozen=True)
class Member:
    """Who asks: their server, id and role ids (without @everyone)."""

    guild_id: str | None
    user_id: str | None
    role_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Allowance:
    amount: float
    whose: str  # "your", "your role's", "the server's per-member", "the server's", "the bot's"
    role_id: str | None = None


@dataclass(frozen=True)
class Rules:
    """A server's limits, read once and cached."""

    limits: tuple[Limit, ...] = ()

    def find(self, scope: str, kind: str, period: str, target_id: str = "") -> Limit | None:
        for limit in self.limits:
            if (limit.scope, limit.kind, limit.period, limit.target_id) == (
                scope,
                kind,
                period,
                target_id,
            ):
                return limit
        return None

    def allowance(self, member: Member, kind: str, period: str) -> Allowance | None:
        """The member's own limit, else their roles' largest, else the per-member default."""
        own = self.find("user", kind, period, member.user_id or "")
        if own is not None:
            return Allowance(own.amount, "your")
        roles = [self.find("role", kind, period, r) for r in member.role_ids]
        best = max((r for r in roles if r is not None), key=lambda r: r.amount, default=None)
        if best is not None:
            return Allowance(best.amount, "your role's", best.target_id)
        default = self.find("member", kind, period)
        return Allowance(default.amount, "the server's per-member") if default else None

    def server_cap(self, kind: str, period: str) -> Allowance | None:
        cap = self.find("server", kind, period)
        return Allowance(cap.amount, "the server's") if cap else None

    def cooldown(self, member: Member) -> float | None:
        """Seconds between one member's jobs: their own, else their roles' shortest, else
        the server's default."""
        own = self.find("user", "cooldown", "", member.user_id or "")
        if own is not None:
            return own.amount
        roles = [self.find("role", "cooldown", "", r) for r in member.role_ids]
        known = [r.amount for r in roles if r is not None]
        if known:
            return min(known)
        default = self.find("member", "cooldown", "")
        return default.amount if default else None

    @property
    def empty(self) -> bool:
        return not self.limits


@dataclass
class Totals:
    """What the ledger holds (held and settled) for one member and their server, per period."""

    user_usd: dict[str, float] = field(default_factory=dict)
    user_images: dict[str, int] = field(default_factory=dict)
    server_usd: dict[str, float] = field(default_factory=dict)
    server_images: dict[str, int] = field(default_factory=dict)
    bot_day_usd: float = 0.0
    last_job_at: datetime | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a job may not run now, with the figures the user needs."""

    whose: str
    kind: str  # usd | images | cooldown
    period: str
    limit: float
    left: float
    cost: float  # dollars, images, or seconds for a cooldown
    resets: datetime
    role_id: str | None = None

    def message(self) -> str:
        whose = self.whose + (f" (<@&{self.role_id}>)" if self.role_id else "")
        when = timestamp(self.resets)
        if self.kind == "cooldown":
            return (
                f"Slow down a little: the cooldown is {self.limit:g} s between jobs. "
                f"You can start the next one {when}; your prompt is kept, press Retry then."
            )
        if self.kind == "images":
            what = (
                f"{whose} {ADJECTIVE[self.period]} quota of {self.limit:g} images: "
                f"{self.left:g} left, and this job makes {self.cost:g}"
            )
        else:
            what = (
                f"{whose} {ADJECTIVE[self.period]} budget of {money(self.limit)}: "
                f"{money(self.left)} left, and this job would cost about {money(self.cost)}"
            )
        return (
            f"This would go over {what}. It resets {when}. Your prompt is kept: press Retry "
            "then, or ask for fewer or smaller images."
        )

    @property
    def outcome(self) -> str:
        """A short name for the stats: "role usd/day"."""
        return f"{WHO[self.whose]} {self.kind}/{self.period}".strip("/")


def check(
    rules: Rules,
    member: Member,
    totals: Totals,
    *,
    cost: float,
    images: int,
    now: datetime,
    bot_usd_per_day: float | None = None,
) -> Refusal | None:
    """The first limit this job would break, or None if it may run."""
    wait = rules.cooldown(member)
    if wait and totals.last_job_at is not None:
        ready = totals.last_job_at + timedelta(seconds=wait)
        if ready > now:
            return Refusal("your", "cooldown", "", wait, 0, 0, ready)
    for period in PERIODS:
        for kind, need, own, server in (
            ("usd", cost, totals.user_usd, totals.server_usd),
            ("images", images, totals.user_images, totals.server_images),
        ):
            for allowance, used in (
                (rules.allowance(member, kind, period), own.get(period, 0)),
                (rules.server_cap(kind, period), server.get(period, 0)),
            ):
                refusal = _over(allowance, kind, period, used, need, now)
                if refusal is not None:
                    return refusal
    if bot_usd_per_day is not None:
        bot = Allowance(bot_usd_per_day, "the bot's")
        return _over(bot, "usd", "day", totals.bot_day_usd, cost, now)
    return None


def _over(
    allowance: Allowance | None, kind: str, period: str, used: float, need: float, now: datetime
) -> Refusal | None:
    if allowance is None or used + need <= allowance.amount + 1e-9:
        return None
    left = max(0.0, allowance.amount - used)
    resets = period_end(period, now)
    return Refusal(
        allowance.whose, kind, period, allowance.amount, left, need, resets, allowance.role_id
    )


def rules_of(rows: Iterable[Limit]) -> Rules:
    return Rules(tuple(rows))


def needs_totals(rules: Rules, bot_usd_per_day: float | None) -> bool:
    """Whether any limit applies at all, so a server without any skips the ledger's sums."""
    return not rules.empty or bot_usd_per_day is not None


def earliest(now: datetime, periods: Sequence[str] = PERIODS) -> datetime:
    """The oldest period start the sums need."""
    return min(period_start(p, now) for p in periods)
