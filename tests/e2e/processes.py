"""Real processes for the e2e tests, started and stopped as an operator would: the fake router in
its own process, and ``python -m bot`` (or ``python -m bot worker``) against the fakes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests import hermetic
from tests.e2e.conftest import ROUTER_KEY

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Only what a process needs, with the loopback guard of tests/hermetic.py."""
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", hermetic.LOG_VARIABLE, "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["DATA_DIR"] = str(tmp_path / "data")
    env.update(extra)
    return env


def bot_env(tmp_path: Path, fake, router, **extra: str) -> dict[str, str]:
    """``clean_env`` pointed at the fake Discord and the fake router, with no router retries."""
    return clean_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        ROUTER_BASE_URL=router.base_url,
        ROUTER_API_KEY=ROUTER_KEY,
        ROUTER_MAX_RETRIES="0",
        **extra,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot(
    tmp_path: Path, env: dict[str, str], *args: str, stderr: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """``python -m bot [args]`` in ``tmp_path`` with exactly ``env``; its stdout discarded, its
    stderr too unless ``stderr`` says (``asyncio.subprocess.PIPE``: read it)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr,
    )


async def terminate(proc: asyncio.subprocess.Process | None) -> None:
    """SIGTERM (a clean stop), then SIGKILL if it hasn't stopped within 15 s."""
    if proc is not None and proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The URL the fake router prints when it listens."""
    selector = selectors.DefaultSelector()
    assert proc.stdout is not None
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        raise AssertionError("the fake router did not print its URL in time")
    line = proc.stdout.readline().strip()
    selector.close()
    assert line.startswith("http://127.0.0.1:"), line
    return line


@contextlib.contextmanager
def router_process(key: str, *args: str) -> Iterator[str]:
    """``python -m tests.fakes.router --key KEY [args]`` in another process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.router", "--key", key, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ),  # the session set PYTHONPATH: the checkout and the guard
        cwd=ROOT,
    )
    try:
        yield first_line(proc, timeout=20)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()
