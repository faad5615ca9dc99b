"""Every button, and the rows a result or an error carries. Buttons survive restarts: each keeps
only a job id in its custom id (``cogs.links``), and the store has the rest.

``JobButton`` is the template every button follows: load the job, check who may press it,
acknowledge, act; any error on the way is answered through ``replies.send_error``.
"""

from __future__ import annotations

import io
import re
from typing import Any, ClassVar

import discord
from discord.ext import commands

from bot import media
from bot.domain import Job, JobKind, JobStatus
from bot.errors import EaselError, NotAllowed, NotFound
from cogs import links, render
from cogs.modals import EditImageModal, RemixModal
from cogs.replies import reply, send_error, send_unexpected
from cogs.threads import threads_of

OWNER, OWNER_OR_MOD, ANYONE = "owner", "owner_or_mod", "anyone"


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=links.template("job")):
    """Base for buttons keyed by a job id; subclasses set the action word, look and rules."""

    action = "job"
    label = "?"
    emoji: str | None = None
    style = discord.ButtonStyle.secondary
    who: ClassVar[str] = ANYONE  # who may press it
    refusal: ClassVar[str] = ""  # said to anyone else
    acknowledge: ClassVar[str | None] = None  # "ephemeral", "as_job", "update", or act answers

    def __init_subclass__(cls, **kwargs: Any) -> None:
        kwargs.setdefault("template", links.template(cls.action))
        super().__init_subclass__(**kwargs)

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=links.custom_id(self.action, job_id),
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            job = await interaction.client.service.store.get_job(self.job_id)
            if job is None:
                raise NotFound("I can't find that job any more.")
            self.check(interaction, job)
            await self._acknowledge(interaction, job)
            await self.act(interaction, job)
        except EaselError as exc:
            await send_error(interaction, exc)
        except Exception as exc:
            await send_unexpected(interaction, exc)

    def check(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if self.who == ANYONE or str(interaction.user.id) == job.user_id:
            return
        perms = getattr(interaction, "permissions", None)
        if self.who == OWNER_OR_MOD and perms is not None and perms.manage_messages:
            return
        raise NotAllowed(self.refusal)

    async def _acknowledge(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if self.acknowledge == "ephemeral":
            await interaction.response.defer(ephemeral=True, thinking=True)
        elif self.acknowledge == "as_job":
            await interaction.response.defer(thinking=True, ephemeral=_private(job))
        elif self.acknowledge == "update":
            await interaction.response.defer()

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        raise NotImplementedError


def _private(job: Job) -> bool:
    return bool(job.origin.get("private"))


class RetryButton(JobButton):
    action, label, emoji, acknowledge = "retry", "Retry", "🔁", "as_job"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        origin = links.interaction_origin(interaction, private=_private(job))
        retry = await client.service.submit_retry(
            job, user_id=str(interaction.user.id), origin=origin
        )
        await client.delivery.launch(retry)


class MissingButton(JobButton):
    """Makes the images a result lacks (a chat call failed, or the model made fewer)."""

    action, label, emoji, acknowledge = "missing", "Retry missing", "➕", "as_job"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        origin = links.interaction_origin(interaction, private=_private(job))
        retry = await client.service.submit_retry(
            job, user_id=str(interaction.user.id), origin=origin, n=_missing(job) or None
        )
        await client.delivery.launch(retry)


def _missing(job: Job) -> int:
    return max(0, job.spec.n - len(job.result_images)) if job.result_images else 0


class RemixButton(JobButton, template=r"easel:(?:remix|edit):(?P<id>\d+)"):
    """Change the prompt, model or shape and run again (ids of old messages said "edit")."""

    action, label, emoji = "remix", "Remix", "🎛️"

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

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if interaction.message is None:
            raise NotFound("I can't see that message any more.")
        threads = threads_of(interaction.client)
        thread = await threads.open(interaction.message, job, str(interaction.user.id))
        await interaction.followup.send(
            f"Started {thread.mention}: every message there refines the latest image.",
            ephemeral=True,
        )


class RevertButton(JobButton):
    action, label, emoji = "revert", "Revert to this", "↩️"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        sessions = interaction.client.service.sessions
        sessions.check_may_refine(await sessions.session_of(job), str(interaction.user.id))
        version = await sessions.revert(job)
        await reply(interaction, f"The next message refines v{version}.")


class BranchButton(JobButton):
    action, label, emoji, acknowledge = "branch", "Branch", "🌿", "ephemeral"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        sessions = interaction.client.service.sessions
        sessions.check_may_refine(await sessions.session_of(job), str(interaction.user.id))
        thread = await threads_of(interaction.client).branch(job, str(interaction.user.id))
        await interaction.followup.send(f"Branched into {thread.mention}.", ephemeral=True)


def result_view(
    job: Job, *, ok: bool = True, running: bool = False, full: bool = False
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
        if job.result_images and job.session_id is None:
            # Threads need a server channel: in a DM or on a private result, refining goes on
            # by replying to the result instead.
            if job.origin.get("guild_id") and not job.origin.get("private"):
                items.append(RefineButton(job.id))
        elif job.result_images:
            items += [RevertButton(job.id), BranchButton(job.id)]
    for item in items:
        view.add_item(item)
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
)


async def setup(bot: commands.Bot) -> None:
    bot.add_dynamic_items(*BUTTONS)
