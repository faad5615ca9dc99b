"""Interaction lifecycle: the 3 s acknowledgement, callbacks, and the 15 min webhook token.

``InteractionHandle`` is both the fake's record of an interaction and what the driver gives
tests. The functions below are what the REST routes call for
``POST /interactions/{id}/{token}/callback`` and ``/webhooks/{app_id}/{token}/…``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .compose import Body, apply_edit, new_message, number_components
from .model import COMPONENTS_V2, EPHEMERAL, LOADING, SUPPRESS_EMBEDS, Channel, Message, User
from .payloads import user_payload
from .validation import validate_choices, validate_message, validate_modal

if TYPE_CHECKING:
    from .state import World

PING, COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, CHOICES, MODAL = 4, 5, 6, 7, 8, 9
_ALLOWED = {
    COMMAND: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    COMPONENT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {CHOICES},
    MODAL_SUBMIT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
_MESSAGE_FLAGS = EPHEMERAL | SUPPRESS_EMBEDS | COMPONENTS_V2 | (1 << 12)  # + SUPPRESS_NOTIFICATIONS


@dataclass(eq=False)
class InteractionHandle:
    """One interaction a test started, and everything the bot did with it."""

    world: World = field(repr=False)
    id: int
    token: str
    type: int
    user: User
    channel: Channel
    payload: dict[str, Any] = field(repr=False)
    created_at: float
    source_message: Message | None = None
    target_message: Message | None = None
    response_type: int | None = None
    acked_at: float | None = None
    responses: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[errors.ApiError] = field(default_factory=list)
    original_message: Message | None = None
    followups: list[Message] = field(default_factory=list)
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    expired: bool = False

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.payload["data"]
        return data

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE)

    @property
    def ephemeral(self) -> bool:
        return self.original_message is not None and self.original_message.ephemeral

    @property
    def ack_latency(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.created_at

    async def wait_ack(self, timeout: float = 3.0) -> int:
        """The callback type the bot answered with; fails if it did not answer in time."""
        await self.world.wait_until(
            lambda: self.acknowledged, timeout, f"{self._describe()} to be acknowledged"
        )
        return self.response_type or 0

    async def original(self, timeout: float = 5.0, *, allow_loading: bool = False) -> Message:
        """The original response once it is a real message (not the "thinking…" one)."""

        def ready() -> Message | None:
            message = self.original_message
            if message is None or message.deleted:
                return None
            return message if allow_loading or not message.loading else None

        return await self.world.wait_until(
            ready, timeout, f"the original response to {self._describe()}"
        )

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[Message]:
        await self.world.wait_until(
            lambda: len(self.followups) >= count,
            timeout,
            f"{count} followup(s) to {self._describe()}",
        )
        return list(self.followups)

    async def wait_modal(self, timeout: float = 3.0) -> dict[str, Any]:
        await self.world.wait_until(lambda: self.modal, timeout, f"a modal from {self._describe()}")
        return self.modal or {}

    def _describe(self) -> str:
        name = self.payload.get("data", {}).get("name") or self.payload.get("data", {}).get(
            "custom_id"
        )
        state = "no gateway session" if not self.world.has_session() else ""
        return f"interaction {self.id} (type {self.type}, {name!r}){' — ' + state if state else ''}"

    def messages(self) -> list[Message]:
        found = [self.original_message, *self.followups]
        return [m for m in dict.fromkeys(found) if m is not None]


# -- POST /interactions/{id}/{token}/callback -------------------------------------------------


def respond(world: World, handle: InteractionHandle, body: Body) -> dict[str, Any]:
    """Apply an interaction callback; returns the ``with_response`` payload."""
    if handle.response_type is not None:
        raise errors.already_acknowledged()
    if handle.expired or world.clock.now() - handle.created_at > world.ack_deadline:
        raise errors.unknown_interaction()
    kind = body.payload.get("type")
    data = body.payload.get("data") or {}
    if kind not in _ALLOWED.get(handle.type, set()) or (
        kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and handle.source_message is None
    ):
        raise errors.form_error(
            "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
        )
    resource = _apply(world, handle, kind, data, body)
    handle.response_type = kind
    handle.acked_at = world.clock.now()
    handle.responses.append(copy.deepcopy(body.payload))
    world.changed()
    message = (
        handle.original_message if kind in (MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE) else None
    )
    info: dict[str, Any] = {"id": str(handle.id), "type": handle.type}
    result: dict[str, Any] = {"interaction": info, "resource": {"type": kind}}
    if message is not None:
        info.update(
            response_message_id=str(message.id),
            response_message_loading=message.loading,
            response_message_ephemeral=message.ephemeral,
        )
        result["resource"]["message"] = resource
    return result


def _apply(
    world: World, handle: InteractionHandle, kind: int, data: dict[str, Any], body: Body
) -> dict[str, Any] | None:
    if kind == MESSAGE:
        validate_message(data, len(body.files))
        handle.original_message = _create(
            world, handle, Body(data, body.files), data.get("flags") or 0
        )
    elif kind == DEFERRED_MESSAGE:
        flags = (data.get("flags") or 0) & EPHEMERAL
        handle.original_message = _create(world, handle, Body({}, []), flags | LOADING)
    elif kind == UPDATE_MESSAGE:
        validate_message(data, len(body.files), editing=True)
        target = handle.source_message
        assert target is not None
        apply_edit(world, target, Body(data, body.files))
        handle.original_message = target
        world.publish_updated(target)
    elif kind == DEFERRED_UPDATE:
        handle.original_message = handle.source_message
    elif kind == CHOICES:
        validate_choices(data.get("choices") or [])
        handle.choices = list(data.get("choices") or [])
    elif kind == MODAL:
        validate_modal(data)
        handle.modal = {**copy.deepcopy(data), "components": number_components(data["components"])}
    message = handle.original_message
    return world.render.message(message) if message is not None else None


def _create(world: World, handle: InteractionHandle, body: Body, flags: int) -> Message:
    """A message authored by the app through the interaction webhook."""
    payload = {**body.payload, "flags": flags & (_MESSAGE_FLAGS | LOADING)}
    message = new_message(
        world,
        author=world.bot_user,
        channel=handle.channel,
        body=Body(payload, body.files),
        type_=_message_type(handle),
    )
    message.webhook_id = world.application_id
    message.application_id = world.application_id
    message.interaction_metadata = _metadata(handle)
    world.publish_created(message)
    return message


def _message_type(handle: InteractionHandle) -> int:
    if handle.type != COMMAND:
        return 0
    return 20 if handle.data.get("type", 1) == 1 else 23  # CHAT_INPUT_COMMAND / CONTEXT_MENU


def _metadata(handle: InteractionHandle) -> dict[str, Any]:
    guild_id = handle.channel.guild_id
    meta: dict[str, Any] = {
        "id": str(handle.id),
        "type": handle.type,
        "user": user_payload(handle.user),
        "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {},
    }
    if handle.type == COMMAND:
        meta["name"] = handle.data.get("name")
        meta["command_type"] = handle.data.get("type", 1)
    if handle.source_message is not None:
        meta["interacted_message_id"] = str(handle.source_message.id)
    if handle.original_message is not None:
        meta["original_response_message_id"] = str(handle.original_message.id)
    return meta


# -- /webhooks/{application_id}/{token} -------------------------------------------------------


def webhook_handle(world: World, application_id: str, token: str) -> InteractionHandle:
    """The interaction behind a webhook token, if the token is still good."""
    if application_id != str(world.application_id):
        raise errors.unknown_webhook()
    handle = next((h for h in world.interactions.values() if h.token == token), None)
    if handle is None:
        raise errors.invalid_webhook_token()
    problem = None
    if handle.expired or world.clock.now() - handle.created_at > world.token_lifetime:
        problem = errors.invalid_webhook_token()
    elif handle.response_type is None:
        problem = errors.unknown_webhook()
    if problem is not None:
        handle.rejected.append(problem)
        world.changed()
        raise problem
    return handle


def webhook_message(handle: InteractionHandle, message_id: str) -> Message:
    if message_id == "@original":
        message = handle.original_message
    else:
        message = next((m for m in handle.messages() if str(m.id) == message_id), None)
    if message is None or message.deleted:
        raise errors.unknown_message()
    return message


def edit_webhook_message(
    world: World, handle: InteractionHandle, message_id: str, body: Body
) -> dict[str, Any]:
    message = webhook_message(handle, message_id)
    validate_message(body.payload, len(body.files), editing=True)
    apply_edit(world, message, body)
    world.publish_updated(message)
    return world.render.message(message)


def create_followup(world: World, handle: InteractionHandle, body: Body) -> dict[str, Any]:
    """A followup; the first one after a "thinking…" defer replaces that message, as on Discord."""
    validate_message(body.payload, len(body.files))
    original = handle.original_message
    if original is not None and original.loading and original not in handle.followups:
        apply_edit(world, original, body)
        world.publish_updated(original)
        message = original
    else:
        message = _create(world, handle, body, body.payload.get("flags") or 0)
    handle.followups.append(message)
    world.changed()
    return world.render.message(message)
