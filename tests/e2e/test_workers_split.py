"""Gateway and workers split, on one real PostgreSQL: a gateway process with RUN_JOBS=false
stores each /imagine, and real ``python -m bot worker`` processes (REST only, no gateway) take
the jobs from the store and post them through the interaction webhooks.

- a worker killed with SIGKILL in the router call: another worker takes the job over once the
  dead one's lease is stale, and posts it exactly once;
- 100 jobs from 10 users across 2 workers: none lost, none posted twice, both workers busy.
"""

from __future__ import annotations

import asyncio
import collections

import pytest

from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.e2e.processes import bot_env, start_bot, terminate
from tests.e2e.test_imagine import posts
from tests.fakes.router import Fault

pytestmark = pytest.mark.timeout(240)
LEASE_S = "4"  # so that a takeover comes within seconds, not a minute


class WorkerProcess:
    """``python -m bot worker`` against the fakes and the shared PostgreSQL."""

    def __init__(self, fake, router, tmp_path, pg_url, name: str) -> None:
        self.env = bot_env(
            tmp_path,
            fake,
            router,
            DATABASE_URL=pg_url,
            WORKER_ID=name,
            WORKER_LEASE_SECONDS=LEASE_S,
            MAX_JOBS_PER_USER="10",
        )
        self.tmp_path = tmp_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await start_bot(self.tmp_path, self.env, "worker")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown, no cleanup, the lease left to go stale
        await asyncio.wait_for(self.proc.wait(), 10)

    async def stop(self) -> None:
        await terminate(self.proc)


@pytest.fixture
async def gateway(pg_url, easel):
    """The in-process bot as a gateway only: it stores jobs and leaves them to the workers."""
    await easel.restart(
        database_url=pg_url, run_jobs=False, worker_id="gateway", max_queued_per_user=10
    )
    return easel


def original_edits(fake, handle) -> list:
    """Every edit of the interaction's response that carried files: the result's posts."""
    return [
        r
        for r in fake.requests_to(f"/{handle.token}/messages/@original", "PATCH")
        if r.files and r.status < 300
    ]


async def test_a_killed_workers_job_is_taken_over_and_posted_once(
    pg_url, gateway, world, router, tmp_path
):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=3.0))
    first = WorkerProcess(fake, router, tmp_path, pg_url, "worker-a")
    second = WorkerProcess(fake, router, tmp_path, pg_url, "worker-b")
    try:
        handle = await fake.slash(alice, channel, "imagine", {"prompt": "a fox, killed"})
        assert await handle.wait_ack(5) == 5
        await first.start()
        await fake.world.wait_until(lambda: posts(router), 30, "worker a in the router call")
        await first.kill()
        await second.start()
        message = await outcome(fake, handle, timeout=60)
        assert message.attachments and "a fox, killed" in message.embeds[0]["description"]
        await asyncio.sleep(1.5)  # time for a second post, were there one
        assert len(original_edits(fake, handle)) == 1
        assert len(posts(router)) == 2  # asked again after the takeover: at least once
        [job] = await gateway.store.jobs_with_status(JobStatus.DONE)
        assert job.attempts == 2 and job.delivery["state"] == "posted"
    finally:
        await first.stop()
        await second.stop()


async def test_100_jobs_across_2_workers_none_lost_none_posted_twice(
    pg_url, gateway, world, router, tmp_path
):
    fake, guild, channel, _alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=0.2, times=1000))
    users = [fake.create_user(f"user{n}", guild=guild) for n in range(10)]
    handles = []
    for round_ in range(10):
        for user in users:
            prompt = f"job {round_} of {user.name}"
            handles.append(await fake.slash(user, channel, "imagine", {"prompt": prompt}))
    for handle in handles:
        assert await handle.wait_ack(5) == 5
    workers = [WorkerProcess(fake, router, tmp_path, pg_url, f"worker-{n}") for n in (1, 2)]
    try:
        for worker in workers:
            await worker.start()
        for handle in handles:
            message = await outcome(fake, handle, timeout=120)
            assert message.attachments, message
        await asyncio.sleep(1.5)  # time for a second post, were there one
        edits = collections.Counter(len(original_edits(fake, h)) for h in handles)
        assert edits == {1: 100}
        done = await gateway.store.jobs_with_status(JobStatus.DONE)
        assert len(done) == 100 and len(posts(router)) == 100
        assert all(j.delivery["state"] == "posted" for j in done)
        ran = collections.Counter(j.claimed_by for j in done)
        assert set(ran) == {"worker-1", "worker-2"}, ran
    finally:
        for worker in workers:
            await worker.stop()
