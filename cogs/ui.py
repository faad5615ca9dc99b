"""Buttons and modals that survive restarts: every state they need is in the custom_id (a job id)
and the store, so a click after a restart works like one before it."""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import media
from bot.domain import ApiFamily, ImageSpec, Job, JobKind, JobStatus
from bot.errors import EaselError, InvalidOption
from cogs import render
from cogs.delivery import interaction_origin

if TYPE_CHECKING:
    from bot.app import EaselBot
    from bot.service import ImageService

log = logging.getLogger(__name__)


def job_view(
    job: Job, *, ok: bool = True, running: bool = False, full: bool = False
) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if running:
        view.add_item(CancelButton(job.id))
        return view
    view.add_item(RetryButton(job.id))
    view.add_item(EditButton(job.id))
    if ok and full:
        view.add_item(FullResButton(job.id))
    if ok:
        view.add_item(DeleteButton(job.id))
    if ok and job.kind is JobKind.EDIT:
        from cogs.edit_ui import EditAgainButton, SourceButton  # edit_ui builds on this module

        view.add_item(EditAgainButton(job.id))
        view.add_item(SourceButton(job.id))
    if ok and job.result_images:
        from cogs.refine import refine_buttons  # refine builds on this module

        for item in refine_buttons(job):
            view.add_item(item)
    return view


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"easel:job:(?P<id>\d+)"):
    """Base for buttons keyed by a job id; subclasses set the action word and look."""

    action = "job"
    label = "?"
    emoji: str | None = None
    style = discord.ButtonStyle.secondary

    def __init_subclass__(cls, **kwargs: Any) -> None:
        kwargs.setdefault("template", rf"easel:{cls.action}:(?P<id>\d+)")
        super().__init_subclass__(**kwargs)

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=f"easel:{self.action}:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(int(match["id"]))

    async def load(self, interaction: discord.Interaction[Any]) -> Job | None:
        job: Job | None = await interaction.client.service.store.get_job(self.job_id)
        if job is None:
            await reply(interaction, "I can't find that job any more.")
        return job


class RetryButton(JobButton, template=r"easel:retry:(?P<id>\d+)"):
    action, label, emoji = "retry", "Retry", "🔁"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None:
            return
        await interaction.response.defer(thinking=True, ephemeral=bool(job.origin.get("private")))
        origin = interaction_origin(interaction, private=bool(job.origin.get("private")))
        retry = await interaction.client.service.submit_retry(
            job, user_id=str(interaction.user.id), origin=origin
        )
        await interaction.client.delivery.launch(retry)


class EditButton(JobButton, template=r"easel:edit:(?P<id>\d+)"):
    action, label, emoji = "edit", "Edit", "✏️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is not None:
            await interaction.response.send_modal(EditModal(interaction.client, job))


class DeleteButton(JobButton, template=r"easel:delete:(?P<id>\d+)"):
    action, label, emoji = "delete", "Delete", "🗑️"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None:
            return
        perms = getattr(interaction, "permissions", None)
        is_mod = bool(perms and perms.manage_messages)
        if str(interaction.user.id) != job.user_id and not is_mod:
            await reply(
                interaction,
                "Only the person who asked for this image, or a moderator, can delete it.",
            )
            return
        await interaction.response.defer()
        if interaction.message is not None:
            await interaction.message.delete()


class CancelButton(JobButton, template=r"easel:cancel:(?P<id>\d+)"):
    action, label, emoji = "cancel", "Cancel", "✖️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None:
            return
        if str(interaction.user.id) != job.user_id:
            await reply(interaction, "Only the person who asked for this job can cancel it.")
            return
        cancelled = await interaction.client.queue.cancel(job.id)
        if not cancelled and job.status is JobStatus.QUEUED:
            cancelled = await interaction.client.service.store.cancel_job(job.id)
        await reply(interaction, "Cancelled." if cancelled else "That job has already finished.")


