"""What the ledger says, for people: a member's usage against their limits, and a server's stats
(spend by user, model and day; job counts, refusals, failures; median and p95 time) with a
chart drawn by Pillow and a CSV of the rows. Pure functions of ledger rows."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from PIL import Image, ImageDraw

from bot.budgets import (
    ADJECTIVE,
    PERIODS,
    Member,
    Rules,
    Totals,
    money,
    period_end,
    period_start,
    timestamp,
)
from bot.storage.budgets import SpendRow

STATS_PERIODS = ("day", "week", "month", "all")
COUNTED = ("held", "settled")


def usage_lines(
    rules: Rules, member: Member, totals: Totals, now: datetime, bot_usd_per_day: float | None
) -> list[str]:
    """One line per period: spent (and images), against each limit that applies, and the reset."""
    lines = []
    for period in PERIODS:
        spent, images = totals.user_usd.get(period, 0.0), totals.user_images.get(period, 0)
        parts = [f"**{ADJECTIVE[period].title()}**: {money(spent)} spent, {images} images"]
        usd = rules.allowance(member, "usd", period)
        if usd is not None:
            left = max(0.0, usd.amount - spent)
            parts.append(f"{money(left)} left of {usd.whose} {money(usd.amount)}")
        quota = rules.allowance(member, "images", period)
        if quota is not None:
            left_images = max(0, int(quota.amount) - images)
            parts.append(f"{left_images} images left of {quota.whose} {quota.amount:g}")
        for kind, used in (("usd", totals.server_usd), ("images", totals.server_images)):
            cap = rules.server_cap(kind, period)
            if cap is not None:
                shown = money(cap.amount) if kind == "usd" else f"{cap.amount:g} images"
                figure = money(used.get(period, 0)) if kind == "usd" else used.get(period, 0)
                parts.append(f"the server has used {figure} of {shown}")
        if period == "day" and bot_usd_per_day is not None:
            parts.append(
                f"the bot has used {money(totals.bot_day_usd)} of {money(bot_usd_per_day)}"
            )
        lines.append(" · ".join(parts) + f" · resets {timestamp(period_end(period, now))}")
    wait = rules.cooldown(member)
    if wait:
        lines.append(f"Cooldown between jobs: {wait:g} s")
    return lines


def stats_window(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The current calendar period, or (for "all") everything up to now."""
    if period == "all":
        return datetime(2000, 1, 1, tzinfo=now.tzinfo), now + timedelta(seconds=1)
    return period_start(period, now), period_end(period, now)


@dataclass
class Stats:
    """A server's ledger, summed."""

    total: float = 0.0
    by_user: dict[str, float] = field(default_factory=dict)
    by_model: dict[str, float] = field(default_factory=dict)
    by_day: dict[date, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)  # done, failed, cancelled, running
    refusals: int = 0
    estimated: int = 0
    median_s: float | None = None
    p95_s: float | None = None


def summarize(rows: list[SpendRow]) -> Stats:
    stats = Stats()
    by_user: defaultdict[str, float] = defaultdict(float)
    by_model: defaultdict[str, float] = defaultdict(float)
    by_day: defaultdict[date, float] = defaultdict(float)
    times = []
    for row in rows:
        if row.state == "refused":
            stats.refusals += 1
            continue
        stats.counts[row.outcome or "running"] += 1
        if row.state in COUNTED:
            stats.total += row.amount
            by_user[row.user_id or "?"] += row.amount
            by_model[row.model] += row.amount
            by_day[row.created_at.date()] += row.amount
        stats.estimated += row.estimated
        if row.outcome == "done" and row.seconds is not None:
            times.append(row.seconds)
    stats.by_user, stats.by_model, stats.by_day = dict(by_user), dict(by_model), dict(by_day)
    if times:
        times.sort()
        stats.median_s = _rank(times, 0.5)
        stats.p95_s = _rank(times, 0.95)
    return stats


def _rank(ordered: list[float], q: float) -> float:
    """The nearest-rank quantile."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def stats_text(stats: Stats, title: str) -> str:
    """The summary posted with the chart; users are mentions (nobody is pinged)."""
    jobs = sum(stats.counts.values())
    lines = [
        f"**{title}**: {money(stats.total)} spent on {jobs} jobs "
        f"({stats.counts['done']} done, {stats.counts['failed']} failed, "
        f"{stats.counts['cancelled']} cancelled), {stats.refusals} refused by a limit.",
    ]
    if stats.estimated:
        lines.append(f"{stats.estimated} costs are estimates: the router reported none.")
    if stats.median_s is not None and stats.p95_s is not None:
        lines.append(f"Time per job: median {stats.median_s:.1f} s, p95 {stats.p95_s:.1f} s.")
    top_users = sorted(stats.by_user.items(), key=lambda kv: -kv[1])[:10]
    if top_users:
        lines.append("By user: " + ", ".join(f"<@{u}> {money(v)}" for u, v in top_users))
    top_models = sorted(stats.by_model.items(), key=lambda kv: -kv[1])[:10]
    if top_models:
        lines.append("By model: " + ", ".join(f"{m} {money(v)}" for m, v in top_models))
    return "\n".join(lines)


def csv_bytes(rows: list[SpendRow]) -> bytes:
    """Every ledger row, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["job_id", "created_at", "user_id", "model", "images", "cost_usd", "state", "estimated"]
        + ["outcome", "seconds"]
    )
    for r in rows:
        writer.writerow(
            [r.job_id, r.created_at.isoformat(), r.user_id, r.model, r.images, f"{r.amount:.6f}"]
            + [r.state, r.estimated, r.outcome or "", "" if r.seconds is None else r.seconds]
        )
    return out.getvalue().encode()


def chart_png(stats: Stats, width: int = 800, height: int = 320) -> bytes:
    """Spend per day as bars (CPU work: call it off the event loop)."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    days = sorted(stats.by_day)
    left, bottom, top = 60, height - 40, 30
    draw.text((left, 8), f"Spend per day (USD), total {money(stats.total)}", fill="black")
    draw.line((left, top, left, bottom, width - 10, bottom), fill="black")
    peak = max(stats.by_day.values(), default=0.0) or 1.0
    draw.text((4, top - 6), money(peak), fill="black")
    if days:
        slot = (width - left - 20) / len(days)
        for i, day in enumerate(days):
            x0 = left + 5 + i * slot
            bar = (bottom - top) * stats.by_day[day] / peak
            draw.rectangle((x0, bottom - bar, x0 + max(2, slot * 0.7), bottom), fill="#5865f2")
            if len(days) <= 16 or i % math.ceil(len(days) / 16) == 0:
                draw.text((x0, bottom + 6), day.strftime("%m-%d"), fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
