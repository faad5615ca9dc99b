"""A small HTTP health endpoint for Docker and orchestrators (off unless HEALTH_PORT is set).

``GET /health`` answers 200 when the gateway is connected and the store answers, else 503, with
a JSON body: gateway, queue depth, running jobs, store. The same app serves the web pages
(``bot.web``, given as ``routes``) on ``WEB_PORT`` as well when PUBLIC_URL is set.
``GET /metrics`` serves Prometheus' text format (``bot/metrics.py``) on the health port.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)


Report = Callable[[], Awaitable[dict[str, Any]]]
Routes = Callable[[web.Application], None]


class HealthServer:
    """Serves whatever ``report`` says; healthy when the gateway and the store are."""

    def __init__(
        self,
        report: Report,
        port: int | None,
        host: str = "127.0.0.1",
        *,
        routes: Routes | None = None,
        web_port: int | None = None,
        web_host: str = "127.0.0.1",
        metrics: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        self.report = report
        self.port = port
        self.host = host
        self.routes = routes
        self.web_port, self.web_host = web_port, web_host
        self.metrics = metrics
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        if self.port:
            app.router.add_get("/health", self.health)
            if self.metrics is not None:
                app.router.add_get("/metrics", self.scrape)
        if self.routes is not None:
            self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sites = {self.web_port: self.web_host} if self.web_port else {}
        if self.port:
            sites[self.port] = self.host  # one port for both: the health endpoint's host
        for port, host in sorted(sites.items()):
            await web.TCPSite(self._runner, host, port).start()
            log.info("web server on %s port %d", host, port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def health(self, request: web.Request) -> web.Response:
        body = await self.report()
        # A worker has no gateway: it is healthy when the store answers.
        healthy = body["gateway"] in ("connected", "not used") and body["store"] == "ok"
        return web.json_response(body, status=200 if healthy else 503)

    async def scrape(self, request: web.Request) -> web.Response:
        assert self.metrics is not None
        body = await self.metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
