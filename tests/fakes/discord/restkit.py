"""Pieces every REST module shares: app keys, the request log, bodies, permission checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import errors
from .compose import Body, Upload
from .errors import MIB
from .permissions import Perm, channel_permissions

if TYPE_CHECKING:
    from .gateway import Gateway
    from .model import Channel
    from .ratelimit import RateLimiter
    from .state import World

MAX_REQUEST = 25 * MIB


@dataclass
class RequestRecord:
    """One REST call as the fake saw it; ``json`` is the payload (``payload_json`` if multipart)."""

    method: str
    path: str
    query: dict[str, str]
    status: int = 0
    json: Any = None
    files: list[tuple[str, int]] = field(default_factory=list)


WORLD: web.AppKey[World] = web.AppKey("world")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
LOG: web.AppKey[list[RequestRecord]] = web.AppKey("log")
BODY_KEY: web.RequestKey[Body] = web.RequestKey("body", Body)
JSON_KEY: web.RequestKey[Any] = web.RequestKey("json", object)


def world_of(request: web.Request) -> World:
    return request.app[WORLD]


def ok(payload: Any, status: int = 200) -> web.Response:
    return errors.json_response(payload, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)


async def read_body(request: web.Request, upload_limit: int) -> Body:
    """JSON or multipart (``payload_json`` + ``files[n]``) with Discord's size limits (413/40005)."""
    world = world_of(request)
    max_request = max(MAX_REQUEST, upload_limit)
    if request.content_length is not None and request.content_length > max_request:
        raise errors.too_large()
    body = Body()
    if request.content_type.startswith("multipart/"):
        total = 0
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue  # nested multipart: Discord does not take it either
            data = await part.read()
            total += len(data)
            if total > max_request:
                raise errors.too_large()
            name = part.name or ""
            if name == "payload_json":
                body.payload = _json(data)
            elif name.startswith("files["):
                if len(data) > upload_limit:
                    raise errors.too_large()
                index = int(name[6:-1]) if name[6:-1].isdigit() else len(body.files)
                body.files.append(Upload(index, part.filename or f"file{index}", bytes(data)))
    elif request.can_read_body:
        body.payload = _json(await request.read())
    request[BODY_KEY] = body
    request[JSON_KEY] = body.payload
    if body.files and world.upload_refusals > 0:
        world.upload_refusals -= 1
        raise errors.too_large()
    return body


async def read_json(request: web.Request) -> Any:
    """A plain JSON body of any shape (bulk command overwrite sends a list)."""
    value = _parse(await request.read())
    request[JSON_KEY] = value
    return value


def _json(raw: bytes) -> dict[str, Any]:
    value = _parse(raw)
    if not isinstance(value, dict):
        raise errors.form_error("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used.")
    return value


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise errors.ApiError(400, 50109, "The request body contains invalid JSON.") from exc


def require(world: World, channel: Channel, *needed: int) -> None:
    """Check the bot's effective permissions in ``channel`` (DMs need none)."""
    guild = world.guild_of(channel)
    if guild is None:
        return
    have = channel_permissions(guild, channel, world.bot_user.id)
    if not have & Perm.VIEW_CHANNEL:
        raise errors.missing_access()
    for perm in needed:
        if not have & perm:
            raise errors.missing_permissions()


def send_permission(channel: Channel) -> int:
    """Posting in a thread needs SEND_MESSAGES_IN_THREADS; SEND_MESSAGES is not inherited."""
    return Perm.SEND_MESSAGES_IN_THREADS if channel.is_thread else Perm.SEND_MESSAGES


def upload_limit(world: World, channel: Channel) -> int:
    guild = world.guild_of(channel)
    return guild.upload_limit if guild is not None else 10 * MIB
