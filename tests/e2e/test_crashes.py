"""``kill -9`` of the real bot process at points of a job's life, then a restart on the same
data: the user ends with exactly one result, and the router is asked at most once more than
needed (the router call is at least once; the post is exactly once)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest

from tests.e2e.processes import bot_env, start_bot
from tests.fakes.router import Fault

pytestmark = pytest.mark.timeout(180)


class BotProcess:
    """``python -m bot`` against the fakes, started and killed as an operator would."""

    def __init__(self, fake, router, tmp_path) -> None:
        self.fake, self.router, self.tmp_path = fake, router, tmp_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, **extra: str) -> None:
        env = bot_env(self.tmp_path, self.fake, self.router, **extra)
        before = set(self.fake.gateway.sessions)
        self.proc = await start_bot(self.tmp_path, env)
        gateway = self.fake.gateway

        def ready() -> bool:
            return any(
                s.ready and s.connection is not None and s.connection.sent >= len(s.buffer)
                for key, s in gateway.sessions.items()
                if key not in before
            )

        await self.fake.world.wait_until(ready, 30, "the bot connected and ready")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown, no cleanup
        await asyncio.wait_for(self.proc.wait(), 10)
        await self.fake.world.wait_until(
            lambda: not self.fake.gateway.connected_sessions(), 10, "the socket closed"
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


# Where "python -m bot" holds (bot/failpoints.py) so the kill lands between two steps.
HOLD = {"answered_not_stored": "answered:60", "stored_not_posted": "stored:60"}


@pytest.fixture
async def bot(world, router, tmp_path, request):
    process = BotProcess(world[0], router, tmp_path)
    hold = HOLD.get(getattr(request, "param", None) or "")
    await process.start(**({"EASEL_FAILPOINTS": hold} if hold else {}))
    await world[0].wait_for_commands(["imagine"], timeout=30)
    try:
        yield process
    finally:
        await process.stop()


def stored(tmp_path) -> list[tuple[str, str | None]]:
    """(status, delivery) of every job, read straight from the bot's SQLite file."""
    path = tmp_path / "data" / "easel.db"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            return list(db.execute("SELECT status, delivery FROM jobs ORDER BY id"))
        except sqlite3.OperationalError:  # not migrated yet
            return []


def generations(router) -> int:
    return len([r for r in router.requests if r.path.endswith("/images/generations")])


def answered(router) -> bool:
    return any(r.path.endswith("/images/generations") and r.status == 200 for r in router.requests)


def results(fake, channel, handle) -> list:
    """Every message showing the job's images: the interaction's response or a channel post."""
    shown = [m for m in fake.messages(channel) if m.author.id == fake.bot_user.id and m.attachments]
    original = handle.original_message
    if original is not None and original.attachments and original not in shown:
        shown.append(original)
    return shown


async def exactly_one_result(fake, channel, handle) -> None:
    await fake.world.wait_until(lambda: results(fake, channel, handle), 60, "the result")
    await asyncio.sleep(1.0)  # time for a second post, were there one
    assert len(results(fake, channel, handle)) == 1


POINTS = [
    "queued",
    "in_router_call",
    "answered_not_stored",
    "stored_not_posted",
    "while_posting",
    "after_posting",
]


@pytest.mark.parametrize(("bot", "point"), [(p, p) for p in POINTS], indirect=["bot"])
async def test_kill_9_then_restart(bot, world, router, tmp_path, point):
    fake, _guild, channel, alice, _bob = world
    if point in ("queued", "in_router_call"):
        router.add_fault(Fault(kind="latency", seconds=3.0))
    if point == "while_posting":
        fake.outage(120, path="/webhooks")  # the result can't reach Discord yet
    handle = await fake.slash(alice, channel, "imagine", {"prompt": f"crash {point}"})
    await handle.wait_ack(5)
    if point == "queued":
        await fake.world.wait_until(lambda: stored(tmp_path), 20, "the job stored")
    if point == "in_router_call":
        await fake.world.wait_until(lambda: generations(router) == 1, 20, "the router call")
    if point == "answered_not_stored":  # the router's answer is in, the process holds on to it
        await fake.world.wait_until(lambda: answered(router), 20, "the router's answer")
        await asyncio.sleep(0.5)
        assert [status for status, _d in stored(tmp_path)] == ["running"]
    if point == "stored_not_posted":  # kept as done; nobody has begun to post it
        await fake.world.wait_until(
            lambda: stored(tmp_path) == [("done", None)], 30, "the job done and not yet posted"
        )
    if point == "while_posting":  # the answer is kept, its post is under way and refused
        await fake.world.wait_until(
            lambda: any(status == "done" and delivery for status, delivery in stored(tmp_path)),
            30,
            "the job done and its post begun",
        )
    if point == "after_posting":
        await fake.world.wait_until(lambda: results(fake, channel, handle), 30, "the result")
    await bot.kill()
    fake.world.outages.clear()
    await bot.start()
    await exactly_one_result(fake, channel, handle)
    assert 1 <= generations(router) <= 2  # at least once; at most once more than needed
    if point in ("stored_not_posted", "while_posting", "after_posting"):
        assert generations(router) == 1  # the answer was kept: not paid for again
