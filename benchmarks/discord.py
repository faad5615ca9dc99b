"""The whole bot under load: /imagine defer latency and event-loop lag with 50 queued 4K jobs.

The real EaselBot runs against the fake Discord (in this process, on the bot's loop: the driver
is in-process) and the fake router (in its own process). Figures are ratios against the same
bot measured idle earlier in the run:

- interaction-to-defer latency: from the fake dispatching INTERACTION_CREATE to the bot's
  type-5 callback reaching it (``InteractionHandle.ack_latency``, wall clock);
- event-loop lag p99 (``LagProbe`` on the bot's loop). The fake Discord shares that loop, so
  its share of the work (parsing ~10 MB uploads) is in the loaded figure too.

    python -m benchmarks.discord
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from benchmarks.common import KEY, LagProbe, ratio, router_process

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord

from tests.e2e.conftest import Easel
from tests.fakes.discord import FakeDiscord, InteractionHandle, Message

JOBS = 50  # queued 4K jobs
PROBES = 20  # /imagine calls whose defer latency is measured, idle and loaded
PROBE_EVERY = 2.0  # seconds between loaded probes, so they spread over the ~1 min run
CONCURRENCY = 4  # MAX_CONCURRENT_JOBS: the rest of the 50 wait in the queue
IDLE_LAG_SECONDS = 3.0
ACK_TIMEOUT = 10.0  # Discord's own deadline is 3 s; a later defer is refused (10062)
RUN_TIMEOUT = 150.0  # the 50 jobs, all told
GEMINI = "vertex/google/gemini-3-pro-image-preview"
FOUR_K = {"model": GEMINI, "aspect": "16:9", "resolution": "4K"}
ERROR_TITLE = "Couldn't finish that"


async def _fault(base_url: str, **spec: Any) -> None:
    root = base_url.rsplit("/v1", 1)[0]
    async with httpx.AsyncClient() as client:
        (await client.post(f"{root}/_fake/faults", json=spec, timeout=10)).raise_for_status()


def _result(handle: InteractionHandle) -> Message | None:
    """The response once it shows a result or an error, as ``tests.e2e.conftest.outcome``."""
    message = handle.original_message
    if message is None or message.deleted or message.loading or not message.embeds:
        return None
    return message


def _failed(message: Message) -> bool:
    return not message.attachments or message.embeds[0].get("title") == ERROR_TITLE


async def _all_done(handles: list[InteractionHandle]) -> list[Message]:
    """One poller for every handle (not one waiter each, which would load the measured loop).
    Callers bound it with ``asyncio.wait_for``."""
    while True:
        results = [_result(h) for h in handles]
        if all(results):
            return [r for r in results if r is not None]
        await asyncio.sleep(0.1)


async def _defer(fake: FakeDiscord, user: Any, channel: Any, prompt: str) -> float | None:
    """One /imagine (the cheap default model); its defer latency in seconds, None if refused."""
    handle = await fake.slash(user, channel, "imagine", {"prompt": prompt})
    try:
        await handle.wait_ack(ACK_TIMEOUT)
    except AssertionError:
        return None
    return handle.ack_latency


def _stats(samples: list[float | None]) -> dict[str, Any]:
    ok = sorted(s for s in samples if s is not None)
    p95 = (
        statistics.quantiles(ok, n=20, method="inclusive")[18]
        if len(ok) >= 2
        else (ok[0] if ok else 0.0)
    )
    return {
        "median_ms": statistics.median(ok) * 1000 if ok else 0.0,
        "p95_ms": p95 * 1000,
        "max_ms": ok[-1] * 1000 if ok else 0.0,
        "n": len(ok),
        "missed": len(samples) - len(ok),
    }


async def _idle(easel: Easel, fake: FakeDiscord, channel: Any, users: list[Any]) -> dict[str, Any]:
    latencies: list[float | None] = []
    for index in range(PROBES):
        latencies.append(await _defer(fake, users[index], channel, f"idle {index}"))
        # Let the job and its delivery finish: the next defer meets a quiet bot.
        await easel.idle(30)
    with LagProbe() as probe:
        await asyncio.sleep(IDLE_LAG_SECONDS)
    return {"defer": _stats(latencies), "lag_p99_ms": probe.p99_ms()}


async def _loaded(
    easel: Easel, fake: FakeDiscord, channel: Any, users: list[Any], probers: list[Any]
) -> dict[str, Any]:
    handles: list[InteractionHandle] = []
    probes: list[float | None] = []
    with LagProbe() as probe:
        start = time.perf_counter()
        for index, user in enumerate(users):
            prompt = {"prompt": f"a 4k photo {index}", **FOUR_K}
            handles.append(await fake.slash(user, channel, "imagine", prompt))
        fired = time.perf_counter() - start
        waiter = asyncio.create_task(asyncio.wait_for(_all_done(handles), RUN_TIMEOUT))
        for index, user in enumerate(probers):
            if waiter.done():
                break  # the run is over; later probes would not measure a loaded bot
            probes.append(await _defer(fake, user, channel, f"probe {index}"))
            await asyncio.wait({waiter}, timeout=PROBE_EVERY)
        messages = await waiter
        wall = time.perf_counter() - start
        lag_p99, lag_own = probe.p99_ms(), probe.p99_ms(own=True)
    await easel.idle(60)  # the probes' own (cheap) jobs, queued behind the 50
    bursts = [h.ack_latency if h.acknowledged else None for h in handles]
    return {
        "defer": _stats(probes),
        "burst_defer": _stats(bursts),
        "lag_p99_ms": lag_p99,
        "lag_own_p99_ms": lag_own,  # less the loop thread's waits for a CPU
        "wall_s": wall,
        "fire_s": fired,
        "failed": sum(_failed(m) for m in messages),
    }


async def bench(router_url: str) -> dict[str, Any]:
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with FakeDiscord() as fake:
                guild = fake.create_guild("Easel Bench")
                channel = fake.create_channel(guild, "art")
                users = [fake.create_user(f"user{i}", guild=guild) for i in range(JOBS)]
                probers = [fake.create_user(f"probe{i}", guild=guild) for i in range(PROBES)]
                router = SimpleNamespace(base_url=router_url)
                easel = Easel(fake, router, Path(tmp) / "data")  # type: ignore[arg-type]
                await easel.start(
                    router_api_key=KEY, max_concurrent_jobs=CONCURRENCY, request_timeout=120
                )
                try:
                    await fake.wait_for_commands(["imagine"])
                    # Warm-up: one cheap job and one 4K job (the fake router caches its 4K PNG).
                    await _fault(router_url, kind="huge", endpoint="chat")
                    warm = [
                        await fake.slash(probers[0], channel, "imagine", {"prompt": "warm"}),
                        await fake.slash(
                            probers[1], channel, "imagine", {"prompt": "warm 4k", **FOUR_K}
                        ),
                    ]
                    await asyncio.wait_for(_all_done(warm), 60)
                    await easel.idle(30)
                    idle = await _idle(easel, fake, channel, probers)
                    await _fault(router_url, kind="huge", endpoint="chat", times=JOBS)
                    loaded = await _loaded(easel, fake, channel, users, probers)
                finally:
                    await easel.stop()
    finally:
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    return {"idle": idle, "loaded": loaded}


def run() -> dict[str, Any]:
    with router_process() as router_url:
        return asyncio.run(bench(router_url))


def main() -> dict[str, Any]:
    result = run()
    idle, loaded = result["idle"], result["loaded"]
    di, dl = idle["defer"], loaded["defer"]
    print(
        f"/imagine defer latency, idle bot: median {di['median_ms']:.1f} ms, "
        f"p95 {di['p95_ms']:.1f} ms (n={di['n']}, missed {di['missed']})"
    )
    print(
        f"/imagine defer latency with {JOBS} queued 4K jobs ({CONCURRENCY} at a time): "
        f"median {dl['median_ms']:.1f} ms, p95 {dl['p95_ms']:.1f} ms, max {dl['max_ms']:.1f} ms "
        f"(n={dl['n']}, missed {dl['missed']})"
    )
    print(
        f"  ratios loaded/idle: median {ratio(dl['median_ms'], di['median_ms'])}, "
        f"p95 {ratio(dl['p95_ms'], di['p95_ms'])}"
    )
    burst = loaded["burst_defer"]
    print(
        f"  the {JOBS} burst /imagine calls themselves: median {burst['median_ms']:.1f} ms, "
        f"p95 {burst['p95_ms']:.1f} ms (missed {burst['missed']}), "
        f"fired in {loaded['fire_s']:.1f} s"
    )
    print(
        f"event-loop lag p99: idle {idle['lag_p99_ms']:.2f} ms, loaded {loaded['lag_p99_ms']:.1f} ms"
        f" -> ratio {ratio(loaded['lag_p99_ms'], idle['lag_p99_ms'])}"
    )
    print(
        f"  loaded, less the loop's waits for a CPU (other processes' share): "
        f"{loaded['lag_own_p99_ms']:.1f} ms"
    )
    print(
        f"{JOBS} 4K jobs (~30 MB PNG each, refit under 10 MiB): {loaded['wall_s']:.1f} s wall, "
        f"{loaded['failed']} failed"
    )

    return result


if __name__ == "__main__":
    main()
