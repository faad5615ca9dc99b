"""Every button, and the rows a result or an error carries; each follows the template in
``cogs.template``."""

from __future__ import annotations

import io
from typing import Any

import discord
from discord.ext import commands

from bot import media
from bot.domain import Job, JobKind, JobStatus
from bot.errors import EaselError, NotFound
from cogs import links, render
from cogs.iterate import result_items
from cogs.modals import EditImageModal, RemixModal
from cogs.paint import PaintButton, paint_items
from cogs.replies import reply
from cogs.template import OWNER, OWNER_OR_MOD, JobButton, private
from cogs.threads import threads_of


class RetryButton(JobButton):
    action, label, emoji, acknowledge = "retry", "Retry", "🔁", "as_job"
    starts = "same"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        origin = links.interaction_origin(interaction, private=private(job))
        retry = await client.service.submit_retry(
            job,
            user_id=str(interaction.user.id),
            origin=origin,
            n=self.count(job),
            sees=links.sees(interaction.guild, interaction.user),
        )
        await client.delivery.launch(retry)

    def count(self, job: Job) -> int | None:
        """How many images the new job makes; None: as many as the first asked for."""
        return None


class MissingButton(RetryButton):
    """Makes the images a result lacks (a chat call failed, or the model made fewer)."""

    action, label, emoji = "missing", "Retry missing", "➕"

    def count(self, job: Job) -> int | None:
        return _missing(job) or None


def _missing(job: Job) -> int:
    return max(0, job.spec.n - len(job.result_images)) if job.result_images else 0


class RemixButton(JobButton, template=r"easel:(?:remix|edit):(?P<id>\d+)"):
    """Change the prompt, model or shape and run again (ids of old messages said "edit")."""

    action, label, emoji = "remix", "Remix", "🎛️"
    starts = "same"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        await interaction.response.send_modal(RemixModal(interaction.client.service.catalog, job))


class DeleteButton(JobButton):
    action, label, emoji, acknowledge = "delete", "Delete", "🗑️", "update"
    style = discord.ButtonStyle.danger
    who, refusal = (
        OWNER_OR_MOD,
        "Only the person who asked for this image, or a moderator, can delete it.",
    )

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if interaction.message is not None:
            await interaction.message.delete()


class CancelButton(JobButton):
    action, label, emoji = "cancel", "Cancel", "✖️"
    who, refusal = OWNER, "Only the person who asked for this job can cancel it."

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        cancelled = await client.queue.cancel(job.id)
        if not cancelled and job.status is JobStatus.QUEUED:
            cancelled = await client.service.store.cancel_job(job.id)
        await reply(interaction, "Cancelled." if cancelled else "That job has already finished.")


class FullResButton(JobButton):
    action, label, emoji, acknowledge = "full", "Full resolution", "🖼️", "ephemeral"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        store = interaction.client.service.store
        limit = interaction.filesize_limit or links.DEFAULT_UPLOAD_LIMIT
        files, too_big = [], []
        for index, sha in enumerate(job.result_images, start=1):
            data = await store.get_image(sha)
            info = await store.image_info(sha)
            name = f"easel-{job.id}-{index}-full.{media.extension(info.mime if info else '')}"
            if len(data) <= limit:
                files.append(discord.File(io.BytesIO(data), filename=name))
            else:
                too_big.append(f"image {index} is {len(data) / 2**20:.1f} MB")
        await interaction.followup.send(
            render.full_resolution_text(bool(files), too_big, limit, job.id),
            files=files[:10],
            ephemeral=True,
        )


class MaskGoButton(JobButton):
    action, label, emoji = "maskgo", "Go ahead", "✅"
    starts = "edit"
    style = discord.ButtonStyle.success
    who, refusal = OWNER, "Only the person who asked for this edit can start it."

    async def act(self, interaction: discord.Interaction[Any], draft: Job) -> None:
        client = interaction.client
        if draft.status is not JobStatus.CANCELLED or not await client.service.store.set_delivery(
            draft.id, {"state": "launched"}
        ):
            raise EaselError("That edit has already started.")
        await interaction.response.defer(thinking=True)
        kept = ("source_message", "source_channel", "notes")
        origin = links.interaction_origin(
            interaction,
            **{k: draft.origin[k] for k in kept if k in draft.origin},
            preview_of=draft.id,
        )
        job = await client.service.submit_retry(
            draft, user_id=str(interaction.user.id), origin=origin
        )
        await client.delivery.launch(job)


