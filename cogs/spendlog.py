"""The optional log channel (``/easel-budget log``): every job of the server, once it ends, as
one line: who, the prompt, the model, the cost and a link to the result. A private job is logged
without its prompt or link, so it stays private."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.budgets import money
from bot.domain import Job
from bot.jobs import Outcome
from bot.storage.budgets import SpendRow

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)


def log_line(job: Job, spent: SpendRow | None) -> str:
    """One job, as the log channel shows it."""
    cost = "no cost" if spent is None or spent.state != "settled" else money(spent.amount)
    if spent is not None and spent.estimated:
        cost += " (estimated)"
    status = job.status.value
    prompt = "(private)" if job.origin.get("private") else f"“{job.prompt[:300]}”"
    line = f"Job {job.id} by <@{job.user_id}> · {job.spec.model} · {cost} · {status} · {prompt}"
    posted = job.delivery or {}
    guild = job.origin.get("guild_id")
    if not job.origin.get("private") and posted.get("state") == "posted" and guild:
        line += (
            f" · https://discord.com/channels/{guild}/{posted['channel_id']}/{posted['message_id']}"
        )
    return line


class SpendLog(commands.Cog):
    """Posts each finished job in its server's log channel, if one is set."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # After the delivery's listener: the result is posted, so the line can link to it.
        self.bot.queue.on_finished(self.finished)

    async def finished(self, outcome: Outcome) -> None:
        store = self.bot.service.store
        job = await store.get_job(outcome.job_id)
        guild = job.origin.get("guild_id") if job is not None else None
        if job is None or not guild:
            return
        channel_id = await store.log_channel(str(guild))
        if channel_id is None:
            return
        channel = self.bot.get_channel(int(channel_id))
        if not isinstance(channel, discord.abc.Messageable):
            return
        try:
            await channel.send(log_line(job, await store.spend_of(job.id)))
        except discord.HTTPException as exc:
            log.warning("job %s: could not post to the log channel: %s", job.id, exc)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(SpendLog(bot))
