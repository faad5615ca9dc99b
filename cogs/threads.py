"""The Discord side of refine threads: creating them, their starter messages, keeping each
thread's messages in order, and reading a forgotten thread's history back into plain prompts
and image bytes for ``bot.sessions`` to adopt. What a session *is* lives in the core."""

from __future__ import annotations

import asyncio
import io
import logging
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import discord
from discord.ext import commands

from bot.domain import Job, Place, RebuiltPair, Session
from bot.errors import NotAllowed, NotFound
from bot.sessions import Conversations
from cogs import links, render
from cogs.sources import Sources

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)

WELCOME = (
    "Every message here refines the latest image. Attach images to add them; "
    "use ↩️ Revert or 🌿 Branch on any version."
)
HISTORY_LIMIT = 500  # messages read back when a thread is rebuilt from Discord alone
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
NOT_OURS_KEPT = 10_000  # threads remembered as not Easel's, so their messages cost no request


class AlreadyThreaded(NotAllowed):
    """The result has its thread already."""


def thread_name(prompt: str) -> str:
    name = " ".join(prompt.split())
    return (name[:90] + "…") if len(name) > 90 else (name or "Easel")


def place_of(thread: discord.Thread, owner_id: str | None) -> Place:
    return Place(str(thread.id), str(thread.parent_id), str(thread.guild.id), owner_id)


class Threads(commands.Cog):
    """Opens, branches and rebuilds refine threads; orders each thread's messages."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.sources = Sources(bot)
        # Handlers run concurrently; a FIFO lock per thread, taken before the first await,
        # keeps turns in the order Discord delivered the messages.
        self._order: dict[int, asyncio.Lock] = {}
        self._not_ours: OrderedDict[int, None] = OrderedDict()

    @property
    def sessions(self) -> Conversations:
        return self.bot.service.sessions

    async def cog_unload(self) -> None:
        await self.sources.close()

    def lock(self, thread_id: int) -> asyncio.Lock:
        return self._order.setdefault(thread_id, asyncio.Lock())

    def known_not_ours(self, thread_id: int) -> bool:
        return thread_id in self._not_ours

    def _not_easels(self, thread_id: int) -> None:
        """Seen for sure not to be Easel's: remembered (boundedly), so it costs no request again."""
        self._not_ours[thread_id] = None
        while len(self._not_ours) > NOT_OURS_KEPT:
            self._not_ours.popitem(last=False)

    def drop_lock(self, thread_id: int) -> None:
        lock = self._order.get(thread_id)
        if lock is not None and not lock.locked():
            del self._order[thread_id]

    async def open(
        self,
        message: discord.Message,
        job: Job,
        owner_id: str,
        *,
        parent: Session | None = None,
    ) -> discord.Thread:
        """A thread on ``message`` whose session starts from ``job`` (or branches ``parent``)."""
        where = {"guild_id": str(message.guild.id) if message.guild else None}
        default = await self.bot.service.policy.default_model(
            "refine", {**where, "channel_id": str(message.channel.id)}
        )
        try:
            thread = await message.create_thread(
                name=thread_name(job.prompt), auto_archive_duration=1440
            )
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
            # Refine pressed twice: the thread is the message's own (same id); point at it.
            raise AlreadyThreaded(f"This result already has a thread: <#{message.id}>.") from exc
        # Messages in the new thread wait for its session (taken before any other await).
        place = replace(place_of(thread, owner_id), model=default)
        async with self.lock(thread.id):
            await self.sessions.open(place, job, parent=parent, upto_job=job.id)
        await thread.send(WELCOME, allowed_mentions=discord.AllowedMentions.none())
        return thread

    async def branch(self, job: Job, user_id: str) -> discord.Thread:
        """A new thread, from a copy of this version posted in the parent channel."""
        session = await self.sessions.session_of(job)
        if session.channel_id is None:
            raise NotFound("That conversation no longer exists.")
        channel_id = int(session.channel_id)
        parent = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        assert isinstance(parent, discord.TextChannel)
        image = await self.bot.service.store.get_image(job.result_images[0])
        fitted = await render.fit_for_upload([image], links.DEFAULT_UPLOAD_LIMIT)
        starter = await parent.send(
            f"🌿 Branch of <#{session.thread_id}> from this version: {render.clip(job.prompt, 200)}",
            file=discord.File(
                io.BytesIO(fitted[0].data), filename=f"easel-{job.id}-branch.{fitted[0].ext}"
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        return await self.open(starter, job, user_id, parent=session)

    # -- rebuilding a thread the store forgot ---------------------------------------------
    async def rebuild(
        self, thread: discord.Thread, *, before: discord.Message | None = None
    ) -> Session | None:
        """From the jobs its results point to or, when those are gone too, from the thread's
        messages and images alone; None when it isn't an Easel thread."""
        starter = await self._starter(thread)
        if starter is None:
            return None
        me = self.bot.user.id if self.bot.user else None
        job_id = links.job_id_of(starter, me)
        if job_id is None:
            self._not_easels(thread.id)
            return None
        store = self.bot.service.store
        job = await store.get_job(job_id)
        if job is None:
            return await self._from_messages(thread, starter, before)
        log.info("thread %s: rebuilding its session from job %s", thread.id, job.id)
        later = [j async for j in self._result_jobs(thread)]
        return await self.sessions.replay(place_of(thread, job.user_id or ""), job, later)

    async def _starter(self, thread: discord.Thread) -> discord.Message | None:
        if not isinstance(thread.parent, discord.TextChannel):
            self._not_easels(thread.id)
            return None
        try:
            return await thread.parent.fetch_message(thread.id)
        except discord.NotFound:
            self._not_easels(thread.id)  # no starter message: a thread started without one
            return None
        except discord.HTTPException:
            return None  # Discord trouble: ask again on the next message

    async def _result_jobs(self, thread: discord.Thread) -> Any:
        me = self.bot.user.id if self.bot.user else None
        async for message in thread.history(limit=HISTORY_LIMIT, oldest_first=True):
            job_id = links.job_id_of(message, me)
            job = await self.bot.service.store.get_job(job_id) if job_id else None
            if job is not None:
                yield job

    async def _from_messages(
        self, thread: discord.Thread, starter: discord.Message, before: discord.Message | None
    ) -> Session | None:
        """No record at all: the prompts and images in the thread are the conversation."""
        if not starter.embeds:
            return None
        log.info("thread %s: rebuilding its session from its messages", thread.id)
        pairs = [await self._pair(starter.embeds[0].description or "", None, starter)]
        asked: dict[int, discord.Message] = {}
        async for message in thread.history(limit=HISTORY_LIMIT, before=before, oldest_first=True):
            if not message.author.bot:
                asked[message.id] = message
                continue
            ref = message.reference
            question = asked.get(ref.message_id) if ref and ref.message_id else None
            if question is not None and self.sources.refs(message):
                pairs.append(await self._pair(question.content, question, message))
        return await self.sessions.adopt(place_of(thread, None), pairs)

    async def _pair(
        self, prompt: str, question: discord.Message | None, answer: discord.Message
    ) -> RebuiltPair:
        asked = self.sources.refs(question) if question is not None else []
        inputs = [await self.sources.download(ref) for ref in asked]
        results = [await self.sources.download(ref) for ref in self.sources.refs(answer)]
        return RebuiltPair(prompt, inputs, results)


def threads_of(client: Any) -> Threads:
    # Not isinstance: discord.py executes an extension's module afresh on every load, so the
    # loaded cog's class need not be the one this module's importers see.
    return cast(Threads, client.get_cog("Threads"))


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Threads(bot))
