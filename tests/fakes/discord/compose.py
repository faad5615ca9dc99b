"""Turning request bodies into messages and edits: attachments, mentions, replies."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors
from .cdn import image_size, sniff_content_type
from .model import (
    EPHEMERAL,
    FORWARD,
    HAS_SNAPSHOT,
    LOADING,
    SUPPRESS_EMBEDS,
    Attachment,
    Channel,
    Message,
    User,
)

if TYPE_CHECKING:
    from .state import World

REPLY = 19
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


@dataclass
class Upload:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    data: bytes


@dataclass
class Body:
    """A request's JSON payload (``payload_json`` for multipart) and its uploaded files."""

    payload: dict[str, Any] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)


def make_attachment(
    world: World, channel_id: int, filename: str, data: bytes, **extra: Any
) -> Attachment:
    content_type = sniff_content_type(filename, data)
    width, height = image_size(content_type, data)
    attachment = Attachment(
        world.ids.next(),
        channel_id,
        filename,
        data,
        content_type=content_type,
        width=width,
        height=height,
        **extra,
    )
    world.cdn.add(attachment)
    return attachment


def build_attachments(
    world: World, channel_id: int, body: Body, existing: list[Attachment], *, ephemeral: bool
) -> list[Attachment]:
    """Apply Discord's rules: listed existing ids are kept, new files are matched by index."""
    uploads = {u.index: u for u in body.files}
    by_id = {a.id: a for a in existing}
    listed = body.payload.get("attachments")
    if listed is None:
        kept = list(existing)
        entries: list[dict[str, Any]] = [{"id": i} for i in uploads]
    else:
        kept, entries = [], []
        for entry in listed:
            old = by_id.get(_as_int(entry.get("id")))
            if old is not None:
                if "description" in entry:
                    old.description = entry["description"]
                kept.append(old)
            else:
                entries.append(entry)
    used: set[int] = set()
    for entry in entries:
        upload = uploads.get(_as_int(entry.get("id")))
        if upload is None:
            continue
        used.add(upload.index)
        kept.append(_from_upload(world, channel_id, upload, entry, ephemeral))
    # Files nobody described still get attached, as on Discord.
    for index, upload in uploads.items():
        if index not in used:
            kept.append(_from_upload(world, channel_id, upload, {}, ephemeral))
    return kept


def _from_upload(
    world: World, channel_id: int, upload: Upload, entry: dict[str, Any], ephemeral: bool
) -> Attachment:
    filename = entry.get("filename") or upload.filename
    flags = 1 << 3 if filename.startswith("SPOILER_") else 0
    return make_attachment(
        world,
        channel_id,
        filename,
        upload.data,
        description=entry.get("description"),
        title=entry.get("title"),
        ephemeral=ephemeral,
        flags=flags,
    )


