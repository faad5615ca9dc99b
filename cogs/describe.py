"""/describe image: four candidate prompts from a chat model (a queued job of its own), each
with a button that runs /imagine on it; the buttons keep only the job id, so they outlive a
restart. Translation only: ``bot.describe`` decides what the model is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import describe
from bot.domain import ImageSpec, Job, JobKind
from bot.errors import EaselError, NotFound
from bot.options import spec_for
from cogs import links
from cogs.replies import send_error
from cogs.sources import Sources
from cogs.template import JobButton, private

if TYPE_CHECKING:
    from bot.app import EaselBot

PROMPT = "Describe this image"


class Describe(commands.Cog):
    """The /describe command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.sources = Sources(bot)

    async def cog_unload(self) -> None:
        await self.sources.close()

    @app_commands.command(name="describe", description="Four prompts that could make this image")
    @app_commands.describe(image="The image to describe", private="Only you see the prompts")
    async def describe(
        self,
        interaction: discord.Interaction[EaselBot],
        image: discord.Attachment,
        private: bool = False,
    ) -> None:
        await interaction.response.defer(thinking=True, ephemeral=private)
        service = self.bot.service
        try:
            inputs = await self.sources.uploads([image])
            job = await service.submit_edit(
                PROMPT,
                inputs,
                ImageSpec(model=self.bot.settings.describe_model),
                user_id=str(interaction.user.id),
                origin=links.interaction_origin(interaction, private=private),
                kind=JobKind.DESCRIBE,
            )
        except EaselError as exc:
            await send_error(interaction, exc, prompt=PROMPT)
            return
        await self.bot.delivery.launch(job)


class ImaginePromptButton(JobButton):
    """Runs /imagine on the first of a description's prompts; the subclasses, on the others."""

    action, label, emoji, acknowledge = "prompta", "Imagine 1", "🎨", "as_job"
    index = 0

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        found = describe.prompts(job.result_text)
        if self.index >= len(found):
            raise NotFound("That description has no such prompt.")
        spec, notes = spec_for(client.service.catalog.get(client.settings.imagine_model))
        origin = links.interaction_origin(interaction, private=private(job), notes=notes)
        child = await client.service.submit_imagine(
            found[self.index],
            spec,
            user_id=str(interaction.user.id),
            origin=origin,
            parent_job_id=job.id,
        )
        await client.delivery.launch(child)


class SecondPromptButton(ImaginePromptButton):
    action, label, index = "promptb", "Imagine 2", 1


class ThirdPromptButton(ImaginePromptButton):
    action, label, index = "promptc", "Imagine 3", 2


class FourthPromptButton(ImaginePromptButton):
    action, label, index = "promptd", "Imagine 4", 3


PROMPT_BUTTONS = (ImaginePromptButton, SecondPromptButton, ThirdPromptButton, FourthPromptButton)


def prompt_buttons(job: Job) -> list[JobButton]:
    """One button per prompt the description found."""
    return [cls(job.id) for cls in PROMPT_BUTTONS[: len(describe.prompts(job.result_text))]]


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Describe(bot))
    bot.add_dynamic_items(*PROMPT_BUTTONS)
