"""The controls of the /easel-settings panel (``cogs.panel``): each turns a press into a change
of the server's rules through the panel's ``change``, which checks the permission it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from bot.catalog import Catalog
from bot.errors import NotAllowed
from bot.rules import EVERYONE, Rules
from cogs.panel_text import SECTIONS

GUILD, CHANNEL = "manage_guild", "manage_channels"
UNSET = "-"  # the option that clears a choice

Edit = Callable[[Rules, list[str]], Rules]


def _options(pairs: list[tuple[str, str]], chosen: set[str]) -> list[discord.SelectOption]:
    return [
        discord.SelectOption(label=label[:100], value=value[:100], default=value in chosen)
        for value, label in pairs[:25]
    ]


def _models(catalog: Catalog, unset: str | None) -> list[tuple[str, str]]:
    pairs = [(m.id, m.label) for m in catalog]
    return ([(UNSET, unset)] if unset else []) + pairs[: 25 - bool(unset)]


class RuleSelect(discord.ui.Select[Any]):
    """A select whose values become a change of the rules."""

    def __init__(self, custom_id: str, placeholder: str, needs: str, edit: Edit, **kw: Any):
        super().__init__(custom_id=custom_id, placeholder=placeholder[:150], **kw)
        self.needs, self.edit = needs, edit

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        values = list(self.values)
        await self.view.change(interaction, self.needs, lambda r: self.edit(r, values))


class RuleRoles(discord.ui.RoleSelect[Any]):
    """Roles picked (none: everyone) become a change of the rules."""

    def __init__(self, custom_id: str, placeholder: str, edit: Edit, max_values: int = 25):
        super().__init__(
            custom_id=custom_id, placeholder=placeholder, min_values=0, max_values=max_values
        )
        self.edit = edit

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        ids = [str(r.id) for r in self.values]
        await self.view.change(interaction, GUILD, lambda r: self.edit(r, ids))


class RuleChannels(discord.ui.ChannelSelect[Any]):
    """The channels Easel answers in (none: every channel)."""

    def __init__(self) -> None:
        super().__init__(
            custom_id="settings:channels",
            placeholder="Easel answers only in… (none: every channel)",
            channel_types=[discord.ChannelType.text],
            min_values=0,
            max_values=25,
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        ids = tuple(str(c.id) for c in self.values)
        await self.view.change(interaction, CHANNEL, lambda r: replace(r, channels_allowed=ids))


class RuleButton(discord.ui.Button[Any]):
    """A button that flips one rule."""

    def __init__(self, custom_id: str, label: str, needs: str, edit: Callable[[Rules], Rules]):
        super().__init__(custom_id=custom_id, label=label, style=discord.ButtonStyle.secondary)
        self.needs, self.edit = needs, edit

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        await self.view.change(interaction, self.needs, self.edit)


class SectionSelect(discord.ui.Select[Any]):
    def __init__(self, current: str) -> None:
        super().__init__(
            custom_id="settings:section", options=_options(list(SECTIONS.items()), {current})
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        self.view.section = self.values[0]
        await self.view.show(interaction)


class RepliesButton(discord.ui.Button[Any]):
    """Which replies to an image ask for an edit in this channel (a channel setting)."""

    def __init__(self, replies: str) -> None:
        label = "Only replies that mention Easel" if replies == "all" else "Every reply to an image"
        super().__init__(custom_id="settings:replies", label=f"Replies: {label}")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        view = self.view
        assert view is not None
        if not interaction.permissions.manage_channels:
            raise NotAllowed("You need the Manage Channels permission to change that.")
        view.replies = "mentions" if view.replies == "all" else "all"
        await set_replies(view.client, view.channel_id, view.replies)
        await view.show(interaction)


class LimitTarget(discord.ui.RoleSelect[Any]):
    def __init__(self) -> None:
        super().__init__(custom_id="settings:limit:role", placeholder="Set the limits of a role…")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        self.view.limit_target = str(self.values[0].id)
        await self.view.show(interaction)


class EveryoneTarget(discord.ui.Button[Any]):
    def __init__(self) -> None:
        super().__init__(custom_id="settings:limit:everyone", label="Set everyone's limits")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        assert self.view is not None
        self.view.limit_target = EVERYONE
        await self.view.show(interaction)


async def set_replies(client: Any, channel_id: str, replies: str) -> None:
    store = client.service.store
    settings = await store.channel_settings(channel_id)
    await store.set_channel_settings(channel_id, {**settings, "replies": replies})


def _unset(values: list[str]) -> str | None:
    return None if not values or values[0] == UNSET else values[0]


def _int(value: str | None) -> int | None:
    return int(value) if value else None
