"""/compare: one prompt on 2–4 models, one message with a labelled grid and the originals, and
a select (``easel:pick:<id>``, restart-proof) that picks one to go on with: it becomes a result
of its own, with every button (Refine, Edit, More…). Translation only: ``bot.compare`` decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import compare
from bot.catalog import ASPECT_RATIOS
from bot.domain import Job
from bot.errors import EaselError, InvalidOption, NotFound
from cogs import links
from cogs.replies import send_error
from cogs.selects import JobSelect
from cogs.template import private

if TYPE_CHECKING:
    from bot.app import EaselBot

PICK = "pick"


class Compare(commands.Cog):
    """The /compare command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @app_commands.command(name="compare", description="Run one prompt on 2 to 4 models at once")
    @app_commands.describe(
        prompt="What to draw",
        models="2 to 4 models, separated by commas (ids or a piece of their names)",
        aspect="Aspect ratio",
        private="Only you see the result",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECT_RATIOS])
    async def compare(
        self,
        interaction: discord.Interaction[EaselBot],
        prompt: app_commands.Range[str, 1, 4000],
        models: app_commands.Range[str, 1, 1000],
        aspect: str | None = None,
        private: bool = False,
    ) -> None:
        await interaction.response.defer(thinking=True, ephemeral=private)
        service = self.bot.service
        try:
            spec, notes = compare.compare_spec(service.catalog, models, aspect)
            origin = links.interaction_origin(
                interaction, private=private, notes=notes, action="compare"
            )
            job = await service.submit_imagine(
                prompt, spec, user_id=str(interaction.user.id), origin=origin
            )
        except EaselError as exc:
            await send_error(interaction, exc, prompt=prompt)
            return
        await self.bot.delivery.launch(job)

    @compare.autocomplete("models")
    async def models_autocomplete(
        self, interaction: discord.Interaction[EaselBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return models_choices(self.bot, current)


def models_choices(bot: Any, current: str) -> list[app_commands.Choice[str]]:
    """Completes the last name of the comma-separated list, keeping the ones before it."""
    *done, last = current.split(",")
    head = ", ".join(d.strip() for d in done if d.strip())
    choices = []
    for model in bot.service.catalog.search(last.strip()):
        value = f"{head}, {model.id}" if head else model.id
        if len(value) <= 100:
            choices.append(app_commands.Choice(name=value[:100], value=value))
    return choices


class PickSelect(JobSelect):
    """Picks one model's image of a comparison to go on with."""

    action, placeholder = PICK, "Continue with… (refine, edit, vary)"

    async def act(self, interaction: discord.Interaction[Any], job: Job, value: str) -> None:
        if not job.spec.models:
            raise NotFound("I can't find that comparison any more.")
        if not value.isdigit():
            raise InvalidOption("Pick one of the images.")
        await interaction.response.defer(thinking=True, ephemeral=private(job))
        await pick(interaction, job, int(value))


async def pick(interaction: discord.Interaction[Any], job: Job, index: int) -> None:
    """The picked original as a result of its own (a child job that spends nothing)."""
    client = interaction.client
    spec = compare.picked_spec(job, client.service.catalog, index)
    origin = links.interaction_origin(
        interaction, private=private(job), pick={"from": job.id, "index": index}
    )
    child = await client.service.submit_imagine(
        job.prompt, spec, user_id=str(interaction.user.id), origin=origin, parent_job_id=job.id
    )
    await client.delivery.launch(child)


def pick_select(job: Job) -> PickSelect:
    options = [
        discord.SelectOption(label=f"{i}. {name}"[:100], value=str(i - 1))
        for i, name in enumerate(compare.labels(job), start=1)
    ]
    return PickSelect(job.id, options)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Compare(bot))
    bot.add_dynamic_items(PickSelect)
