"""How Discord and the store point at each other: where a job's result goes back to (its
origin), and how a message of Easel's points to its job (the ``easel:<action>:<id>`` ids of its
buttons). The one place that format is written or read."""

from __future__ import annotations

import re
from typing import Any

import discord

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
# Every button id: "easel:<action>:<job id>", at most 100 characters as Discord requires.
CUSTOM_ID = re.compile(r"easel:(?P<action>[a-z]+):(?P<id>\d+)")
# The button every result and every error carries, so it names the message's job.
JOB_ACTION = "retry"


def custom_id(action: str, job_id: int) -> str:
    return f"easel:{action}:{job_id}"


def template(action: str) -> str:
    """The DynamicItem template for one action's buttons."""
    return rf"easel:{action}:(?P<id>\d+)"


def parse(value: str | None) -> tuple[str, int] | None:
    """``("retry", 12)`` for ``easel:retry:12``; None for anything else."""
    match = CUSTOM_ID.fullmatch(value or "")
    return (match["action"], int(match["id"])) if match else None


def custom_ids(message: discord.Message) -> list[str]:
    """The custom ids of a message's buttons and selects, row by row."""
    ids = []
    for row in message.components:
        for child in getattr(row, "children", ()):
            if getattr(child, "custom_id", None):
                ids.append(child.custom_id)
    return ids


def job_id_of(message: discord.Message, bot_id: int | None) -> int | None:
    """The job behind a result or error of Easel's own; never trust another author's buttons."""
    if bot_id is None or message.author.id != bot_id:
        return None
    for value in custom_ids(message):
        parsed = parse(value)
        if parsed is not None and parsed[0] == JOB_ACTION:
            return parsed[1]
    return None


def role_ids(user: discord.abc.User) -> list[str]:
    """The member's role ids without @everyone (none outside a server); budgets and access rules
    read them from the origin as ``role_ids``."""
    roles = getattr(user, "roles", None) or ()
    return [str(role.id) for role in roles if not role.is_default()]


def interaction_origin(
    interaction: discord.Interaction[Any], *, private: bool = False, **extra: Any
) -> dict[str, Any]:
    """What a job needs to find its way back: ids, the token, the upload limit."""
    return {
        "guild_id": str(interaction.guild_id) if interaction.guild_id else None,
        "channel_id": str(interaction.channel_id) if interaction.channel_id else None,
        "user_id": str(interaction.user.id),
        "role_ids": role_ids(interaction.user),
        "private": private,
        "upload_limit": interaction.filesize_limit or DEFAULT_UPLOAD_LIMIT,
        "interaction": {
            "app_id": str(interaction.application_id),
            "token": interaction.token,
            "created_at": interaction.created_at.timestamp(),
        },
        **extra,
    }


def reply_origin(message: discord.Message, **extra: Any) -> dict[str, Any]:
    """For a job started by a plain message: results go in a reply to it (no interaction)."""
    guild = message.guild
    return {
        "guild_id": str(guild.id) if guild else None,
        "channel_id": str(message.channel.id),
        "user_id": str(message.author.id),
        "role_ids": role_ids(message.author),
        "private": False,
        "upload_limit": guild.filesize_limit if guild else DEFAULT_UPLOAD_LIMIT,
        "reply_to": str(message.id),
        **extra,
    }
