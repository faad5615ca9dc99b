"""Refine in a thread: every message in an Easel thread is a turn of one conversation.

The session and every turn live in the store (so a thread keeps working after a restart); if the
store has no record of an Easel thread, the session is rebuilt from the thread's own history.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import images
from bot.domain import Job, Session
from bot.errors import EaselError
from bot.service import RawImage
from cogs import render
from cogs.delivery import reply_origin
from cogs.ui import JobButton, reply

if TYPE_CHECKING:
    from bot.app import EaselBot
    from bot.storage import Store

log = logging.getLogger(__name__)

SPEC_KEYS = ("aspect_ratio", "resolution", "size", "quality", "output_format", "background")
JOB_ID = re.compile(r"easel:retry:(\d+)")


def thread_name(prompt: str) -> str:
    name = " ".join(prompt.split())
    return (name[:90] + "…") if len(name) > 90 else (name or "Easel")


def refine_buttons(job: Job) -> list[discord.ui.Item[Any]]:
    """Thread buttons for a finished result: start a thread, or revert / branch inside one."""
    if job.session_id is None:
        return [RefineButton(job.id)]
    return [RevertButton(job.id), BranchButton(job.id)]


class RefineButton(JobButton, template=r"easel:refine:(?P<id>\d+)"):
    action, label, emoji = "refine", "Refine in thread", "🧵"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None or interaction.message is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        cog: Refine = interaction.client.get_cog("Refine")
        thread = await cog.open_thread(interaction.message, job, str(interaction.user.id))
        await interaction.followup.send(
            f"Started {thread.mention}: every message there refines the latest image.",
            ephemeral=True,
        )


class RevertButton(JobButton, template=r"easel:revert:(?P<id>\d+)"):
    action, label, emoji = "revert", "Revert to this", "↩️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None or job.session_id is None:
            return
        store = interaction.client.service.store
        turn = next(
            (
                t
                for t in await store.turns(job.session_id)
                if t.job_id == job.id and t.role == "assistant"
            ),
            None,
        )
        if turn is None:
            await reply(interaction, "That version isn't part of this conversation any more.")
            return
        await store.update_session(job.session_id, head_turn_id=turn.id)
        await reply(interaction, f"The next message refines v{turn.version}.")


class BranchButton(JobButton, template=r"easel:branch:(?P<id>\d+)"):
    action, label, emoji = "branch", "Branch", "🌿"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None or job.session_id is None or interaction.channel is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        cog: Refine = interaction.client.get_cog("Refine")
        thread = await cog.branch(interaction, job)
        await interaction.followup.send(f"Branched into {thread.mention}.", ephemeral=True)


class Refine(commands.Cog):
    """Thread sessions: opening, taking turns, reverting, branching, rebuilding."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        # Handlers run concurrently; a FIFO lock per thread, taken before the first await,
        # keeps turns in the order Discord delivered the messages.
        self._order: dict[int, asyncio.Lock] = {}

    @property
    def store(self) -> Store:
        return self.bot.service.store

    async def open_thread(
        self,
        message: discord.Message,
        job: Job,
        owner_id: str,
        *,
        upto_job: int | None = None,
        parent: Session | None = None,
    ) -> discord.Thread:
        thread = await message.create_thread(
            name=thread_name(job.prompt), auto_archive_duration=1440
        )
        # Messages in the new thread wait for its session (taken before any other await).
        async with self._order.setdefault(thread.id, asyncio.Lock()):
            await self.start_session(thread, job, owner_id, parent=parent, upto_job=upto_job)
        await thread.send(
            "Every message here refines the latest image. Attach images to add "
            "them; use ↩️ Revert or 🌿 Branch on any version."
        )
        return thread

    async def start_session(
        self,
        thread: discord.Thread,
        job: Job,
        owner_id: str,
        *,
        parent: Session | None = None,
        upto_job: int | None = None,
    ) -> Session:
        existing = await self.store.session_by_thread(str(thread.id))
        if existing is not None:
            return existing  # a message in the thread got there first and rebuilt it
        model = self.bot.service.catalog.get(job.spec.model)
        settings = {"spec": {k: v for k, v in job.params.items() if k in SPEC_KEYS}}
        session = await self.store.create_session(
            thread_id=str(thread.id),
            channel_id=str(thread.parent_id),
            guild_id=str(thread.guild.id),
            owner_id=owner_id,
            model=model.id,
            family=model.family.value,
            settings=settings,
            parent_session_id=parent.id if parent else None,
        )
        if parent is not None:
            await self._copy_turns(parent, session, upto_job)
        else:
            turn = await self.bot.service.add_job_turns(
                session.id, job, model, version=1, text=job.result_text, images=job.result_images
            )
            await self.store.update_session(session.id, head_turn_id=turn.id)
        return session

    async def _copy_turns(self, parent: Session, session: Session, upto_job: int | None) -> None:
        head = None
        for turn in await self.store.turns(parent.id):
            if turn.status != "ok":
                continue
            head = await self.store.add_turn(
                session.id,
                role=turn.role,
                text=turn.text,
                images=turn.images,
                reasoning_details=turn.reasoning_details,
                job_id=turn.job_id,
                version=turn.version,
            )
            if turn.role == "assistant" and turn.job_id == upto_job:
                break
        if head is not None:
            await self.store.update_session(session.id, head_turn_id=head.id)

    async def branch(self, interaction: discord.Interaction[Any], job: Job) -> discord.Thread:
        """A new thread, from a copy of this version posted in the parent channel."""
        assert job.session_id is not None
        session = await self.store.get_session(job.session_id)
        if session is None or session.channel_id is None:
            raise EaselError("That conversation no longer exists.")
        channel_id = int(session.channel_id)
        parent_channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(
            channel_id
        )
        assert isinstance(parent_channel, discord.TextChannel)
        image = await self.store.get_image(job.result_images[0])
        fitted = await render.fit_for_upload([image], render.DEFAULT_UPLOAD_LIMIT)
        starter = await parent_channel.send(
            f"🌿 Branch of <#{session.thread_id}> from this version: {render.clip(job.prompt, 200)}",
            file=discord.File(
                io.BytesIO(fitted[0].data), filename=f"easel-{job.id}-branch.{fitted[0].ext}"
            ),
        )
        return await self.open_thread(
            starter, job, str(interaction.user.id), upto_job=job.id, parent=session
        )

    @app_commands.command(name="easel-thread", description="Settings of this refine thread")
    @app_commands.describe(owner_only="Only the person who started the thread may refine in it")
    async def thread_settings(
        self, interaction: discord.Interaction[Any], owner_only: bool
    ) -> None:
        channel = interaction.channel
        session = (
            await self.store.session_by_thread(str(channel.id))
            if isinstance(channel, discord.Thread)
            else None
        )
        if session is None:
            await reply(interaction, "Use this inside an Easel refine thread.")
            return
        perms = getattr(interaction, "permissions", None)
        if str(interaction.user.id) != session.owner_id and not (perms and perms.manage_threads):
            await reply(
                interaction,
                "Only the person who started this thread (or someone with "
                "Manage Threads) can change its settings.",
            )
            return
        await self.store.update_session(
            session.id, settings={**session.settings, "owner_only": owner_only}
        )
        await reply(
            interaction,
            "Only you can refine here now." if owner_only else "Everyone here can refine now.",
        )

    # -- turns ----------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or not isinstance(message.channel, discord.Thread):
            return
        async with self._order.setdefault(message.channel.id, asyncio.Lock()):
            await self.take_turn(message, message.channel)

    async def take_turn(self, message: discord.Message, thread: discord.Thread) -> None:
        session = await self.store.session_by_thread(str(thread.id))
        if session is None:
            session = await self.rebuild(thread, before=message)
            if session is None:
                return  # not an Easel thread
        if session.settings.get("owner_only") and str(message.author.id) != session.owner_id:
            await message.reply(
                "Only the person who started this thread can refine here.", mention_author=False
            )
            return
        inputs = [
            RawImage(await a.read(), a.filename)
            for a in message.attachments
            if (a.content_type or "").startswith("image/")
            and a.size <= self.bot.settings.max_input_bytes
        ]
        # A reply that shows progress and then becomes the result.
        progress = await message.reply("⏳ Refining…", mention_author=False)
        origin = reply_origin(message, progress_message_id=str(progress.id))
        base = await self._pointed_version(message)
        if base is not None:
            origin["base_job"] = base  # the user replied to an earlier version: edit that one
        try:
            job = await self.bot.service.submit_refine(
                session.id, message.content, inputs, user_id=str(message.author.id), origin=origin
            )
        except EaselError as exc:
            payload = render.error_payload(None, exc, prompt=message.content)
            await progress.edit(content=None, embeds=payload.embeds)
            return
        await self.bot.delivery.launch(job)

    async def _pointed_version(self, message: discord.Message) -> int | None:
        """The job behind the result this message replies to, if it replies to one."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        target = ref.resolved if isinstance(ref.resolved, discord.Message) else None
        if target is None:
            try:
                target = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return None
        ids = [m.group(1) for c in _custom_ids(target) if (m := JOB_ID.fullmatch(c))]
        return int(ids[0]) if ids else None

    async def rebuild(
        self, thread: discord.Thread, *, before: discord.Message | None = None
    ) -> Session | None:
        """An Easel thread the store forgot: from the jobs its results point to, or, when
        those are gone too, from the thread's messages and images alone."""
        parent = thread.parent
        if not isinstance(parent, discord.TextChannel):
            return None
        try:
            starter = await parent.fetch_message(thread.id)
        except discord.HTTPException:
            return None
        if starter.author.id != self.bot.user.id:  # type: ignore[union-attr]
            return None
        ids = [m.group(1) for c in _custom_ids(starter) if (m := JOB_ID.fullmatch(c))]
        job = await self.store.get_job(int(ids[0])) if ids else None
        if job is None:
            return await self._rebuild_from_messages(thread, starter, before) if ids else None
        log.info("thread %s: rebuilding its session from job %s", thread.id, job.id)
        session: Session = await self.start_session(thread, job, job.user_id or "")
        await self._replay_thread(thread, session)
        return session

    async def _rebuild_from_messages(
        self, thread: discord.Thread, starter: discord.Message, before: discord.Message | None
    ) -> Session | None:
        """No record at all: the prompts and images in the thread are the conversation.
        The model's reasoning can't be recovered, so those turns go back without it."""
        edit = self.bot.get_cog("Edit")
        sources = getattr(edit, "sources", None)
        if sources is None or not starter.embeds:
            return None
        log.info("thread %s: rebuilding its session from its messages", thread.id)
        model = self.bot.service.catalog.get(self.bot.settings.refine_model)
        session = await self.store.create_session(
            thread_id=str(thread.id),
            channel_id=str(thread.parent_id),
            guild_id=str(thread.guild.id),
            owner_id=None,
            model=model.id,
            family=model.family.value,
            settings={},
        )
        await self._add_pair(session, starter.embeds[0].description or "", [], starter, sources)
        asked: dict[int, discord.Message] = {}
        async for message in thread.history(limit=500, before=before, oldest_first=True):
            if not message.author.bot:
                asked[message.id] = message
                continue
            ref = message.reference
            question = asked.get(ref.message_id) if ref and ref.message_id else None
            if question is not None and sources.refs(message):
                inputs = [await self._keep(sources, r) for r in sources.refs(question)]
                await self._add_pair(session, question.content, inputs, message, sources)
        return await self.store.get_session(session.id)

    async def _add_pair(
        self,
        session: Session,
        prompt: str,
        inputs: list[str],
        result: discord.Message,
        sources: Any,
    ) -> None:
        images = [await self._keep(sources, ref) for ref in sources.refs(result)]
        turns = await self.store.turns(session.id)
        version = 1 + sum(1 for t in turns if t.role == "assistant")
        await self.store.add_turn(session.id, role="user", text=prompt, images=inputs)
        turn = await self.store.add_turn(
            session.id, role="assistant", text=None, images=images, version=version
        )
        await self.store.update_session(session.id, head_turn_id=turn.id)

    async def _keep(self, sources: Any, ref: Any) -> str:
        data = await sources.download(ref)
        mime = await asyncio.to_thread(images.sniff, data)
        return (await self.store.put_image(data, mime)).sha256

    async def _replay_thread(self, thread: discord.Thread, session: Session) -> None:
        """Add the thread's later results, in order, as the turns they were."""
        version, head = 1, None
        model = self.bot.service.catalog.get(session.model)
        async for message in thread.history(limit=500, oldest_first=True):
            if message.author.id != self.bot.user.id:  # type: ignore[union-attr]
                continue
            ids = [m.group(1) for c in _custom_ids(message) if (m := JOB_ID.fullmatch(c))]
            job = await self.store.get_job(int(ids[0])) if ids else None
            if job is None or not job.result_images:
                continue
            version += 1
            head = await self.bot.service.add_job_turns(
                session.id,
                job,
                model,
                version=version,
                text=job.result_text,
                images=job.result_images,
            )
        if head is not None:
            await self.store.update_session(session.id, head_turn_id=head.id)


def _custom_ids(message: discord.Message) -> list[str]:
    ids = []
    for row in message.components:
        for child in getattr(row, "children", []):
            if getattr(child, "custom_id", None):
                ids.append(child.custom_id)
    return ids


async def setup(bot: EaselBot) -> None:
    bot.add_dynamic_items(RefineButton, RevertButton, BranchButton)
    await bot.add_cog(Refine(bot))
