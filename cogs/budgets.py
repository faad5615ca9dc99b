"""/easel-budget: an owner sets, clears and shows budgets in USD, image quotas and cooldowns for
the server, each member, a role or a user, and the log channel. Translation only: the limits and
their resolution live in ``bot.budgets`` and ``bot.spending``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.budgets import ADJECTIVE, Limit, money
from bot.errors import InvalidOption
from bot.spending import member_of
from cogs import links
from cogs.usage import usage_of

if TYPE_CHECKING:
    from bot.app import EaselBot

PER = [app_commands.Choice(name=p, value=p) for p in ("day", "week", "month")]
WHAT = {"budget": ("usd",), "quota": ("images",), "cooldown": ("cooldown",)}
WHAT_ALL = ("usd", "images", "cooldown")


def scope_of(
    user: discord.abc.User | None, role: discord.Role | None, each_member: bool
) -> tuple[str, str, str]:
    """(scope, target id, how to name it) from the options; neither: the whole server."""
    if sum(x is not None and x is not False for x in (user, role, each_member)) > 1:
        raise InvalidOption("Give a user, a role or each_member, not more than one.")
    if user is not None:
        return "user", str(user.id), f"<@{user.id}>"
    if role is not None:
        return "role", str(role.id), f"members with <@&{role.id}>"
    if each_member:
        return "member", "", "each member (unless a role or a user has their own)"
    return "server", "", "the whole server"


def limit_text(limit: Limit) -> str:
    if limit.kind == "cooldown":
        return f"a cooldown of {limit.amount:g} s between jobs"
    if limit.kind == "images":
        return f"{limit.amount:g} images {ADJECTIVE[limit.period]}"
    return f"{money(limit.amount)} {ADJECTIVE[limit.period]}"


def target_text(limit: Limit) -> str:
    if limit.scope == "user":
        return f"<@{limit.target_id}>"
    if limit.scope == "role":
        return f"<@&{limit.target_id}>"
    return "each member" if limit.scope == "member" else "the server"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Budgets(commands.GroupCog, group_name="easel-budget", group_description="Spend limits"):
    """Budgets, quotas, cooldowns and the log channel of one server."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        super().__init__()

    async def _set(
        self, interaction: discord.Interaction[EaselBot], limit: Limit, who: str
    ) -> None:
        await self.bot.service.spending.set_limit(str(interaction.guild_id), limit)
        await interaction.response.send_message(f"Set: {who}: {limit_text(limit)}.", ephemeral=True)

    @app_commands.command(
        name="set", description="Set a budget in USD (neither user nor role: the server)"
    )
    @app_commands.describe(
        amount="US dollars per period",
        per="The UTC calendar period",
        each_member="The default allowance of every member, instead of the server's total",
    )
    @app_commands.choices(per=PER)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def set_budget(
        self,
        interaction: discord.Interaction[EaselBot],
        amount: app_commands.Range[float, 0, 100000],
        per: str,
        user: discord.Member | None = None,
        role: discord.Role | None = None,
        each_member: bool = False,
    ) -> None:
        scope, target, who = scope_of(user, role, each_member)
        await self._set(interaction, Limit(scope, target, "usd", per, amount), who)

    @app_commands.command(name="quota", description="Set how many images may be made per period")
    @app_commands.choices(per=PER)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def set_quota(
        self,
        interaction: discord.Interaction[EaselBot],
        images: app_commands.Range[int, 0, 1000000],
        per: str,
        user: discord.Member | None = None,
        role: discord.Role | None = None,
        each_member: bool = False,
    ) -> None:
        scope, target, who = scope_of(user, role, each_member)
        await self._set(interaction, Limit(scope, target, "images", per, images), who)

    @app_commands.command(name="cooldown", description="Set the wait between one member's jobs")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def set_cooldown(
        self,
        interaction: discord.Interaction[EaselBot],
        seconds: app_commands.Range[int, 0, 86400],
        user: discord.Member | None = None,
        role: discord.Role | None = None,
    ) -> None:
        scope, target, who = scope_of(user, role, user is None and role is None)
        await self._set(interaction, Limit(scope, target, "cooldown", "", seconds), who)

    @app_commands.command(
        name="clear", description="Remove limits (neither user nor role: the server's)"
    )
    @app_commands.choices(
        what=[app_commands.Choice(name=w, value=w) for w in ("all", *WHAT)],
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def clear(
        self,
        interaction: discord.Interaction[EaselBot],
        user: discord.Member | None = None,
        role: discord.Role | None = None,
        each_member: bool = False,
        what: str = "all",
    ) -> None:
        scope, target, who = scope_of(user, role, each_member)
        kinds = WHAT.get(what, WHAT_ALL)
        spending, guild = self.bot.service.spending, str(interaction.guild_id)
        cleared = await spending.clear_limits(guild, scope, target, kinds)
        if scope == "server" and "cooldown" in kinds:  # the server's cooldown is every member's
            cleared += await spending.clear_limits(guild, "member", "", ("cooldown",))
        text = f"Cleared {cleared} limit(s) of {who}." if cleared else f"{who} had no such limit."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="show", description="The server's limits, or what applies to a user")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(
        self, interaction: discord.Interaction[EaselBot], user: discord.Member | None = None
    ) -> None:
        spending = self.bot.service.spending
        rules = await spending.rules(str(interaction.guild_id))
        if user is not None:
            origin = {"guild_id": str(interaction.guild_id), "role_ids": links.role_ids(user)}
            member = member_of(str(user.id), origin)
            lines = await usage_of(self.bot, member)
            await interaction.response.send_message(f"<@{user.id}>:\n" + lines, ephemeral=True)
            return
        shown = [f"{target_text(x)}: {limit_text(x)}" for x in rules.limits]
        channel = await self.bot.service.store.log_channel(str(interaction.guild_id))
        shown.append(f"Log channel: <#{channel}>" if channel else "No log channel.")
        await interaction.response.send_message(
            "\n".join(shown if rules.limits else ["No limits are set.", *shown]), ephemeral=True
        )

    @app_commands.command(name="log", description="Post every job in a channel (none: stop)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def log_channel(
        self,
        interaction: discord.Interaction[EaselBot],
        channel: discord.TextChannel | None = None,
    ) -> None:
        channel_id = str(channel.id) if channel else None
        await self.bot.service.store.set_log_channel(str(interaction.guild_id), channel_id)
        text = f"Every job will be logged in <#{channel_id}>." if channel_id else "Logging stopped."
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Budgets(bot))
