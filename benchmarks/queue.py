"""The queue's bookkeeping with many waiting jobs: what the progress tickers cost each second,
and how long a restart takes to put the jobs back, at 10k and 100k waiting.

Each waiting job's progress ticker reads ``JobQueue.positions()`` once a second, and the order
changes each time a job starts (here: 2 a second, 4 running jobs of 2 s). The baseline is the
same second done the old way, recomputing the round-robin for every read (measured on 1k
waiting only: at 10k it takes minutes). Run: ``.venv/bin/python -m benchmarks.queue``.
"""

from __future__ import annotations

import asyncio
import time

from bot.domain import Job, JobKind, JobStatus
from bot.jobs import JobQueue, _round_robin

USERS = 1000
STARTS_PER_SECOND = 2


class _Service:
    worker = "bench"

    def weight_of(self, job: Job) -> int:
        return 1


def _jobs(n: int) -> list[Job]:
    return [
        Job(i, JobKind.IMAGINE, "p", {}, JobStatus.QUEUED, user_id=str(i % USERS))
        for i in range(1, n + 1)
    ]


def _filled(n: int) -> tuple[JobQueue, float]:
    queue = JobQueue(_Service(), max_concurrent=0)  # type: ignore[arg-type]
    started = time.process_time()
    for job in _jobs(n):
        queue._add(job)
    return queue, time.process_time() - started


def tick_second(queue: JobQueue, waiting: int) -> float:
    """CPU seconds for one second of ticker reads, with the order changing as jobs start."""
    started = time.process_time()
    for change in range(STARTS_PER_SECOND):
        queue._order_version += 1  # a job started: the next read recomputes
        for _ in range(waiting // STARTS_PER_SECOND):
            queue.positions().get(change)
    return time.process_time() - started


def old_tick_second(queue: JobQueue, waiting: int) -> float:
    started = time.process_time()
    for _ in range(waiting):
        order = _round_robin([queue._waiting[u] for u in queue._turn_order()])
        {job_id: i + 1 for i, job_id in enumerate(order)}.get(1)
    return time.process_time() - started


def main() -> dict[str, float]:
    asyncio.set_event_loop(asyncio.new_event_loop())  # JobQueue makes an asyncio.Event
    small, _ = _filled(1_000)
    old = old_tick_second(small, 1_000)
    new_small = tick_second(small, 1_000)
    print(
        f"ticker CPU per second, 1k waiting: {new_small:.4f} s (old way {old:.3f} s, "
        f"{new_small / old:.4f}x)"
    )
    found = {"tick_cpu_1k": new_small, "tick_cpu_1k_old": old}
    for n in (10_000, 100_000):
        queue, resume = _filled(n)
        cpu = tick_second(queue, n)
        print(f"{n // 1000}k waiting: ticker CPU per second {cpu:.4f} s; resume {resume:.3f} s")
        found[f"tick_cpu_{n // 1000}k"], found[f"resume_{n // 1000}k"] = cpu, resume
    return found


if __name__ == "__main__":
    main()
