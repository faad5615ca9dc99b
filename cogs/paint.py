"""🖌️ Paint a region: a result's button, and the Edit image form's "paint it in the browser"
choice, answer with a private one-use link to the paint page (``bot.web``). The page sends the
edit itself; its result is posted as a reply to the image, like any edit. Offered only when
PUBLIC_URL is set (``bot.painting``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord

from bot.domain import Job
from bot.errors import EaselError
from bot.inputs import check_may_use
from bot.web.links import PaintRequest
from cogs import links
from cogs.modals import EditForm
from cogs.template import JobButton, private

PAINT_CHOICE = "paint"  # the Edit image form's region value that asks for a link instead
NOT_SET_UP = "Painting in the browser isn't set up on this Easel (PUBLIC_URL is not set)."


class PaintButton(JobButton):
    action, label, emoji, acknowledge = "paint", "Paint a region", "🖌️", "ephemeral"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if interaction.message is None or not job.result_images:
            raise EaselError("There's no image here to paint on.")
        origin = paint_origin(interaction, interaction.message)
        check_may_use(job, str(interaction.user.id), origin)
        request = PaintRequest(
            user_id=str(interaction.user.id),
            image=job.result_images[0],
            prompt=job.prompt,
            model=job.spec.model,
            origin=origin,
            job_id=job.id,
        )
        await send_link(interaction, request)


def paint_items(job: Job) -> list[JobButton]:
    """The button under a result; private results have no channel message to reply to."""
    return [PaintButton(job.id)] if job.result_images and not private(job) else []


def paint_origin(interaction: discord.Interaction[Any], target: discord.Message) -> dict[str, Any]:
    """The painted edit's result goes in the channel, as a reply to the painted image."""
    return {
        "guild_id": str(interaction.guild_id) if interaction.guild_id else None,
        "channel_id": str(target.channel.id),
        "user_id": str(interaction.user.id),
        "private": False,
        "upload_limit": interaction.filesize_limit or links.DEFAULT_UPLOAD_LIMIT,
        "reply_to": str(target.id),
        "source_message": str(target.id),
        "source_channel": str(target.channel.id),
    }


async def send_link(interaction: discord.Interaction[Any], request: PaintRequest) -> None:
    painting = interaction.client.painting
    if painting is None:
        raise EaselError(NOT_SET_UP)
    url = await painting.link(request, datetime.now(UTC))
    await interaction.followup.send(
        f"🖌️ Paint the part to change, then press Send: {url}\n"
        "This link is yours alone: it works once, for 15 minutes.",
        ephemeral=True,
    )


async def form_link(
    edit: Any, interaction: discord.Interaction[Any], target: discord.Message, form: EditForm
) -> None:
    """The Edit image form asked to paint: the message's first image, kept, behind a link."""
    await interaction.response.defer(thinking=True, ephemeral=True)
    gathered = await edit.sources.gather(target, text=form.instruction)
    service = interaction.client.service
    painting = interaction.client.painting
    if painting is None:
        raise EaselError(NOT_SET_UP)
    image = await painting.keep_image(gathered.inputs[0].data, service.limits)
    parent = await service.store.get_job(gathered.parent_job_id) if gathered.parent_job_id else None
    request = PaintRequest(
        user_id=str(interaction.user.id),
        image=image,
        prompt=form.instruction,
        model=form.model or (parent.spec.model if parent else ""),
        origin={**paint_origin(interaction, target), "notes": gathered.notes},
        job_id=parent.id if parent else None,
    )
    await send_link(interaction, request)
