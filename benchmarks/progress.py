"""Progress edits with many waiting jobs: the one progress board against one ticker task per job.

10k and 100k waiting jobs spread over 50 channels; the queue moves twice a second (a job starts
and leaves). For each way, measured in the same run: the CPU-seconds per second it costs (the
queue's own ``positions()`` recompute included in both), the edits per second it asks of
Discord, and the most edits one channel got in any one second (Discord allows 5 per 5 s per
channel; the board's limit is ``PROGRESS_EDIT_SECONDS``, 1 s). Edits go to a stub that only counts
them, so the old way's real cost (an HTTP request per edit) is not even counted here.
Run: ``.venv/bin/python -m benchmarks.progress``.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from benchmarks.queue import STARTS_PER_SECOND, _filled
from bot.jobs import JobQueue
from bot.progress import ProgressBoard
from cogs import render

CHANNELS = 50
WARMUP, SECONDS = 2.0, 5.0
LABEL = "GPT Image 1 (Azure)"


def _text(position: int | None, elapsed: float | None) -> str:
    return render.progress_text("a cat in a hat", position, elapsed, LABEL)


class Counted:
    """The edits asked of Discord, by channel, with when."""

    def __init__(self) -> None:
        self.at: dict[str, list[float]] = defaultdict(list)
        self.measuring = False

    def edit(self, job_id: int, text: str) -> Coroutine[Any, Any, None]:
        """Counted when the edit is launched (the board's loop launches it, the task sends it)."""
        if self.measuring:
            self.at[f"c{job_id % CHANNELS}"].append(time.monotonic())
        return asyncio.sleep(0)

    def figures(self, seconds: float) -> tuple[float, int]:
        """(edits per second in all, most edits one channel got in one second)"""
        total = sum(len(times) for times in self.at.values())
        worst = 0
        for times in self.at.values():
            for i, t in enumerate(times):
                worst = max(worst, bisect.bisect_right(times, t + 1.0 - 1e-9, lo=i) - i)
        return total / seconds, worst


async def _moving(queue: JobQueue, gone: Callable[[int], None]) -> None:
    while True:
        await asyncio.sleep(1 / STARTS_PER_SECOND)
        picked = queue._pick(10**9)  # the next job starts (and, here, ends at once)
        if picked is not None:
            gone(picked[1])


async def _measure(
    work: Awaitable[Any], counted: Counted, queue: JobQueue, gone: Callable[[int], None]
) -> float:
    """CPU-seconds per second of ``work`` while the queue moves, its edits counted meanwhile."""
    running, mover = asyncio.ensure_future(work), asyncio.create_task(_moving(queue, gone))
    try:
        await asyncio.sleep(WARMUP)
        counted.measuring = True
        started, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(SECONDS)
        cpu = (time.process_time() - started) / (time.monotonic() - wall)
        counted.measuring = False
        return cpu
    finally:
        for task in (mover, running):
            task.cancel()
        await asyncio.gather(mover, running, return_exceptions=True)


async def board_way(n: int) -> tuple[float, Counted]:
    queue, _ = _filled(n)
    board = ProgressBoard(queue.positions, queue.running)
    for job_id in range(1, n + 1):
        board.add(job_id, f"c{job_id % CHANNELS}", _text)
    counted = Counted()
    return await _measure(board.run(counted.edit), counted, queue, board.remove), counted


async def queue_only(n: int) -> tuple[float, Counted]:
    """The floor: the queue moving and its positions read once a tick, nothing shown."""
    queue, _ = _filled(n)
    counted = Counted()

    async def reader() -> None:
        while True:
            queue.positions()
            await asyncio.sleep(0.25)

    return await _measure(reader(), counted, queue, lambda _job_id: None), counted


async def old_way(n: int) -> tuple[float, Counted]:
    """What ``Delivery._tick`` did: a task per job, reading its position every second."""
    queue, _ = _filled(n)
    counted = Counted()

    async def ticker(job_id: int) -> None:
        shown = None
        while True:
            text = _text(queue.positions().get(job_id), None)
            if text != shown:
                shown = text
                await counted.edit(job_id, text)
            await asyncio.sleep(1.0)

    tasks = {job_id: asyncio.create_task(ticker(job_id)) for job_id in range(1, n + 1)}
    every = asyncio.gather(*tasks.values(), return_exceptions=True)  # cancelled with the rest
    return await _measure(every, counted, queue, lambda job_id: tasks[job_id].cancel()), counted


def _run(
    way: Callable[[int], Coroutine[Any, Any, tuple[float, Counted]]], n: int
) -> dict[str, float]:
    cpu, counted = asyncio.run(way(n))
    rate, worst = counted.figures(SECONDS)
    return {"cpu": cpu, "edits_per_s": rate, "max_per_channel_second": worst}


def main() -> dict[str, Any]:
    found: dict[str, Any] = {"channels": CHANNELS, "limit_per_channel_second": 1}
    for n in (10_000, 100_000):
        floor, new, old = _run(queue_only, n), _run(board_way, n), _run(old_way, n)
        tag = f"{n // 1000}k"
        print(f"{tag}: the queue alone (moving, positions read) {floor['cpu']:.4f} CPU-s/s")
        print(
            f"{tag} waiting in {CHANNELS} channels: board {new['cpu']:.4f} CPU-s/s, "
            f"{new['edits_per_s']:.0f} edits/s, at most {new['max_per_channel_second']:.0f} "
            f"per channel-second; one task per job {old['cpu']:.3f} CPU-s/s, "
            f"{old['edits_per_s']:.0f} edits/s, at most {old['max_per_channel_second']:.0f} "
            f"per channel-second ({new['cpu'] / old['cpu']:.3f}x the CPU)"
        )
        found[f"board_{tag}"], found[f"old_{tag}"] = new, old
        found[f"queue_only_cpu_{tag}"] = floor["cpu"]
        found[f"board_cpu_vs_old_{tag}"] = new["cpu"] / old["cpu"]
    return found


if __name__ == "__main__":
    main()
