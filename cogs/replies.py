"""Answering an interaction whatever state it is in: fresh (answer it), already acknowledged
(follow up) or expired (a DM, since the token is gone). Every error a command, button or modal
meets ends here, in one shape: the error embed, the prompt shown back, Retry when a job was kept.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import EaselError, NeedsConfirmation, NotAllowed
from cogs import links, render

log = logging.getLogger(__name__)

# Discord's own names where the API's differ.
UI_NAMES = {"manage_guild": "Manage Server", "manage_messages": "Manage Messages"}
UNEXPECTED = "Something went wrong on our side. Try again in a moment."


async def reply(interaction: discord.Interaction[Any], text: str) -> None:
    """Answer ephemerally whether or not the interaction was already acknowledged."""
    await _answer(interaction, {"content": text})


async def send_error(
    interaction: discord.Interaction[Any], error: EaselError, *, prompt: str | None = None
) -> None:
    """The friendly form of ``error``; with its stored job (if one was kept) and a Retry."""
    await _answer(interaction, await error_kwargs(interaction.client, error, prompt=prompt))


async def error_kwargs(
    client: Any, error: EaselError, *, prompt: str | None = None
) -> dict[str, Any]:
    """The error embed that shows the prompt back, with Retry when a job was kept; for a send
    or an edit of any message (a progress reply, a deferred response)."""
    job = await client.service.store.get_job(error.job_id) if error.job_id else None
    view = client.delivery.view_for(job, ok=False) if job is not None else None
    if job is not None and isinstance(error, NeedsConfirmation):
        view = confirm_view(job.id)
    payload = render.error_payload(job, error, prompt=prompt, view=view)
    kwargs: dict[str, Any] = {"embeds": payload.embeds}
    if view is not None:
        kwargs["view"] = view
    return kwargs


def confirm_view(job_id: int) -> discord.ui.View:
    """Confirm runs the kept job (``cogs.confirm.ConfirmButton`` answers the id); Retry, as on
    every error, names the message's job."""
    view = discord.ui.View(timeout=None)
    for action, label, emoji, style in (
        ("confirm", "Confirm", "💸", discord.ButtonStyle.success),
        (links.JOB_ACTION, "Retry", "🔁", discord.ButtonStyle.secondary),
    ):
        custom_id = links.custom_id(action, job_id)
        view.add_item(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id))
    return view


async def send_unexpected(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """A failure nobody planned for: logged with its traceback, shown as a plain apology."""
    log.error("interaction %s failed", _what(interaction), exc_info=error)
    await send_error(interaction, EaselError(UNEXPECTED))


async def _answer(interaction: discord.Interaction[Any], kwargs: dict[str, Any]) -> None:
    try:
        if interaction.is_expired():
            await _by_dm(interaction, kwargs)
        elif interaction.response.is_done():
            await interaction.followup.send(ephemeral=True, **kwargs)
        else:
            await interaction.response.send_message(ephemeral=True, **kwargs)
    except discord.HTTPException as exc:
        log.warning("could not answer interaction %s: %s", _what(interaction), exc)


async def _by_dm(interaction: discord.Interaction[Any], kwargs: dict[str, Any]) -> None:
    """The token has expired: the user still hears why, privately."""
    kwargs.pop("view", None)  # a Retry under a DM would post the retry in the DM
    with contextlib.suppress(discord.HTTPException):
        await interaction.user.send(**kwargs)


def _what(interaction: discord.Interaction[Any]) -> str:
    command = interaction.command.name if interaction.command else None
    custom = (interaction.data or {}).get("custom_id") if interaction.data else None
    return str(command or custom or interaction.id)


class EaselModal(discord.ui.Modal):
    """A modal whose failures reach the user like a button's do."""

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        if isinstance(error, EaselError):
            await send_error(interaction, error, prompt=self.prompt_text())
        else:
            await send_unexpected(interaction, error)

    def prompt_text(self) -> str | None:
        """What the user typed, shown back with the error so it is not lost."""
        return None


async def command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """The command tree's one error handler."""
    cause = getattr(error, "original", error)
    if isinstance(cause, EaselError):
        await send_error(interaction, cause)
    elif isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(
            UI_NAMES.get(p, p.replace("_", " ").title()) for p in error.missing_permissions
        )
        await send_error(interaction, NotAllowed(f"You need the {needed} permission for that."))
    elif isinstance(error, app_commands.CheckFailure):
        await send_error(interaction, NotAllowed("You can't use that command here."))
    else:
        await send_unexpected(interaction, cause)


async def setup(bot: commands.Bot) -> None:
    bot.tree.error(command_error)
