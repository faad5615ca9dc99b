"""The bot as a real process: ``make run`` without a token, ``python -m bot`` against the fake
Discord and the fake router, its health endpoint, SIGTERM, a second process with the same
WORKER_ID refused, and ``python -m bot invite``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.app import bot_permissions
from tests.e2e.conftest import ROUTER_KEY, outcome
from tests.e2e.processes import bot_env, clean_env, free_port, start_bot

ROOT = Path(__file__).resolve().parents[2]
# Never reinstall from inside a test (that would reach PyPI): make treats the venv as current.
STAMP = ROOT / ".venv" / ".installed"
pytestmark = pytest.mark.timeout(120)


def test_make_run_without_token_explains_and_exits_2(tmp_path):
    env = clean_env(tmp_path, ROUTER_API_KEY="k")
    proc = subprocess.run(
        # From the test's own directory: the checkout's .env (a developer's, with a real token)
        # must not be read.
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-o", str(STAMP), "run"],
        cwd=tmp_path,
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
    env = bot_env(tmp_path, fake, router, HEALTH_PORT=str(port), LOG_LEVEL="INFO")
    proc = await start_bot(tmp_path, env, stderr=asyncio.subprocess.PIPE)
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


async def test_a_second_process_with_the_same_worker_id_is_refused_at_start(
    world, router, tmp_path
):
    fake, _guild, channel, alice, _bob = world
    env = clean_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        ROUTER_BASE_URL=router.base_url,
        ROUTER_API_KEY=ROUTER_KEY,
        WORKER_ID="shared",
        LOG_LEVEL="WARNING",
    )
    command = (sys.executable, "-m", "bot")
    pipes = {"stdout": asyncio.subprocess.DEVNULL, "stderr": asyncio.subprocess.PIPE}
    first = await asyncio.create_subprocess_exec(*command, cwd=tmp_path, env=env, **pipes)
    try:
        await fake.wait_for_ready(timeout=30)
        # Same WORKER_ID, same DATA_DIR and so the same SQLite database.
        second = await asyncio.create_subprocess_exec(*command, cwd=tmp_path, env=env, **pipes)
        _, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2, err.decode()
        line = err.decode().strip()
        expected = (
            rf"Configuration error: Another Easel process is running as WORKER_ID=shared "
            rf"\(host {re.escape(socket.gethostname())}, pid {first.pid}, seen \d+ s ago\)\. "
            r"Give each process its own WORKER_ID\."
        )
        assert re.fullmatch(expected, line), line
        # The first one never noticed: it still answers, and stops cleanly.
        handle = await fake.slash(alice, channel, "imagine", {"prompt": "still the only one"})
        assert (await outcome(fake, handle)).attachments
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 20) == 0
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        log = (await first.stderr.read()).decode() if first.stderr else ""
    assert "Traceback" not in log
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "easel.db")) as db:
        # Released on the way out: the next process with this id starts at once.
        assert db.execute("SELECT count(*) FROM workers").fetchone() == (0,)
