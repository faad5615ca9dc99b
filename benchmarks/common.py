"""Helpers shared by the benchmarks: a fake router in its own process, a throwaway service, and
an event-loop lag probe."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from bot.config import load_settings
from bot.service import ImageService

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"


@contextlib.contextmanager
def router_process() -> Iterator[str]:
    """The fake router in another process, so its work does not load the measured loop."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.router", "--key", KEY],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(30):
            raise RuntimeError("fake router did not start")
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@contextlib.asynccontextmanager
async def service(base_url: str, **settings: object) -> AsyncIterator[ImageService]:
    """A throwaway service through the bot's own wiring, on a temporary data directory."""
    with tempfile.TemporaryDirectory() as tmp:
        options = {"router_base_url": base_url, "router_api_key": KEY, "data_dir": Path(tmp)}
        async with ImageService.open(load_settings(_env_file=None, **options, **settings)) as svc:
            yield svc


class LagProbe:
    """Measures how late a 5 ms timer fires: the event loop's responsiveness.

    Each sample is also taken less the time the loop's thread spent runnable but waiting for a
    CPU (its ``schedstat`` run delay, Linux): on a shared machine that part is the other
    processes', while what is left is the process's own (the GIL, work on the loop)."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self.own: list[float] = []  # each sample less the thread's wait for a CPU
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        stat = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")
        waited = _run_delay(stat)
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            late = time.perf_counter() - start - self.interval
            now = _run_delay(stat)
            self.samples.append(late)
            self.own.append(max(0.0, late - (now - waited)) if now >= 0 and waited >= 0 else late)
            waited = now

    def __enter__(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def p99_ms(self, *, own: bool = False) -> float:
        samples = self.own if own else self.samples
        if len(samples) < 2:
            return 0.0
        return statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000


def _run_delay(stat: Path) -> float:
    """Seconds this thread has spent waiting on a run queue, or -1 where that is not known."""
    try:
        return int(stat.read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return -1.0


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "n/a"


def cpu_seconds() -> float:
    """CPU-seconds used so far by this process, its reaped children and ``bot.offload``'s
    workers (children of the fork server, which reaps them: its cutime once they have exited,
    so call this after the service closed)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime + _fork_server_cpu()


def _fork_server_cpu() -> float:
    from multiprocessing import forkserver  # noqa: PLC0415

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if not pid:
        return 0.0
    deadline = time.monotonic() + 10
    children = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):  # wait for the closed pool's workers to be reaped
        while children.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")
