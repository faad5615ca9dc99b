"""Claims from the shared store (``Store.claim_next``, ``requeue_orphans``) on SQLite and on the
real PostgreSQL: fair across users whichever process asks, capped per user across processes,
a refine session's turns in order, racing workers never given one job twice, and a dead
worker's jobs queued again once its lease is stale (a live one's never).
"""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import JobKind, JobStatus
from bot.storage import Store

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def store(store_url, tmp_path):
    async with await Store.open(store_url, tmp_path / "data") as store:
        yield store


async def job(store, user, session_id=None):
    made = await store.create_job(
        kind=JobKind.REFINE if session_id else JobKind.IMAGINE,
        prompt=f"by {user}",
        params={"model": "openai/gpt-image-1", "n": 1},
        user_id=user,
        origin={"channel_id": "2"},
        session_id=session_id,
    )
    return made.id


async def test_users_take_turns_whichever_worker_asks(store):
    a = [await job(store, "alice") for _ in range(3)]
    b = [await job(store, "bob") for _ in range(2)]
    c = [await job(store, "carol")]
    order = []
    for worker in ("w1", "w2", "w1", "w2", "w1", "w2"):
        claimed = await store.claim_next(worker, max_per_user=10)
        order.append(claimed.id)
        assert claimed.status is JobStatus.RUNNING and claimed.claimed_by == worker
    # one each in turn (the fewest running first, then the oldest), not alice's three first
    assert order == [a[0], b[0], c[0], a[1], b[1], a[2]]
    assert await store.claim_next("w1", max_per_user=10) is None


async def test_the_per_user_cap_counts_every_process(store):
    for _ in range(4):
        await job(store, "alice")
    assert await store.claim_next("w1", max_per_user=2)
    assert await store.claim_next("w2", max_per_user=2)
    assert await store.claim_next("w3", max_per_user=2) is None  # two run, elsewhere
    later = await job(store, "bob")
    assert (await store.claim_next("w3", max_per_user=2)).id == later


async def test_a_sessions_turns_run_one_at_a_time_in_order(store):
    session = await store.create_session(
        thread_id="9", channel_id="2", guild_id="1", owner_id="7", model="m", family="chat"
    )
    first, second = await job(store, "alice", session.id), await job(store, "alice", session.id)
    assert (await store.claim_next("w1", max_per_user=5)).id == first
    assert await store.claim_next("w2", max_per_user=5) is None  # waits for the first turn
    await store.finish_job(first, result_images=[], result_text="ok", cost=None)
    assert (await store.claim_next("w2", max_per_user=5)).id == second


async def test_racing_workers_never_get_the_same_job(store):
    made = {await job(store, f"user{n % 7}") for n in range(40)}

    async def drain(worker):
        mine = []
        while (claimed := await store.claim_next(worker, max_per_user=100)) is not None:
            mine.append(claimed.id)
        return mine

    got = await asyncio.gather(*(drain(f"w{n}") for n in range(4)))
    flat = [job_id for ids in got for job_id in ids]
    assert sorted(flat) == sorted(made) and len(flat) == len(set(flat))


async def test_a_dead_workers_jobs_are_queued_again_after_its_lease(store):
    now = datetime.now(UTC)
    await store.claim_worker("dead", "host", 1, now=now - timedelta(seconds=120))
    await store.claim_worker("alive", "host", 2, now=now)
    for worker in ("dead", "alive", "cli-without-lease"):
        await job(store, worker)
        assert (await store.claim_next(worker, max_per_user=5)).claimed_by == worker
    assert await store.requeue_orphans(stale_after=60) == [1]
    assert (await store.get_job(1)).status is JobStatus.QUEUED
    assert [j.id for j in await store.jobs_with_status(JobStatus.RUNNING)] == [2, 3]
    assert await store.requeue_orphans(stale_after=60) == []
    taken = await store.claim_next("alive", max_per_user=5)
    assert taken.id == 1 and taken.attempts == 2
