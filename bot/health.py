"""A small HTTP health endpoint for Docker and orchestrators (off unless HEALTH_PORT is set).

``GET /health`` answers 200 when the gateway is connected and the store answers, else 503, with
a JSON body: gateway, queue depth, running jobs, store.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, bot: EaselBot, port: int, host: str = "127.0.0.1") -> None:
        self.bot = bot
        self.port = port
        self.host = host
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self.health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("health endpoint on port %d", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def report(self) -> dict[str, Any]:
        try:
            store_ok = await self.bot.service.store.ping()
        except Exception:
            store_ok = False
        ws = getattr(self.bot, "ws", None)
        connected = ws is not None and ws.open and not self.bot.is_closed()
        latency = self.bot.latency  # NaN before the first heartbeat
        return {
            "gateway": "connected" if connected else "disconnected",
            "ready": self.bot.is_ready(),
            "latency_ms": None if latency != latency else round(latency * 1000),
            "queue_depth": self.bot.queue.depth,
            "running": len(self.bot.queue.running()),
            "store": "ok" if store_ok else "unreachable",
        }

    async def health(self, request: web.Request) -> web.Response:
        body = await self.report()
        healthy = body["gateway"] == "connected" and body["store"] == "ok"
        return web.json_response(body, status=200 if healthy else 503)
