"""Refine in a thread: every message in an Easel thread is a turn of one conversation, and
``/easel-thread`` changes the thread's settings. The conversation itself lives in
``bot.sessions``; creating and rebuilding threads in ``cogs.threads``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import Session
from bot.errors import EaselError, NotAllowed
from bot.inputs import RawImage
from cogs import links
from cogs.imagine import model_choices
from cogs.replies import error_kwargs, reply
from cogs.threads import Threads, threads_of

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)


class Refine(commands.Cog):
    """Turns in refine threads, and their settings."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @property
    def threads(self) -> Threads:
        return threads_of(self.bot)

    async def on_thread_message(self, message: discord.Message) -> bool:
        """Take the message as a turn if its thread is Easel's; False if it isn't."""
        assert isinstance(message.channel, discord.Thread)
        thread = message.channel
        if self.threads.known_not_ours(thread.id):
            return False
        async with self.threads.lock(thread.id):  # before any other await: Discord's order
            session = await self.bot.service.sessions.for_thread(str(thread.id))
            if session is None and not self.threads.known_not_ours(thread.id):
                session = await self.threads.rebuild(thread, before=message)
            if session is not None:
                await self.take_turn(message, session)
                return True
        self.threads.drop_lock(thread.id)  # after it is released; a thread not ours keeps none
        return False

    async def take_turn(self, message: discord.Message, session: Session) -> None:
        try:
            self.bot.service.sessions.check_may_refine(session, str(message.author.id))
            await self.bot.service.policy.admit("refine", links.reply_origin(message))
        except NotAllowed as exc:
            await message.reply(exc.user_message, mention_author=False)
            return
        inputs = [
            RawImage(await a.read(), a.filename)
            for a in message.attachments
            if (a.content_type or "").startswith("image/")
            and a.size <= self.bot.settings.max_input_bytes
        ]
        # A reply that shows progress and then becomes the result.
        progress = await message.reply("⏳ Refining…", mention_author=False)
        origin = links.reply_origin(message, progress_message_id=str(progress.id))
        base = await self._pointed_version(message)
        if base is not None:
            origin["base_job"] = base  # the user replied to an earlier version: edit that one
        try:
            job = await self.bot.service.submit_refine(
                session.id,
                message.content,
                inputs,
                user_id=str(message.author.id),
                origin=origin,
                sees=links.sees(message.guild, message.author),
            )
        except EaselError as exc:
            await progress.edit(
                content=None, **await error_kwargs(self.bot, exc, prompt=message.content)
            )
            return
        await self.bot.delivery.launch(job)

    async def _pointed_version(self, message: discord.Message) -> int | None:
        """The job behind the result of Easel's this message replies to, if it replies to one."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        target = ref.resolved if isinstance(ref.resolved, discord.Message) else None
        if target is None:
            try:
                target = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return None
        return links.job_id_of(target, self.bot.user.id if self.bot.user else None)

    @app_commands.command(name="easel-thread", description="Settings of this refine thread")
    @app_commands.describe(
        model="The model later turns use (type to search)",
        owner_only="Only the person who started the thread may refine in it",
    )
    async def thread_settings(
        self,
        interaction: discord.Interaction[Any],
        model: str | None = None,
        owner_only: bool | None = None,
    ) -> None:
        session = await self._own_session(interaction)
        sessions = self.bot.service.sessions
        if model is None and owner_only is None:
            raise NotAllowed("Pick a model or the owner-only setting to change.")
        if model is not None:
            await self._allowed(interaction, model)
            session = await sessions.set_model(session, model)
            label = self.bot.service.catalog.get(session.model).label
            # Said in the thread for everyone: the next turn behaves differently.
            await interaction.response.send_message(
                f"🔀 From now on this thread uses **{label}**.",
                allowed_mentions=discord.AllowedMentions.none(),
            )
        if owner_only is not None:
            await sessions.set_owner_only(session, owner_only)
            await reply(
                interaction,
                "Only you can refine here now." if owner_only else "Everyone here can refine now.",
            )

    @thread_settings.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.service.catalog, current)

    async def _allowed(self, interaction: discord.Interaction[Any], model: str) -> None:
        """The server's rules for refine threads, and its model allow-list."""
        policy = self.bot.service.policy
        rules = await policy.admit("refine", links.actor_origin(interaction))
        policy.check_model(rules, model, "refine")

    async def _own_session(self, interaction: discord.Interaction[Any]) -> Session:
        """The thread's session, if the user may change it."""
        channel = interaction.channel
        session = (
            await self.bot.service.sessions.for_thread(str(channel.id))
            if isinstance(channel, discord.Thread)
            else None
        )
        if session is None:
            raise NotAllowed("Use this inside an Easel refine thread.")
        perms = getattr(interaction, "permissions", None)
        if str(interaction.user.id) != session.owner_id and not (perms and perms.manage_threads):
            raise NotAllowed(
                "Only the person who started this thread (or someone with "
                "Manage Threads) can change its settings."
            )
        return session


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Refine(bot))
