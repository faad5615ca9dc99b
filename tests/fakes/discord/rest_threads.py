"""Thread routes: start from a message or bare, archive, list, join and leave."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .model import PRIVATE_THREAD, PUBLIC_THREAD, Channel
from .permissions import Perm
from .rest_channels import archive_duration
from .restkit import no_content, ok, read_body, require, world_of

if TYPE_CHECKING:
    from .state import World

routes = web.RouteTableDef()


@routes.post("/channels/{channel_id}/messages/{message_id}/threads")
async def thread_from_message(request: web.Request) -> web.Response:
    """The thread's id is the message's id, so a message can start only one thread."""
    world = world_of(request)
    channel = world.channel(request.match_info["channel_id"])
    message = world.message(channel, request.match_info["message_id"])
    body = await read_body(request, 0)
    require(world, channel, Perm.CREATE_PUBLIC_THREADS, Perm.READ_MESSAGE_HISTORY)
    if channel.is_thread:
        raise errors.ApiError(400, 50024, "Cannot execute action on this channel type")
    if message.thread_id is not None:
        raise errors.thread_already_created()
    thread = _new_thread(world, channel, body.payload, thread_id=message.id, type_=PUBLIC_THREAD)
    message.thread_id = thread.id
    return ok(world.render.channel(thread), status=201)


@routes.post("/channels/{channel_id}/threads")
async def thread_without_message(request: web.Request) -> web.Response:
    world = world_of(request)
    channel = world.channel(request.match_info["channel_id"])
    body = await read_body(request, 0)
    type_ = body.payload.get("type") or PRIVATE_THREAD
    needed = Perm.CREATE_PRIVATE_THREADS if type_ == PRIVATE_THREAD else Perm.CREATE_PUBLIC_THREADS
    require(world, channel, needed)
    if channel.is_thread:
        raise errors.ApiError(400, 50024, "Cannot execute action on this channel type")
    thread = _new_thread(world, channel, body.payload, thread_id=world.ids.next(), type_=type_)
    thread.invitable = bool(body.payload.get("invitable", True))
    return ok(world.render.channel(thread), status=201)


def _new_thread(
    world: World, parent: Channel, payload: dict[str, Any], *, thread_id: int, type_: int
) -> Channel:
    name = payload.get("name") or ""
    if not 1 <= len(name) <= 100:
        raise errors.form_error(
            "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    return world.new_thread(
        parent,
        name,
        thread_id=thread_id,
        type_=type_,
        owner_id=world.bot_user.id,
        auto_archive_duration=archive_duration(payload),
        rate_limit_per_user=payload.get("rate_limit_per_user") or 0,
    )


@routes.get("/channels/{channel_id}/threads/archived/public")
async def archived_threads(request: web.Request) -> web.Response:
    world = world_of(request)
    channel = world.channel(request.match_info["channel_id"])
    require(world, channel, Perm.READ_MESSAGE_HISTORY)
    guild = world.guilds[channel.guild_id or 0]
    threads = [
        t
        for t in guild.threads()
        if t.parent_id == channel.id and t.archived and t.type == PUBLIC_THREAD
    ]
    threads.sort(key=lambda t: t.archive_timestamp, reverse=True)
    limit = int(request.query.get("limit", "50"))
    bot_id = world.bot_user.id
    members = [
        world.render.thread_member(t, bot_id) for t in threads[:limit] if bot_id in t.member_ids
    ]
    return ok(
        {
            "threads": [world.render.channel(t) for t in threads[:limit]],
            "members": members,
            "has_more": len(threads) > limit,
        }
    )


@routes.put("/channels/{channel_id}/thread-members/@me")
async def join_thread(request: web.Request) -> web.Response:
    world = world_of(request)
    channel = world.channel(request.match_info["channel_id"])
    require(world, channel)
    if not channel.is_thread:
        raise errors.ApiError(400, 50024, "Cannot execute action on this channel type")
    channel.member_ids.add(world.bot_user.id)
    return no_content()


@routes.delete("/channels/{channel_id}/thread-members/@me")
async def leave_thread(request: web.Request) -> web.Response:
    world = world_of(request)
    channel = world.channel(request.match_info["channel_id"])
    channel.member_ids.discard(world.bot_user.id)
    return no_content()
