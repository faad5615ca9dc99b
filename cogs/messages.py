"""The one ``on_message``: a message is a refine turn, a reply edit or nothing, and the first
match wins, so one message never starts two jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import discord
from discord.ext import commands

from cogs.edit import Edit
from cogs.refine import Refine

if TYPE_CHECKING:
    from bot.app import EaselBot


class Messages(commands.Cog):
    """Decides which way in a plain message is."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        # cast, not isinstance: an extension's module is executed afresh on every load.
        refine = cast(Refine, self.bot.get_cog("Refine"))
        edit = cast(Edit, self.bot.get_cog("Edit"))
        # A message in an Easel thread is a turn and nothing else, a reply to a version too.
        if isinstance(message.channel, discord.Thread) and await refine.on_thread_message(message):
            return
        if message.reference is not None:
            await edit.on_reply(message)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Messages(bot))
