"""/easel-models: the models this server may use; ``refresh`` re-reads the router's list."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotAllowed
from bot.live_catalog import default_models, describe, refresh, server_models
from cogs.replies import send_error

if TYPE_CHECKING:
    from bot.app import EaselBot

_EMBED_LIMIT = 4000  # of Discord's 4096 characters in an embed description


class Models(commands.Cog):
    """The /easel-models command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @app_commands.command(name="easel-models", description="The image models you can use here")
    @app_commands.describe(refresh="Read the router's model list again (Manage Server)")
    async def models(
        self, interaction: discord.Interaction[EaselBot], refresh: bool = False
    ) -> None:
        perms = getattr(interaction, "permissions", None)
        if refresh and not (perms and perms.manage_guild):
            error = NotAllowed("You need the Manage Server permission to refresh the model list.")
            await send_error(interaction, error)
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        note = await self._refresh() if refresh else None
        server = str(interaction.guild_id) if interaction.guild_id else None
        allowed = (await self.bot.service.policy.rules(server)).models
        text = models_text(self.bot, allowed, note)
        embed = discord.Embed(title="Image models", description=text)
        await interaction.edit_original_response(embed=embed)

    async def _refresh(self) -> str:
        service, settings = self.bot.service, self.bot.settings
        found = await refresh(service.catalog, service.router, default_models(settings))
        if not found.live:
            return f"⚠️ The router's model list failed ({found.error}); showing the built-in one."
        return "\n".join([f"Refreshed: the router offers {found.offered}.", *found.warnings()])


def models_text(bot: EaselBot, allowed: tuple[str, ...], note: str | None) -> str:
    """The list as one embed description, cut short with a count of what is left out."""
    catalog = bot.service.catalog
    source = "from the router's list" if catalog.live else "built-in list (the router's failed)"
    lines = [note] if note else []
    lines.append(f"Router: {bot.settings.kind}, {source}.")
    if allowed:
        lines.append("This server allows only these models.")
    models = server_models(catalog, allowed)
    for index, model in enumerate(models):
        line = f"• {describe(model)}"
        if sum(len(x) + 1 for x in lines) + len(line) > _EMBED_LIMIT - 40:
            lines.append(f"… and {len(models) - index} more.")
            break
        lines.append(line)
    return "\n".join(lines)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Models(bot))
