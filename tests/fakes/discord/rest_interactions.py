"""Interaction callback and interaction-webhook routes (no bot token: the URL carries it)."""

from __future__ import annotations

from aiohttp import web

from . import errors
from .interactions import (
    InteractionHandle,
    create_followup,
    edit_webhook_message,
    respond,
    webhook_handle,
    webhook_message,
)
from .restkit import no_content, ok, read_body, upload_limit, world_of

routes = web.RouteTableDef()


def _limit(request: web.Request, handle: InteractionHandle) -> int:
    return upload_limit(world_of(request), handle.channel)


def _record_error(handle: InteractionHandle, exc: errors.ApiError) -> None:
    """Keep what the bot was told on the handle, so tests can assert on refused calls."""
    handle.rejected.append(exc)
    handle.world.changed()


@routes.post("/interactions/{webhook_id}/{webhook_token}/callback")
async def callback(request: web.Request) -> web.Response:
    world = world_of(request)
    handle = world.interactions.get(_int(request.match_info["webhook_id"]))
    if handle is None or handle.token != request.match_info["webhook_token"]:
        raise errors.unknown_interaction()
    try:
        body = await read_body(request, _limit(request, handle))
        result = respond(world, handle, body)
    except errors.ApiError as exc:
        _record_error(handle, exc)
        raise
    if request.query.get("with_response") in ("1", "true", "True"):
        return ok(result)
    return no_content()


@routes.post("/webhooks/{webhook_id}/{webhook_token}")
async def execute(request: web.Request) -> web.Response:
    world = world_of(request)
    handle = webhook_handle(
        world, request.match_info["webhook_id"], request.match_info["webhook_token"]
    )
    try:
        body = await read_body(request, _limit(request, handle))
        payload = create_followup(world, handle, body)
    except errors.ApiError as exc:
        _record_error(handle, exc)
        raise
    if request.query.get("wait") in ("1", "true", "True"):
        return ok(payload)
    return no_content()


@routes.get("/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def get_webhook_message(request: web.Request) -> web.Response:
    world = world_of(request)
    handle = webhook_handle(
        world, request.match_info["webhook_id"], request.match_info["webhook_token"]
    )
    return ok(world.render.message(webhook_message(handle, request.match_info["message_id"])))


@routes.patch("/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def edit_webhook(request: web.Request) -> web.Response:
    world = world_of(request)
    handle = webhook_handle(
        world, request.match_info["webhook_id"], request.match_info["webhook_token"]
    )
    try:
        body = await read_body(request, _limit(request, handle))
        return ok(edit_webhook_message(world, handle, request.match_info["message_id"], body))
    except errors.ApiError as exc:
        _record_error(handle, exc)
        raise


@routes.delete("/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def delete_webhook_message(request: web.Request) -> web.Response:
    world = world_of(request)
    handle = webhook_handle(
        world, request.match_info["webhook_id"], request.match_info["webhook_token"]
    )
    world.publish_deleted(webhook_message(handle, request.match_info["message_id"]))
    return no_content()


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1
