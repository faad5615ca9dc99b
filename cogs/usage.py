"""/easel-usage (a member's spend and what is left) and /easel-stats (a server's spend by user,
model and day, with a chart and a CSV). Translation only: the sums are ``bot.stats``'s."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.budgets import Member
from bot.errors import NotAllowed
from bot.spending import member_of
from bot.stats import (
    STATS_PERIODS,
    chart_png,
    csv_bytes,
    stats_text,
    stats_window,
    summarize,
    usage_lines,
)
from cogs import links

if TYPE_CHECKING:
    from bot.app import EaselBot


async def usage_of(bot: EaselBot, member: Member) -> str:
    """A member's spend in each period, against every limit that applies to them."""
    spending = bot.service.spending
    now = spending.clock()
    rules = await spending.rules(member.guild_id)
    totals = await spending.store.spend_totals(member, now)
    return "\n".join(usage_lines(rules, member, totals, now, spending.bot_usd_per_day))


class Usage(commands.Cog):
    """/easel-usage and /easel-stats."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @app_commands.command(name="easel-usage", description="What you have spent and what is left")
    @app_commands.describe(user="Someone else's usage (needs Manage Server)")
    async def usage(
        self, interaction: discord.Interaction[EaselBot], user: discord.Member | None = None
    ) -> None:
        who = user or interaction.user
        perms = interaction.permissions
        if user is not None and user.id != interaction.user.id and not perms.manage_guild:
            raise NotAllowed("You need the Manage Server permission to see someone else's usage.")
        guild = str(interaction.guild_id) if interaction.guild_id else None
        member = member_of(str(who.id), {"guild_id": guild, "role_ids": links.role_ids(who)})
        text = await usage_of(self.bot, member)
        await interaction.response.send_message(f"Usage of <@{who.id}>:\n{text}", ephemeral=True)

    @app_commands.command(name="easel-stats", description="Spend, jobs and times of this server")
    @app_commands.describe(period="This UTC day, week, month, or all time")
    @app_commands.choices(period=[app_commands.Choice(name=p, value=p) for p in STATS_PERIODS])
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def stats(
        self, interaction: discord.Interaction[EaselBot], period: str = "month"
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        spending = self.bot.service.spending
        since, until = stats_window(period, spending.clock())
        rows = await spending.store.spend_rows(str(interaction.guild_id), since, until)
        summary = summarize(rows)
        png = await asyncio.to_thread(chart_png, summary)
        title = "All time" if period == "all" else f"This {period} (since {since:%Y-%m-%d} UTC)"
        files = [
            discord.File(io.BytesIO(png), filename="easel-spend.png"),
            discord.File(io.BytesIO(csv_bytes(rows)), filename="easel-spend.csv"),
        ]
        await interaction.followup.send(stats_text(summary, title), files=files, ephemeral=True)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Usage(bot))