class EditImageButton(JobButton):
    """Opens the Edit image form on this result, as Apps → Edit image would."""

    action, label, emoji = "editimage", "Edit image", "🖌️"
    starts = "edit"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if interaction.message is None:
            raise NotFound("I can't see that message any more.")
        edit = interaction.client.get_cog("Edit")
        await interaction.response.send_modal(
            EditImageModal(
                interaction.client.service.catalog,
                interaction.message,
                job.spec.model,
                edit.submit_form,
                paint=interaction.client.painting is not None,
            )
        )


class SourceButton(JobButton):
    action, label, emoji = "source", "Source", "🧬"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        service = interaction.client.service
        chain = await service.store.job_lineage(job.id)
        text = render.lineage_text(chain, service.catalog, interaction.guild_id)
        await interaction.response.send_message(text, ephemeral=True)


class RefineButton(JobButton):
    action, label, emoji, acknowledge = "refine", "Refine in thread", "🧵", "ephemeral"
    starts = "refine"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if interaction.message is None:
            raise NotFound("I can't see that message any more.")
        threads = threads_of(interaction.client)
        thread = await threads.open(interaction.message, job, str(interaction.user.id))
        await interaction.followup.send(
            f"Started {thread.mention}: every message there refines the latest image.",
            ephemeral=True,
        )


async def _may_refine(self: JobButton, interaction: discord.Interaction[Any], job: Job) -> None:
    sessions = interaction.client.service.sessions
    sessions.check_may_refine(await sessions.session_of(job), str(interaction.user.id))


class RevertButton(JobButton):
    action, label, emoji = "revert", "Revert to this", "↩️"

    allowed = _may_refine

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        version = await interaction.client.service.sessions.revert(job)
        await reply(interaction, f"The next message refines v{version}.")


class BranchButton(JobButton):
    action, label, emoji, acknowledge = "branch", "Branch", "🌿", "ephemeral"
    starts = "refine"

    allowed = _may_refine

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        thread = await threads_of(interaction.client).branch(job, str(interaction.user.id))
        await interaction.followup.send(f"Branched into {thread.mention}.", ephemeral=True)


def result_view(
    job: Job, *, ok: bool = True, running: bool = False, full: bool = False, paint: bool = False
) -> discord.ui.View:
    """The buttons under a job's message: Cancel while it runs; then its result's actions."""
    view = discord.ui.View(timeout=None)
    items: list[JobButton] = []
    if running:
        items.append(CancelButton(job.id))
    else:
        items += [RetryButton(job.id), RemixButton(job.id)]
    if ok and not running:
        items += [MissingButton(job.id)] if _missing(job) else []
        items += [FullResButton(job.id)] if full else []
        items.append(DeleteButton(job.id))
        if job.kind is JobKind.EDIT:
            items += [EditImageButton(job.id), SourceButton(job.id)]
        elif job.parent_job_id is not None:  # a pick of a comparison
            items.append(SourceButton(job.id))
        items += paint_items(job) if paint else []  # with PUBLIC_URL (cogs.paint)
        if job.result_images and job.session_id is None:
            # Threads need a server channel: in a DM or on a private result, refining goes on
            # by replying to the result instead.
            if job.origin.get("guild_id") and not job.origin.get("private"):
                items.append(RefineButton(job.id))
        elif job.result_images:
            items += [RevertButton(job.id), BranchButton(job.id)]
    for item in items:
        view.add_item(item)
    for extra in result_items(job) if ok and not running else ():
        view.add_item(extra)  # More… (vary, zoom, pan…), a comparison's pick, /describe's prompts
    return view


def mask_preview_view(draft: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(MaskGoButton(draft.id))
    return view


BUTTONS = (
    RetryButton,
    MissingButton,
    RemixButton,
    DeleteButton,
    CancelButton,
    FullResButton,
    MaskGoButton,
    EditImageButton,
    SourceButton,
    RefineButton,
    RevertButton,
    BranchButton,
    PaintButton,
)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(*BUTTONS)
