"""The fake's shared state: every object by id, plus change notification and dispatch.

REST handlers, the gateway and the driver all work on one ``World``. Mutations call
``changed()`` so driver waits wake up, and ``dispatch()`` so connected bots hear about them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import errors
from .cdn import Cdn
from .model import DM_CHANNEL, Channel, Clock, Command, Guild, Message, Snowflakes, User
from .payloads import Renderer

if TYPE_CHECKING:
    from .interactions import InteractionHandle

T = TypeVar("T")
Dispatcher = Callable[[str, dict[str, Any], "int | None"], None]


class World:
    """Everything the fake Discord knows."""

    def __init__(self, *, bot_name: str, cdn_url_lifetime: float) -> None:
        self.clock = Clock()
        self.ids = Snowflakes(self.clock)
        self.cdn = Cdn(self.clock, cdn_url_lifetime)
        self.render = Renderer(self)
        self.application_id = self.ids.next()
        self.bot_user = User(self.application_id, bot_name, bot=True)
        self.owner = User(self.ids.next(), "app-owner")
        # Shaped like Discord's: base64 of the bot's id, a timestamp part, an HMAC part.
        head = base64.b64encode(str(self.application_id).encode()).decode().rstrip("=")
        self.token = f"{head}.fake.{secrets.token_urlsafe(24)}"
        self.users: dict[int, User] = {u.id: u for u in (self.bot_user, self.owner)}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.commands: dict[int, Command] = {}
        self.interactions: dict[int, InteractionHandle] = {}
        self.ack_deadline = 3.0
        self.token_lifetime = 15 * 60.0
        self.upload_refusals = 0
        self.outages: list[tuple[str, float]] = []  # (path part, until time.monotonic())
        self.internal_errors: list[BaseException] = []
        self._dispatcher: Dispatcher | None = None
        self.session_probe: Callable[[], bool] = lambda: False
        self._changed = asyncio.Event()

    # -- notification -------------------------------------------------------------------

    def set_dispatcher(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> None:
        if self._dispatcher is not None:
            self._dispatcher(event, data, guild_id)
        self.changed()

    def has_session(self) -> bool:
        """Whether a bot has identified on the gateway (set by the server)."""
        return self.session_probe()

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """Re-check on every state change (and every 20 ms, for conditions on the bot's side)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.02))

    # -- lookups that raise Discord's errors -----------------------------------------------

    def guild(self, guild_id: int | str) -> Guild:
        guild = self.guilds.get(_snowflake(guild_id))
        if guild is None:
            raise errors.unknown_guild()
        return guild

    def channel(self, channel_id: int | str) -> Channel:
        channel = self.channels.get(_snowflake(channel_id))
        if channel is None:
            raise errors.unknown_channel()
        return channel

    def message(self, channel: Channel, message_id: int | str) -> Message:
        message = self.messages.get(_snowflake(message_id))
        if message is None or message.deleted or message.channel_id != channel.id:
            raise errors.unknown_message()
        return message

    def user(self, user_id: int | str) -> User:
        user = self.users.get(_snowflake(user_id))
        if user is None:
            raise errors.unknown_user()
        return user

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    # -- channel contents ------------------------------------------------------------------

    def channel_messages(self, channel: Channel) -> list[Message]:
        """Visible messages, oldest first (ephemeral ones live on their interaction)."""
        found = [
            m
            for m in self.messages.values()
            if m.channel_id == channel.id and not m.deleted and not m.ephemeral
        ]
        return sorted(found, key=lambda m: m.id)

    def add_message(self, message: Message) -> None:
        self.messages[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None and not message.ephemeral:
            channel.last_message_id = message.id
            if channel.is_thread:
                channel.message_count += 1

    # -- events every writer (REST, interactions, driver) shares --------------------------

    def publish_created(self, message: Message) -> None:
        self.add_message(message)
        if message.ephemeral:
            self.changed()
            return
        channel = self.channels.get(message.channel_id)
        if channel is not None and channel.is_thread:
            channel.member_ids.add(message.author.id)
            if channel.archived and not channel.locked:
                self.set_archived(channel, False)
        self.dispatch("MESSAGE_CREATE", self.render.message_event(message), message.guild_id)

    def publish_updated(self, message: Message) -> None:
        if message.ephemeral:
            self.changed()
            return
        self.dispatch("MESSAGE_UPDATE", self.render.message_event(message), message.guild_id)

    def publish_deleted(self, message: Message) -> None:
        message.deleted = True
        data = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        if message.ephemeral:
            self.changed()
            return
        self.dispatch("MESSAGE_DELETE", data, message.guild_id)

    def set_archived(self, thread: Channel, archived: bool, *, locked: bool | None = None) -> None:
        thread.archived = archived
        if locked is not None:
            thread.locked = locked
        thread.archive_timestamp = self.clock.now()
        self.dispatch("THREAD_UPDATE", self.render.channel(thread), thread.guild_id)

    def dm_channel(self, user: User) -> Channel:
        """The bot's DM channel with ``user``, created on first use."""
        for channel in self.channels.values():
            if channel.type == DM_CHANNEL and channel.recipient_id == user.id:
                return channel
        channel = Channel(self.ids.next(), None, "", type=DM_CHANNEL, recipient_id=user.id)
        channel.created_at = self.clock.now()
        self.channels[channel.id] = channel
        return channel

    def new_thread(
        self,
        parent: Channel,
        name: str,
        *,
        thread_id: int,
        type_: int,
        owner_id: int,
        auto_archive_duration: int = 1440,
        rate_limit_per_user: int = 0,
    ) -> Channel:
        """Create a thread under ``parent``; the owner is its first member."""
        now = self.clock.now()
        thread = Channel(
            id=thread_id,
            guild_id=parent.guild_id,
            name=name,
            type=type_,
            created_at=now,
            parent_id=parent.id,
            owner_id=owner_id,
            auto_archive_duration=auto_archive_duration,
            archive_timestamp=now,
            rate_limit_per_user=rate_limit_per_user,
            member_ids={owner_id},
        )
        self.channels[thread.id] = thread
        self.guilds[parent.guild_id or 0].channels[thread.id] = thread
        data = self.render.channel(thread) | {"newly_created": True}
        self.dispatch("THREAD_CREATE", data, thread.guild_id)
        return thread

    def commands_for(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.commands.values() if c.guild_id == guild_id]

    def find_command(self, name: str, type_: int, guild_id: int | None) -> Command | None:
        """Guild commands shadow global ones, as in the Discord client."""
        for scope in (guild_id, None) if guild_id else (None,):
            for command in self.commands_for(scope):
                if command.name == name and command.type == type_:
                    return command
        return None


def _snowflake(value: int | str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
