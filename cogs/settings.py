"""/easel-settings: the server's settings panel (``cogs.panel``), and the one-step
``replies:`` option it always had. Translation only: the rules live in ``bot.rules``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotAllowed
from cogs.panel import Panel
from cogs.panel_controls import set_replies
from cogs.replies import send_error

if TYPE_CHECKING:
    from bot.app import EaselBot

REPLIES_SAID = {
    "all": "Every reply to an image in this channel now asks me for an edit.",
    "mentions": "Replies ask me for an edit when they mention me or reply to my results.",
}


class Settings(commands.Cog):
    """The server's and the channel's settings."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @app_commands.command(name="easel-settings", description="Easel's settings for this server")
    @app_commands.describe(replies="Which replies to an image ask Easel for an edit here")
    @app_commands.choices(
        replies=[
            app_commands.Choice(
                name="Replies that mention Easel (or reply to its results)", value="mentions"
            ),
            app_commands.Choice(name="Every reply to an image", value="all"),
        ]
    )
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.guild_only()
    async def easel_settings(
        self, interaction: discord.Interaction[EaselBot], replies: str | None = None
    ) -> None:
        perms = interaction.permissions
        if not (perms.manage_channels or perms.manage_guild):
            await send_error(
                interaction, NotAllowed("You need the Manage Channels permission for that.")
            )
            return
        channel_id = str(interaction.channel_id)
        if replies is not None:
            if not perms.manage_channels:
                raise NotAllowed("You need the Manage Channels permission for that.")
            await set_replies(self.bot, channel_id, replies)
            await interaction.response.send_message(REPLIES_SAID[replies], ephemeral=True)
            return
        current = await self.bot.service.store.channel_settings(channel_id)
        panel = Panel(
            self.bot, str(interaction.guild_id), channel_id, current.get("replies", "mentions")
        )
        await interaction.response.send_message(**await panel.render(), ephemeral=True)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Settings(bot))
