"""The Confirm button under a job whose estimate is above ``CONFIRM_ABOVE_USD``: it runs the
kept job once, with the budget check and hold as for any other job."""

from __future__ import annotations

from typing import Any

import discord
from discord.ext import commands

from bot.domain import Job
from bot.errors import EaselError
from cogs import links
from cogs.template import OWNER, JobButton, private


class ConfirmButton(JobButton):
    action, label, emoji = "confirm", "Confirm", "💸"
    style = discord.ButtonStyle.success
    who, refusal = OWNER, "Only the person who asked for this job can confirm it."

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        # Once: the kept job's "answered" becomes "confirmed" for the first press only.
        claimed = await client.service.store.set_delivery(
            job.id, {"state": "confirmed"}, only_if_state="answered"
        )
        if not claimed:
            raise EaselError("That job was already confirmed.")
        await interaction.response.defer(thinking=True, ephemeral=private(job))
        origin = links.interaction_origin(interaction, private=private(job))
        confirmed = await client.service.submit_retry(
            job, user_id=str(interaction.user.id), origin=origin, confirmed=True
        )
        await client.delivery.launch(confirmed)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(ConfirmButton)
