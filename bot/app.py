"""EaselBot: holds the services the entry point opened, loads the cogs, registers the dynamic
buttons, syncs commands, resumes the job queue, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from typing import Any

import discord
import yarl
from discord.ext import commands

from bot.config import Settings, application_id_from_token
from bot.errors import EaselError
from bot.health import HealthServer
from bot.jobs import JobQueue
from bot.live_catalog import default_models, refresh
from bot.metrics import Metrics
from bot.pool import WorkerPool
from bot.retention import Sweeper
from bot.service import ImageService
from bot.web.paint import open_paint
from bot.workers import HEARTBEAT_EVERY_S, keep_lease, release_lease

log = logging.getLogger(__name__)

# Loaded by name, so that nothing in bot/ imports cogs/. Delivery and replies come first: every
# other extension posts and answers through them.
EXTENSIONS = (
    "cogs.delivery",
    "cogs.replies",
    "cogs.buttons",
    "cogs.confirm",
    "cogs.iterate",
    "cogs.imagine",
    "cogs.blend",
    "cogs.compare",
    "cogs.describe",
    "cogs.history",
    "cogs.edit",
    "cogs.settings",
    "cogs.threads",
    "cogs.refine",
    "cogs.messages",
    "cogs.budgets",
    "cogs.usage",
    "cogs.spendlog",
    "cogs.models",
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
        self,
        settings: Settings,
        service: ImageService,
        queue: JobQueue | WorkerPool,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            help_command=None,
            # Nothing the bot posts pings anyone unless the message says so itself.
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=(metrics := Metrics()).trace(),  # counts Discord's 429s
            **options,
        )
        self.metrics = metrics
        service.metrics = metrics
        self.settings = settings
        self.service = service
        self.queue = queue
        self.health: Any = None
        self.painting: Any = None  # bot.web.links.Painting, with PUBLIC_URL
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
        lease = keep_lease(
            self.service.store, self.settings.worker_id, heartbeat_every(self.settings)
        )
        self._lease_task = asyncio.create_task(lease, name="easel-lease")
        # The router's own list decides what autocomplete offers; the built-in one if it fails.
        defaults = default_models(self.settings)
        await refresh(self.service.catalog, self.service.router, defaults, within=30)
        await self.start_health()

    async def start_health(self) -> None:
        """The health endpoint, ``/metrics`` and the paint page: one aiohttp app, on their
        ports (none of them unless HEALTH_PORT or PUBLIC_URL is set)."""
        settings, routes = self.settings, None
        if settings.web_port and not settings.public_url:
            log.warning("WEB_PORT is set without PUBLIC_URL: the paint page stays off")
        if settings.public_url:
            paint = await open_paint(settings, self.service, self._launch, self.queue.positions)
            self.painting, routes = paint.painting, paint.add_to
        if settings.health_port or routes is not None:
            self.health = HealthServer(
                self.health_report,
                settings.health_port,
                settings.health_host,
                routes=routes,
                web_port=settings.web_server_port,
                web_host=settings.web_host,
                metrics=self.scrape,
            )
            await self.health.start()

    async def _launch(self, job: Any) -> None:
        await self.delivery.launch(job)

    async def scrape(self) -> bytes:
        """``/metrics``: the state gauges refreshed, then everything in Prometheus' format."""
        try:
            counts = await self.service.store.job_counts()
        except EaselError:
            counts = {}
        latency: dict[str, float] = {}
        for shard_id, info in (getattr(self, "shards", None) or {}).items():
            latency[str(shard_id)] = info.latency
        if not latency and getattr(self, "ws", None) is not None:
            latency["0"] = self.latency
        self.metrics.set_state(counts, self.queue.depth, len(self.queue.running()), latency)
        if (memory := getattr(self.queue, "memory", None)) is not None:  # a JobQueue's budget
            self.metrics.set_image_memory(memory.budget, memory.used)
        return self.metrics.render()

    async def health_report(self) -> dict[str, Any]:
        """Gateway (each shard's, when sharded), store and queue, for the health endpoint."""
        try:
            store_ok = await self.service.store.ping()
        except Exception:
            store_ok = False
        shards = self.shard_report()
        connected = bool(shards) and all(s["gateway"] == "connected" for s in shards.values())
        report: dict[str, Any] = {
            "gateway": "connected" if connected else "disconnected",
            "ready": self.is_ready(),
            "latency_ms": _ms(self.latency),
            "queue_depth": self.queue.depth,
            "running": len(self.queue.running()),
            "store": "ok" if store_ok else "unreachable",
        }
        if self.settings.sharded:
            report["shard_count"] = self.shard_count
            report["shards"] = shards
        return report

    def shard_report(self) -> dict[str, dict[str, Any]]:
        """Each shard this process runs: connected or not, and its heartbeat latency."""
        found: dict[int, Any] = getattr(self, "shards", None) or {}
        if not found:  # one connection for everything, as without sharding
            ws = getattr(self, "ws", None)
            up = ws is not None and ws.open and not self.is_closed()
            return {
                "0": {
                    "gateway": "connected" if up else "disconnected",
                    "latency_ms": _ms(self.latency),
                }
            }
        return {
            str(shard_id): {
                "gateway": "disconnected" if info.is_closed() else "connected",
                "latency_ms": _ms(info.latency),
            }
            for shard_id, info in sorted(found.items())
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
        if self.settings.run_jobs:  # else workers take them from the store
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


class ShardedEaselBot(EaselBot, commands.AutoShardedBot):
    """The same bot on discord.py's sharded client: the process runs only ``SHARD_IDS``."""


def make_bot(
    settings: Settings, service: ImageService, queue: JobQueue, **options: Any
) -> EaselBot:
    """``EaselBot``, or its sharded kind when ``SHARD_COUNT`` is set (``auto``: Discord's count)."""
    if not settings.sharded:
        return EaselBot(settings, service, queue, **options)
    count = None if settings.shard_count == "auto" else int(settings.shard_count or 1)
    ids = list(settings.shards) if settings.shards else None
    return ShardedEaselBot(settings, service, queue, shard_count=count, shard_ids=ids, **options)


def heartbeat_every(settings: Settings) -> float:
    """Four heartbeats in a lease, at most 15 s apart."""
    return min(HEARTBEAT_EVERY_S, settings.worker_lease_seconds / 4)


def _ms(latency: float) -> int | None:
    return None if latency != latency else round(latency * 1000)  # NaN before a heartbeat


def tree_hash(payload: list[dict[str, Any]]) -> str:
    """A stable hash of the command payloads that a sync would send."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
