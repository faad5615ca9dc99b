"""Channel, message, thread and reaction routes, with the bot's permissions enforced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from . import errors
from .compose import apply_edit, new_message
from .model import Channel, Message
from .permissions import Perm, channel_permissions
from .restkit import no_content, ok, read_body, require, send_permission, upload_limit, world_of
from .validation import validate_message

if TYPE_CHECKING:
    from .state import World

routes = web.RouteTableDef()
_ARCHIVE_DURATIONS = {60, 1440, 4320, 10080}


def _channel(request: web.Request) -> tuple[World, Channel]:
    world = world_of(request)
    return world, world.channel(request.match_info["channel_id"])


def _message(request: web.Request) -> tuple[World, Channel, Message]:
    world, channel = _channel(request)
    return world, channel, world.message(channel, request.match_info["message_id"])


def _bot_can(world: World, channel: Channel, perm: int) -> bool:
    guild = world.guild_of(channel)
    return guild is None or bool(channel_permissions(guild, channel, world.bot_user.id) & perm)


@routes.get("/channels/{channel_id}")
async def get_channel(request: web.Request) -> web.Response:
    world, channel = _channel(request)
    require(world, channel)
    return ok(world.render.channel(channel))


@routes.patch("/channels/{channel_id}")
async def modify_channel(request: web.Request) -> web.Response:
    world, channel = _channel(request)
    body = await read_body(request, 0)
    payload = body.payload
    if not channel.is_thread:
        require(world, channel, Perm.MANAGE_CHANNELS)
        channel.name = payload.get("name", channel.name)
        channel.topic = payload.get("topic", channel.topic)
        world.dispatch("CHANNEL_UPDATE", world.render.channel(channel), channel.guild_id)
        return ok(world.render.channel(channel))
    require(world, channel)
    is_owner = channel.owner_id == world.bot_user.id
    moderator = _bot_can(world, channel, Perm.MANAGE_THREADS)
    if not (is_owner or moderator) or (channel.locked and not moderator):
        raise errors.missing_permissions()
    _update_thread(channel, payload)
    if "archived" in payload or "locked" in payload:
        world.set_archived(
            channel, bool(payload.get("archived", channel.archived)), locked=payload.get("locked")
        )
    else:
        world.dispatch("THREAD_UPDATE", world.render.channel(channel), channel.guild_id)
    return ok(world.render.channel(channel))


def _update_thread(thread: Channel, payload: dict[str, Any]) -> None:
    if "name" in payload:
        name = payload["name"] or ""
        if not 1 <= len(name) <= 100:
            raise errors.form_error(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        thread.name = name
    if "auto_archive_duration" in payload:
        thread.auto_archive_duration = archive_duration(payload)
    if "rate_limit_per_user" in payload:
        thread.rate_limit_per_user = payload["rate_limit_per_user"] or 0


def archive_duration(payload: dict[str, Any]) -> int:
    value = payload.get("auto_archive_duration") or 1440
    if value not in _ARCHIVE_DURATIONS:
        raise errors.form_error(
            "auto_archive_duration",
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
    return value


# -- messages -----------------------------------------------------------------------------------


@routes.get("/channels/{channel_id}/messages")
async def history(request: web.Request) -> web.Response:
    world, channel = _channel(request)
    require(world, channel)
    if not _bot_can(world, channel, Perm.READ_MESSAGE_HISTORY):
        return ok([])  # Discord returns no messages rather than an error here.
    query = request.query
    limit = int(query.get("limit", "50"))
    if not 1 <= limit <= 100:
        raise errors.form_error(
            "limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."
        )
    messages = world.channel_messages(channel)
    if "before" in query:
        picked = [m for m in messages if m.id < int(query["before"])][-limit:]
    elif "after" in query:
        picked = [m for m in messages if m.id > int(query["after"])][:limit]
    elif "around" in query:
        picked = _around(messages, int(query["around"]), limit)
    else:
        picked = messages[-limit:]
    return ok([world.render.message(m) for m in reversed(picked)])


def _around(messages: list[Message], pivot: int, limit: int) -> list[Message]:
    older = [m for m in messages if m.id < pivot][-(limit // 2) :] if limit > 1 else []
    rest = [m for m in messages if m.id >= pivot]
    return older + rest[: limit - len(older)]


@routes.post("/channels/{channel_id}/messages")
async def create_message(request: web.Request) -> web.Response:
    world, channel = _channel(request)
    body = await read_body(request, upload_limit(world, channel))
    require(world, channel, send_permission(channel))
    if body.files:
        require(world, channel, Perm.ATTACH_FILES)
    if body.payload.get("message_reference"):
        require(world, channel, Perm.READ_MESSAGE_HISTORY)
    if channel.is_thread and channel.archived and channel.locked:
        raise errors.thread_archived()
    validate_message(body.payload, len(body.files))
    if not _bot_can(world, channel, Perm.EMBED_LINKS):
        # Discord accepts the request but shows no embeds without EMBED_LINKS.
        body.payload = {**body.payload, "embeds": []}
    message = new_message(world, author=world.bot_user, channel=channel, body=body)
    world.publish_created(message)
    return ok(world.render.message(message))


@routes.get("/channels/{channel_id}/messages/{message_id}")
async def get_message(request: web.Request) -> web.Response:
    world, channel, message = _message(request)
    require(world, channel, Perm.READ_MESSAGE_HISTORY)
    return ok(world.render.message(message))


@routes.patch("/channels/{channel_id}/messages/{message_id}")
async def edit_message(request: web.Request) -> web.Response:
    world, channel, message = _message(request)
    body = await read_body(request, upload_limit(world, channel))
    require(world, channel)
    if message.author.id != world.bot_user.id:
        raise errors.cannot_edit_others()
    if channel.is_thread and channel.archived:
        raise errors.thread_archived()
    validate_message(body.payload, len(body.files), editing=True)
    apply_edit(world, message, body)
    world.publish_updated(message)
    return ok(world.render.message(message))


@routes.delete("/channels/{channel_id}/messages/{message_id}")
async def delete_message(request: web.Request) -> web.Response:
    world, channel, message = _message(request)
    require(world, channel)
    if message.author.id != world.bot_user.id:
        require(world, channel, Perm.MANAGE_MESSAGES)
    world.publish_deleted(message)
    return no_content()


@routes.post("/channels/{channel_id}/typing")
async def typing(request: web.Request) -> web.Response:
    world, channel = _channel(request)
    require(world, channel, send_permission(channel))
    return no_content()


@routes.put("/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def add_reaction(request: web.Request) -> web.Response:
    world, channel, message = _message(request)
    require(world, channel, Perm.READ_MESSAGE_HISTORY, Perm.ADD_REACTIONS)
    emoji = unquote(request.match_info["emoji"])
    users = message.reactions.setdefault(emoji, set())
    if world.bot_user.id not in users:
        users.add(world.bot_user.id)
        world.dispatch("MESSAGE_REACTION_ADD", _reaction(world, message, emoji), message.guild_id)
    return no_content()


@routes.delete("/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me")
async def remove_reaction(request: web.Request) -> web.Response:
    world, channel, message = _message(request)
    require(world, channel)
    emoji = unquote(request.match_info["emoji"])
    if world.bot_user.id in message.reactions.get(emoji, set()):
        message.reactions[emoji].discard(world.bot_user.id)
        world.dispatch(
            "MESSAGE_REACTION_REMOVE", _reaction(world, message, emoji), message.guild_id
        )
    return no_content()


def _reaction(world: World, message: Message, emoji: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user_id": str(world.bot_user.id),
        "channel_id": str(message.channel_id),
        "message_id": str(message.id),
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "type": 0,
    }
    if message.guild_id is not None:
        data["guild_id"] = str(message.guild_id)
    return data
