"""What the settings panel shows: a server's rules at a glance, as one embed."""

from __future__ import annotations

import discord

from bot.catalog import Catalog
from bot.rules import EVERYONE, WAYS, Rules
from cogs.render import clip

SECTIONS = {
    "channel": "This channel",
    "roles": "Who may use Easel",
    "models": "Models and defaults",
    "results": "Results and channels",
    "limits": "Request limits",
}
REPLIES = {"mentions": "those that mention Easel", "all": "every reply to an image"}
CONFIG = {"imagine": "IMAGINE_MODEL", "edit": "EDIT_MODEL", "refine": "REFINE_MODEL"}
COST_LABELS = {
    "everyone": "to everyone",
    "requester": "to the requester only",
    "nobody": "to nobody",
}


def _roles(ids: tuple[str, ...]) -> str:
    return ", ".join(f"<@&{r}>" for r in ids) if ids else "everyone"


def _channels(ids: tuple[str, ...]) -> str:
    return " ".join(f"<#{c}>" for c in ids)


def _model(catalog: Catalog, model: str | None, fallback: str) -> str:
    if model is None:
        return fallback
    return catalog.get(model).label if model in catalog else model


def summary(
    rules: Rules, catalog: Catalog, channel_id: str, replies: str, section: str
) -> discord.Embed:
    """The rules at a glance, with the chosen section's controls under it."""
    embed = discord.Embed(
        title="Easel settings",
        description=f"Showing controls for **{SECTIONS[section]}**; pick another below.",
    )
    here = "yes" if rules.answers_in(channel_id) else "**no**"
    here_defaults = rules.channel_defaults.get(channel_id, {})
    lines = [
        f"<#{channel_id}>",
        f"Easel answers here: {here}",
        f"Replies that ask for an edit: {REPLIES[replies]}",
    ]
    lines += [
        f"Default {w} model here: {_model(catalog, here_defaults.get(w), 'the server’s')}"
        for w in WAYS
    ]
    embed.add_field(name="This channel", value="\n".join(lines), inline=False)
    where = _channels(rules.channels_allowed) or "every channel"
    if rules.channels_denied:
        where += f"; not in {_channels(rules.channels_denied)}"
    who = [f"{w}: {_roles(rules.roles_allowed.get(w, ()))}" for w in WAYS]
    if rules.roles_denied:
        who.append(f"never: {_roles(rules.roles_denied)}")
    embed.add_field(
        name="Where, and who may use what", value=clip(f"{where}\n" + "\n".join(who), 1024)
    )
    allowed = ", ".join(_model(catalog, m, m) for m in rules.models) or "every model"
    defaults = [f"{w} default: {_model(catalog, rules.defaults.get(w), CONFIG[w])}" for w in WAYS]
    embed.add_field(name="Models", value=clip(f"Allowed: {allowed}\n" + "\n".join(defaults), 1024))
    embed.add_field(
        name="Results",
        value=f"Cost shown {COST_LABELS[rules.cost_shown]}\n"
        f"Private by default: {'yes' if rules.private else 'no'}",
    )
    embed.add_field(name="Limits", value=clip(limits_text(rules), 1024))
    return embed


def limits_text(rules: Rules) -> str:
    if not rules.limits:
        return "none"
    lines = []
    for key, limit in rules.limits.items():
        who = "everyone" if key == EVERYONE else f"<@&{key}>"
        count = f"{limit.max_count} image(s)" if limit.max_count else "any count"
        lines.append(f"{who}: {count}, up to {limit.max_resolution or 'any resolution'}")
    return "\n".join(lines)
