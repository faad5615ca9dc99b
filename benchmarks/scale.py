"""Scaling out on PostgreSQL (the suite's own server from ``tests/pg.py``), ratios from one run:

- throughput of 1 and 2 worker processes (``bot.pool.WorkerPool``, the loop of
  ``python -m bot worker``, without the Discord post) on the same jobs, against the fake
  router in its own process answering after a fixed latency;
- ``Store.claim_next`` latency with 10k and with 1M stored jobs (1% of them queued, from 100
  users), median of 50 claims.

``python -m benchmarks.scale`` (needs PostgreSQL installable as in the tests; ~2 minutes).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from benchmarks.common import KEY, ROOT
from bot.config import load_settings
from bot.domain import JobKind, JobStatus
from bot.pool import WorkerPool
from bot.service import ImageService
from bot.storage import Store
from bot.workers import claim_lease
from tests import pg

LATENCY_S = 2.0  # real routers take 10–60 s: workers wait, they do not compute
JOBS = 48
SLOTS = 4


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scale", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _router(latency: float) -> None:
    """Child: the fake router, every answer after ``latency`` seconds; prints its URL."""
    import functools

    from tests.fakes.router import FakeRouter, Fault, imaging

    # Each picture is drawn once and reused: what is measured is the workers waiting on a
    # router of fixed latency, not this process drawing PNGs on a shared 2-core machine.
    imaging.render = functools.lru_cache(maxsize=4)(imaging.render)
    router = FakeRouter(api_keys=(KEY,))
    await router.start(0)
    router.add_fault(Fault(kind="latency", seconds=latency, times=10**9))
    print(router.base_url, flush=True)
    await asyncio.Event().wait()


def _settings(url: str, router: str, worker: str, data: Path) -> object:
    return load_settings(
        _env_file=None,
        router_base_url=router,
        router_api_key=KEY,
        database_url=url,
        data_dir=data,
        worker_id=worker,
        max_concurrent_jobs=SLOTS,
    )


async def _pool(url: str, router: str, worker: str) -> None:
    """Child: one worker's claim loop until the store has nothing left to run."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(url, router, worker, Path(tmp))
        async with ImageService.open(settings) as service:  # type: ignore[arg-type]
            await claim_lease(service.store, worker)
            pool = WorkerPool(service, slots=SLOTS, max_per_user=JOBS, poll=0.05)
            runner = asyncio.create_task(pool.run_forever())
            while await service.store.jobs_with_status(JobStatus.QUEUED) or pool.running():  # noqa: ASYNC110 (polling the store is the point)
                await asyncio.sleep(0.05)
            runner.cancel()


async def _throughput(server: pg.PostgresServer, router: str, workers: int) -> float:
    url = server.url(await pg.fresh_database(server))
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(url, Path(tmp)) as store:
            for n in range(JOBS):
                await store.create_job(
                    kind=JobKind.IMAGINE,
                    prompt="bench",
                    params={"model": "gpt-image-1", "n": 1, "size": "1024x1024"},
                    user_id=str(n % 8),
                    origin={},
                )
            began = time.perf_counter()
            children = [_spawn("_pool", url, router, f"w{n}") for n in range(workers)]
            for child in children:
                child.wait(timeout=600)
            took = time.perf_counter() - began
            done = await store.jobs_with_status(JobStatus.DONE, limit=JOBS * 2)
            assert len(done) == JOBS, f"{len(done)} of {JOBS} done"
    return took


async def _claim_latency(server: pg.PostgresServer, stored: int) -> float:
    url = server.url(await pg.fresh_database(server))
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(url, Path(tmp)) as store:
            async with store._engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO jobs (kind, status, prompt, params, user_id, origin, "
                        "attempts, created_at, updated_at) "
                        "SELECT 'imagine', CASE WHEN n % 100 = 0 THEN 'queued' ELSE 'done' END, "
                        "'p', '{}', (n % 100)::text, '{}', 0, now(), now() "
                        "FROM generate_series(1, :n) AS n"
                    ),
                    {"n": stored},
                )
                await conn.execute(sa.text("ANALYZE jobs"))
            times = []
            for n in range(50):
                began = time.perf_counter()
                claimed = await store.claim_next(f"w{n % 4}", max_per_user=1000)
                times.append(time.perf_counter() - began)
                assert claimed is not None
    return statistics.median(times)


async def _main() -> None:
    server = pg.PostgresServer(pg.install())
    server.start()
    router_proc = _spawn("_router", str(LATENCY_S))
    try:
        assert router_proc.stdout is not None
        router = router_proc.stdout.readline().strip()
        one = await _throughput(server, router, 1)
        two = await _throughput(server, router, 2)
        print(f"{JOBS} jobs, router latency {LATENCY_S} s, {SLOTS} slots per worker:")
        print(f"  1 worker  {one:6.2f} s  {JOBS / one:5.1f} jobs/s")
        print(f"  2 workers {two:6.2f} s  {JOBS / two:5.1f} jobs/s  ratio {one / two:.2f}x")
        small = await _claim_latency(server, 10_000)
        large = await _claim_latency(server, 1_000_000)
        print("claim_next, median of 50 (1% queued, 100 users):")
        print(f"  10k stored jobs {small * 1000:7.2f} ms")
        print(f"  1M stored jobs  {large * 1000:7.2f} ms  ratio {large / small:.1f}x")
    finally:
        router_proc.terminate()
        router_proc.wait(timeout=10)
        server.stop()


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_router":
        asyncio.run(_router(float(sys.argv[2])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_pool":
        asyncio.run(_pool(*sys.argv[2:5]))
    else:
        main()