class FullResButton(JobButton, template=r"easel:full:(?P<id>\d+)"):
    action, label, emoji = "full", "Full resolution", "🖼️"

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        job = await self.load(interaction)
        if job is None:
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        store = interaction.client.service.store
        limit = interaction.filesize_limit or render.DEFAULT_UPLOAD_LIMIT
        files, too_big = [], []
        for index, sha in enumerate(job.result_images, start=1):
            data = await store.get_image(sha)
            info = await store.image_info(sha)
            ext = media.extension(info.mime if info else "")
            if len(data) <= limit:
                files.append(
                    discord.File(io.BytesIO(data), filename=f"easel-{job.id}-{index}-full.{ext}")
                )
            else:
                too_big.append(f"image {index} is {len(data) / 2**20:.1f} MB")
        text = "Here are the originals." if files else ""
        if too_big:
            text += (
                f"\n{'; '.join(too_big)}, over this server's {limit / 2**20:.0f} MB upload "
                "limit, so Discord can't carry the original. The copy above is the largest "
                "that fits; the bot's owner can find the original in its data folder "
                f"(job {job.id})."
            )
        await interaction.followup.send(text.strip(), files=files[:10], ephemeral=True)


class EditModal(discord.ui.Modal):
    """A new prompt, model or shape for a job, run as a new job."""

    def __init__(self, bot: EaselBot, job: Job) -> None:
        super().__init__(
            title="Edit and run again", timeout=None, custom_id=f"easel:editmodal:{job.id}"
        )
        self.job = job
        spec = job.spec
        model = bot.service.catalog.get(spec.model)
        self.prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Prompt",
            style=discord.TextStyle.paragraph,
            default=job.prompt[:4000],
            max_length=4000,
        )
        self.model: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Model", default=spec.model, max_length=200
        )
        shape = spec.aspect_ratio if model.family is ApiFamily.CHAT else spec.size
        self.shape: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Aspect ratio or size",
            required=False,
            default=shape or "",
            max_length=20,
            placeholder="16:9, 1:1 … or 1536x1024",
        )
        self.resolution: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Resolution (1K/2K/4K) or quality",
            required=False,
            default=spec.resolution or spec.quality or "",
            max_length=10,
        )
        self.count: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Number of images (1-10)", default=str(spec.n), max_length=2
        )
        for item in (self.prompt, self.model, self.shape, self.resolution, self.count):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        service = interaction.client.service
        private = bool(self.job.origin.get("private"))
        await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            spec = spec_from_text(
                service,
                self.model.value.strip(),
                self.shape.value.strip(),
                self.resolution.value.strip(),
                self.count.value.strip(),
                base=self.job.params,
            )
            origin = interaction_origin(interaction, private=private)
            job = await service.submit_variant(
                self.job, self.prompt.value, spec, origin=origin, user_id=str(interaction.user.id)
            )
        except EaselError as exc:
            failed = await service.store.get_job(exc.job_id) if exc.job_id else None
            await interaction.followup.send(
                **_payload_kwargs(
                    render.error_payload(
                        failed,
                        exc,
                        prompt=self.prompt.value,
                        view=job_view(failed, ok=False) if failed else None,
                    )
                ),
                ephemeral=private,
            )
            return
        await interaction.client.delivery.launch(job)


def spec_from_text(
    service: ImageService, model_id: str, shape: str, tier: str, count: str, base: dict[str, Any]
) -> ImageSpec:
    """Turn the modal's free text into an ImageSpec; check_spec later names allowed values."""
    model = service.catalog.get(model_id)
    params = {
        k: v for k, v in base.items() if k in ("background", "output_format", "input_fidelity")
    }
    try:
        n = int(count or 1)
    except ValueError:
        raise InvalidOption("The number of images must be a whole number from 1 to 10.") from None
    if model.family is ApiFamily.CHAT:
        params.update(aspect_ratio=shape or None, resolution=tier.upper() or None)
    else:
        params.update(size=shape or None, quality=tier.lower() or None)
    return ImageSpec(model=model.id, n=n, **{k: v for k, v in params.items() if v})


def _payload_kwargs(payload: render.Payload) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"embeds": payload.embeds}
    if payload.view is not None:
        kwargs["view"] = payload.view
    return kwargs


async def reply(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer ephemerally whether or not the interaction was already acknowledged."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


DYNAMIC_ITEMS = (RetryButton, EditButton, DeleteButton, CancelButton, FullResButton)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
