"""Application command routes: what ``CommandTree.sync()`` and friends call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .model import Command
from .restkit import ok, read_json, world_of
from .validation import validate_commands

if TYPE_CHECKING:
    from .state import World

routes = web.RouteTableDef()


def _scope(request: web.Request) -> int | None:
    world = world_of(request)
    if request.match_info["application_id"] != str(world.application_id):
        raise errors.missing_access()
    guild_id = request.match_info.get("guild_id")
    return world.guild(guild_id).id if guild_id is not None else None


def _command_payload(command: Command) -> dict[str, Any]:
    payload = dict(command.raw)
    payload.update(
        id=str(command.id),
        application_id=str(command.application_id),
        version=str(command.version),
        type=command.type,
        name=command.name,
        description=command.description,
        options=command.options,
        default_member_permissions=_opt_str(command.raw.get("default_member_permissions")),
    )
    payload.setdefault("nsfw", False)
    if command.guild_id is not None:
        payload["guild_id"] = str(command.guild_id)
    return payload


def _store(
    world: World, guild_id: int | None, raw: dict[str, Any], keep: Command | None
) -> Command:
    command = Command(
        id=keep.id if keep else world.ids.next(),
        application_id=world.application_id,
        guild_id=guild_id,
        name=raw["name"],
        type=raw.get("type", 1),
        description=raw.get("description") or "",
        options=raw.get("options") or [],
        version=world.ids.next(),
        raw=raw,
    )
    world.commands[command.id] = command
    return command


@routes.get("/applications/{application_id}/commands")
@routes.get("/applications/{application_id}/guilds/{guild_id}/commands")
async def list_commands(request: web.Request) -> web.Response:
    world = world_of(request)
    return ok([_command_payload(c) for c in world.commands_for(_scope(request))])


@routes.put("/applications/{application_id}/commands")
@routes.put("/applications/{application_id}/guilds/{guild_id}/commands")
async def overwrite_commands(request: web.Request) -> web.Response:
    """Bulk overwrite (``tree.sync()``): ids survive for commands that keep name and type."""
    world = world_of(request)
    scope = _scope(request)
    wanted = await read_json(request)
    if not isinstance(wanted, list):
        raise errors.form_error(
            "_root", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"
        )
    validate_commands(wanted)
    old = {(c.name, c.type): c for c in world.commands_for(scope)}
    for command in old.values():
        del world.commands[command.id]
    stored = [
        _store(world, scope, raw, old.get((raw["name"], raw.get("type", 1)))) for raw in wanted
    ]
    world.changed()
    return ok([_command_payload(c) for c in stored])


@routes.post("/applications/{application_id}/commands")
@routes.post("/applications/{application_id}/guilds/{guild_id}/commands")
async def upsert_command(request: web.Request) -> web.Response:
    world = world_of(request)
    scope = _scope(request)
    raw = await read_json(request)
    validate_commands([raw])
    existing = world.find_command(raw["name"], raw.get("type", 1), scope)
    keep = existing if existing is not None and existing.guild_id == scope else None
    if keep is not None:
        del world.commands[keep.id]
    command = _store(world, scope, raw, keep)
    world.changed()
    return ok(_command_payload(command), status=200 if keep else 201)


@routes.get("/applications/{application_id}/commands/{command_id}")
@routes.get("/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def get_command(request: web.Request) -> web.Response:
    return ok(_command_payload(_command(request)))


@routes.delete("/applications/{application_id}/commands/{command_id}")
@routes.delete("/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def delete_command(request: web.Request) -> web.Response:
    world = world_of(request)
    del world.commands[_command(request).id]
    world.changed()
    return web.Response(status=204)


def _command(request: web.Request) -> Command:
    scope = _scope(request)
    world = world_of(request)
    command = world.commands.get(
        int(request.match_info["command_id"]) if request.match_info["command_id"].isdigit() else -1
    )
    if command is None or command.guild_id != scope:
        raise errors.unknown_command()
    return command


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
