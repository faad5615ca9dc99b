"""``python -m bot worker``: generation capacity apart from the gateway.

A worker logs in to Discord's REST API only (no gateway connection, so it receives no events
and counts against no shard), takes jobs from the shared store (``bot.pool.WorkerPool``) and
posts each result through REST: the interaction's webhook while its token lives, else the
channel or the requester's DMs (``cogs.delivery``, the same code as the gateway process).
Next to ``bot/app.py`` the one other module that touches discord.py: it is the gateway-less
twin of ``EaselBot``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import discord

from bot.app import EaselBot, heartbeat_every
from bot.config import Settings
from bot.errors import ConfigError
from bot.launch import point_discord_at
from bot.memory import MIB
from bot.pool import WorkerPool
from bot.service import ImageService
from bot.workers import claim_lease, keep_lease

log = logging.getLogger(__name__)


class WorkerBot(EaselBot):
    """REST only: posts results; never connects to the gateway or syncs commands."""

    pool: WorkerPool

    async def setup_hook(self) -> None:
        await self.load_extension("cogs.delivery")  # the posting; no commands, no listeners
        lease = keep_lease(
            self.service.store, self.settings.worker_id, heartbeat_every(self.settings)
        )
        self._lease_task = asyncio.create_task(lease, name="easel-lease")
        await self.start_health()

    async def health_report(self) -> dict[str, Any]:
        try:
            store_ok = await self.service.store.ping()
        except Exception:
            store_ok = False
        return {
            "role": "worker",
            "gateway": "not used",
            "running": len(self.queue.running()),
            "store": "ok" if store_ok else "unreachable",
        }


def run_worker(settings: Settings) -> int:
    """Entry point for ``python -m bot worker``: returns the exit status."""
    token = settings.token()
    settings.router_key()
    point_discord_at(settings)
    return asyncio.run(_work(settings, token))


async def _work(settings: Settings, token: str) -> int:
    async with ImageService.open(settings) as service:
        await claim_lease(service.store, settings.worker_id)
        pool = WorkerPool(
            service,
            slots=settings.max_concurrent_jobs,
            max_per_user=settings.max_jobs_per_user,
            stale_after=settings.worker_lease_seconds,
            memory_budget=settings.max_image_memory_mb * MIB,
        )
        bot = WorkerBot(settings, service, pool)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await bot.login(token)
        except discord.LoginFailure:
            await bot.close()
            raise ConfigError(
                "Discord refused DISCORD_TOKEN; copy it again from the Developer Portal."
            ) from None
        runner = asyncio.create_task(_serve(bot, pool), name="easel-worker")
        await stop.wait()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await bot.close()
    return 0


async def _serve(bot: WorkerBot, pool: WorkerPool) -> None:
    await pool.resume()  # this WORKER_ID's jobs from before a restart
    await bot.delivery.resume()  # outcomes nobody posted yet, from any process
    log.info("worker %s taking jobs", bot.settings.worker_id)
    await pool.run_forever()
