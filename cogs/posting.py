"""How a payload reaches Discord: the interaction's original response while its token lives,
then a reply or the channel, and DMs for private results; and the last resorts when a channel
refuses us. Sends; decides nothing about when."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any

import discord

from bot.app import EaselBot, missing_permissions
from bot.domain import Job
from bot.errors import DeliveryError
from cogs import render

log = logging.getLogger(__name__)

TOKEN_LIFETIME = 15 * 60 - 30  # a margin before Discord's 15 minutes
EXPIRED_CODES = {10015, 10062, 50027}  # unknown webhook, unknown interaction, invalid token


class Poster:
    """Sends and edits the messages of a job."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    async def send(self, job: Job, payload: render.Payload) -> discord.Message:
        """The original response while the token lives; then the channel; DMs for private jobs."""
        if self.token_alive(job):
            try:
                return await self.edit_original(
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

    async def edit_progress(self, job: Job, **kwargs: Any) -> None:
        """Progress goes to the interaction's response, or to the progress reply."""
        if job.origin.get("interaction"):
            await self.edit_original(job, **kwargs)
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

    async def tell_requester(self, job: Job, reason: str) -> None:
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

    async def edit_original(self, job: Job, **kwargs: Any) -> discord.Message:
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

    async def tell_cost(self, job: Job) -> None:
        """The cost of a public result, for the requester's eyes only (an ephemeral follow-up;
        a job started by a message has no private answer, so its cost is not shown)."""
        if not self.token_alive(job):
            return
        info = job.origin["interaction"]
        webhook = discord.Webhook.from_state(
            data={"id": int(info["app_id"]), "type": 3, "token": info["token"]},
            state=self.bot._connection,
        )
        with contextlib.suppress(discord.HTTPException):
            await webhook.send(
                f"Job {job.id} cost ${job.cost:.4f} (only you see this).", ephemeral=True
            )

    def token_alive(self, job: Job) -> bool:
        info = job.origin.get("interaction")
        if not info:
            return False
        return time.time() - float(info["created_at"]) < TOKEN_LIFETIME

    async def already_posted(self, job: Job) -> bool:
        """After a crash between posting and recording it, look for the result in the channel."""
        channel = self.bot.get_partial_messageable(int(job.origin["channel_id"]))
        marker = re.compile(rf"\bjob {job.id}\b")  # not "job 12" for job 1
        try:
            async for message in channel.history(limit=50):
                if message.author.id == self.bot.user.id and any(  # type: ignore[union-attr]
                    marker.search(e.author.name or "") or marker.search(e.footer.text or "")
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
