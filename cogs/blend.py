"""/blend: 2–5 image attachments made into one picture. Translation only: the images are
downloaded here and become an edit job (``ImageService.submit_edit``) like any other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import ASPECT_RATIOS
from bot.errors import EaselError
from bot.options import spec_for
from cogs import links
from cogs.imagine import model_choices
from cogs.replies import send_error
from cogs.sources import Sources

if TYPE_CHECKING:
    from bot.app import EaselBot

BLEND_PROMPT = (
    "Blend these images into one new picture that combines their subjects, styles and colours."
)


def blend_prompt(extra: str | None) -> str:
    """The instruction the model gets, with what the user added."""
    return f"{BLEND_PROMPT} {extra.strip()}" if extra and extra.strip() else BLEND_PROMPT


class Blend(commands.Cog):
    """The /blend command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.sources = Sources(bot)

    async def cog_unload(self) -> None:
        await self.sources.close()

    @app_commands.command(name="blend", description="Blend 2 to 5 images into one")
    @app_commands.describe(
        image1="First image",
        image2="Second image",
        image3="Third image",
        image4="Fourth image",
        image5="Fifth image",
        prompt="What the blend should be (optional)",
        model="Model (type to search)",
        aspect="Aspect ratio",
        private="Only you see the result",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECT_RATIOS])
    async def blend(
        self,
        interaction: discord.Interaction[EaselBot],
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        prompt: app_commands.Range[str, 1, 3000] | None = None,
        model: str | None = None,
        aspect: str | None = None,
        private: bool = False,
    ) -> None:
        await interaction.response.defer(thinking=True, ephemeral=private)
        service, text = self.bot.service, blend_prompt(prompt)
        try:
            chosen = service.catalog.get(model or self.bot.settings.imagine_model)
            spec, notes = spec_for(chosen, aspect=aspect)
            origin = links.interaction_origin(
                interaction, private=private, notes=notes, action="blend"
            )
            inputs = await self.sources.uploads((image1, image2, image3, image4, image5))
            job = await service.submit_edit(
                text, inputs, spec, user_id=str(interaction.user.id), origin=origin
            )
        except EaselError as exc:
            await send_error(interaction, exc, prompt=text)
            return
        await self.bot.delivery.launch(job)

    @blend.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[EaselBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.service.catalog, current)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Blend(bot))
