"""Prometheus metrics for ``GET /metrics`` on the health server (prometheus-client).

One registry per process (made by the bot, never at import), so two bots in one test process
don't share counters. Counters and the router histogram are updated where things happen;
gauges that describe state (jobs by state, queue depth, gateway latency) are refreshed from
the store and the client just before each scrape.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
ROUTER_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    """Everything ``/metrics`` shows."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.jobs = Gauge("easel_jobs", "Stored jobs by state", ["state"], registry=registry)
        self.queue_depth = Gauge(
            "easel_queue_depth", "Jobs waiting in this process's queue", registry=registry
        )
        self.running = Gauge(
            "easel_jobs_running_here", "Jobs this process is running", registry=registry
        )
        self.image_memory = Gauge(
            "easel_image_memory_bytes",
            "Image memory of this process's queue: the budget (MAX_IMAGE_MEMORY_MB) and the "
            "part held by jobs started and not yet delivered",
            ["part"],
            registry=registry,
        )
        self.router_seconds = Histogram(
            "easel_router_seconds",
            "Time of one job's router call(s), retries included, by model",
            ["model"],
            buckets=ROUTER_BUCKETS,
            registry=registry,
        )
        self.cost = Counter(
            "easel_router_cost_dollars", "Cost the router reported, in all", registry=registry
        )
        self.discord_429 = Counter(
            "easel_discord_rest_429", "Discord REST answers with status 429", registry=registry
        )
        self.gateway_latency = Gauge(
            "easel_gateway_latency_seconds",
            "Gateway heartbeat latency by shard",
            ["shard"],
            registry=registry,
        )

    def observe_call(self, model: str, seconds: float, cost: float | None) -> None:
        self.router_seconds.labels(model=model).observe(seconds)
        if cost:
            self.cost.inc(cost)

    def set_state(
        self, jobs: Mapping[str, int], depth: int, running: int, latency: Mapping[str, float]
    ) -> None:
        for state in ("queued", "running", "done", "failed", "cancelled", *jobs):
            self.jobs.labels(state=state).set(jobs.get(state, 0))
        self.queue_depth.set(depth)
        self.running.set(running)
        for shard, seconds in latency.items():
            if seconds == seconds:  # NaN before the first heartbeat
                self.gateway_latency.labels(shard=shard).set(seconds)

    def set_image_memory(self, budget: int | None, held: int) -> None:
        """The queue's memory budget (none: a worker, whose slots bound it) and what is held."""
        if budget is not None:
            self.image_memory.labels(part="budget").set(budget)
        self.image_memory.labels(part="held").set(held)

    def trace(self) -> aiohttp.TraceConfig:
        """For discord.py's ``http_trace``: count 429s on every REST answer."""
        trace = aiohttp.TraceConfig()

        async def on_end(_session: Any, _context: SimpleNamespace, params: Any) -> None:
            if params.response.status == 429:
                self.discord_429.inc()

        trace.on_request_end.append(on_end)
        return trace

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
