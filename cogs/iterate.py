"""The "More…" select under a result: vary, zoom out, pan, make square, upscale. It keeps only
the job id in its custom id (``easel:more:<id>``), so it works the same after a restart; the
core (``ImageService.submit_iterate``, ``bot.iterate``) decides what each action sends."""

from __future__ import annotations

from typing import Any

import discord
from discord.ext import commands

from bot.domain import Job, JobKind
from bot.iterate import ACTIONS
from cogs import links
from cogs.compare import pick_select
from cogs.describe import prompt_buttons
from cogs.expressions import LABELS as EXPRESSION_LABELS
from cogs.expressions import add_expression
from cogs.selects import JobSelect
from cogs.template import private

ACTION = "more"
_EMOJI = {
    "subtle": "🌱",
    "strong": "🌪️",
    "zoom15": "🔭",
    "zoom2": "🔭",
    "panleft": "⬅️",
    "panright": "➡️",
    "panup": "⬆️",
    "pandown": "⬇️",
    "square": "⏹️",
    "upscale": "🔍",
}


def choices() -> list[discord.SelectOption]:
    shown = [
        discord.SelectOption(label=label, value=value, emoji=_EMOJI[value])
        for value, label in ACTIONS.items()
    ]
    emojis = {"emoji": "😀", "sticker": "🏷️"}
    return shown + [
        discord.SelectOption(label=label, value=value, emoji=emojis[value])
        for value, label in EXPRESSION_LABELS.items()
    ]


class MoreSelect(JobSelect):
    """One select for the actions that go on from a result, to stay within 5 rows of 5."""

    action, placeholder = ACTION, "More… (vary, zoom, pan, upscale, emoji)"

    def __init__(self, job_id: int, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(job_id, options or choices())

    async def act(self, interaction: discord.Interaction[Any], job: Job, value: str) -> None:
        if value in EXPRESSION_LABELS:  # not a job: an upload to the server
            await add_expression(interaction, job, value)
            return
        await interaction.response.defer(thinking=True, ephemeral=private(job))
        await run_action(interaction, job, value)


async def run_action(interaction: discord.Interaction[Any], job: Job, action: str) -> None:
    """Store the action as a child job of ``job`` and queue it; its result answers here."""
    client = interaction.client
    origin = links.interaction_origin(interaction, private=private(job))
    child = await client.service.submit_iterate(
        job,
        action,
        user_id=str(interaction.user.id),
        origin=origin,
        sees=links.sees(interaction.guild, interaction.user),
    )
    await client.delivery.launch(child)


def result_items(job: Job) -> list[discord.ui.Item[Any]]:
    """What goes on from a result: a description's prompts, a comparison's pick, or More…."""
    if job.kind is JobKind.DESCRIBE:
        return list(prompt_buttons(job))
    if job.spec.models:
        return [pick_select(job)]
    return [MoreSelect(job.id)] if job.result_images else []


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(MoreSelect)
