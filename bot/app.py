"""EaselBot: holds the services the entry point opened, loads the cogs, registers the dynamic
buttons, syncs commands, resumes the job queue, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.config import Settings, application_id_from_token, missing_for_bot
from bot.errors import ConfigError
from bot.health import HealthServer
from bot.jobs import JobQueue
from bot.retention import Sweeper
from bot.service import ImageService
from bot.workers import claim_lease, keep_lease, release_lease

log = logging.getLogger(__name__)

# Loaded by name, so that nothing in bot/ imports cogs/. Delivery and replies come first: every
# other extension posts and answers through them.
EXTENSIONS = (
    "cogs.delivery",
    "cogs.replies",
    "cogs.buttons",
    "cogs.imagine",
    "cogs.edit",
    "cogs.threads",
    "cogs.refine",
    "cogs.messages",
)


def bot_permissions() -> discord.Permissions:
    """Exactly what Easel needs in a channel: read, answer with files, and run threads."""
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
    )


def missing_permissions(have: discord.Permissions) -> list[str]:
    """The names of what Easel needs and ``have`` lacks, as Discord's settings spell them."""
    return [
        name.replace("_", " ").title()
        for name, value in bot_permissions()
        if value and not getattr(have, name)
    ]


def bot_intents() -> discord.Intents:
    """Guilds for channels and threads; messages and their content for reply-to-edit and threads."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = True  # privileged: enable it in the Developer Portal
    return intents


def invite_url(settings: Settings) -> str:
    app_id = application_id_from_token(settings.token())
    query = {
        "client_id": str(app_id),
        "permissions": str(bot_permissions().value),
        "scope": "bot applications.commands",
    }
    return str(yarl.URL("https://discord.com/oauth2/authorize").with_query(query))


class EaselBot(commands.Bot):
    """The Discord client; the cogs translate, the service decides."""

    def __init__(
        self, settings: Settings, service: ImageService, queue: JobQueue, **options: Any
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            help_command=None,
            # Nothing the bot posts pings anyone unless the message says so itself.
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.service = service
        self.queue = queue
        self.health: Any = None
        self.delivery: Any = None  # set by the cogs.delivery extension
        self._resume_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self.sync_only = False  # python -m bot sync: load the commands, sync them, nothing else

    async def setup_hook(self) -> None:
        for name in EXTENSIONS:
            await self.load_extension(name)
        await self.sync_commands(force=self.sync_only)
        if self.sync_only:
            return
        sweeper = Sweeper.from_settings(self.service.store, self.settings)
        every = self.settings.sweep_every_minutes * 60
        self._sweep_task = asyncio.create_task(sweeper.run_forever(every), name="easel-sweep")
        lease = keep_lease(self.service.store, self.settings.worker_id)
        self._lease_task = asyncio.create_task(lease, name="easel-lease")
        if self.settings.health_port:
            self.health = HealthServer(
                self.health_report, self.settings.health_port, self.settings.health_host
            )
            await self.health.start()

    async def health_report(self) -> dict[str, Any]:
        """Gateway, store and queue, for the health endpoint."""
        try:
            store_ok = await self.service.store.ping()
        except Exception:
            store_ok = False
        ws = getattr(self, "ws", None)
        connected = ws is not None and ws.open and not self.is_closed()
        latency = self.latency  # NaN before the first heartbeat
        return {
            "gateway": "connected" if connected else "disconnected",
            "ready": self.is_ready(),
            "latency_ms": None if latency != latency else round(latency * 1000),
            "queue_depth": self.queue.depth,
            "running": len(self.queue.running()),
            "store": "ok" if store_ok else "unreachable",
        }

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Sync the command tree if it changed since the last sync (Discord rate-limits syncs)."""
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        key = f"commands:{self.application_id}:{guild.id if guild else 'global'}"
        digest = tree_hash(payload)
        if not force and await self.service.store.state(key) == digest:
            log.info("commands unchanged since the last sync; not syncing")
            return False
        await self.tree.sync(guild=guild)
        await self.service.store.set_state(key, digest)
        log.info("synced %d commands (%s)", len(payload), "guild" if guild else "global")
        return True

    async def on_ready(self) -> None:
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))
        if self._resume_task is None:
            # After the cogs' listeners exist, so that resumed results are delivered; kept so
            # that close() can wait for it rather than close the store under it.
            self._resume_task = asyncio.create_task(self._resume(), name="easel-resume")

    async def _resume(self) -> None:
        await self.delivery.resume()
        await self.queue.resume()

    async def close(self) -> None:
        if self._resume_task is not None and not self._resume_task.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._resume_task), 10)
        for task in (self._sweep_task, self._lease_task):
            if task is not None:
                task.cancel()  # before the store closes under it
                await asyncio.gather(task, return_exceptions=True)
        if self.delivery is not None:
            await self.delivery.close()
        await self.queue.close()  # running jobs stay RUNNING in the store; resumed next start
        if self._lease_task is not None:
            # Only once nothing runs any more: the next process with this id may start at once.
            await release_lease(self.service.store, self.settings.worker_id)
        if self.health is not None:
            await self.health.stop()
        await super().close()


def tree_hash(payload: list[dict[str, Any]]) -> str:
    """A stable hash of the command payloads that a sync would send."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to a proxy or a test server instead of discord.com."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def run_bot(settings: Settings) -> int:
    """Entry point for ``python -m bot``: returns the exit status."""
    missing = missing_for_bot(settings)
    if missing:
        raise ConfigError("; ".join(missing))
    point_discord_at(settings)
    return asyncio.run(_serve(settings, settings.token()))


def sync_commands(settings: Settings) -> int:
    """``python -m bot sync``: log in over REST, sync the command tree whatever its hash, exit."""
    token = settings.token()
    point_discord_at(settings)
    return asyncio.run(_sync(settings, token))


async def _sync(settings: Settings, token: str) -> int:
    async with ImageService.open(settings) as service:
        queue = JobQueue(service, max_concurrent=1, max_per_user=1)  # never started
        async with EaselBot(settings, service, queue) as bot:
            bot.sync_only = True
            await _start(bot, token, login_only=True)
    return 0


async def _serve(settings: Settings, token: str) -> int:
    async with ImageService.open(settings) as service:
        # Before logging in, so that a second process with this id resumes nothing.
        await claim_lease(service.store, settings.worker_id)
        queue = JobQueue(
            service,
            max_concurrent=settings.max_concurrent_jobs,
            max_per_user=settings.max_jobs_per_user,
        )
        async with EaselBot(settings, service, queue) as bot:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
            await _start(bot, token)
    return 0


async def _start(bot: EaselBot, token: str, *, login_only: bool = False) -> None:
    """Log in and run until closed; what stops a start is one ConfigError line."""
    try:
        await (bot.login(token) if login_only else bot.start(token))
    except discord.LoginFailure:
        raise ConfigError(
            "Discord refused DISCORD_TOKEN; copy it again from the "
            "Developer Portal (Bot → Reset Token)."
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(
            "Enable the Message Content intent for the bot in the Developer "
            "Portal (Bot → Privileged Gateway Intents)."
        ) from None
    except (OSError, aiohttp.ClientError) as exc:
        cause = getattr(exc, "os_error", None) or exc
        reason = getattr(cause, "strerror", None) or type(cause).__name__
        raise ConfigError(
            f"Can't reach Discord at {bot.settings.discord_api} ({reason}): check the network "
            "connection, a proxy or firewall, or DISCORD_API_BASE."
        ) from None
