"""Every lookup the store makes is answered by an index: a workload through the store's API is
recorded statement by statement, and SQLite's plan for each must not scan a whole table.

A walk ordered by the primary key with a LIMIT (retention's batches) reads only its batch and
is allowed; anything else that says ``SCAN <table>`` without an index fails, naming the SQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.domain import JobKind
from bot.retention import Sweeper
from bot.schema import metadata
from bot.storage import Store

FULL_SCAN = re.compile(r"\bSCAN (\w+)(?! USING)")
BOUNDED_WALK = re.compile(r"ORDER BY \w+\.(id|sha256)( DESC)?\s+LIMIT", re.S)


@pytest.fixture
async def recorded(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}", tmp_path / "data")
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):  # noqa: ANN001
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            seen.append((statement, parameters))

    sa.event.listen(store._engine.sync_engine, "before_cursor_execute", record)
    try:
        yield store, seen
    finally:
        await store.close()


async def _workload(store: Store) -> None:
    origin = {"channel_id": "2", "guild_id": "1", "interaction": {"token": "t", "id": "3"}}
    image = await store.put_image(b"\x89PNG fake bytes", "image/png", 1, 1)
    parent = await store.create_job(
        kind=JobKind.IMAGINE, prompt="p", params={"model": "m"}, user_id="42", origin=origin
    )
    job = await store.create_job(
        kind=JobKind.EDIT,
        prompt="q",
        params={"model": "m"},
        user_id="42",
        origin=origin,
        parent_job_id=parent.id,
        input_images=[image.sha256],
    )
    await store.start_job(job.id, "w")
    await store.finish_job(job.id, result_images=[image.sha256], result_text=None, cost=0.1)
    await store.set_delivery(job.id, {"state": "posting"})
    await store.set_delivery(job.id, {"state": "posted", "message_id": "9"}, only_if_unset=False)
    await store.undelivered_jobs()
    await store.active_jobs_of("42")
    await store.job_lineage(job.id)
    await store.get_image(image.sha256)
    session = await store.create_session(
        thread_id="77", channel_id="2", guild_id="1", owner_id="42", model="m", family="chat"
    )
    await store.add_turn(session.id, role="user", text="hi", images=[image.sha256], job_id=job.id)
    await store.session_by_thread("77")
    await store.turns(session.id)
    await store.channel_settings("2")
    await store.claim_worker("w", "host", 1)
    await store.heartbeat("w", 1)
    later = datetime.now(UTC) + timedelta(days=400)
    await Sweeper(store, keep_jobs_days=1, keep_images_days=1).sweep(now=later)


async def test_no_lookup_scans_a_whole_table(recorded):
    store, seen = recorded
    await _workload(store)
    ran = " ".join(statement for statement, _ in seen)
    for expected in (
        "DELETE FROM jobs",
        "DELETE FROM images",
        "WITH RECURSIVE",
        "delivery_state IN",
    ):
        assert expected in ran, f"the workload never ran {expected!r}"
    async with store._engine.connect() as conn:
        scans = [s for st, p in seen if (s := await full_scan(conn, st, p))]
    assert not scans, "\n\n".join(scans)


async def test_the_check_sees_a_full_scan(recorded):
    store, _seen = recorded
    async with store._engine.connect() as conn:
        assert await full_scan(conn, "SELECT id FROM jobs WHERE prompt = ?", ("x",))
        assert not await full_scan(conn, "SELECT id FROM jobs WHERE id = ?", (1,))


async def full_scan(conn, statement: str, parameters) -> str | None:  # noqa: ANN001
    """What SQLite's plan says when it reads a whole table for ``statement``, else None."""
    rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
    plan = "\n".join(str(row[-1]) for row in rows)
    tables = [t for t in FULL_SCAN.findall(plan) if t in metadata.tables]  # a CTE is no table
    if tables and not BOUNDED_WALK.search(statement):
        return f"{tables}: {' '.join(statement.split())}\n{plan}"
    return None
