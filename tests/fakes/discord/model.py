"""The fake's world as plain objects: users, guilds, channels, threads, messages, commands.

These are what tests read (``message.content``, ``message.attachments[0].data``); the
``payloads`` module turns them into Discord JSON.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5
SUPPRESS_EMBEDS = 1 << 2
HAS_SNAPSHOT = 1 << 14  # a forward (discord.py's MessageFlags.forwarded)
COMPONENTS_V2 = 1 << 15

FORWARD = 1  # message_reference.type; replies are 0

TEXT_CHANNEL = 0
DM_CHANNEL = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12


class Clock:
    """Wall clock with an offset so tests can jump past deadlines without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def iso(self, when: float | None = None) -> str:
        return datetime.fromtimestamp(self.now() if when is None else when, UTC).isoformat()


class Snowflakes:
    """Time-ordered ids, so ``before``/``after`` paging and discord.py's ``created_at`` work."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        candidate = (int(self._clock.now() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(eq=False)
class Member:
    user: User
    roles: list[int]
    joined_at: float
    nick: str | None = None


@dataclass
class Overwrite:
    id: int
    type: int  # 0 role, 1 member
    allow: int = 0
    deny: int = 0


@dataclass(eq=False)
class Channel:
    """A guild text channel, a thread (``parent_id`` set) or a DM."""

    id: int
    guild_id: int | None
    name: str
    type: int = TEXT_CHANNEL
    created_at: float = 0.0
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: float = 0.0
    invitable: bool = True
    rate_limit_per_user: int = 0
    member_ids: set[int] = field(default_factory=set)
    message_count: int = 0
    last_message_id: int | None = None
    recipient_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in (PUBLIC_THREAD, PRIVATE_THREAD)

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    upload_limit: int
    created_at: float
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    locale: str = "en-US"
    emojis: list[dict[str, Any]] = field(default_factory=list)  # created by the bot, with "data"
    stickers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def premium_tier(self) -> int:
        # discord.py derives Guild.filesize_limit from the tier: 0-1 → 10 MiB, 2 → 50, 3 → 100.
        mib = self.upload_limit // (1024 * 1024)
        return 3 if mib >= 100 else 2 if mib >= 50 else 0

    def channel(self, channel_id: int | None) -> Channel | None:
        return self.channels.get(channel_id) if channel_id is not None else None

    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.is_thread]

    def threads(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread]


@dataclass(eq=False)
class Attachment:
    id: int
    channel_id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None
    title: str | None = None
    width: int | None = None
    height: int | None = None
    ephemeral: bool = False
    flags: int = 0

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(eq=False)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author: User
    timestamp: float
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    reference: dict[str, Any] | None = None
    mention_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    edited_timestamp: float | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    thread_id: int | None = None
    nonce: str | None = None
    tts: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)
    edits: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[Message] = field(default_factory=list)  # a forward's frozen copies
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    @property
    def referenced_id(self) -> int | None:
        ref = self.reference
        return int(ref["message_id"]) if ref and ref.get("message_id") else None

    def walk_components(self) -> list[dict[str, Any]]:
        """Every component, depth first (rows, containers, sections and accessories)."""
        found: list[dict[str, Any]] = []
        stack = list(reversed(self.components))
        while stack:
            comp = stack.pop()
            found.append(comp)
            children = list(comp.get("components", []))
            for key in ("accessory", "component"):
                if comp.get(key):
                    children.append(comp[key])
            stack.extend(reversed(children))
        return found

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.walk_components() if c.get("custom_id")]

    def component(self, custom_id: str) -> dict[str, Any] | None:
        return next((c for c in self.walk_components() if c.get("custom_id") == custom_id), None)

    def attachment(self, filename: str) -> Attachment | None:
        return next((a for a in self.attachments if a.filename == filename), None)

    def embed_image(self, index: int = 0) -> Attachment | None:
        """The attachment an embed's ``attachment://`` image points at, if any."""
        url = (self.embeds[index].get("image") or {}).get("url", "")
        prefix = "attachment://"
        return self.attachment(url[len(prefix) :]) if url.startswith(prefix) else None


@dataclass(eq=False)
class Command:
    id: int
    application_id: int
    guild_id: int | None
    name: str
    type: int
    description: str
    options: list[dict[str, Any]]
    version: int
    raw: dict[str, Any]
