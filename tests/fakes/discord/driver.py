"""``FakeDiscord``: the test-facing driver. Users act; the bot under test reacts over the wire."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import errors
from .builders import base_payload, command_data, component_data, context_menu_data
from .compose import Body, Upload, apply_edit, new_forward, new_message
from .interactions import AUTOCOMPLETE, COMMAND, COMPONENT, MODAL_SUBMIT, InteractionHandle
from .modals import FileSpec, modal_submit_data
from .model import PUBLIC_THREAD, Channel, Command, Message, User
from .permissions import Perm, channel_permissions
from .server import FakeServer
from .sessions import Session
from .validation import validate_message

AttachmentSpec = tuple[str, bytes] | tuple[str, bytes, str]


class FakeDiscord(FakeServer):
    """A loopback Discord for end-to-end tests; see the package docstring for the API."""

    # -- gateway and commands -------------------------------------------------------------------

    async def wait_for_ready(self, timeout: float = 10.0) -> Session:
        """A session has identified and READY plus every GUILD_CREATE reached its socket."""

        def ready() -> Session | None:
            for session in self.gateway.connected_sessions():
                conn = session.connection
                if session.ready and conn is not None and conn.sent >= len(session.buffer):
                    return session
            return None

        return await self.world.wait_until(ready, timeout, "a bot to IDENTIFY and receive READY")

    def commands(self, guild: Any = None) -> list[Command]:
        return self.world.commands_for(guild.id if guild is not None else None)

    async def wait_for_commands(
        self, names: Iterable[str], *, guild: Any = None, timeout: float = 10.0
    ) -> list[Command]:
        wanted = set(names)

        def synced() -> list[Command] | None:
            commands = [c for c in self.commands(guild) if c.name in wanted]
            return commands if {c.name for c in commands} >= wanted else None

        scope = f"guild {guild.id}" if guild is not None else "global"
        return await self.world.wait_until(synced, timeout, f"{scope} commands {sorted(wanted)}")

    # -- interactions -----------------------------------------------------------------------------

    async def slash(
        self, user: User, channel: Channel, name: str, options: dict[str, Any] | None = None
    ) -> InteractionHandle:
        """Run ``/name`` (``"group sub"`` for subcommands) as ``user`` in ``channel``."""
        command, path = self._chat_command(channel, name)
        data = command_data(self.world, command, path, options or {}, channel)
        return await self._interact(COMMAND, user, channel, data)

    async def autocomplete(
        self,
        user: User,
        channel: Channel,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        timeout: float = 3.0,
    ) -> list[dict[str, Any]]:
        """The choices the bot offers while ``user`` types ``options[focused]``."""
        command, path = self._chat_command(channel, name)
        data = command_data(self.world, command, path, options, channel, focused=focused)
        handle = await self._interact(AUTOCOMPLETE, user, channel, data)
        await handle.wait_ack(timeout)
        return list(handle.choices or [])

    async def message_command(self, user: User, message: Message, name: str) -> InteractionHandle:
        channel = self.world.channels[message.channel_id]
        command = self._command(channel, name, 3)
        data = context_menu_data(self.world, command, message, channel)
        return await self._interact(COMMAND, user, channel, data, target=message)

    async def user_command(
        self, user: User, target: User, channel: Channel, name: str
    ) -> InteractionHandle:
        command = self._command(channel, name, 2)
        data = context_menu_data(self.world, command, target, channel)
        return await self._interact(COMMAND, user, channel, data)

    async def click(self, user: User, message: Message, custom_id: str) -> InteractionHandle:
        """Press a button on ``message`` (also works after the bot restarted)."""
        return await self._component(user, message, custom_id, None)

    async def select(
        self, user: User, message: Message, custom_id: str, values: Sequence[Any]
    ) -> InteractionHandle:
        return await self._component(user, message, custom_id, list(values))

    async def submit_modal(
        self,
        user: User,
        opened_by: InteractionHandle,
        values: dict[str, Any] | None = None,
        *,
        files: dict[str, list[FileSpec]] | None = None,
    ) -> InteractionHandle:
        """Fill in and submit the modal the bot answered ``opened_by`` with."""
        modal = opened_by.modal
        assert modal is not None, f"interaction {opened_by.id} was not answered with a modal"
        channel = opened_by.channel
        data = modal_submit_data(self.world, modal, values or {}, files or {}, channel)
        return await self._interact(
            MODAL_SUBMIT, user, channel, data, source=opened_by.source_message
        )

    def expire_interaction(self, handle: InteractionHandle) -> None:
        """Make the token dead now, as if 15 minutes had passed (or 3 s without an answer)."""
        handle.expired = True

    async def _component(
        self, user: User, message: Message, custom_id: str, values: list[Any] | None
    ) -> InteractionHandle:
        channel = self.world.channels[message.channel_id]
        data = component_data(self.world, message, custom_id, values, channel)
        return await self._interact(COMPONENT, user, channel, data, source=message)

    def _chat_command(self, channel: Channel, name: str) -> tuple[Command, list[str]]:
        head, *path = name.split()
        return self._command(channel, head, 1), path

    def _command(self, channel: Channel, name: str, type_: int) -> Command:
        command = self.world.find_command(name, type_, channel.guild_id)
        if command is None:
            known = sorted(f"{c.name} (type {c.type})" for c in self.world.commands.values())
            raise AssertionError(
                f"command {name!r} (type {type_}) is not registered; registered: {known}"
            )
        return command

    async def _interact(
        self,
        type_: int,
        user: User,
        channel: Channel,
        data: dict[str, Any],
        *,
        source: Message | None = None,
        target: Message | None = None,
    ) -> InteractionHandle:
        self._check_can_interact(user, channel, type_)
        world = self.world
        id_ = world.ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload = base_payload(world, id_, token, type_, user, channel)
        payload["data"] = data
        if source is not None:
            payload["message"] = world.render.message(source)
        handle = InteractionHandle(
            world, id_, token, type_, user, channel, payload, world.clock.now()
        )
        handle.source_message, handle.target_message = source, target
        world.interactions[id_] = handle
        world.dispatch("INTERACTION_CREATE", payload, channel.guild_id)
        await self.gateway.flush()
        return handle

    def _check_can_interact(self, user: User, channel: Channel, type_: int) -> None:
        assert self.gateway.live_sessions(), (
            "no bot session on the fake gateway (start the client first)"
        )
        guild = self.world.guild_of(channel)
        if guild is None:
            return
        assert user.id in guild.members, f"{user.name} is not a member of {guild.name}"
        perms = channel_permissions(guild, channel, user.id)
        assert perms & Perm.VIEW_CHANNEL, f"{user.name} cannot see #{channel.name}"
        if type_ in (COMMAND, AUTOCOMPLETE):
            assert perms & Perm.USE_APPLICATION_COMMANDS, f"{user.name} cannot use commands here"
            assert not channel.archived, "archived threads accept no application commands"

    # -- messages ----------------------------------------------------------------------------------

    async def post_message(
        self,
        user: User,
        channel: Channel,
        content: str = "",
        *,
        attachments: Sequence[AttachmentSpec] = (),
        reply_to: Message | None = None,
        mention_bot: bool = False,
        ping_reply: bool = True,
        embeds: Sequence[dict[str, Any]] = (),
    ) -> Message:
        """``user`` sends a message; replies ping the replied-to author unless ``ping_reply=False``."""
        self._check_can_post(user, channel, bool(attachments))
        if mention_bot:
            content = f"{self.bot_user.mention} {content}".strip()
        payload: dict[str, Any] = {"content": content, "embeds": list(embeds)}
        payload["attachments"] = [
            {"id": i, "filename": spec[0], "description": spec[2] if len(spec) > 2 else None}
            for i, spec in enumerate(attachments)
        ]
        if reply_to is not None:
            payload["message_reference"] = {
                "message_id": reply_to.id,
                "channel_id": reply_to.channel_id,
            }
        if not ping_reply:
            payload["allowed_mentions"] = {
                "parse": ["users", "roles", "everyone"],
                "replied_user": False,
            }
        uploads = [Upload(i, spec[0], spec[1]) for i, spec in enumerate(attachments)]
        body = Body(payload, uploads)
        try:
            validate_message(payload, len(uploads))
            message = new_message(self.world, author=user, channel=channel, body=body)
        except errors.ApiError as exc:
            raise AssertionError(f"Discord would refuse this message: {exc}") from exc
        self.world.publish_created(message)
        await self.gateway.flush()
        return message

    async def forward(self, user: User, message: Message, to_channel: Channel) -> Message:
        """``user`` forwards ``message`` to ``to_channel``: a new message carrying a FORWARD
        reference and a copy of ``message`` in ``message_snapshots``."""
        source = self.world.channels[message.channel_id]
        guild = self.world.guild_of(source)
        if guild is not None:
            perms = channel_permissions(guild, source, user.id)
            assert perms & Perm.VIEW_CHANNEL, f"{user.name} cannot see #{source.name}"
        assert not (message.deleted or message.ephemeral), "only visible messages are forwarded"
        assert not message.snapshots, "forwarding a forward is not modelled"
        self._check_can_post(user, to_channel, bool(message.attachments))
        forward = new_forward(self.world, author=user, channel=to_channel, original=message)
        self.world.publish_created(forward)
        await self.gateway.flush()
        return forward

    async def edit_message(self, message: Message, content: str) -> Message:
        """The author edits their message (MESSAGE_UPDATE)."""
        apply_edit(self.world, message, Body({"content": content}))
        self.world.publish_updated(message)
        await self.gateway.flush()
        return message

    async def delete_message(self, message: Message) -> None:
        self.world.publish_deleted(message)
        await self.gateway.flush()

    def _check_can_post(self, user: User, channel: Channel, with_files: bool) -> None:
        guild = self.world.guild_of(channel)
        if guild is None:
            return
        assert user.id in guild.members, f"{user.name} is not a member of {guild.name}"
        perms = channel_permissions(guild, channel, user.id)
        needed = Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES
        assert perms & needed, f"{user.name} cannot post in #{channel.name}"
        assert not with_files or perms & Perm.ATTACH_FILES, f"{user.name} cannot attach files"
        assert not (channel.archived and channel.locked), f"thread {channel.name} is locked"

    def messages(self, channel: Channel) -> list[Message]:
        """Visible messages in ``channel``, oldest first (ephemeral ones are on the handles)."""
        return self.world.channel_messages(channel)

    def message(self, message_id: int) -> Message:
        return self.world.messages[message_id]

    async def wait_for_message(
        self,
        channel: Channel,
        predicate: Callable[[Message], bool] | None = None,
        *,
        after: Message | int | None = None,
        timeout: float = 5.0,
    ) -> Message:
        """The first visible message after ``after`` matching ``predicate`` (default: by the bot)."""
        floor = after.id if isinstance(after, Message) else (after or 0)
        check = predicate or (lambda m: m.author.id == self.bot_user.id)

        def found() -> Message | None:
            return next((m for m in self.messages(channel) if m.id > floor and check(m)), None)

        return await self.world.wait_until(found, timeout, f"a matching message in #{channel.name}")

    # -- threads ------------------------------------------------------------------------------------

    def threads(self, channel: Channel, *, archived: bool | None = None) -> list[Channel]:
        guild = self.world.guilds[channel.guild_id or 0]
        return [
            t
            for t in guild.threads()
            if t.parent_id == channel.id and (archived is None or t.archived == archived)
        ]

    async def start_thread(self, user: User, message: Message, name: str) -> Channel:
        """A user starts a thread from ``message`` (thread id == message id)."""
        parent = self.world.channels[message.channel_id]
        assert message.thread_id is None, "this message already has a thread"
        thread = self.world.new_thread(
            parent, name, thread_id=message.id, type_=PUBLIC_THREAD, owner_id=user.id
        )
        message.thread_id = thread.id
        await self.gateway.flush()
        return thread

    async def archive_thread(self, thread: Channel, *, locked: bool = False) -> None:
        self.world.set_archived(thread, True, locked=locked)
        await self.gateway.flush()

    async def unarchive_thread(self, thread: Channel) -> None:
        self.world.set_archived(thread, False, locked=False)
        await self.gateway.flush()
