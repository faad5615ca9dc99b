"""Discord JSON for the model objects, shaped like what discord.py 2.7 parses."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .model import DM_CHANNEL, HAS_THREAD, Attachment, Channel, Guild, Member, Message, Role, User
from .permissions import channel_permissions

if TYPE_CHECKING:
    from .state import World

ATTACHMENT_SCHEME = "attachment://"
# What a forward's copy of a message keeps: no id, author or channel.
SNAPSHOT_FIELDS = (
    "type",
    "content",
    "embeds",
    "attachments",
    "timestamp",
    "edited_timestamp",
    "flags",
    "mentions",
    "mention_roles",
    "components",
)


def user_payload(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.name,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "public_flags": 0,
    }


def role_payload(role: Role) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": role.bot_id is not None,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


class Renderer:
    """Builds payloads that need the world: URLs, members, referenced messages."""

    def __init__(self, world: World) -> None:
        self.world = world

    def iso(self, when: float | None) -> str | None:
        return None if when is None else self.world.clock.iso(when)

    def member(
        self, member: Member, *, with_user: bool = True, channel: Channel | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "roles": [str(r) for r in member.roles],
            "joined_at": self.iso(member.joined_at),
            "nick": member.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = user_payload(member.user)
        if channel is not None and channel.guild_id is not None:
            guild = self.world.guilds[channel.guild_id]
            payload["permissions"] = str(channel_permissions(guild, channel, member.user.id))
        return payload

    def channel(self, channel: Channel) -> dict[str, Any]:
        if channel.type == DM_CHANNEL:
            recipient = self.world.users[channel.recipient_id or 0]
            return {
                "id": str(channel.id),
                "type": DM_CHANNEL,
                "last_message_id": _opt_id(channel.last_message_id),
                "recipients": [user_payload(recipient)],
            }
        payload: dict[str, Any] = {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": channel.position,
            "parent_id": _opt_id(channel.parent_id),
            "last_message_id": _opt_id(channel.last_message_id),
            "rate_limit_per_user": channel.rate_limit_per_user,
            "flags": 0,
            "nsfw": False,
        }
        if channel.is_thread:
            payload.update(self._thread_fields(channel))
        else:
            payload["topic"] = channel.topic
            payload["permission_overwrites"] = [
                {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
                for o in channel.overwrites.values()
            ]
        return payload

    def _thread_fields(self, thread: Channel) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "owner_id": str(thread.owner_id),
            "message_count": thread.message_count,
            "member_count": min(len(thread.member_ids), 50),
            "total_message_sent": thread.message_count,
            "thread_metadata": {
                "archived": thread.archived,
                "auto_archive_duration": thread.auto_archive_duration,
                "archive_timestamp": self.iso(thread.archive_timestamp),
                "locked": thread.locked,
                "invitable": thread.invitable,
                "create_timestamp": self.iso(thread.created_at),
            },
        }
        bot_id = self.world.bot_user.id
        if bot_id in thread.member_ids:
            fields["member"] = self.thread_member(thread, bot_id)
        return fields

    def thread_member(self, thread: Channel, user_id: int) -> dict[str, Any]:
        return {
            "id": str(thread.id),
            "user_id": str(user_id),
            "join_timestamp": self.iso(thread.created_at),
            "flags": 0,
        }

    def guild(self, guild: Guild) -> dict[str, Any]:
        """The guild object of ``GET /guilds/{id}``."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role_payload(r) for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": guild.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": guild.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
        }

    def guild_create(self, guild: Guild, *, all_members: bool) -> dict[str, Any]:
        """GUILD_CREATE: the guild plus channels, active threads and (some) members."""
        bot_id = self.world.bot_user.id
        members = [m for m in guild.members.values() if all_members or m.user.id == bot_id]
        payload = self.guild(guild)
        payload.update(
            {
                "joined_at": self.iso(guild.members[bot_id].joined_at),
                "large": False,
                "unavailable": False,
                "member_count": len(guild.members),
                "voice_states": [],
                "presences": [],
                "members": [self.member(m) for m in members],
                "channels": [self.channel(c) for c in guild.text_channels()],
                "threads": [self.channel(t) for t in guild.threads() if not t.archived],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        return payload

    def attachment(self, attachment: Attachment) -> dict[str, Any]:
        cdn = self.world.cdn
        payload: dict[str, Any] = {
            "id": str(attachment.id),
            "filename": attachment.filename,
            "size": attachment.size,
            "url": cdn.url(attachment),
            "proxy_url": cdn.url(attachment, proxy=True),
            "content_type": attachment.content_type,
            "flags": attachment.flags,
        }
        for key in ("description", "title", "width", "height"):
            if getattr(attachment, key) is not None:
                payload[key] = getattr(attachment, key)
        if attachment.ephemeral:
            payload["ephemeral"] = True
        return payload

    def embed(self, message: Message, embed: dict[str, Any]) -> dict[str, Any]:
        """Resolve ``attachment://name`` to the attachment's CDN URL, as Discord does."""
        rendered = copy.deepcopy(embed)
        rendered.setdefault("type", "rich")
        for key in ("image", "thumbnail"):
            media = rendered.get(key) or {}
            url = media.get("url", "")
            target = message.attachment(url.removeprefix(ATTACHMENT_SCHEME))
            if url.startswith(ATTACHMENT_SCHEME) and target is not None:
                media.update(self._media(target))
        return rendered

    def _media(self, attachment: Attachment) -> dict[str, Any]:
        media: dict[str, Any] = {
            "url": self.world.cdn.url(attachment),
            "proxy_url": self.world.cdn.url(attachment, proxy=True),
            "flags": 0,
        }
        if attachment.width is not None:
            media.update(width=attachment.width, height=attachment.height)
        return media

    def message(self, message: Message, *, nested: bool = False) -> dict[str, Any]:
        users = self.world.users
        payload: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": user_payload(message.author),
            "content": message.content,
            "timestamp": self.iso(message.timestamp),
            "edited_timestamp": self.iso(message.edited_timestamp),
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": [user_payload(users[i]) for i in message.mention_ids if i in users],
            "mention_roles": [str(r) for r in message.mention_role_ids],
            "attachments": [self.attachment(a) for a in message.attachments],
            "embeds": [self.embed(message, e) for e in message.embeds],
            "components": copy.deepcopy(message.components),
            "reactions": self._reactions(message),
            "pinned": False,
            "type": message.type,
            "flags": message.flags | (HAS_THREAD if message.thread_id else 0),
        }
        if message.guild_id is not None:
            payload["guild_id"] = str(message.guild_id)
        if message.webhook_id is not None:
            payload["webhook_id"] = str(message.webhook_id)
            payload["application_id"] = str(message.application_id)
        if message.interaction_metadata is not None:
            payload["interaction_metadata"] = copy.deepcopy(message.interaction_metadata)
        if message.nonce is not None:
            payload["nonce"] = message.nonce
        if message.reference is not None:
            payload["message_reference"] = dict(message.reference)
            # Only replies carry the message itself; a forward carries its copies instead.
            if not nested and not message.snapshots:
                payload["referenced_message"] = self._referenced(message)
        if message.snapshots:
            payload["message_snapshots"] = [self._snapshot(s) for s in message.snapshots]
        if message.thread_id is not None and message.thread_id in self.world.channels:
            payload["thread"] = self.channel(self.world.channels[message.thread_id])
        return payload

    def _snapshot(self, frozen: Message) -> dict[str, Any]:
        rendered = self.message(frozen, nested=True)  # attachment URLs signed afresh, as on Discord
        return {"message": {key: rendered[key] for key in SNAPSHOT_FIELDS}}

    def _referenced(self, message: Message) -> dict[str, Any] | None:
        target = self.world.messages.get(message.referenced_id or 0)
        if target is None or target.deleted:
            return None
        return self.message(target, nested=True)

    def _reactions(self, message: Message) -> list[dict[str, Any]]:
        bot_id = self.world.bot_user.id
        return [
            {
                "emoji": {"id": None, "name": emoji},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "me": bot_id in users,
                "me_burst": False,
                "burst_colors": [],
            }
            for emoji, users in message.reactions.items()
            if users
        ]

    def message_event(self, message: Message) -> dict[str, Any]:
        """MESSAGE_CREATE/UPDATE data: the message plus the author's partial member."""
        payload = self.message(message)
        guild = self.world.guilds.get(message.guild_id or 0)
        member = guild.members.get(message.author.id) if guild else None
        if member is not None and message.webhook_id is None:
            payload["member"] = self.member(member, with_user=False)
        return payload


def _opt_id(value: int | None) -> str | None:
    return None if value is None else str(value)
