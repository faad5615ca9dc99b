"""End-to-end harness: the real EaselBot (discord.py, httpx, SQLite) against the fake Discord and
the fake router, both on loopback. ``easel.restart()`` models a process restart: a new bot on the
same data directory."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord

from bot.app import EaselBot, make_bot
from bot.config import Settings, load_settings
from bot.jobs import JobQueue
from bot.launch import point_discord_at
from bot.memory import MIB
from bot.service import ImageService
from tests.fakes.discord import FakeDiscord
from tests.fakes.router import FakeRouter

ROUTER_KEY = "test-key"


class Easel:
    """Starts, stops and restarts the bot; exposes its services to the tests."""

    def __init__(self, fake: FakeDiscord, router: FakeRouter, data_dir: Path) -> None:
        self.fake = fake
        self.router = router
        self.data_dir = data_dir
        self.bot: EaselBot | None = None
        self.settings: Settings | None = None
        self._task: asyncio.Task[None] | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self.starts = 0

    async def start(self, **overrides: object) -> EaselBot:
        options = {
            "discord_token": self.fake.token,
            "router_api_key": ROUTER_KEY,
            "router_base_url": self.router.base_url,
            "data_dir": self.data_dir,
            "discord_api_base": self.fake.api_base,
            "discord_gateway_url": self.fake.gateway_url,
            "router_max_retries": 1,
            "router_retry_budget": 5,
            "request_timeout": 30,
            **overrides,
        }
        self.settings = settings = load_settings(_env_file=None, **options)
        point_discord_at(settings)
        self._stack = contextlib.AsyncExitStack()
        service = await self._stack.enter_async_context(ImageService.open(settings))
        queue = JobQueue(
            service,
            max_concurrent=settings.max_concurrent_jobs,
            max_per_user=settings.max_jobs_per_user,
            memory_budget=settings.max_image_memory_mb * MIB,
        )
        self.bot = bot = make_bot(settings, service, queue, guild_ready_timeout=0.05)
        self._task = asyncio.create_task(bot.start(settings.token()))
        self.starts += 1
        async with asyncio.timeout(15):
            while not bot.is_ready():
                if self._task.done():
                    self._task.result()  # surface a start-up failure
                await asyncio.sleep(0.02)
        return bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
        if self._stack is not None:
            await self._stack.aclose()
        self.bot = self._task = self._stack = None

    async def restart(self, **overrides: object) -> EaselBot:
        await self.stop()
        return await self.start(**overrides)

    @property
    def store(self):  # noqa: ANN201
        assert self.bot is not None
        return self.bot.service.store

    async def idle(self, timeout: float = 30) -> None:
        """Wait until the queue is empty and every delivery is done."""
        assert self.bot is not None
        await asyncio.wait_for(self.bot.queue.join(), timeout)


@pytest.fixture
async def router():
    async with FakeRouter(api_keys=(ROUTER_KEY,)) as fake_router:
        yield fake_router


@pytest.fixture
async def world():
    async with FakeDiscord() as fake:
        guild = fake.create_guild("Easel Test")
        channel = fake.create_channel(guild, "art")
        alice = fake.create_user("alice", guild=guild)
        bob = fake.create_user("bob", guild=guild)
        yield fake, guild, channel, alice, bob


@pytest.fixture
async def easel(world, router, tmp_path, monkeypatch):
    fake = world[0]
    # point_discord_at changes discord.py's class attributes; put them back after the test.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket,
        "DEFAULT_GATEWAY",
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
    )
    harness = Easel(fake, router, tmp_path / "data")
    await harness.start()
    await fake.wait_for_commands(["imagine"])
    try:
        yield harness
    finally:
        await harness.stop()


async def outcome(fake: FakeDiscord, handle, timeout: float = 30):  # noqa: ANN001, ANN201
    """The interaction's response once it shows a result or an error (an embed), not progress."""

    def done():  # noqa: ANN202
        message = handle.original_message
        if message is None or message.deleted or message.loading or not message.embeds:
            return None
        return message

    return await fake.world.wait_until(done, timeout, "the job's result or error")
