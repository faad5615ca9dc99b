"""Gateway sessions: sequence numbers, the replay buffer, intents and shard routing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gateway import Connection

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
        if not force and not (self.owns(guild_id) and self._subscribed(event, guild_id)):
            return False
        self.buffer.append((event, self._visible(event, data, guild_id)))
        return True

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
        stripped = copy.copy(message)
        for key in _CONTENT_FIELDS:
            if key in stripped:
                stripped[key] = "" if key == "content" else []
        stripped.pop("poll", None)
        if stripped.get("referenced_message"):
            stripped["referenced_message"] = self._strip(stripped["referenced_message"], guild_id)
        return stripped
