"""Starting the bot as a real process: what stops a start is one line and exit status 2 (no
route to Discord, the token refused, the Message Content intent off), no voice notices, and
commands synced only when the command tree changed (or on ``python -m bot sync``)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import pytest

from tests.e2e.conftest import ROUTER_KEY
from tests.e2e.processes import clean_env, free_port
from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.timeout(120)


INFO = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO ")


async def start(tmp_path, *args: str, **settings: str) -> tuple[int, list[str]]:
    """Run ``python -m bot ARGS`` until it exits (at most 60 s): its status and stderr lines."""
    env = clean_env(tmp_path, ROUTER_API_KEY=ROUTER_KEY, **settings)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    # INFO lines (the store opened, logging in) may come first; nothing else may.
    return proc.returncode, [line for line in err.decode().splitlines() if not INFO.match(line)]


def discord_at(fake: FakeDiscord, **extra: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        **extra,
    }


async def test_no_route_to_discord_is_one_line(tmp_path, router):
    api = f"http://127.0.0.1:{free_port()}/api/v10"
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.x.y"
    status, lines = await start(
        tmp_path, DISCORD_TOKEN=token, DISCORD_API_BASE=api, ROUTER_BASE_URL=router.base_url
    )
    assert status == 2
    assert lines == [
        f"Configuration error: Can't reach Discord at {api} (Connect call failed "
        f"('127.0.0.1', {api.split(':')[2].split('/')[0]})): check the network connection, a "
        "proxy or firewall, or DISCORD_API_BASE."
    ]


async def test_a_refused_token_is_one_line(tmp_path, world, router):
    fake = world[0]
    head = fake.token.split(".", 1)[0]
    settings = discord_at(fake, DISCORD_TOKEN=f"{head}.old.revoked")
    status, lines = await start(tmp_path, ROUTER_BASE_URL=router.base_url, **settings)
    assert status == 2
    assert lines == [
        "Configuration error: Discord refused DISCORD_TOKEN; copy it again from the Developer "
        "Portal (Bot → Reset Token)."
    ]


async def test_the_message_content_intent_off_is_one_line(tmp_path, router):
    async with FakeDiscord(privileged_intents=0) as fake:
        status, lines = await start(tmp_path, ROUTER_BASE_URL=router.base_url, **discord_at(fake))
    assert status == 2
    assert lines == [
        "Configuration error: Enable the Message Content intent for the bot in the Developer "
        "Portal (Bot → Privileged Gateway Intents)."
    ]


async def test_both_missing_secrets_are_named_in_one_run(tmp_path):
    env = clean_env(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith("Configuration error: DISCORD_TOKEN is not set: ")
    assert "; ROUTER_API_KEY is not set: " in line


async def run_until_ready(tmp_path, fake, router, **extra: str) -> list[str]:
    """Start the bot, wait for READY, stop it with SIGTERM: its stderr lines."""
    env = clean_env(
        tmp_path, ROUTER_API_KEY=ROUTER_KEY, ROUTER_BASE_URL=router.base_url,
        LOG_LEVEL="INFO", **discord_at(fake), **extra,
    )  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    sessions = len(fake.gateway.sessions)
    try:
        await fake.world.wait_until(
            lambda: len(fake.gateway.sessions) > sessions or None, 30, "the bot's IDENTIFY"
        )
        await fake.wait_for_ready(timeout=30)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    return err.decode().splitlines()


async def test_commands_sync_once_until_they_change_or_sync_is_asked(tmp_path, world, router):
    fake = world[0]
    syncs = lambda: len(fake.requests_to("/commands", "PUT"))  # noqa: E731
    log = await run_until_ready(tmp_path, fake, router)
    assert syncs() == 1
    assert not [line for line in log if "voice will NOT be supported" in line]
    assert any(re.search(r"synced \d+ commands \(global\)", line) for line in log), log
    log = await run_until_ready(tmp_path, fake, router)
    assert syncs() == 1  # the same tree: the second start doesn't sync
    assert any("commands unchanged since the last sync; not syncing" in line for line in log)
    # Commands deleted behind its back: python -m bot sync puts them back, and exits.
    fake.world.commands.clear()
    status, lines = await start(
        tmp_path, "sync", ROUTER_BASE_URL=router.base_url, **discord_at(fake)
    )
    assert (status, lines) == (0, [])
    assert syncs() == 2 and {c.name for c in fake.commands()} >= {"imagine"}
    # A development guild is another scope: synced there once.
    guild = world[1]
    await run_until_ready(tmp_path, fake, router, DEV_GUILD_ID=str(guild.id))
    assert len(fake.requests_to(f"/guilds/{guild.id}/commands", "PUT")) == 1
