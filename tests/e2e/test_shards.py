"""Sharding against the fake Discord, which routes each guild's events to the session whose
IDENTIFY said ``[(guild_id >> 22) % shard_count, shard_count]``.

- Two real bot processes (``python -m bot``) with SHARD_COUNT=2 and SHARD_IDS=0 / 1 on one
  PostgreSQL, two servers on different shards: each ``/imagine`` and each reply edit is
  answered exactly once, by the process running that server's shard.
- One process with SHARD_COUNT=auto runs the shards ``GET /gateway/bot`` recommends, and its
  health endpoint reports each shard.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.app import ShardedEaselBot
from bot.domain import JobKind, JobStatus
from bot.storage import Store
from tests.e2e.conftest import outcome
from tests.e2e.processes import bot_env, free_port, start_bot, terminate
from tests.e2e.test_imagine import posts

pytestmark = pytest.mark.timeout(150)


class ShardProcess:
    """``python -m bot`` for some shards, against the fakes and a shared PostgreSQL."""

    def __init__(self, fake, router, tmp_path, **env: str) -> None:
        self.fake, self.router, self.tmp_path, self.extra = fake, router, tmp_path, env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, shard: tuple[int, int]) -> None:
        env = bot_env(self.tmp_path, self.fake, self.router, **self.extra)
        self.proc = await start_bot(self.tmp_path, env)
        gateway = self.fake.gateway

        def ready() -> bool:
            return any(
                s.shard == shard and s.ready and s.connection and s.connection.sent >= len(s.buffer)
                for s in gateway.live_sessions()
            )

        await self.fake.world.wait_until(ready, 30, f"shard {shard} connected and ready")

    async def stop(self) -> None:
        await terminate(self.proc)


def guild_on_shard(fake, shard_id: int, name: str):
    """A new guild whose id falls on ``shard_id`` of 2 (ids carry the fake clock's milliseconds)."""
    for _ in range(10):
        guild = fake.create_guild(name)
        if (guild.id >> 22) % 2 == shard_id:
            return guild
        fake.advance_time(0.001)
    raise AssertionError(f"no guild on shard {shard_id}")


def bot_posts(fake, channel) -> list:
    return [m for m in fake.messages(channel) if m.author.id == fake.bot_user.id and m.attachments]


async def test_two_shard_processes_answer_each_server_once_by_the_right_shard(
    pg_url, world, router, tmp_path
):
    fake, _guild, _channel, alice, _bob = world
    guilds = [guild_on_shard(fake, 0, "Shard zero"), guild_on_shard(fake, 1, "Shard one")]
    channels = [fake.create_channel(g, "art") for g in guilds]
    for guild in guilds:
        fake.add_member(guild, alice)
    processes = [
        ShardProcess(
            fake,
            router,
            tmp_path / f"shard{n}",
            DATABASE_URL=pg_url,
            SHARD_COUNT="2",
            SHARD_IDS=str(n),
            WORKER_ID=f"shard-{n}",
        )
        for n in (0, 1)
    ]
    try:
        for n, process in enumerate(processes):
            await process.start((n, 2))
        await fake.wait_for_commands(["imagine"], timeout=30)
        handles = [
            await fake.slash(alice, channel, "imagine", {"prompt": f"a fox on shard {n}"})
            for n, channel in enumerate(channels)
        ]
        results = [await outcome(fake, handle, timeout=60) for handle in handles]
        for n, channel in enumerate(channels):
            await fake.post_message(
                alice, channel, "make it blue", reply_to=results[n], mention_bot=True
            )
        for channel in channels:
            await fake.world.wait_until(lambda c=channel: len(bot_posts(fake, c)) > 1, 60, "edit")
        await asyncio.sleep(1.0)  # time for a second answer, were there one
        for n, channel in enumerate(channels):
            # the /imagine response and the reply edit's result, nothing more
            assert [m.id for m in bot_posts(fake, channel)][0] == results[n].id
            assert len(bot_posts(fake, channel)) == 2, f"shard {n}: one answer each"
        async with await Store.open(pg_url, tmp_path / "probe") as store:
            jobs = await store.jobs_with_status(JobStatus.DONE)
        assert len(jobs) == 4 and len(posts(router)) == 4  # one router call each
        # Each server's command and reply reached only the session of its shard.
        for session in fake.gateway.live_sessions():
            seen = {
                int(data["guild_id"])
                for event, data in session.buffer
                if event in ("INTERACTION_CREATE", "MESSAGE_CREATE") and data.get("guild_id")
            }
            assert seen == {guilds[session.shard[0]].id}, session.shard
        for job in jobs:  # run by the process of its server's shard
            assert job.claimed_by == f"shard-{(int(job.origin['guild_id']) >> 22) % 2}", job
        assert sorted(j.kind for j in jobs) == sorted([JobKind.IMAGINE, JobKind.EDIT] * 2)
    finally:
        for process in processes:
            await process.stop()


async def test_auto_runs_the_recommended_shards_and_health_reports_each(easel, world, monkeypatch):
    fake = world[0]
    fake.gateway.recommended_shards = 2

    async def no_wait(self, shard_id, *, initial=False):
        pass  # Discord wants 5 s between IDENTIFYs; the fake does not

    monkeypatch.setattr(ShardedEaselBot, "before_identify_hook", no_wait)
    port = free_port()
    bot = await easel.restart(shard_count="auto", health_port=port)
    assert isinstance(bot, ShardedEaselBot) and bot.shard_count == 2
    assert sorted(s.shard for s in fake.gateway.connected_sessions()) == [(0, 2), (1, 2)]
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(100):  # until both shards have a heartbeat latency
            answer = await client.get(f"http://127.0.0.1:{port}/health")
            body = answer.json()
            if all(s["latency_ms"] is not None for s in body["shards"].values()):
                break
            await asyncio.sleep(0.1)
    assert answer.status_code == 200 and body["shard_count"] == 2
    assert set(body["shards"]) == {"0", "1"}
    assert all(s["gateway"] == "connected" for s in body["shards"].values())
