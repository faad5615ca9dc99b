"""The bot as a real process: ``make run`` without a token, ``python -m bot`` against the fake
Discord and the fake router, its health endpoint, SIGTERM, and ``python -m bot invite``."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.app import bot_permissions
from tests.e2e.conftest import ROUTER_KEY, outcome

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PYTHONPATH=str(ROOT), DATA_DIR=str(tmp_path / "data"), **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_make_run_without_token_explains_and_exits_2(tmp_path):
    env = clean_env(tmp_path, ROUTER_API_KEY="k")
    proc = subprocess.run(
        ["make", "-s", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "DISCORD_TOKEN is not set" in proc.stderr
    assert "discord.com/developers/applications" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_invite_prints_link_with_exact_permissions(tmp_path):
    app_id = "123456789012345678"
    token = base64.b64encode(app_id.encode()).decode().rstrip("=") + ".abc.def"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "invite"],
        cwd=tmp_path,
        env=clean_env(tmp_path, DISCORD_TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    url = httpx.URL(proc.stdout.strip())
    assert url.host == "discord.com"
    assert url.params["client_id"] == app_id
    assert int(url.params["permissions"]) == bot_permissions().value
    assert url.params["scope"] == "bot applications.commands"
    assert token not in proc.stdout


async def test_bot_process_answers_imagine_reports_health_and_stops_on_sigterm(
    world, router, tmp_path
):
    fake, _guild, channel, alice, _bob = world
    port = free_port()
    env = clean_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        ROUTER_BASE_URL=router.base_url,
        ROUTER_API_KEY=ROUTER_KEY,
        HEALTH_PORT=str(port),
        LOG_LEVEL="INFO",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_for_commands(["imagine"], timeout=30)
        await fake.wait_for_ready(timeout=30)
        handle = await fake.slash(alice, channel, "imagine", {"prompt": "a process cat"})
        assert await handle.wait_ack(3) == 5
        message = await outcome(fake, handle)
        assert message.attachments
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["gateway"] == "connected" and body["store"] == "ok"
        assert body["queue_depth"] == 0
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log = (await proc.stderr.read()).decode() if proc.stderr else ""
    assert fake.token not in log and ROUTER_KEY not in log
    assert "Traceback" not in log
