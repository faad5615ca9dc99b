"""The REST API under ``/api/v10``: the app, its middleware, and the login/guild/command routes.

Channel, message and thread routes are in ``rest_channels``; interaction callbacks and
webhooks in ``rest_interactions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors, rest_channels, rest_interactions
from .model import Command
from .payloads import user_payload
from .restkit import (
    BODY_KEY,
    GATEWAY,
    JSON_KEY,
    LIMITER,
    LOG,
    WORLD,
    RequestRecord,
    ok,
    read_json,
    world_of,
)
from .validation import validate_commands

if TYPE_CHECKING:
    from .gateway import Gateway
    from .ratelimit import RateLimiter
    from .state import World

API_PREFIX = "/api/v10"
# Webhook and interaction endpoints authenticate by the token in the URL, not a header.
_TOKEN_IN_URL = ("/webhooks/", "/interactions/")
routes = web.RouteTableDef()


def build_api(
    world: World, gateway: Gateway, limiter: RateLimiter, log: list[RequestRecord]
) -> web.Application:
    app = web.Application(middlewares=[_api_middleware])
    app[WORLD], app[GATEWAY], app[LIMITER], app[LOG] = world, gateway, limiter, log
    app.add_routes(routes)
    app.add_routes(rest_channels.routes)
    app.add_routes(rest_interactions.routes)
    return app


@web.middleware
async def _api_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Rate-limit headers, auth, Discord error bodies and the request log, for every call."""
    path = request.path.removeprefix(API_PREFIX)
    record = RequestRecord(request.method, path, dict(request.query))
    limited, headers = request.app[LIMITER].check(request)
    if limited is not None:
        response: web.StreamResponse = limited
    else:
        try:
            _authorize(request, path)
            response = await handler(request)
        except errors.ApiError as exc:
            response = errors.json_response(exc.body(), status=exc.status)
        except web.HTTPException as exc:
            # Unknown routes and methods: Discord answers with its own JSON shape.
            body = {"message": f"{exc.status}: {exc.reason}", "code": 0}
            response = errors.json_response(body, status=exc.status)
    response.headers.update(headers)
    response.headers["Via"] = "1.1 google"
    record.status = response.status
    record.json = request.get(JSON_KEY)
    body = request.get(BODY_KEY)
    if body is not None:
        record.files = [(f.filename, len(f.data)) for f in body.files]
    request.app[LOG].append(record)
    return response


def _authorize(request: web.Request, path: str) -> None:
    if path.startswith(_TOKEN_IN_URL) or path in ("/gateway",):
        return
    if request.headers.get("Authorization") != f"Bot {world_of(request).token}":
        raise errors.unauthorized()


# -- login ------------------------------------------------------------------------------------


@routes.get("/users/@me")
async def get_me(request: web.Request) -> web.Response:
    world = world_of(request)
    me = user_payload(world.bot_user)
    me.update(verified=True, mfa_enabled=False, flags=0, email=None, locale="en-US")
    return ok(me)


@routes.get("/users/{user_id}")
async def get_user(request: web.Request) -> web.Response:
    return ok(user_payload(world_of(request).user(request.match_info["user_id"])))


@routes.get("/applications/@me")
@routes.get("/oauth2/applications/@me")
async def get_application(request: web.Request) -> web.Response:
    world = world_of(request)
    return ok(
        {
            "id": str(world.application_id),
            "name": world.bot_user.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": user_payload(world.owner),
            "team": None,
            "flags": request.app[GATEWAY].application_flags(),
            "bot": user_payload(world.bot_user),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(world.guilds),
        }
    )


@routes.get("/gateway")
async def get_gateway(request: web.Request) -> web.Response:
    return ok({"url": request.app[GATEWAY].url})


@routes.get("/gateway/bot")
async def get_gateway_bot(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    limits = {
        "total": 1000,
        "remaining": 1000 - gateway.identifies,
        "reset_after": 86_400_000,
        "max_concurrency": 1,
    }
    return ok({"url": gateway.url, "shards": 1, "session_start_limit": limits})


# -- guilds -------------------------------------------------------------------------------------


@routes.get("/guilds/{guild_id}")
async def get_guild(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    payload = world.render.guild(guild)
    if request.query.get("with_counts") in ("true", "1"):
        payload.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
    return ok(payload)


@routes.get("/guilds/{guild_id}/channels")
async def get_guild_channels(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    return ok([world.render.channel(c) for c in guild.text_channels()])


@routes.get("/guilds/{guild_id}/threads/active")
async def get_active_threads(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    threads = [t for t in guild.threads() if not t.archived]
    bot_id = world.bot_user.id
    members = [world.render.thread_member(t, bot_id) for t in threads if bot_id in t.member_ids]
    return ok({"threads": [world.render.channel(t) for t in threads], "members": members})


@routes.get("/guilds/{guild_id}/members/{user_id}")
async def get_member(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guild(request.match_info["guild_id"])
    member = guild.members.get(
        int(request.match_info["user_id"]) if request.match_info["user_id"].isdigit() else -1
    )
    if member is None:
        raise errors.unknown_member()
    return ok(world.render.member(member))


# -- application commands -----------------------------------------------------------------------


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
