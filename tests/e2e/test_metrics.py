"""``GET /metrics`` on the health port, in Prometheus' text format, after real traffic: jobs by
state and queue depth, router latency by model and total cost, Discord's 429s, gateway latency
per shard."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import outcome
from tests.e2e.processes import free_port

pytestmark = pytest.mark.timeout(90)


async def scrape(port: int) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


async def test_metrics_after_a_job_and_a_rate_limit(easel, world):
    fake, _guild, channel, alice, _bob = world
    port = free_port()
    await easel.restart(health_port=port, max_image_memory_mb=300)
    fake.rate_limit("/webhooks/", times=1, retry_after=0.2)  # discord.py waits and retries
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a red fox"})
    await outcome(fake, handle)
    await easel.idle()
    for _ in range(100):  # the first heartbeat gives the gateway latency
        seen = await scrape(port)
        if ("easel_gateway_latency_seconds", (("shard", "0"),)) in seen:
            break
        await asyncio.sleep(0.1)
    model = (("model", "azure/openai/gpt-image-1"),)
    assert seen[("easel_jobs", (("state", "done"),))] == 1
    assert seen[("easel_jobs", (("state", "queued"),))] == 0
    assert seen[("easel_queue_depth", ())] == 0
    assert seen[("easel_router_seconds_count", model)] == 1
    assert seen[("easel_router_cost_dollars_total", ())] > 0
    assert seen[("easel_discord_rest_429_total", ())] >= 1
    assert seen[("easel_gateway_latency_seconds", (("shard", "0"),))] >= 0
    # The queue's image memory budget, and nothing held once every result is posted.
    assert seen[("easel_image_memory_bytes", (("part", "budget"),))] == 300 * 1024 * 1024
    assert seen[("easel_image_memory_bytes", (("part", "held"),))] == 0
