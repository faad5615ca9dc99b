"""Custom emojis and stickers: created with Manage Expressions, within Discord's limits
(emoji 256 KiB, stickers 512 KiB PNG of exactly 320×320), kept on the guild for tests."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from aiohttp import web
from PIL import Image

from . import errors
from .permissions import Perm, base_permissions
from .restkit import ok, world_of

routes = web.RouteTableDef()

EMOJI_BYTES = 256 * 1024
STICKER_BYTES = 512 * 1024
_EMOJI_NAME = re.compile(r"[A-Za-z0-9_]{2,32}")


def _form_error(field: str, message: str) -> errors.ApiError:
    body = {field: {"_errors": [{"code": "BINARY_TYPE_MAX_SIZE", "message": message}]}}
    return errors.ApiError(400, 50035, "Invalid Form Body", body)


def _require_expressions(world: Any, guild: Any) -> None:
    if not base_permissions(guild, world.bot_user.id) & Perm.MANAGE_GUILD_EXPRESSIONS:
        raise errors.missing_permissions()


@routes.post("/guilds/{guild_id}/emojis")
async def create_emoji(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    _require_expressions(world, guild)
    body = await request.json()
    name, image = body.get("name", ""), body.get("image", "")
    if not _EMOJI_NAME.fullmatch(name):
        raise _form_error("name", "Must be between 2 and 32 in length.")
    try:
        head, encoded = image.split(",", 1)
        data = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise _form_error("image", "Invalid image data") from exc
    if not head.startswith("data:image/"):
        raise _form_error("image", "Invalid image data")
    if len(data) > EMOJI_BYTES:
        raise _form_error("image", "File cannot be larger than 256.0 kb.")
    emoji = {
        "id": str(world.ids.next()),
        "name": name,
        "roles": [],
        "require_colons": True,
        "managed": False,
        "animated": False,
        "available": True,
    }
    guild.emojis.append({**emoji, "data": data})
    return ok(emoji, status=201)


@routes.post("/guilds/{guild_id}/stickers")
async def create_sticker(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    _require_expressions(world, guild)
    form = await request.post()
    upload = form.get("file")
    name, tags = str(form.get("name", "")), str(form.get("tags", ""))
    if not 2 <= len(name) <= 30:
        raise _form_error("name", "Must be between 2 and 30 in length.")
    if not tags:
        raise _form_error("tags", "This field is required")
    if not isinstance(upload, web.FileField):
        raise _form_error("file", "This field is required")
    data = upload.file.read()
    if len(data) > STICKER_BYTES:
        raise _form_error("file", "File cannot be larger than 512.0 kb.")
    with Image.open(io.BytesIO(data)) as img:
        if img.format != "PNG" or img.size != (320, 320):
            raise errors.ApiError(400, 50046, "Invalid Asset")
    sticker = {
        "id": str(world.ids.next()),
        "name": name,
        "tags": tags,
        "type": 2,
        "format_type": 1,
        "description": str(form.get("description", "")),
        "available": True,
        "guild_id": str(guild.id),
    }
    guild.stickers.append({**sticker, "data": data})
    return ok(sticker, status=201)