def resolve_reference(world: World, channel: Channel, payload: dict[str, Any]) -> Message | None:
    reference = payload.get("message_reference")
    if not reference:
        return None
    target_channel = world.channels.get(_as_int(reference.get("channel_id"))) or channel
    target = world.messages.get(_as_int(reference.get("message_id")))
    if target is None or target.deleted or target.channel_id != target_channel.id:
        if reference.get("fail_if_not_exists", True):
            raise errors.form_error(
                "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
        return None
    return target


def compute_mentions(
    world: World, content: str, allowed: dict[str, Any] | None, replied_to: Message | None
) -> tuple[list[int], list[int], bool]:
    """Which users/roles/everyone the message pings, honouring ``allowed_mentions``."""
    users = [int(u) for u in _USER_MENTION.findall(content) if int(u) in world.users]
    roles = [int(r) for r in _ROLE_MENTION.findall(content)]
    everyone = "@everyone" in content or "@here" in content
    reply_ping = replied_to is not None
    if allowed is not None:
        parse = set(allowed.get("parse") or [])
        listed_users = {int(u) for u in allowed.get("users") or []}
        listed_roles = {int(r) for r in allowed.get("roles") or []}
        users = [u for u in users if "users" in parse or u in listed_users]
        roles = [r for r in roles if "roles" in parse or r in listed_roles]
        everyone = everyone and "everyone" in parse
        reply_ping = reply_ping and bool(allowed.get("replied_user"))
    if reply_ping and replied_to is not None and replied_to.author.id not in users:
        users.append(replied_to.author.id)
    return list(dict.fromkeys(users)), list(dict.fromkeys(roles)), everyone


def new_message(
    world: World,
    *,
    author: User,
    channel: Channel,
    body: Body,
    type_: int = 0,
    extra_flags: int = 0,
) -> Message:
    """A message as Discord would store it from a create request (not yet added)."""
    payload = body.payload
    flags = (payload.get("flags") or 0) | extra_flags
    replied_to = resolve_reference(world, channel, payload)
    content = payload.get("content") or ""
    users, roles, everyone = compute_mentions(
        world, content, payload.get("allowed_mentions"), replied_to
    )
    message = Message(
        id=world.ids.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=author,
        timestamp=world.clock.now(),
        content=content,
        embeds=copy.deepcopy(payload.get("embeds") or []),
        components=number_components(payload.get("components") or []),
        flags=flags,
        type=REPLY if replied_to is not None else type_,
        mention_ids=users,
        mention_role_ids=roles,
        mention_everyone=everyone,
        nonce=payload.get("nonce"),
        tts=bool(payload.get("tts")),
    )
    if replied_to is not None:
        message.reference = {
            "type": 0,
            "message_id": str(replied_to.id),
            "channel_id": str(replied_to.channel_id),
            "guild_id": _opt_str(replied_to.guild_id),
        }
    message.attachments = build_attachments(
        world, channel.id, body, [], ephemeral=bool(flags & EPHEMERAL)
    )
    return message


def new_forward(world: World, *, author: User, channel: Channel, original: Message) -> Message:
    """A forward of ``original`` into ``channel`` (not yet added): nothing of its own but a
    FORWARD reference and a copy of the original as it is now, which later edits don't touch."""
    frozen = dataclasses.replace(
        original,
        embeds=copy.deepcopy(original.embeds),
        components=copy.deepcopy(original.components),
        attachments=list(original.attachments),  # the same files, so the same CDN paths
        mention_ids=list(original.mention_ids),
        mention_role_ids=list(original.mention_role_ids),
        reference=None,
        thread_id=None,
        reactions={},
        edits=[],
    )
    return Message(
        id=world.ids.next(),
        channel_id=channel.id,
        guild_id=channel.guild_id,
        author=author,
        timestamp=world.clock.now(),
        flags=HAS_SNAPSHOT,
        reference={
            "type": FORWARD,
            "message_id": str(original.id),
            "channel_id": str(original.channel_id),
            "guild_id": _opt_str(original.guild_id),
        },
        snapshots=[frozen],
    )


def apply_edit(world: World, message: Message, body: Body) -> None:
    """PATCH semantics: only keys present change; the old version goes to ``edits``."""
    message.edits.append(snapshot(message))
    payload = body.payload
    if "content" in payload:
        message.content = payload["content"] or ""
    if "embeds" in payload:
        message.embeds = copy.deepcopy(payload["embeds"] or [])
    if "components" in payload:
        message.components = number_components(payload["components"] or [])
    if "flags" in payload and payload["flags"] is not None:
        toggled = payload["flags"] & SUPPRESS_EMBEDS
        message.flags = (message.flags & ~SUPPRESS_EMBEDS) | toggled
    if "attachments" in payload or body.files:
        message.attachments = build_attachments(
            world, message.channel_id, body, message.attachments, ephemeral=message.ephemeral
        )
    if "allowed_mentions" in payload or "content" in payload:
        users, roles, everyone = compute_mentions(
            world, message.content, payload.get("allowed_mentions"), None
        )
        message.mention_ids, message.mention_role_ids = users, roles
        message.mention_everyone = everyone
    # Editing a deferred ("thinking…") response turns it into the real message.
    message.flags &= ~LOADING
    message.edited_timestamp = world.clock.now()


def snapshot(message: Message) -> dict[str, Any]:
    return {
        "content": message.content,
        "embeds": copy.deepcopy(message.embeds),
        "components": copy.deepcopy(message.components),
        "attachments": list(message.attachments),
        "flags": message.flags,
        "edited_timestamp": message.edited_timestamp,
    }


def number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Discord gives every component a numeric ``id`` unique within the message."""
    numbered = copy.deepcopy(components)
    used = {c["id"] for c in _walk(numbered) if isinstance(c.get("id"), int)}
    counter = 0
    for comp in _walk(numbered):
        if not isinstance(comp.get("id"), int):
            counter += 1
            while counter in used:
                counter += 1
            comp["id"] = counter
    return numbered


def _walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        yield from _walk(comp.get("components") or [])
        for key in ("accessory", "component"):
            if comp.get(key):
                yield from _walk([comp[key]])


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
