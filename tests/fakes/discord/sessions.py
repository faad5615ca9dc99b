"""Gateway sessions: sequence numbers, the replay buffer, intents and shard routing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .payloads import user_payload

if TYPE_CHECKING:
    from .gateway import Connection
    from .state import World

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# event → (intent needed in a guild, intent needed in a DM); events not listed need none.
EVENT_INTENTS: dict[str, tuple[int, int]] = {
    **dict.fromkeys(
        ["GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE"],
        (GUILDS, GUILDS),
    ),
    **dict.fromkeys(
        ["CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_CREATE", "THREAD_UPDATE"],
        (GUILDS, GUILDS),
    ),
    **dict.fromkeys(
        ["THREAD_DELETE", "THREAD_LIST_SYNC", "THREAD_MEMBER_UPDATE"], (GUILDS, GUILDS)
    ),
    **dict.fromkeys(
        ["GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"],
        (GUILD_MEMBERS, GUILD_MEMBERS),
    ),
    **dict.fromkeys(
        ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"],
        (GUILD_MESSAGES, DIRECT_MESSAGES),
    ),
    **dict.fromkeys(
        ["MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE"],
        (GUILD_MESSAGE_REACTIONS, DIRECT_MESSAGE_REACTIONS),
    ),
    "TYPING_START": (GUILD_MESSAGE_TYPING, DIRECT_MESSAGE_TYPING),
}
_CONTENT_FIELDS = ("content", "embeds", "attachments", "components")
_SESSION_EVENTS = {
    "READY",
    "RESUMED",
    "GUILD_MEMBERS_CHUNK",
}  # for this session, whatever its shard


def intents_ok(intents: Any, allowed_privileged: int, shard: Any) -> tuple[int, str] | None:
    """The close code and reason Discord would use for a bad IDENTIFY, or None."""
    if not isinstance(intents, int) or intents < 0:
        return 4013, "invalid intent(s)"
    if intents & PRIVILEGED & ~allowed_privileged:
        return 4014, "disallowed intent(s)"
    valid_shard = isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
    if shard is not None and not valid_shard:
        return 4010, "invalid shard"
    return None


@dataclass(eq=False)
class Session:
    """A gateway session that survives reconnects until it is ended."""

    id: str
    intents: int
    shard: tuple[int, int]
    bot_id: int
    buffer: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connection: Connection | None = None
    ready: bool = False
    ended: bool = False
    sharded: bool = False  # IDENTIFY carried ``shard``, so READY echoes it

    @property
    def wants_members(self) -> bool:
        return bool(self.intents & GUILD_MEMBERS)

    def owns(self, guild_id: int | None) -> bool:
        """``shard_id = (guild_id >> 22) % num_shards``; DMs go to shard 0."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id

    def push_event(
        self, event: str, data: dict[str, Any], guild_id: int | None, *, force: bool = False
    ) -> bool:
        """Queue a dispatch if this session should see it; True when queued."""
        wanted = event in _SESSION_EVENTS or (
            self.owns(guild_id) and self._subscribed(event, guild_id)
        )
        if not (force or wanted):
            return False
        self.buffer.append((event, self._visible(event, data, guild_id)))
        return True

    def backlog(self) -> int:
        """Events queued but not yet written to the current socket."""
        return len(self.buffer) - self.connection.sent if self.connection is not None else 0

    def frame(self, index: int) -> dict[str, Any]:
        event, data = self.buffer[index]
        return {"op": 0, "t": event, "s": index + 1, "d": data}

    def _subscribed(self, event: str, guild_id: int | None) -> bool:
        needed = EVENT_INTENTS.get(event)
        if needed is None:
            return True
        return bool(self.intents & needed[0 if guild_id is not None else 1])

    def _visible(self, event: str, data: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or self.intents & MESSAGE_CONTENT:
            return data
        return self._strip(data, guild_id)

    def _strip(self, message: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        """Without MESSAGE_CONTENT only own messages, DMs and mentions keep their content."""
        mentioned = any(u.get("id") == str(self.bot_id) for u in message.get("mentions", []))
        own = message.get("author", {}).get("id") == str(self.bot_id)
        if own or mentioned or guild_id is None:
            return message
        stripped = _blank(message)
        stripped.pop("poll", None)
        if stripped.get("referenced_message"):
            stripped["referenced_message"] = self._strip(stripped["referenced_message"], guild_id)
        if stripped.get("message_snapshots"):  # a forward's copies are content too
            stripped["message_snapshots"] = [
                {"message": _blank(s["message"])} for s in stripped["message_snapshots"]
            ]
        return stripped


def _blank(message: dict[str, Any]) -> dict[str, Any]:
    blanked = copy.copy(message)
    for key in _CONTENT_FIELDS:
        if key in blanked:
            blanked[key] = "" if key == "content" else []
    return blanked


def application_flags(privileged_intents: int) -> int:
    """The *_LIMITED gateway flags an unverified app shows for its enabled intents."""
    flags = 0
    for intent, flag in (
        (GUILD_PRESENCES, 1 << 13),
        (GUILD_MEMBERS, 1 << 15),
        (MESSAGE_CONTENT, 1 << 19),
    ):
        if privileged_intents & intent:
            flags |= flag
    return flags


def ready_payload(
    world: World, session: Session, resume_url: str, app_flags: int
) -> dict[str, Any]:
    """READY: guilds start unavailable; GUILD_CREATE for each follows."""
    user = user_payload(world.bot_user) | {"verified": True, "mfa_enabled": False, "flags": 0}
    payload: dict[str, Any] = {
        "v": 10,
        "user": user,
        "guilds": [{"id": str(g), "unavailable": True} for g in world.guilds if session.owns(g)],
        "session_id": session.id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "application": {"id": str(world.application_id), "flags": app_flags},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "user_settings": {},
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": ["local"],
        "auth": {},
        "_trace": ["fake-discord"],
    }
    if session.sharded:
        payload["shard"] = list(session.shard)
    return payload


def members_chunk(world: World, data: dict[str, Any]) -> dict[str, Any] | None:
    """GUILD_MEMBERS_CHUNK answering REQUEST_GUILD_MEMBERS (op 8), all in one chunk."""
    guild = world.guilds.get(int(data.get("guild_id") or 0))
    if guild is None:
        return None
    query = (data.get("query") or "").lower()
    wanted = {int(u) for u in data.get("user_ids") or []}
    members = [
        m
        for m in guild.members.values()
        if (not wanted or m.user.id in wanted) and m.user.name.lower().startswith(query)
    ]
    limit = data.get("limit") or len(members)
    chunk: dict[str, Any] = {
        "guild_id": str(guild.id),
        "members": [world.render.member(m) for m in members[:limit]],
        "chunk_index": 0,
        "chunk_count": 1,
        "not_found": [str(u) for u in wanted - set(guild.members)],
    }
    if data.get("nonce"):
        chunk["nonce"] = data["nonce"]
    return chunk
