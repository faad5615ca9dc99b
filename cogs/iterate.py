"""The "More…" select under a result: vary, zoom out, pan, make square, upscale. It keeps only
the job id in its custom id (``easel:more:<id>``), so it works the same after a restart; the
core (``ImageService.submit_iterate``, ``bot.iterate``) decides what each action sends."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord.ext import commands

from bot.domain import Job, JobKind
from bot.errors import EaselError, NotFound
from bot.iterate import ACTIONS
from cogs import links
from cogs.compare import pick_select
from cogs.describe import prompt_buttons
from cogs.expressions import LABELS as EXPRESSION_LABELS
from cogs.expressions import add_expression
from cogs.replies import send_error, send_unexpected
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


def options() -> list[discord.SelectOption]:
    shown = [
        discord.SelectOption(label=label, value=value, emoji=_EMOJI[value])
        for value, label in ACTIONS.items()
    ]
    emojis = {"emoji": "😀", "sticker": "🏷️"}
    return shown + [
        discord.SelectOption(label=label, value=value, emoji=emojis[value])
        for value, label in EXPRESSION_LABELS.items()
    ]


class MoreSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=links.template(ACTION)):
    """One select for the actions that go on from a result, to stay within 5 rows of 5."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=links.custom_id(ACTION, job_id),
                placeholder="More… (vary, zoom, pan, upscale, emoji)",
                options=options(),
                min_values=1,
                max_values=1,
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> MoreSelect:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            values = (interaction.data or {}).get("values") or []
            job = await interaction.client.service.store.get_job(self.job_id)
            if job is None:
                raise NotFound("I can't find that job any more.")
            value = str(values[0]) if values else ""
            if value in EXPRESSION_LABELS:  # not a job: an upload to the server
                await add_expression(interaction, job, value)
                return
            await interaction.response.defer(thinking=True, ephemeral=private(job))
            await run_action(interaction, job, value)
        except EaselError as exc:
            await send_error(interaction, exc)
        except Exception as exc:
            await send_unexpected(interaction, exc)


async def run_action(interaction: discord.Interaction[Any], job: Job, action: str) -> None:
    """Store the action as a child job of ``job`` and queue it; its result answers here."""
    client = interaction.client
    origin = links.interaction_origin(interaction, private=private(job))
    child = await client.service.submit_iterate(
        job, action, user_id=str(interaction.user.id), origin=origin
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
