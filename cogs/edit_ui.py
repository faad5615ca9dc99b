"""The Edit image modal and the buttons edit results carry: Edit again, Source, and Go ahead
after a mask preview. Buttons keep only a job id; the store has the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot import edits
from bot.domain import JobStatus
from bot.errors import EaselError
from cogs import render
from cogs.delivery import interaction_origin
from cogs.ui import JobButton, reply

if TYPE_CHECKING:
    from cogs.edit import Edit

REGION_LABELS = {
    "none": "No region (whole image, or my mask file)",
    "left": "Left half",
    "right": "Right half",
    "top": "Top half",
    "bottom": "Bottom half",
    "center": "Centre",
    "border": "Border",
}


class EditImageModal(discord.ui.Modal):
    """Instruction, model, optional mask file or region, and whether to preview the mask."""

    def __init__(self, cog: Edit, target: discord.Message, model: str) -> None:
        super().__init__(title="Edit image", timeout=None, custom_id=f"easel:editimage:{target.id}")
        self.cog, self.target = cog, target
        self.instruction: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="instruction", style=discord.TextStyle.paragraph, max_length=4000
        )
        self.model: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="model", default=model, max_length=200
        )
        self.mask: discord.ui.FileUpload[Any] = discord.ui.FileUpload(
            custom_id="mask", required=False, max_values=1
        )
        self.region: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="region",
            required=False,
            options=[discord.SelectOption(label=v, value=k) for k, v in REGION_LABELS.items()],
        )
        self.preview: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="preview",
            required=False,
            options=[
                discord.SelectOption(label="No, edit straight away", value="no", default=True),
                discord.SelectOption(label="Yes, show me the masked area first", value="yes"),
            ],
        )
        for text, item, hint in (
            ("What should change?", self.instruction, None),
            ("Model", self.model, None),
            ("Mask (optional)", self.mask, "Transparent or white = the area to edit"),
            ("Or edit only a region", self.region, None),
            ("Preview the mask first?", self.preview, None),
        ):
            self.add_item(discord.ui.Label(text=text, component=item, description=hint))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        preview = self.preview.values == ["yes"]
        await interaction.response.defer(thinking=True, ephemeral=preview)
        text = self.instruction.value
        cog = self.cog
        try:
            region = edits.region(self.region.values[0] if self.region.values else "none")
            uploads = self.mask.values
            gathered = await cog.sources.gather(
                self.target, mask_upload=uploads[0] if uploads else None, region=region, text=text
            )
            origin = interaction_origin(
                interaction, private=preview, **cog.source_of(self.target, gathered)
            )
            job = await cog.submit(
                text, gathered, self.model.value, str(interaction.user.id), origin
            )
        except EaselError as exc:
            await interaction.edit_original_response(**await cog.error_kwargs(exc, text))
            return
        if preview:
            # A draft: stored with its inputs and mask, but nothing runs until Go ahead.
            await cog.bot.service.store.cancel_job(job.id)
            await interaction.edit_original_response(**await cog.preview_kwargs(job))
            return
        await cog.bot.delivery.launch(job)


class MaskGoButton(JobButton, template=r"easel:maskgo:(?P<id>\d+)"):
    action, label, emoji = "maskgo", "Go ahead", "✅"
    style = discord.ButtonStyle.success

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        draft = await self.load(interaction)
        if draft is None:
            return
        if str(interaction.user.id) != draft.user_id:
            await reply(interaction, "Only the person who asked for this edit can start it.")
            return
        store = interaction.client.service.store
        if draft.status is not JobStatus.CANCELLED or not await store.set_delivery(
            draft.id, {"state": "launched"}
        ):
            await reply(interaction, "That edit has already started.")
            return
        await interaction.response.defer(thinking=True)
        origin = interaction_origin(
            interaction,
            **{
                k: draft.origin[k]
                for k in ("source_message", "source_channel", "notes")
                if k in draft.origin
            },
            preview_of=draft.id,
        )
        job = await interaction.client.service.submit_retry(
            draft, user_id=str(interaction.user.id), origin=origin
        )
        await interaction.client.delivery.launch(job)


class EditAgainButton(JobButton, template=r"easel:editagain:(?P<id>\d+)"):
    action, label, emoji = "editagain", "Edit again", "🖌️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None or interaction.message is None:
            return
        cog = interaction.client.get_cog("Edit")
        await interaction.response.send_modal(
            EditImageModal(cog, interaction.message, job.spec.model)
        )


class SourceButton(JobButton, template=r"easel:source:(?P<id>\d+)"):
    action, label, emoji = "source", "Source", "🧬"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None:
            return
        client = interaction.client
        chain = await client.service.store.job_lineage(job.id)
        text = render.lineage_text(chain, client.service.catalog, interaction.guild_id)
        await interaction.response.send_message(text, ephemeral=True)


DYNAMIC_ITEMS = (MaskGoButton, EditAgainButton, SourceButton)
