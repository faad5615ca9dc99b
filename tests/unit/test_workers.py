"""Worker leases on a real store: claim, refuse, take over a stale lease, claim again as the same
process, heartbeat, release; and the bot's claim step (``claim_lease``) with its one-line refusal.

Each runs on SQLite and on the suite's real PostgreSQL server (``store_url``).
"""

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from bot.errors import ConfigError
from bot.schema import workers
from bot.storage import Store
from bot.storage.engine import alembic_config
from bot.workers import claim_lease, keep_lease, release_lease, this_process

pytestmark = pytest.mark.timeout(30)

T0 = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)
REFUSAL = re.compile(
    r"Another Easel process is running as WORKER_ID=(\S+) \(host (\S+), pid (\d+), "
    r"seen (\d+) s ago\)\. Give each process its own WORKER_ID\."
)


@pytest.fixture
async def store(store_url, tmp_path):
    async with await Store.open(store_url, tmp_path / "data") as store:
        yield store


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_the_first_claim_takes_the_id(store):
    assert await store.worker_lease("w") is None
    assert await store.claim_worker("w", "host-a", 100, T0)
    lease = await store.worker_lease("w")
    assert (lease.worker_id, lease.host, lease.pid) == ("w", "host-a", 100)
    assert lease.started_at == lease.heartbeat_at == T0


async def test_a_fresh_lease_of_another_process_is_refused(store):
    assert await store.claim_worker("w", "host-a", 100, T0)
    assert not await store.claim_worker("w", "host-a", 101, later(1))  # another pid
    assert not await store.claim_worker("w", "host-b", 100, later(1))  # that pid elsewhere
    assert not await store.claim_worker("w", "host-b", 200, later(59))
    lease = await store.worker_lease("w")
    assert (lease.host, lease.pid, lease.heartbeat_at) == ("host-a", 100, T0)
    assert await store.claim_worker("other-id", "host-b", 200, later(1))  # ids are separate


async def test_a_stale_lease_is_taken_over(store):
    assert await store.claim_worker("w", "host-a", 100, T0)
    assert not await store.claim_worker("w", "host-b", 200, later(60), stale_after=60)
    assert await store.claim_worker("w", "host-b", 200, later(61), stale_after=60)
    lease = await store.worker_lease("w")
    assert (lease.host, lease.pid, lease.started_at) == ("host-b", 200, later(61))
    # stale_after is the caller's: a short one takes over sooner.
    assert await store.claim_worker("w", "host-a", 100, later(63), stale_after=1)


async def test_the_same_process_claims_again_even_while_fresh(store):
    assert await store.claim_worker("w", "host-a", 100, T0)
    assert await store.claim_worker("w", "host-a", 100, later(1))
    assert (await store.worker_lease("w")).heartbeat_at == later(1)


async def test_heartbeats_keep_the_lease_from_going_stale(store):
    assert await store.claim_worker("w", "host-a", 100, T0)
    assert await store.heartbeat("w", 100, later(50))
    assert not await store.heartbeat("w", 200, later(55))  # not the holder: nothing renewed
    assert not await store.heartbeat("nobody", 100, later(55))
    assert not await store.claim_worker("w", "host-b", 200, later(100))  # 50 s since a beat
    assert await store.claim_worker("w", "host-b", 200, later(111))
    assert not await store.heartbeat("w", 100, later(112))  # the old holder learns it lost


async def test_release_frees_the_id_for_the_next_process(store):
    assert await store.claim_worker("w", "host-a", 100, T0)
    assert not await store.release_worker("w", 200)  # only the holder lets go
    assert await store.worker_lease("w") is not None
    assert await store.release_worker("w", 100)
    assert await store.worker_lease("w") is None
    assert not await store.release_worker("w", 100)
    assert await store.claim_worker("w", "host-b", 200, later(1))


async def test_racing_claims_for_one_id_have_one_winner(store):
    won = await asyncio.gather(*(store.claim_worker("w", "h", pid, T0) for pid in range(1, 9)))
    assert sum(won) == 1
    assert (await store.worker_lease("w")).pid == won.index(True) + 1


# -- the bot's claim step, as _serve runs it before logging in --------------------------------
async def test_claim_lease_refuses_with_one_line_naming_the_holder(store):
    now = datetime.now(UTC)
    assert await store.claim_worker("shared", "other-host", 4242, now - timedelta(seconds=7))
    with pytest.raises(ConfigError) as info:
        await claim_lease(store, "shared")
    message = info.value.user_message
    assert "\n" not in message
    match = REFUSAL.fullmatch(message)
    assert match, message
    assert match.groups()[:3] == ("shared", "other-host", "4242")
    assert 7 <= int(match[4]) <= 20
    assert (await store.worker_lease("shared")).pid == 4242  # left alone


async def test_claim_lease_takes_a_free_a_stale_or_its_own_lease(store):
    host, pid = this_process()
    await claim_lease(store, "free")
    assert (await store.worker_lease("free")).pid == pid
    await claim_lease(store, "free")  # this process again (an in-process restart)
    stale = datetime.now(UTC) - timedelta(minutes=5)
    assert await store.claim_worker("stale", "crashed-host", 4242, stale)
    await claim_lease(store, "stale")
    taken = await store.worker_lease("stale")
    assert (taken.host, taken.pid) == (host, pid)
    await release_lease(store, "stale")
    assert await store.worker_lease("stale") is None


async def test_keep_lease_renews_and_claims_a_vanished_lease_again(store):
    host, pid = this_process()
    assert await store.claim_worker("w", host, pid, T0)
    task = asyncio.create_task(keep_lease(store, "w", every=0.01))
    try:
        async with asyncio.timeout(10):
            while (await store.worker_lease("w")).heartbeat_at == T0:
                await asyncio.sleep(0.01)
            async with store._tx() as conn:  # e.g. an operator cleared the table
                await conn.execute(workers.delete())
            while await store.worker_lease("w") is None:
                await asyncio.sleep(0.01)
        assert (await store.worker_lease("w")).pid == pid
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_keep_lease_says_so_when_another_process_took_over(store, caplog):
    assert await store.claim_worker("w", "elsewhere", 4242, datetime.now(UTC))
    task = asyncio.create_task(keep_lease(store, "w", every=0.01))
    try:
        async with asyncio.timeout(10):
            while not any("lost the lease" in r.getMessage() for r in caplog.records):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (await store.worker_lease("w")).host == "elsewhere"  # not taken back while fresh
    lost = [r for r in caplog.records if "lost the lease" in r.getMessage()]
    assert lost[0].levelno == logging.ERROR and "pid 4242" in lost[0].getMessage()


async def test_the_table_is_created_by_the_migration(store):
    async with store._engine.connect() as conn:
        columns = await conn.run_sync(lambda c: sa.inspect(c).get_columns("workers"))
    assert [c["name"] for c in columns] == ["id", "host", "pid", "started_at", "heartbeat_at"]


async def test_the_migration_goes_down_to_0002_and_up_again(store):
    def tables(conn: sa.Connection) -> set[str]:
        return set(sa.inspect(conn).get_table_names())

    def move(conn: sa.Connection, target: str) -> None:
        step = command.downgrade if target == "0002" else command.upgrade
        step(alembic_config(conn), target)

    async with store._engine.begin() as conn:
        await conn.run_sync(move, "0002")
        assert "workers" not in await conn.run_sync(tables)
        assert await conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0002"
        await conn.run_sync(move, "head")
        assert "workers" in await conn.run_sync(tables)
    assert await store.claim_worker("w", "h", 1, T0)
