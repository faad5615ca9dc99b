"""Enforcing a server's rules (``bot.rules``) on every way a job starts: slash commands, buttons,
reply edits and thread messages all pass ``ImageService``'s submit paths, which ask here before
anything is stored or sent to the router. Discord's own command permissions don't cover replies
and thread messages, so the check is here, in the core, not in the cogs.

Rules are read by primary key and cached for ``ttl`` seconds: at most one indexed lookup per
Discord event, and a change made by another process is seen within ``ttl``; a change made here
is seen at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.catalog import RESOLUTIONS, Catalog
from bot.domain import ImageSpec, JobKind
from bot.errors import AccessDenied, OverLimit, StorageError
from bot.rules import Rules
from bot.storage.rules import GuildRules

log = logging.getLogger(__name__)

WAY_NAMES = {"imagine": "/imagine", "edit": "image edits", "refine": "refine threads"}
DEFAULT_TTL = 5.0
_CHANGE_TRIES = 5


def way_of(kind: JobKind) -> str:
    """The way in a job of this kind came by (Retry and Remix go the same way)."""
    return {JobKind.EDIT: "edit", JobKind.REFINE: "refine"}.get(kind, "imagine")


def _place(origin: Mapping[str, Any]) -> tuple[str | None, str | None, tuple[str, ...]]:
    """Guild, the channel the rules name (a thread's parent), and the actor's roles."""
    channel = origin.get("parent_channel_id") or origin.get("channel_id")
    roles = tuple(str(r) for r in origin.get("role_ids") or ())
    return origin.get("guild_id"), channel, roles


class Policy:
    """The server rules, cached, and the decisions made from them."""

    def __init__(
        self,
        store: GuildRules,
        catalog: Catalog,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Rules, int]] = {}
        self.lookups = 0  # store reads, for tests and benchmarks

    async def rules(self, guild_id: str | None) -> Rules:
        """The server's rules (the empty Rules outside a server)."""
        return (await self._versioned(guild_id))[0] if guild_id else Rules()

    async def _versioned(self, guild_id: str, *, fresh: bool = False) -> tuple[Rules, int]:
        cached = self._cache.get(guild_id)
        now = self._clock()
        if cached is not None and not fresh and now - cached[0] < self._ttl:
            return cached[1], cached[2]
        self.lookups += 1
        data, version = await self._store.guild_rules(guild_id)
        rules = Rules.from_json(data)
        self._cache[guild_id] = (now, rules, version)
        return rules, version

    async def change(self, guild_id: str, edit: Callable[[Rules], Rules]) -> Rules:
        """Apply ``edit`` to the stored rules (compare-and-set, retried if another changed them)."""
        for _ in range(_CHANGE_TRIES):
            rules, version = await self._versioned(guild_id, fresh=True)
            changed = edit(rules)
            if await self._store.set_guild_rules(guild_id, changed.to_json(), version):
                self._cache.pop(guild_id, None)
                log.info("rules of guild %s changed (version %d)", guild_id, version + 1)
                return changed
        raise StorageError("The settings kept changing under me. Try again.")

    # -- deciding ----------------------------------------------------------------------------
    async def admit(self, way: str, origin: Mapping[str, Any]) -> Rules:
        """The server's rules, if they let this actor use this way in here; else AccessDenied."""
        guild_id, channel_id, roles = _place(origin)
        rules = await self.rules(guild_id)
        if not rules.answers_in(channel_id):
            hint = "".join(f" <#{c}>" for c in rules.channels_allowed[:5])
            raise AccessDenied(
                "I don't answer in this channel."
                + (f" Ask me in{hint}." if hint else " A server manager can change that.")
            )
        if not rules.role_may(way, roles):
            allowed = rules.roles_allowed.get(way, ())
            hint = ", ".join(f"<@&{r}>" for r in allowed[:5])
            raise AccessDenied(
                f"Your roles can't use {WAY_NAMES.get(way, way)} in this server."
                + (f" It's open to {hint}." if hint else "")
            )
        return rules

    def check(
        self, rules: Rules, spec: ImageSpec, origin: Mapping[str, Any], way: str = "imagine"
    ) -> None:
        """The model, count and resolution against the rules; OverLimit names what is allowed."""
        self.check_model(rules, spec.model, way)
        limit = rules.limit_for(_place(origin)[2])
        if limit.max_count is not None and spec.n > limit.max_count:
            raise OverLimit(
                f"You can ask for at most {limit.max_count} image(s) at once here; you asked "
                f"for {spec.n}. Press Remix to ask for fewer."
            )
        wanted = spec.resolution
        top = limit.max_resolution
        if wanted in RESOLUTIONS and top and RESOLUTIONS.index(wanted) > RESOLUTIONS.index(top):
            raise OverLimit(
                f"{wanted} isn't open to your roles here; the most is {top}. "
                "Press Remix to pick a lower resolution."
            )

    def check_model(self, rules: Rules, model_id: str, way: str = "imagine") -> None:
        """The server's model allow-list; OverLimit names the models it allows."""
        if rules.models and model_id not in rules.models:
            names = ", ".join(self._label(m) for m in rules.models)
            how = (
                "Switch this thread with /easel-thread model:."
                if way == "refine"
                else "Press Remix and pick one of them."
            )
            raise OverLimit(f"This server allows only these models: {names}. {how}")

    @staticmethod
    def stamped(rules: Rules, origin: Mapping[str, Any]) -> dict[str, Any]:
        """The origin with what the rules decide about the result (who sees its cost)."""
        return {**origin, "show_cost": rules.cost_shown}

    async def default_model(self, way: str, origin: Mapping[str, Any]) -> str | None:
        """The channel's or server's default model for this way in; None: the config's."""
        guild_id, channel_id, _ = _place(origin)
        model = (await self.rules(guild_id)).default_model(way, channel_id)
        return model if model and model in self._catalog else None

    async def private_default(self, origin: Mapping[str, Any]) -> bool:
        return (await self.rules(origin.get("guild_id"))).private

    def _label(self, model_id: str) -> str:
        return self._catalog.get(model_id).label if model_id in self._catalog else model_id
