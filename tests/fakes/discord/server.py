"""Server lifecycle, world building and faults; ``FakeDiscord`` in ``driver`` adds user actions."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .errors import MIB
from .gateway import Gateway
from .model import Channel, Guild, Member, Overwrite, Role, User
from .payloads import role_payload
from .permissions import ALL, DEFAULT_EVERYONE
from .ratelimit import Injected, RateLimiter
from .rest import API_PREFIX, build_api
from .restkit import RequestRecord
from .sessions import PRIVILEGED
from .state import World


class FakeServer:
    """Runs REST, gateway and CDN on one loopback port and builds guilds, channels and users."""

    def __init__(
        self,
        *,
        bot_name: str = "Easel",
        privileged_intents: int = PRIVILEGED,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        cdn_url_lifetime: float = 24 * 3600.0,
        heartbeat_interval: float = 41.25,
        rate_limit: tuple[int, float] = (50, 1.0),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.world = World(bot_name=bot_name, cdn_url_lifetime=cdn_url_lifetime)
        self.world.ack_deadline = ack_deadline
        self.world.token_lifetime = token_lifetime
        self.gateway = Gateway(
            self.world,
            self.world.render,
            privileged_intents=privileged_intents,
            heartbeat_interval_ms=int(heartbeat_interval * 1000),
        )
        self.world.set_dispatcher(self.gateway.dispatch)
        self.world.session_probe = lambda: bool(self.gateway.live_sessions())
        self.limiter = RateLimiter(limit=rate_limit[0], window=rate_limit[1])
        self.requests: list[RequestRecord] = []
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.base_url = self.api_base = self.gateway_url = ""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=200 * MIB)
        app.add_subapp(API_PREFIX, build_api(self.world, self.gateway, self.limiter, self.requests))
        app.add_routes(self.gateway.routes())
        app.add_routes(self.world.cdn.routes())
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{self._host}:{port}"
        self.api_base = self.base_url + API_PREFIX
        self.gateway_url = f"ws://{self._host}:{port}/gateway/"
        self.gateway.url = self.gateway_url
        self.gateway.resume_url = f"ws://{self._host}:{port}/gateway-resume/"
        self.world.cdn.base = self.base_url

    async def stop(self) -> None:
        if self._runner is None:
            return
        await self.gateway.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, *exc_info: object) -> None:
        await self.stop()
        problems = self.world.internal_errors
        if exc_type is None and problems:
            raise AssertionError(
                f"the fake Discord failed internally: {problems[0]!r}"
            ) from problems[0]

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    # -- world building -----------------------------------------------------------------------------

    def create_user(
        self, name: str, *, guild: Guild | None = None, roles: tuple[Role, ...] = ()
    ) -> User:
        user = User(self.world.ids.next(), name)
        self.world.users[user.id] = user
        if guild is not None:
            self.add_member(guild, user, roles=roles)
        return user

    def create_guild(
        self,
        name: str,
        *,
        upload_limit: int = 10 * MIB,
        bot_permissions: int = DEFAULT_EVERYONE,
        everyone_permissions: int = DEFAULT_EVERYONE,
    ) -> Guild:
        """A guild the bot is in, with @everyone and the bot's managed role."""
        world = self.world
        now = world.clock.now()
        guild = Guild(world.ids.next(), name, world.owner.id, upload_limit, now)
        guild.roles[guild.id] = Role(guild.id, guild.id, "@everyone", int(everyone_permissions))
        bot_role = Role(
            world.ids.next(),
            guild.id,
            world.bot_user.name,
            int(bot_permissions),
            1,
            world.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[world.owner.id] = Member(world.owner, [], now)
        guild.members[world.bot_user.id] = Member(world.bot_user, [bot_role.id], now)
        world.guilds[guild.id] = guild
        self.gateway.announce_guild(guild.id)
        world.changed()
        return guild

    def create_channel(
        self,
        guild: Guild,
        name: str,
        *,
        bot_permissions: int | None = None,
        topic: str | None = None,
    ) -> Channel:
        """A text channel; ``bot_permissions`` pins the bot's permissions there with an overwrite."""
        world = self.world
        channel = Channel(
            world.ids.next(),
            guild.id,
            name,
            created_at=world.clock.now(),
            position=len(guild.text_channels()),
            topic=topic,
        )
        if bot_permissions is not None:
            bot_id = world.bot_user.id
            allow = int(bot_permissions)
            channel.overwrites[bot_id] = Overwrite(bot_id, 1, allow, ALL & ~allow)
        guild.channels[channel.id] = channel
        world.channels[channel.id] = channel
        world.dispatch("CHANNEL_CREATE", world.render.channel(channel), guild.id)
        return channel

    def create_role(self, guild: Guild, name: str, permissions: int = 0) -> Role:
        role = Role(self.world.ids.next(), guild.id, name, int(permissions), len(guild.roles))
        guild.roles[role.id] = role
        data = {"guild_id": str(guild.id), "role": role_payload(role)}
        self.world.dispatch("GUILD_ROLE_CREATE", data, guild.id)
        return role

    def add_member(self, guild: Guild, user: User, *, roles: tuple[Role, ...] = ()) -> Member:
        member = Member(user, [r.id for r in roles], self.world.clock.now())
        guild.members[user.id] = member
        data = self.world.render.member(member) | {"guild_id": str(guild.id)}
        self.world.dispatch("GUILD_MEMBER_ADD", data, guild.id)
        return member

    def dm_channel(self, user: User) -> Channel:
        """The DM between ``user`` and the bot (post in it with ``post_message``)."""
        return self.world.dm_channel(user)

    def set_permissions(
        self, channel: Channel, target: User | Role | None = None, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set a channel overwrite (default target: the bot) and tell the bot (CHANNEL_UPDATE)."""
        world = self.world
        parent = world.channels[channel.parent_id] if channel.parent_id else channel
        target_id = world.bot_user.id if target is None else target.id
        kind = 0 if isinstance(target, Role) else 1
        parent.overwrites[target_id] = Overwrite(target_id, kind, int(allow), int(deny))
        world.dispatch("CHANNEL_UPDATE", world.render.channel(parent), parent.guild_id)

    # -- faults and inspection ----------------------------------------------------------------------

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the bot's socket with a resumable code; discord.py should RESUME."""
        await self.gateway.drop(code)

    async def request_reconnect(self) -> None:
        await self.gateway.request_reconnect()

    async def invalidate_session(self) -> None:
        await self.gateway.invalidate_sessions()

    def outage(self, seconds: float, path: str = "") -> None:
        """For ``seconds`` (wall clock), every API request whose path contains ``path`` gets 503."""
        self.world.outages.append((path, time.monotonic() + seconds))

    def refuse_uploads(self, times: int = 1) -> None:
        """The next ``times`` requests carrying files get 413 / 40005."""
        self.world.upload_refusals += times

    def rate_limit(
        self,
        path: str,
        times: int = 1,
        retry_after: float = 0.3,
        *,
        scope: str = "user",
        is_global: bool = False,
        method: str | None = None,
    ) -> None:
        """The next ``times`` API requests whose path contains ``path`` get a 429 (with ``Via``)."""
        self.limiter.inject(Injected(path, times, retry_after, scope, is_global, method))

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock: ack deadlines, token lifetimes and CDN signatures follow it."""
        self.world.clock.advance(seconds)

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.requests if path in r.path and method in (None, r.method)]
