"""Delivery: progress while a job waits and runs, then its result or error, posted exactly once.

The interaction token is kept in the job's origin so that progress and results go to the
original "thinking…" response, also after a restart; once the token has expired (15 minutes)
the result goes to the channel (or, for private jobs, to the requester's DMs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import discord

from bot.app import EaselBot, missing_permissions
from bot.domain import Job, JobStatus
from bot.errors import DeliveryError, EaselError
from bot.jobs import Outcome
from cogs import links, render
from cogs.buttons import result_view
from cogs.threads import threads_of

log = logging.getLogger(__name__)

TOKEN_LIFETIME = 15 * 60 - 30  # a margin before Discord's 15 minutes
PROGRESS_EVERY = 5.0  # seconds between progress edits, well inside Discord's webhook limits
EXPIRED_CODES = {10015, 10062, 50027}  # unknown webhook, unknown interaction, invalid token


class Delivery:
    """Owns every message about a job after it is queued."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self._tickers: dict[int, asyncio.Task[None]] = {}
        bot.queue.on_finished(self.finished)

    # -- while the job waits and runs ---------------------------------------------------------
    async def launch(self, job: Job) -> None:
        """Queue a stored job and keep its response updated until it finishes."""
        await self.bot.queue.enqueue(job)
        self._tickers[job.id] = asyncio.create_task(self._tick(job), name=f"progress-{job.id}")

    async def _tick(self, job: Job) -> None:
        label = self.bot.service.catalog.get(job.spec.model).label
        started: float | None = None
        shown = None
        view = self.view_for(job, running=True)
        while True:
            position = self.bot.queue.positions().get(job.id)
            if position is None and started is None:
                started = time.monotonic()
            elapsed = None if started is None else time.monotonic() - started
            text = render.progress_text(job.prompt, position, elapsed, label)
            text += "".join(f"\n⚠️ {note}" for note in job.origin.get("notes", ()))
            if text != shown:
                shown = text
                with contextlib.suppress(discord.HTTPException):
                    await self._edit_progress(job, content=text, view=view)
            await asyncio.sleep(PROGRESS_EVERY if started else 1.0)

    # -- when it ends -------------------------------------------------------------------------
    async def finished(self, outcome: Outcome) -> None:
        ticker = self._tickers.pop(outcome.job_id, None)
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        job = await self.bot.service.store.get_job(outcome.job_id)
        if job is None or not job.origin.get("channel_id"):
            return  # not a Discord job (the CLI)
        await self.deliver(job, outcome.error)

    async def deliver(self, job: Job, error: EaselError | None) -> None:
        store = self.bot.service.store
        if not await store.set_delivery(job.id, {"state": "posting", "at": time.time()}):
            return  # posted already, by this process before a restart or by another one
        try:
            message = await self._post_outcome(job, error)
        except DeliveryError as exc:
            log.warning("job %s: could not deliver: %s", job.id, exc.user_message)
            await store.set_delivery(
                job.id, {"state": "failed", "reason": exc.user_message}, only_if_unset=False
            )
            await self._tell_requester(job, exc.user_message)
            return
        await store.set_delivery(
            job.id,
            {
                "state": "posted",
                "channel_id": str(message.channel.id),
                "message_id": str(message.id),
            },
            only_if_unset=False,
        )
        if error is None and job.origin.get("open_thread"):
            await self._open_thread(job, message.channel.id, message.id)

    async def _open_thread(self, job: Job, channel_id: int, message_id: int) -> None:
        """``/imagine thread:true``: a refine thread from the posted result."""
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return  # threads need a text channel (not a DM or a thread)
        try:
            message = await channel.fetch_message(message_id)
            await threads_of(self.bot).open(message, job, job.user_id or "")
        except discord.HTTPException as exc:
            log.warning("job %s: could not open a thread: %s", job.id, exc)

    async def resume(self) -> None:
        """Post results that finished before a restart but were never (or half) posted."""
        store = self.bot.service.store
        for job in await store.jobs_with_status(JobStatus.DONE, JobStatus.FAILED):
            state = (job.delivery or {}).get("state")
            if not job.origin.get("channel_id") or state in ("posted", "failed"):
                continue
            if state == "posting" and await self._already_posted(job):
                continue
            if state == "posting":
                await store.set_delivery(job.id, {}, only_if_unset=False)
            error = None if job.status is JobStatus.DONE else EaselError(job.error_message)
            await self.deliver(job, error)

    async def _post_outcome(self, job: Job, error: EaselError | None) -> discord.Message:
        if error is not None:
            payload = render.error_payload(job, error, view=self.view_for(job, ok=False))
            return await self._send(job, payload)
        originals = [await self.bot.service.store.get_image(h) for h in job.result_images]
        limit = int(job.origin.get("upload_limit") or links.DEFAULT_UPLOAD_LIMIT)
        version = await self.bot.service.sessions.version_of(job)
        for attempt in range(3):
            payload = await render.result_payload(
                job,
                originals,
                self.bot.service.catalog,
                per_file=limit,
                view=None,
                version=version,
            )
            payload.view = self.view_for(job, ok=True, full=payload.reencoded)
            if job.origin.get("warnings"):  # "⚠️ Only using the last 19 turns…", "2 of 3 images…"
                payload.content = "\n".join(job.origin["warnings"])
            try:
                return await self._send(job, payload)
            except discord.HTTPException as exc:
                if exc.status != 413 and exc.code != 40005 or attempt == 2:
                    raise DeliveryError("Discord would not take the images.") from exc
                limit //= 2  # Discord refused the size: fit smaller and send again
                log.info("job %s: upload refused, refitting under %d bytes", job.id, limit)
        raise DeliveryError("Discord would not take the images.")

    async def _send(self, job: Job, payload: render.Payload) -> discord.Message:
        """The original response while the token lives; then the channel; DMs for private jobs."""
        if self._token_alive(job):
            try:
                return await self._edit_original(
                    job,
                    content=payload.content or "",
                    embeds=payload.embeds,
                    attachments=payload.discord_files(),
                    view=payload.view,
                )
            except discord.NotFound:
                pass
            except discord.HTTPException as exc:
                if exc.code not in EXPIRED_CODES:
                    raise
        if job.origin.get("reply_to"):
            return await self._send_reply(job, payload)
        return await self._send_fallback(job, payload)

    async def _send_reply(self, job: Job, payload: render.Payload) -> discord.Message:
        """The progress reply becomes the result; if it is gone, a new reply to the request."""
        channel = self.bot.get_partial_messageable(int(job.origin["channel_id"]))
        kwargs: dict[str, Any] = {"content": payload.content or "", "embeds": payload.embeds}
        if payload.view is not None:
            kwargs["view"] = payload.view
        try:
            if job.origin.get("progress_message_id"):
                with contextlib.suppress(discord.NotFound):
                    progress = channel.get_partial_message(int(job.origin["progress_message_id"]))
                    return await progress.edit(attachments=payload.discord_files(), **kwargs)
            reference = discord.MessageReference(
                message_id=int(job.origin["reply_to"]),
                channel_id=channel.id,
                fail_if_not_exists=False,
            )
            return await channel.send(files=payload.discord_files(), reference=reference, **kwargs)
        except discord.Forbidden as exc:
            raise DeliveryError(await self.missing_permissions(job)) from exc

    async def _edit_progress(self, job: Job, **kwargs: Any) -> None:
        """Progress goes to the interaction's response, or to the progress reply."""
        if job.origin.get("interaction"):
            await self._edit_original(job, **kwargs)
        elif job.origin.get("progress_message_id"):
            channel = self.bot.get_partial_messageable(int(job.origin["channel_id"]))
            message = channel.get_partial_message(int(job.origin["progress_message_id"]))
            await message.edit(**kwargs)

    async def _send_fallback(self, job: Job, payload: render.Payload) -> discord.Message:
        mention = f"<@{job.user_id}>" if job.user_id else ""
        kwargs: dict[str, Any] = {
            "content": f"{mention} {payload.content or ''}".strip(),
            "embeds": payload.embeds,
            "files": payload.discord_files(),
            "allowed_mentions": discord.AllowedMentions(users=True),
        }
        if payload.view is not None:
            kwargs["view"] = payload.view
        try:
            if job.origin.get("private") and job.user_id:
                user = await self.bot.fetch_user(int(job.user_id))
                return await user.send(**kwargs)
            channel = self.bot.get_partial_messageable(int(job.origin["channel_id"]))
            return await channel.send(**kwargs)
        except discord.Forbidden as exc:
            raise DeliveryError(await self.missing_permissions(job)) from exc

    async def _tell_requester(self, job: Job, reason: str) -> None:
        """Last resort when the channel refuses us: a DM, so the prompt is not lost."""
        if not job.user_id:
            return
        text = (
            f"I couldn't post your result (job {job.id}). {reason}\n"
            f"Your prompt was: {render.clip(job.prompt, 1500)}"
        )
        with contextlib.suppress(discord.HTTPException):
            user = await self.bot.fetch_user(int(job.user_id))
            await user.send(text)

    async def _edit_original(self, job: Job, **kwargs: Any) -> discord.Message:
        info = job.origin["interaction"]
        webhook = discord.Webhook.from_state(
            data={"id": int(info["app_id"]), "type": 3, "token": info["token"]},
            state=self.bot._connection,
        )
        if kwargs.get("view") is None:
            kwargs.pop("view", None)
        # "@original" addresses the interaction's first response on the webhook route.
        message: discord.Message = await webhook.edit_message(
            "@original",  # type: ignore[call-overload]
            **kwargs,
        )
        return message

    def _token_alive(self, job: Job) -> bool:
        info = job.origin.get("interaction")
        if not info:
            return False
        return time.time() - float(info["created_at"]) < TOKEN_LIFETIME

    async def _already_posted(self, job: Job) -> bool:
        """After a crash between posting and recording it, look for the result in the channel."""
        channel = self.bot.get_partial_messageable(int(job.origin["channel_id"]))
        marker = f"job {job.id}"
        try:
            async for message in channel.history(limit=50):
                if message.author.id == self.bot.user.id and any(  # type: ignore[union-attr]
                    marker in (e.author.name or "") or marker in (e.footer.text or "")
                    for e in message.embeds
                ):
                    await self.bot.service.store.set_delivery(
                        job.id,
                        {
                            "state": "posted",
                            "message_id": str(message.id),
                            "channel_id": str(message.channel.id),
                        },
                        only_if_unset=False,
                    )
                    return True
        except discord.HTTPException:
            return False
        return False

    async def missing_permissions(self, job: Job) -> str:
        """Name the permissions Easel lacks in the job's channel, as plainly as possible."""
        channel = self.bot.get_channel(int(job.origin["channel_id"]))
        guild = getattr(channel, "guild", None)
        missing = []
        if channel is not None and guild is not None:
            missing = missing_permissions(channel.permissions_for(guild.me))  # type: ignore[union-attr]
        if not missing:
            return "I'm not allowed to post in that channel."
        return f"I can't post in <#{channel.id}>: I need {', '.join(missing)}."  # type: ignore[union-attr]

    # -- buttons ------------------------------------------------------------------------------
    def view_for(
        self, job: Job, *, ok: bool = True, running: bool = False, full: bool = False
    ) -> discord.ui.View | None:
        return result_view(job, ok=ok, running=running, full=full)

    async def close(self) -> None:
        for task in self._tickers.values():
            task.cancel()
        await asyncio.gather(*self._tickers.values(), return_exceptions=True)
        self._tickers.clear()


async def setup(bot: EaselBot) -> None:
    bot.delivery = Delivery(bot)
