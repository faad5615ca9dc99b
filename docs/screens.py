"""Scenes for the README's pictures: the real bot against the fake Discord and the fake router on
loopback (the test harness of ``tests/e2e``), each scene the message Discord would show, as the
fake recorded it. ``docs/render_screens.py`` draws them."""

from __future__ import annotations

import contextlib
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord

from cogs.delivery import PROGRESS_EVERY
from tests.e2e.conftest import ROUTER_KEY, Easel, outcome
from tests.fakes.discord import FakeDiscord, Message
from tests.fakes.router import FakeRouter, Fault


@dataclass
class Scene:
    """One message as Discord would show it, and who asked for it with which command."""

    name: str
    caption: str
    author: str
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    images: dict[str, bytes] = field(default_factory=dict)  # attachment name -> bytes
    command: str = ""
    ephemeral: bool = False
    names: dict[str, str] = field(default_factory=dict)  # user id -> name, for mentions


def snapshot(fake: FakeDiscord, name: str, caption: str, message: Message, command: str) -> Scene:
    return Scene(
        name=name,
        caption=caption,
        author=message.author.name,
        content=message.content,
        embeds=[dict(e) for e in message.embeds],
        components=[dict(c) for c in message.components],
        images={a.filename: a.data for a in message.attachments},
        command=command,
        ephemeral=message.ephemeral,
        names={str(user.id): user.name for user in fake.world.users.values()},
    )


async def collect() -> list[Scene]:
    """Run every scene once and return what the fake Discord recorded."""
    with tempfile.TemporaryDirectory() as tmp, restored_discord_routes():
        async with FakeDiscord() as fake, FakeRouter(api_keys=(ROUTER_KEY,)) as router:
            guild = fake.create_guild("Easel Demo")
            channel = fake.create_channel(guild, "art")
            alice = fake.create_user("alice", guild=guild)
            easel = Easel(fake, router, Path(tmp) / "data")
            await easel.start()
            try:
                await fake.wait_for_commands(["imagine"])
                return await _scenes(fake, router, channel, alice)
            finally:
                await easel.stop()


async def _scenes(fake: FakeDiscord, router: FakeRouter, channel: Any, alice: Any) -> list[Scene]:
    scenes = []
    prompt = "a red barn at dawn, watercolor"
    router.add_fault(Fault(kind="latency", seconds=PROGRESS_EVERY + 4))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": prompt})
    progress = await fake.world.wait_until(
        lambda: _showing(handle, r"Generating with .*… [1-9]"), 20, "the progress message"
    )
    command = f"/imagine prompt: {prompt}"
    scenes.append(snapshot(fake, "progress", "While it runs", progress, command))
    result = await outcome(fake, handle)
    scenes.append(snapshot(fake, "result", "The result, with its buttons", result, command))
    router.add_fault(Fault(kind="refusal"))
    asked = "a knight after a gory battle"
    handle = await fake.slash(alice, channel, "imagine", {"prompt": asked})
    error = await outcome(fake, handle)
    scenes.append(
        snapshot(fake, "error", "An error keeps the prompt", error, f"/imagine prompt: {asked}")
    )
    return scenes


def _showing(handle: Any, pattern: str) -> Message | None:
    message = handle.original_message
    if message is not None and re.search(pattern, message.content) and not message.loading:
        return message
    return None


@contextlib.contextmanager
def restored_discord_routes() -> Any:
    """The harness points discord.py at the fake; put its class attributes back afterwards."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
