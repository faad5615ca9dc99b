"""The bot's store lookups at 1k and 100k stored jobs, in one run: each timed (median of
REPEATS) on a SQLite store filled with finished, posted jobs plus a few still to post, queued
and running. The ratio 100k/1k of the slowest lookup is what indexes are for: close to 1.

    .venv/bin/python -m benchmarks.store_lookups
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.domain import JobStatus
from bot.schema import jobs, sessions
from bot.storage import Store

SIZES = (1_000, 100_000)
REPEATS = 25
USERS = 500


def _rows(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for i in range(1, n + 1):
        status, state = JobStatus.DONE.value, "posted"
        if i > n - 5:
            status, state = JobStatus.QUEUED.value, None
        elif i > n - 10:
            status, state = JobStatus.DONE.value, "due"
        rows.append(
            {
                "id": i,
                "kind": "imagine",
                "status": status,
                "prompt": f"prompt {i}",
                "params": {"model": "m"},
                "user_id": str(i % USERS),
                "origin": {"channel_id": "2", "guild_id": "1"},
                "parent_job_id": i - 1 if i % 10 and i > 1 else None,
                "attempts": 1,
                "delivery": {"state": state} if state else None,
                "delivery_state": state,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


async def _filled(n: int, root: Path) -> Store:
    store = await Store.open(f"sqlite+aiosqlite:///{root / f'{n}.db'}", root / f"data{n}")
    async with store._engine.begin() as conn:
        rows = _rows(n)
        for start in range(0, n, 5_000):
            await conn.execute(jobs.insert(), rows[start : start + 5_000])
        now = datetime.now(UTC)
        await conn.execute(
            sessions.insert(),
            [
                {
                    "thread_id": str(10**6 + i),
                    "model": "m",
                    "family": "chat",
                    "settings": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n // 10)
            ],
        )
    return store


def _lookups(store: Store, n: int) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "get_job": lambda: store.get_job(n // 2),
        "undelivered_jobs": store.undelivered_jobs,
        "active_jobs_of": lambda: store.active_jobs_of("7"),
        "queued jobs (resume)": lambda: store.jobs_with_status(JobStatus.QUEUED),
        "session_by_thread": lambda: store.session_by_thread(str(10**6 + 3)),
        "job_lineage": lambda: store.job_lineage(n - 11),
    }


async def _time(call: Callable[[], Awaitable[Any]]) -> float:
    await call()  # warm
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


async def _measure() -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            store = await _filled(n, Path(tmp))
            try:
                for name, call in _lookups(store, n).items():
                    found.setdefault(name, {})[str(n)] = await _time(call)
            finally:
                await store.close()
    return found


def run() -> dict[str, Any]:
    found = asyncio.run(_measure())
    small, big = (str(n) for n in SIZES)
    ratios = {name: t[big] / t[small] for name, t in found.items()}
    slowest = max(found, key=lambda name: found[name][big])
    return {"lookups": found, "ratios": ratios, "slowest": slowest, "ratio": ratios[slowest]}


def main() -> dict[str, Any]:
    result = run()
    for name, times in result["lookups"].items():
        print(
            f"{name:22s} 1k {times['1000'] * 1000:7.3f} ms  100k {times['100000'] * 1000:7.3f} ms"
            f"  ({result['ratios'][name]:.2f}x)"
        )
    print(f"slowest at 100k: {result['slowest']}, 100k/1k = {result['ratio']:.2f}x")
    return result


if __name__ == "__main__":
    main()
