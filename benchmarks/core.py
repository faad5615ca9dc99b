"""Core benchmarks: the service's overhead over a bare HTTP call, and event-loop lag while 20
jobs with 4K images run at once. Each figure is a ratio against a baseline from the same run."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from benchmarks.common import KEY, LagProbe, cpu_seconds, ratio, router_process, service
from bot import fitting
from bot.domain import ImageSpec, JobKind
from bot.jobs import JobQueue, Outcome

ROUNDS = 15
JOBS = 20
GEMINI = "vertex/google/gemini-3-pro-image-preview"


async def overhead(base_url: str) -> dict[str, Any]:
    """``ImageService.imagine`` (store, router, decode, verify, store image) vs a bare POST."""
    spec = ImageSpec(model="azure/openai/gpt-image-1", size="1024x1024")
    body = {
        "model": spec.model,
        "prompt": "a bench",
        "size": "1024x1024",
        "response_format": "b64_json",
        "n": 1,
    }
    bare_times, easel_times = [], []
    async with (
        service(base_url) as svc,
        httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client,
    ):
        for _ in range(2):  # warm both paths
            await svc.imagine("a bench", spec)
            (await client.post(f"{base_url}/images/generations", json=body)).json()
        for _ in range(ROUNDS):
            start = time.perf_counter()
            response = await client.post(f"{base_url}/images/generations", json=body)
            response.json()
            bare_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            await svc.imagine("a bench", spec)
            easel_times.append(time.perf_counter() - start)
    bare, easel = statistics.median(bare_times), statistics.median(easel_times)
    return {"bare_ms": bare * 1000, "easel_ms": easel * 1000, "ratio": easel / bare}


async def _fault(base_url: str, **spec: Any) -> None:
    async with httpx.AsyncClient() as client:
        root = base_url.rsplit("/v1", 1)[0]
        (await client.post(f"{root}/_fake/faults", json=spec, timeout=10)).raise_for_status()


async def _burst(base_url: str, *, fit_on_loop: bool) -> tuple[float, float, float]:
    """Run JOBS 4K jobs at once through the queue, then fit each for Discord: the lag p99 (ms),
    the same less the loop's waits for a CPU, and CPU-seconds per job, workers included."""
    await _fault(base_url, kind="huge", endpoint="chat", times=JOBS)
    cpu = cpu_seconds()
    spec = ImageSpec(model=GEMINI, aspect_ratio="16:9", resolution="4K")
    async with service(base_url, request_timeout=300) as svc:
        queue = JobQueue(svc, max_concurrent=JOBS, max_per_user=JOBS)
        done = asyncio.Event()
        finished: list[Outcome] = []

        async def deliver(outcome: Outcome) -> None:
            assert outcome.result is not None, outcome.error
            data = outcome.result.images[0].data
            if fit_on_loop:  # the naive bot: Pillow on the event loop
                fitting.fit_under(data, 10 * 1024 * 1024)
            else:
                await fitting.fitted(data, 10 * 1024 * 1024)
            finished.append(outcome)
            if len(finished) == JOBS:
                done.set()

        queue.on_finished(deliver)
        with LagProbe() as probe:
            for index in range(JOBS):
                job = await svc.store.create_job(
                    kind=JobKind.IMAGINE,
                    prompt=f"4k {index}",
                    params=spec.to_params(),
                    user_id=f"u{index}",
                    origin={},
                )
                await queue.enqueue(job)
            await asyncio.wait_for(done.wait(), 600)
    return probe.p99_ms(), probe.p99_ms(own=True), (cpu_seconds() - cpu) / JOBS


async def lag(base_url: str) -> dict[str, Any]:
    with LagProbe() as idle:
        await asyncio.sleep(2)
    # Warm the fake router's 4K cache so its first render does not skew the first burst.
    await _fault(base_url, kind="huge", endpoint="chat")
    async with service(base_url, request_timeout=300) as svc:
        await svc.imagine("warm", ImageSpec(model=GEMINI, aspect_ratio="16:9", resolution="4K"))
    easel, own, cpu = await _burst(base_url, fit_on_loop=False)
    naive, naive_own, naive_cpu = await _burst(base_url, fit_on_loop=True)
    return {
        "idle_p99_ms": idle.p99_ms(),
        "easel_p99_ms": easel,
        "naive_p99_ms": naive,
        "easel_own_p99_ms": own,  # less the loop thread's waits for a CPU (a shared machine)
        "naive_own_p99_ms": naive_own,
        "easel_cpu_s_per_job": cpu,
        "naive_cpu_s_per_job": naive_cpu,
    }


def run() -> dict[str, Any]:
    with router_process() as base_url:
        return {"overhead": asyncio.run(overhead(base_url)), "lag": asyncio.run(lag(base_url))}


def main() -> dict[str, Any]:
    result = run()
    o, lg = result["overhead"], result["lag"]
    print(
        f"imagine overhead: easel {o['easel_ms']:.1f} ms vs bare httpx POST {o['bare_ms']:.1f} ms"
        f" (median of {ROUNDS}) -> ratio {o['ratio']:.2f}x"
    )
    print(
        f"event-loop lag p99 with {JOBS} concurrent 4K jobs: easel {lg['easel_p99_ms']:.1f} ms, "
        f"idle {lg['idle_p99_ms']:.2f} ms, naive on-loop Pillow {lg['naive_p99_ms']:.1f} ms"
    )
    print(
        f"  less the loop's waits for a CPU (other processes' share): easel "
        f"{lg['easel_own_p99_ms']:.1f} ms, naive {lg['naive_own_p99_ms']:.1f} ms"
    )
    print(
        f"  CPU per 4K job (worker processes included): easel {lg['easel_cpu_s_per_job']:.2f} s, "
        f"naive {lg['naive_cpu_s_per_job']:.2f} s"
    )
    print(
        f"  ratios: easel/naive {ratio(lg['easel_p99_ms'], lg['naive_p99_ms'])}, "
        f"easel/idle {ratio(lg['easel_p99_ms'], lg['idle_p99_ms'])}"
    )

    return result


if __name__ == "__main__":
    main()
