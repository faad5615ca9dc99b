"""/imagine: Discord options → ImageSpec → a stored job on the queue. Translation only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
    Catalog,
)
from bot.domain import ImageSpec, Job
from bot.errors import EaselError
from bot.inputs import RawImage
from bot.options import spec_for
from cogs import links
from cogs.replies import send_error
from cogs.sources import Sources

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)


def _choices(values: tuple[str, ...]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=v, value=v) for v in values]


class Imagine(commands.Cog):
    """The /imagine command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.sources = Sources(bot)

    async def cog_unload(self) -> None:
        await self.sources.close()

    @app_commands.command(name="imagine", description="Generate images from a prompt")
    @app_commands.describe(
        prompt="What to draw",
        model="Model (type to search)",
        aspect="Aspect ratio",
        resolution="1K, 2K or 4K (Gemini models)",
        quality="Quality (GPT Image models)",
        count="How many images (1-10)",
        format="File format (GPT Image models)",
        private="Only you see the result (default: the server's setting)",
        thread="Open a thread from the result where every message refines it",
        reference="A reference image to draw from",
        reference2="A second reference image",
        reference3="A third reference image",
        background="transparent, opaque or auto (GPT Image models)",
    )
    @app_commands.choices(
        background=_choices(BACKGROUNDS),
        aspect=_choices(ASPECT_RATIOS),
        resolution=_choices(RESOLUTIONS),
        quality=_choices(QUALITIES),
        format=_choices(OUTPUT_FORMATS),
    )
    async def imagine(
        self,
        interaction: discord.Interaction[EaselBot],
        prompt: app_commands.Range[str, 1, 4000],
        model: str | None = None,
        aspect: str | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        count: app_commands.Range[int, 1, 10] = 1,
        format: str | None = None,
        private: bool | None = None,
        thread: bool = False,
        reference: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
        background: str | None = None,
    ) -> None:
        service = self.bot.service
        actor = links.actor_origin(interaction)
        try:
            # The server's rules first, so a refusal is only the user's to see.
            await service.policy.admit("imagine", actor)
        except EaselError as exc:
            await send_error(interaction, exc)
            return
        if private is None:
            private = await service.policy.private_default(actor)
        # Acknowledge first: Discord allows 3 seconds, the store and the router take longer.
        await interaction.response.defer(thinking=True, ephemeral=private)
        default = await service.policy.default_model("imagine", actor)
        chosen = service.catalog.get(model or default or self.bot.settings.imagine_model)
        spec, notes = spec_for(
            chosen, n=count, aspect=aspect, resolution=resolution, quality=quality,
            output_format=format, background=background,
        )  # fmt: skip
        # A private result can't carry a public thread.
        origin = links.interaction_origin(
            interaction, private=private, open_thread=thread and not private, notes=notes
        )
        try:
            references = await self.sources.uploads((reference, reference2, reference3))
            job = await self._submit(prompt, spec, references, str(interaction.user.id), origin)
        except EaselError as exc:
            await send_error(interaction, exc, prompt=prompt)
            return
        await self.bot.delivery.launch(job)

    async def _submit(
        self,
        prompt: str,
        spec: ImageSpec,
        references: list[RawImage],
        user_id: str,
        origin: dict[str, Any],
    ) -> Job:
        """A plain /imagine; with reference images, an edit of them (images models: the edits
        endpoint; chat models: image parts)."""
        service = self.bot.service
        if not references:
            return await service.submit_imagine(prompt, spec, user_id=user_id, origin=origin)
        origin = {**origin, "action": "references"}
        return await service.submit_edit(prompt, references, spec, user_id=user_id, origin=origin)

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[EaselBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.service.catalog, current)


def model_choices(catalog: Catalog, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for any model option: label and family, the id as the value."""
    return [
        app_commands.Choice(name=f"{m.label} · {m.family.value}"[:100], value=m.id[:100])
        for m in catalog.search(current)
    ]


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Imagine(bot))
