"""Add as emoji / Add as sticker (in a result's More… select): for members with Manage
Expressions, the result trimmed and fitted by ``bot.expressions`` and uploaded to the server."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord

from bot import expressions
from bot.domain import Job
from bot.errors import DeliveryError, InputError, NotAllowed

LABELS = {"emoji": "Add as emoji", "sticker": "Add as sticker"}
STICKER_EMOJI = "🎨"  # the related emoji Discord asks every sticker for


async def add_expression(interaction: discord.Interaction[Any], job: Job, kind: str) -> None:
    """Upload the job's first image as ``kind``, answering only the member who asked."""
    guild = interaction.guild
    if guild is None:
        raise InputError("Emojis and stickers belong to a server; try this in one.")
    perms = interaction.permissions
    if not (perms.manage_expressions or perms.create_expressions):
        raise NotAllowed("Adding emojis and stickers needs the Manage Expressions permission.")
    if not job.result_images:
        raise InputError("That job has no image to add.")
    await interaction.response.defer(ephemeral=True, thinking=True)
    target = expressions.KINDS[kind]
    data = await interaction.client.service.store.get_image(job.result_images[0])
    png = await asyncio.to_thread(expressions.fitted, data, target)
    name = expressions.name_for(job.prompt, target, job.id)
    reason = f"Easel job {job.id}, for {interaction.user}"
    try:
        if kind == "emoji":
            emoji = await guild.create_custom_emoji(name=name, image=png, reason=reason)
            text = f"Added {emoji} as :{emoji.name}: ({len(png) // 1024} KB)."
        else:
            file = discord.File(io.BytesIO(png), filename=f"{name}.png")
            sticker = await guild.create_sticker(
                name=name,
                description=job.prompt[:100],
                emoji=STICKER_EMOJI,
                file=file,
                reason=reason,
            )
            text = f"Added the sticker **{sticker.name}** (320×320, {len(png) // 1024} KB)."
    except discord.Forbidden as exc:
        raise DeliveryError("I need the Manage Expressions permission in this server.") from exc
    except discord.HTTPException as exc:
        raise DeliveryError(f"Discord refused the {kind}: {exc.text or exc.status}.") from exc
    await interaction.followup.send(text, ephemeral=True)
