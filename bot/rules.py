"""A server's access rules and defaults, as plain values: who may use Easel where, on which models,
how large a request may be, and what a result shows. Stored as one JSON object per server
(``bot.storage.rules``); read through ``bot.policy``, which caches and enforces them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.catalog import RESOLUTIONS

WAYS = ("imagine", "edit", "refine")
COST_SHOWN = ("everyone", "requester", "nobody")
EVERYONE = "*"  # the limits key that applies to every member


@dataclass(frozen=True)
class Limit:
    """The largest request one entry allows; None: this entry says nothing about it."""

    max_count: int | None = None
    max_resolution: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Limit:
        count = data.get("max_count")
        resolution = data.get("max_resolution")
        return cls(
            max_count=int(count) if count is not None else None,
            max_resolution=resolution if resolution in RESOLUTIONS else None,
        )


@dataclass(frozen=True)
class Rules:
    """Every rule of one server. The empty Rules allow everything and change nothing."""

    channels_allowed: tuple[str, ...] = ()  # empty: every channel
    channels_denied: tuple[str, ...] = ()
    roles_allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # way → roles
    roles_denied: tuple[str, ...] = ()  # for every way
    models: tuple[str, ...] = ()  # the server's allow-list; empty: every model
    defaults: Mapping[str, str] = field(default_factory=dict)  # way → model
    channel_defaults: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cost_shown: str = "everyone"
    private: bool = False
    limits: Mapping[str, Limit] = field(default_factory=dict)  # role id or EVERYONE → Limit

    # -- reading ----------------------------------------------------------------------------
    def answers_in(self, channel_id: str | None) -> bool:
        if channel_id is None:
            return True
        if channel_id in self.channels_denied:
            return False
        return not self.channels_allowed or channel_id in self.channels_allowed

    def role_may(self, way: str, role_ids: tuple[str, ...]) -> bool:
        if any(r in self.roles_denied for r in role_ids):
            return False
        allowed = self.roles_allowed.get(way, ())
        return not allowed or any(r in allowed for r in role_ids)

    def default_model(self, way: str, channel_id: str | None) -> str | None:
        """The channel's default for this way in, else the server's; None: the config's."""
        here = self.channel_defaults.get(channel_id or "", {})
        return here.get(way) or self.defaults.get(way)

    def limit_for(self, role_ids: tuple[str, ...]) -> Limit:
        """The most generous of the everyone entry and the member's roles, per dimension."""
        entries = [self.limits[k] for k in (EVERYONE, *role_ids) if k in self.limits]
        counts = [e.max_count for e in entries if e.max_count is not None]
        tiers = [RESOLUTIONS.index(e.max_resolution) for e in entries if e.max_resolution]
        return Limit(
            max_count=max(counts) if counts else None,
            max_resolution=RESOLUTIONS[max(tiers)] if tiers else None,
        )

    # -- changing (each returns a new Rules) -----------------------------------------------
    def with_channel(self, channel_id: str, on: bool) -> Rules:
        denied = tuple(c for c in self.channels_denied if c != channel_id)
        allowed = self.channels_allowed
        if on and allowed and channel_id not in allowed:
            allowed = (*allowed, channel_id)
        return replace(
            self, channels_denied=denied if on else (*denied, channel_id), channels_allowed=allowed
        )

    def with_roles(self, way: str, role_ids: tuple[str, ...]) -> Rules:
        return replace(self, roles_allowed={**self.roles_allowed, way: role_ids})

    def with_default(self, way: str, model: str | None, channel_id: str | None = None) -> Rules:
        if channel_id is None:
            return replace(self, defaults=_set(self.defaults, way, model))
        here = _set(self.channel_defaults.get(channel_id, {}), way, model)
        return replace(self, channel_defaults=_set(self.channel_defaults, channel_id, here or None))

    def with_limit(self, key: str, limit: Limit | None) -> Rules:
        empty = limit is None or not limit.to_json()
        return replace(self, limits=_set(self.limits, key, None if empty else limit))

    # -- stored form -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "channels_allowed": list(self.channels_allowed),
            "channels_denied": list(self.channels_denied),
            "roles_allowed": {k: list(v) for k, v in self.roles_allowed.items() if v},
            "roles_denied": list(self.roles_denied),
            "models": list(self.models),
            "defaults": dict(self.defaults),
            "channel_defaults": {k: dict(v) for k, v in self.channel_defaults.items()},
            "cost_shown": self.cost_shown,
            "private": self.private,
            "limits": {k: v.to_json() for k, v in self.limits.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Rules:
        """Tolerant of missing keys, so a row written by an older version still reads."""
        data = data or {}
        cost = data.get("cost_shown", "everyone")
        return cls(
            channels_allowed=_ids(data.get("channels_allowed")),
            channels_denied=_ids(data.get("channels_denied")),
            roles_allowed={w: _ids(v) for w, v in (data.get("roles_allowed") or {}).items()},
            roles_denied=_ids(data.get("roles_denied")),
            models=_ids(data.get("models")),
            defaults={w: str(m) for w, m in (data.get("defaults") or {}).items() if m},
            channel_defaults={
                str(c): {w: str(m) for w, m in d.items() if m}
                for c, d in (data.get("channel_defaults") or {}).items()
            },
            cost_shown=cost if cost in COST_SHOWN else "everyone",
            private=bool(data.get("private", False)),
            limits={str(k): Limit.from_json(v) for k, v in (data.get("limits") or {}).items()},
        )


def _ids(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


def _set(mapping: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy with ``key`` set, or removed when ``value`` is None."""
    changed = {k: v for k, v in mapping.items() if k != key}
    if value is not None:
        changed[key] = value
    return changed
