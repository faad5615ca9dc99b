"""The /easel-settings panel: the server's rules at a glance (``cogs.panel_text``), changed with
selects and buttons, one section at a time. Each control names the permission it needs (server
rules: Manage Server; this channel's: Manage Channels) and turns a press into a change of
``bot.rules.Rules``, stored by ``bot.policy.Policy.change``. Translation only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import discord

from bot.catalog import RESOLUTIONS, Catalog
from bot.errors import EaselError, NotAllowed
from bot.rules import COST_SHOWN, EVERYONE, WAYS, Limit, Rules
from cogs.panel_controls import (
    CHANNEL,
    GUILD,
    UNSET,
    EveryoneTarget,
    LimitTarget,
    RepliesButton,
    RuleButton,
    RuleChannels,
    RuleRoles,
    RuleSelect,
    SectionSelect,
    _int,
    _models,
    _options,
    _unset,
)
from cogs.panel_text import COST_LABELS, summary
from cogs.replies import send_error, send_unexpected

NEEDS = {GUILD: "Manage Server", CHANNEL: "Manage Channels"}


class Panel(discord.ui.View):
    """One member's settings panel for one channel of a server (an ephemeral message)."""

    def __init__(self, client: Any, guild_id: str, channel_id: str, replies: str) -> None:
        super().__init__(timeout=900)
        self.client, self.guild_id, self.channel_id = client, guild_id, channel_id
        self.replies = replies
        self.section = "channel"
        self.limit_target = EVERYONE
        self.rules = Rules()

    @property
    def catalog(self) -> Catalog:
        return self.client.service.catalog  # type: ignore[no-any-return]

    async def render(self) -> dict[str, Any]:
        self.rules = await self.client.service.policy.rules(self.guild_id)
        self.clear_items()
        self.add_item(SectionSelect(self.section))
        getattr(self, f"_{self.section}")()
        embed = summary(self.rules, self.catalog, self.channel_id, self.replies, self.section)
        if self.section == "limits":
            who = "everyone" if self.limit_target == EVERYONE else f"<@&{self.limit_target}>"
            embed.description = f"{embed.description}\nLimits being set for: {who}"
        return {"embed": embed, "view": self}

    async def show(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.edit_message(**await self.render())

    async def change(
        self, interaction: discord.Interaction[Any], needs: str, edit: Callable[[Rules], Rules]
    ) -> None:
        perms = interaction.permissions
        if not getattr(perms, needs, False) and not perms.administrator:
            raise NotAllowed(f"You need the {NEEDS[needs]} permission to change that.")
        await self.client.service.policy.change(self.guild_id, edit)
        await self.show(interaction)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, item: Any
    ) -> None:
        if isinstance(error, EaselError):
            await send_error(interaction, error)
        else:
            await send_unexpected(interaction, error)

    # -- sections: each adds its controls under the section select (four rows at most) -------
    def _channel(self) -> None:
        here, rules = self.channel_id, self.rules
        on = rules.answers_in(here)
        self.add_item(
            RuleButton(
                "settings:here",
                "Stop answering here" if on else "Answer here again",
                CHANNEL,
                lambda r: r.with_channel(here, not on),
            )
        )
        self.add_item(RepliesButton(self.replies))
        chosen = rules.channel_defaults.get(here, {})
        for way in WAYS:
            self.add_item(
                RuleSelect(
                    f"settings:default:here:{way}",
                    f"Default {way} model in this channel",
                    CHANNEL,
                    lambda r, v, w=way: r.with_default(w, _unset(v), here),
                    options=_options(
                        _models(self.catalog, "The server's default"), {chosen.get(way, UNSET)}
                    ),
                )
            )

    def _roles(self) -> None:
        self.add_item(
            RuleRoles(
                "settings:roles:deny",
                "Roles that may never use Easel",
                lambda r, ids: replace(r, roles_denied=tuple(ids)),
            )
        )
        for way in WAYS:
            self.add_item(
                RuleRoles(
                    f"settings:roles:{way}",
                    f"Roles that may use {way} (none: everyone)",
                    lambda r, ids, w=way: r.with_roles(w, tuple(ids)),
                )
            )

    def _models(self) -> None:
        pairs = _models(self.catalog, None)
        self.add_item(
            RuleSelect(
                "settings:models",
                "Models allowed in this server (none: every model)",
                GUILD,
                lambda r, v: replace(r, models=tuple(v)),
                options=_options(pairs, set(self.rules.models)),
                min_values=0,
                max_values=min(len(pairs), 25),
            )
        )
        for way in WAYS:
            self.add_item(
                RuleSelect(
                    f"settings:default:{way}",
                    f"Server's default {way} model",
                    GUILD,
                    lambda r, v, w=way: r.with_default(w, _unset(v)),
                    options=_options(
                        _models(self.catalog, "The config's default"),
                        {self.rules.defaults.get(way, UNSET)},
                    ),
                )
            )

    def _results(self) -> None:
        private = self.rules.private
        self.add_item(
            RuleButton(
                "settings:private",
                "Make results public by default" if private else "Make results private by default",
                GUILD,
                lambda r: replace(r, private=not private),
            )
        )
        self.add_item(
            RuleSelect(
                "settings:cost",
                "Who sees the cost of a result",
                GUILD,
                lambda r, v: replace(r, cost_shown=v[0]),
                options=_options(
                    [(c, f"Cost shown {COST_LABELS[c]}") for c in COST_SHOWN],
                    {self.rules.cost_shown},
                ),
            )
        )
        self.add_item(RuleChannels())

    def _limits(self) -> None:
        self.add_item(LimitTarget())
        self.add_item(EveryoneTarget())
        key = self.limit_target
        now = self.rules.limits.get(key, Limit())
        counts = [(UNSET, "Any count")] + [(str(n), f"At most {n} image(s)") for n in range(1, 11)]
        self.add_item(
            RuleSelect(
                "settings:limit:count",
                "Largest count per request",
                GUILD,
                lambda r, v: r.with_limit(key, replace(now, max_count=_int(_unset(v)))),
                options=_options(counts, {str(now.max_count or UNSET)}),
            )
        )
        tiers = [(UNSET, "Any resolution")] + [(t, f"Up to {t}") for t in RESOLUTIONS]
        self.add_item(
            RuleSelect(
                "settings:limit:resolution",
                "Largest resolution (Gemini models)",
                GUILD,
                lambda r, v: r.with_limit(key, replace(now, max_resolution=_unset(v))),
                options=_options(tiers, {now.max_resolution or UNSET}),
            )
        )
