"""Edits of images already in the channel: reply to them, or Apps → Edit image. Translation only:
Discord messages → downloaded inputs (cogs.sources) → ImageService.submit_edit → delivery."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import edits, masks, options
from bot.domain import ImageSpec, Job
from bot.errors import EaselError
from cogs import links, paint, render
from cogs.buttons import mask_preview_view
from cogs.modals import EditForm, EditImageModal
from cogs.replies import error_kwargs, send_error
from cogs.sources import Gathered, Sources

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)

REPLY_MODES = ("mentions", "all")
NO_INSTRUCTION = (
    "Tell me what to change: reply to the image with an instruction, "
    "like “@Easel make the sky purple”."
)


class Edit(commands.Cog):
    """Reply-to-edit, the Edit image message command and the channel's reply setting."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.sources = Sources(bot)
        # Context menus can't be methods of a cog; discord.py wants them built by hand.
        self.menu = app_commands.ContextMenu(name="Edit image", callback=self.edit_image_menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        await self.sources.close()

    # -- reply to edit --------------------------------------------------------------------------
    async def on_reply(self, message: discord.Message) -> None:
        """A reply outside Easel's threads: an edit request when it asks for one."""
        me = self.bot.user
        if me is None or message.reference is None:
            return
        if message.reference.type is discord.MessageReferenceType.forward:
            return  # a copy of a message, not a reply to it: it asks for nothing
        target = await self._replied_to(message)
        if target is None:
            return
        if not edits.mentions(message.content, me.id):
            # Without a mention only images count: Easel's results, or any image if the channel
            # says so; "thanks!" under an error message is not a request.
            is_result = target.author.id == me.id and bool(self.sources.refs(target))
            if not (is_result or await self._every_reply(target)):
                return
        await self.edit_by_reply(message, target)

    async def edit_by_reply(self, message: discord.Message, target: discord.Message) -> None:
        assert self.bot.user is not None
        text, asked = edits.split_model(edits.instruction(message.content, self.bot.user.id))
        if not text:
            await message.reply(NO_INSTRUCTION, mention_author=False)
            return
        try:  # the server's rules, before anything is fetched
            await self.bot.service.policy.admit("edit", links.reply_origin(message))
        except EaselError as exc:
            await message.reply(
                exc.user_message,
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        progress = await message.reply(
            f"> {render.clip(text, 300)}\n⏳ Fetching the images…",
            mention_author=False,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        try:
            gathered = await self.sources.gather(target, [message], text=text)
            origin = links.reply_origin(
                message,
                progress_message_id=str(progress.id),
                **self.source_of(target, gathered),
            )
            job = await self.submit(text, gathered, asked, str(message.author.id), origin)
        except EaselError as exc:
            await progress.edit(content="", **await error_kwargs(self.bot, exc, prompt=text))
            return
        await self.bot.delivery.launch(job)

    async def _replied_to(self, message: discord.Message) -> discord.Message | None:
        reference = message.reference
        assert reference is not None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        if reference.message_id is None or reference.channel_id != message.channel.id:
            return None
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return None

    async def _every_reply(self, target: discord.Message) -> bool:
        """The channel's setting makes any reply to an image an edit request."""
        if not self.sources.refs(target):
            return False
        settings = await self.bot.service.store.channel_settings(str(target.channel.id))
        return settings.get("replies") == "all"

    # -- shared by every way in ------------------------------------------------------------------
    async def spec(
        self, gathered: Gathered, asked: str | None, origin: dict[str, Any]
    ) -> tuple[ImageSpec, list[str]]:
        """The model asked for, else the one that made the replied-to result, else the
        channel's or server's default edit model, else EDIT_MODEL."""
        store, catalog = self.bot.service.store, self.bot.service.catalog
        parent = await store.get_job(gathered.parent_job_id) if gathered.parent_job_id else None
        model, notes = options.edit_model(
            catalog,
            await self.default_model(origin),
            made_by=parent.spec.model if parent else None,
            asked=asked,
        )
        fidelity = "high" if model.input_fidelity else None
        return ImageSpec(model=model.id, input_fidelity=fidelity), notes

    @staticmethod
    def source_of(target: discord.Message, gathered: Gathered) -> dict[str, Any]:
        """Where the inputs came from, for lineage, and what the user should know about them."""
        return {
            "source_message": str(target.id),
            "source_channel": str(target.channel.id),
            "notes": gathered.notes,
        }

    async def submit(
        self,
        text: str,
        gathered: Gathered,
        asked: str | None,
        user_id: str,
        origin: dict[str, Any],
    ) -> Job:
        spec, notes = await self.spec(gathered, asked, origin)
        if notes:
            origin = {**origin, "notes": [*origin.get("notes", []), *notes]}
        return await self.bot.service.submit_edit(
            text,
            gathered.inputs,
            spec,
            mask=gathered.mask,
            user_id=user_id,
            origin=origin,
            parent_job_id=gathered.parent_job_id,
        )

    async def default_model(self, origin: dict[str, Any]) -> str:
        policy = self.bot.service.policy
        return await policy.default_model("edit", origin) or self.bot.settings.edit_model

    async def preview_kwargs(self, job: Job) -> dict[str, Any]:
        """The mask over the first image, so the user can check the area before paying."""
        view = mask_preview_view(job)
        if job.mask_image is None:
            text = "There's no mask, so the model may change any part of the image. Go ahead?"
            return {"content": text, "view": view}
        store = self.bot.service.store
        first, mask = (
            await store.get_image(job.input_images[0]),
            await store.get_image(job.mask_image),
        )
        png = await asyncio.to_thread(masks.mask_preview, first, mask)
        return {
            "content": "Magenta is the area I'll change; the dimmed part stays. Go ahead?",
            "attachments": [discord.File(io.BytesIO(png), filename="mask-preview.png")],
            "view": view,
        }

    # -- Apps → Edit image ---------------------------------------------------------------------
    async def edit_image_menu(
        self, interaction: discord.Interaction[EaselBot], message: discord.Message
    ) -> None:
        if not self.sources.refs(message):
            await interaction.response.send_message(
                "That message has no image I can edit. Pick a message with an image attached.",
                ephemeral=True,
            )
            return
        actor = links.actor_origin(interaction)
        try:
            await self.bot.service.policy.admit("edit", actor)
        except EaselError as exc:
            await send_error(interaction, exc)
            return
        made_by = await self._made_by(message, actor)
        await interaction.response.send_modal(
            EditImageModal(
                self.bot.service.catalog,
                message,
                made_by,
                self.submit_form,
                paint=self.bot.painting is not None,
            )
        )

    async def submit_form(
        self, interaction: discord.Interaction[Any], target: discord.Message, form: EditForm
    ) -> None:
        """The Edit image form, from Apps → Edit image or a result's Edit image button."""
        if form.region == paint.PAINT_CHOICE:
            return await paint.form_link(self, interaction, target, form)
        await interaction.response.defer(thinking=True, ephemeral=form.preview)
        gathered = await self.sources.gather(
            target, mask_upload=form.mask, region=edits.region(form.region), text=form.instruction
        )
        origin = links.interaction_origin(
            interaction, private=form.preview, **self.source_of(target, gathered)
        )
        job = await self.submit(
            form.instruction, gathered, form.model or None, str(interaction.user.id), origin
        )
        if form.preview:
            # A draft: stored with its inputs and mask, but nothing runs until Go ahead.
            await self.bot.service.store.cancel_job(job.id)
            await interaction.edit_original_response(**await self.preview_kwargs(job))
            return
        await self.bot.delivery.launch(job)

    async def _made_by(self, message: discord.Message, actor: dict[str, Any]) -> str:
        """The form's first choice: the model behind an Easel result, else the default."""
        parent = await self.sources.parent_job(message)
        return parent.spec.model if parent else await self.default_model(actor)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context[Any], error: Exception) -> None:
        # Mentions are the prefix for (no) text commands: "@Easel make it blue" is not an error.
        if not isinstance(error, commands.CommandNotFound):
            log.error("text command failed", exc_info=error)


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(Edit(bot))
