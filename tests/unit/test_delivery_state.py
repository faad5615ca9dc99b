"""The delivery state is mirrored in an indexed column, and restart finds what to post by it."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import command

from bot.schema import jobs
from bot.storage import Store
from bot.storage.engine import alembic_config
from bot.storage.jobs import undelivered_query
from tests.unit import test_storage
from tests.unit.test_storage import job_row, new_job

store, url = test_storage.store, test_storage.url  # the same fixtures: SQLite, or PostgreSQL


async def _finished(store: Store, *, failed: bool = False) -> int:
    job = await new_job(store)
    await store.start_job(job.id, "w")
    if failed:
        await store.fail_job(job.id, error_code="x", error_message="no")
    else:
        await store.finish_job(job.id, result_images=[], result_text="t", cost=None)
    return job.id


async def test_the_column_follows_the_job_and_its_delivery(store):
    queued = await new_job(store)
    assert (await job_row(store, queued.id))["delivery_state"] is None
    done, failed = await _finished(store), await _finished(store, failed=True)
    assert (await job_row(store, done))["delivery_state"] == "due"
    assert (await job_row(store, failed))["delivery_state"] == "due"
    await store.set_delivery(done, {"state": "posting"})
    assert (await job_row(store, done))["delivery_state"] == "posting"
    await store.set_delivery(done, {}, only_if_unset=False)  # a restart released the claim
    assert (await job_row(store, done))["delivery_state"] == "due"
    await store.set_delivery(done, {"state": "posted", "message_id": "1"}, only_if_unset=False)
    await store.set_delivery(failed, {"state": "retrying"})
    assert [j.id for j in await store.undelivered_jobs()] == [failed]


async def test_undelivered_is_newest_first_over_every_unposted_job(store):
    ids = [await _finished(store) for _ in range(5)]
    await store.set_delivery(ids[2], {"state": "posted"})
    await store.set_delivery(ids[3], {"state": "failed"})
    await store.set_delivery(ids[1], {"state": "retrying"})
    assert [j.id for j in await store.undelivered_jobs()] == [ids[4], ids[1], ids[0]]


async def test_a_draft_claimed_before_it_ended_keeps_its_state(store):
    draft = await new_job(store)
    assert await store.set_delivery(draft.id, {"state": "launched"})
    await store.cancel_job(draft.id)
    assert (await job_row(store, draft.id))["delivery_state"] == "launched"
    assert draft.id not in [j.id for j in await store.undelivered_jobs()]


async def test_the_restart_query_reads_the_index_not_the_table(store, url):
    engine = store._engine
    sql = str(undelivered_query().compile(engine, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            assert "ix_jobs_delivery_state_id" in plan, plan
            assert "SCAN jobs" not in plan.replace("USING INDEX", "").split("ix_")[0], plan
        else:
            await conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in await conn.exec_driver_sql(f"EXPLAIN {sql}"))
            assert "ix_jobs_delivery_state_id" in plan, plan


def test_the_migration_fills_the_column_from_existing_deliveries(tmp_path):
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
        now = "2026-12-01 00:00:00.000000"
        rows = [
            ("done", None),
            ("failed", '{"state": "retrying"}'),
            ("done", '{"state": "posted"}'),
            ("queued", None),
            ("done", '{"message": "1"}'),
        ]
        for status, delivery in rows:
            conn.exec_driver_sql(
                "INSERT INTO jobs (kind, status, prompt, params, origin, attempts, delivery,"
                " created_at, updated_at) VALUES ('imagine', ?, 'p', '{}', '{}', 0, ?, ?, ?)",
                (status, delivery, now, now),
            )
        command.upgrade(alembic_config(conn), "head")
        states = [r[0] for r in conn.execute(sa.select(jobs.c.delivery_state).order_by(jobs.c.id))]
    engine.dispose()
    assert states == ["due", "retrying", "posted", None, "set"]
    assert sqlite3.connect(path).execute("PRAGMA index_info(ix_jobs_delivery_state_id)").fetchall()
