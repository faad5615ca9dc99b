"""The REST API under ``/api/v10``: the app, its middleware, and the login and guild routes.

Messages are in ``rest_channels``, threads in ``rest_threads``, application commands in
``rest_commands``, interaction callbacks and webhooks in ``rest_interactions``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import (
    errors,
    rest_channels,
    rest_commands,
    rest_expressions,
    rest_interactions,
    rest_threads,
)
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
    app.add_routes(rest_threads.routes)
    app.add_routes(rest_expressions.routes)
    app.add_routes(rest_commands.routes)
    app.add_routes(rest_interactions.routes)
    return app


def _in_outage(world: World, path: str) -> bool:
    now = time.monotonic()
    world.outages = [(part, until) for part, until in world.outages if until > now]
    return any(part in path for part, _until in world.outages)


@web.middleware
async def _api_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Rate-limit headers, auth, Discord error bodies and the request log, for every call."""
    path = request.path.removeprefix(API_PREFIX)
    record = RequestRecord(request.method, path, dict(request.query))
    limited, headers = request.app[LIMITER].check(request)
    if limited is not None:
        response: web.StreamResponse = limited
    elif _in_outage(world_of(request), path):
        # Discord's edge answering 503 with its JSON shape: discord.py retries it a few times.
        response = errors.json_response({"message": "503: Service Unavailable", "code": 0}, 503)
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
        except Exception as exc:
            # A bug in the fake, not a Discord answer: keep it so the test fails loudly.
            world_of(request).internal_errors.append(exc)
            response = errors.json_response(
                {"message": "500: Internal Server Error", "code": 0}, 500
            )
    response.headers.update(headers)
    response.headers["Via"] = "1.1 google"
    record.status = response.status
    record.json = request.get(JSON_KEY)
    uploaded = request.get(BODY_KEY)
    if uploaded is not None:
        record.files = [(f.filename, len(f.data)) for f in uploaded.files]
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


@routes.post("/users/@me/channels")
async def open_dm(request: web.Request) -> web.Response:
    world = world_of(request)
    payload = await read_json(request)
    recipient = payload.get("recipient_id") if isinstance(payload, dict) else None
    user = world.user(recipient if recipient is not None else -1)
    return ok(world.render.channel(world.dm_channel(user)))


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
    return ok(
        {"url": gateway.url, "shards": gateway.recommended_shards, "session_start_limit": limits}
    )


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
