"""The store on a real SQLite file and a real PostgreSQL server (``store_url``): migrations,
restarts, atomic image files, compare-and-set.
"""

import asyncio
import hashlib
import importlib
import os
import pkgutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import bot.storage
import bot.storage.blobs
import bot.storage.engine
import bot.storage.files
from bot.domain import JobKind, JobStatus
from bot.errors import ConfigError, ImageMissing, NotFound, StorageError
from bot.schema import images, job_images, jobs, metadata, turn_images
from bot.storage import Store
from bot.storage.engine import alembic_config

pytestmark = pytest.mark.timeout(30)

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100
TABLES = {
    "images",
    "jobs",
    "job_images",
    "sessions",
    "turns",
    "turn_images",
    "channel_settings",
    "guild_rules",
    "workers",
    "app_state",
}
# The newest migration, whatever its id: the helpers' branches are re-chained at merge.
HEAD = ScriptDirectory.from_config(bot.storage.engine.alembic_config()).get_current_head()


@pytest.fixture
def url(store_url):
    return store_url


@pytest.fixture
async def store(url, tmp_path):
    async with await Store.open(url, tmp_path / "data") as store:
        yield store


async def reopen(store: Store) -> Store:
    """Close and open again on the same database and directory: a restart."""
    url = store._engine.url.render_as_string(hide_password=False)
    await store.close()
    return await Store.open(url, store.data_dir)


async def job_row(store: Store, job_id: int) -> sa.RowMapping:
    async with store._engine.connect() as conn:
        return (await conn.execute(jobs.select().where(jobs.c.id == job_id))).mappings().one()


async def new_job(store: Store, prompt="a red fox", user="42", **kwargs):
    return await store.create_job(
        kind=kwargs.pop("kind", JobKind.IMAGINE),
        prompt=prompt,
        params=kwargs.pop("params", {"model": "openai/gpt-image-1", "n": 1}),
        user_id=user,
        origin=kwargs.pop("origin", {"guild": "1", "channel": "2", "interaction": "3"}),
        **kwargs,
    )


# -- schema ------------------------------------------------------------------------------------
async def test_migrations_build_the_schema_and_reopening_changes_nothing(store):
    async with store._engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert TABLES | {"alembic_version"} <= names
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()

    store = await reopen(store)
    async with store:
        async with store._engine.connect() as conn:
            versions = (await conn.execute(sa.text("SELECT * FROM alembic_version"))).all()
        assert versions == [(version,)]
        assert await store.ping()


async def test_stores_opening_together_migrate_once(url, tmp_path):
    opened = await asyncio.gather(*(Store.open(url, tmp_path / "data") for _ in range(4)))
    for store in opened:
        await store.close()
    assert all(isinstance(store, Store) for store in opened)


async def test_migrations_match_the_table_definitions(store):
    """The hand-written migration and the Table objects the code uses describe one schema."""

    def diff(conn: sa.Connection) -> list:
        # SQLite's FTS5 index for /history (jobs_fts and its shadow tables) is no Table object.
        def ours(name, type_, *_):  # noqa: ANN001, ANN202
            return not (type_ == "table" and name.startswith("jobs_fts"))

        context = MigrationContext.configure(conn, opts={"include_name": ours})
        return compare_metadata(context, metadata)

    async with store._engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(store):
    if store._engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    async with store._engine.connect() as conn:
        assert await conn.scalar(sa.text("PRAGMA journal_mode")) == "wal"
        assert await conn.scalar(sa.text("PRAGMA foreign_keys")) == 1


async def test_bad_database_urls_are_config_errors(tmp_path):
    for bad in ("not a url", "mysql+aiomysql://x/y", "sqlite:///sync-driver.db"):
        with pytest.raises(ConfigError):
            await Store.open(bad, tmp_path)


# -- images ------------------------------------------------------------------------------------
async def test_put_image_is_idempotent_and_named_by_hash(store):
    digest = hashlib.sha256(PNG).hexdigest()
    first = await store.put_image(PNG, "image/png")
    second = await store.put_image(PNG, "image/png", 64, 32)
    assert first.sha256 == second.sha256 == digest
    assert (second.width, second.height, second.size) == (64, 32, len(PNG))  # filled in later
    path = store.data_dir / "images" / digest[:2] / digest[2:]
    assert path.read_bytes() == PNG
    assert [p.name for p in path.parent.iterdir()] == [digest[2:]]  # no temp files left
    assert await store.get_image(digest) == PNG
    assert await store.image_info(digest) == second
    assert await store.image_info("0" * 64) is None


async def test_big_images_round_trip(store):
    data = os.urandom(3 * 1024 * 1024)
    stored = await store.put_image(data, "image/webp")
    assert await store.get_image(stored.sha256) == data


async def test_interrupted_write_leaves_nothing_behind(store, monkeypatch):
    digest = hashlib.sha256(PNG).hexdigest()
    final = store.data_dir / "images" / digest[:2] / digest[2:]

    def disk_gone(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(bot.storage.blobs.os, "fsync", disk_gone)
    with pytest.raises(StorageError, match="Input/output error"):
        await store.put_image(PNG, "image/png")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []  # the temporary file was removed too
    with pytest.raises(ImageMissing, match="not in the store"):
        await store.get_image(digest)

    monkeypatch.undo()
    assert (await store.put_image(PNG, "image/png")).sha256 == digest
    assert await store.get_image(digest) == PNG


async def test_stray_temp_file_from_a_crash_is_not_an_image(store):
    digest = hashlib.sha256(PNG).hexdigest()
    folder = store.data_dir / "images" / digest[:2]
    folder.mkdir(parents=True)
    (folder / f".{digest[2:18]}.deadbeef.tmp").write_bytes(PNG[:10])  # crashed mid-write
    with pytest.raises(ImageMissing):
        await store.get_image(digest)
    await store.put_image(PNG, "image/png")
    assert await store.get_image(digest) == PNG


async def test_damaged_or_deleted_files_are_reported_clearly(store):
    stored = await store.put_image(PNG, "image/png")
    path = store.image_path(stored.sha256)
    path.write_bytes(PNG[:20])
    with pytest.raises(ImageMissing, match="20 bytes on disk"):
        await store.get_image(stored.sha256)
    await store.put_image(PNG, "image/png")  # storing it again repairs it
    assert await store.get_image(stored.sha256) == PNG
    path.unlink()
    with pytest.raises(ImageMissing, match="gone") as caught:
        await store.get_image(stored.sha256)
    assert "can't be redone" in caught.value.user_message


async def test_a_damaged_file_of_the_right_length_is_refused(store):
    stored = await store.put_image(PNG, "image/png")
    path = store.image_path(stored.sha256)
    path.write_bytes(PNG[:-1] + b"!")  # one flipped byte: the length alone can't tell
    with pytest.raises(ImageMissing, match="damaged on disk") as caught:
        await store.get_image(stored.sha256)
    assert "can't be redone" in caught.value.user_message

    big = os.urandom(bot.storage.files.HASH_IN_THREAD_BYTES + 1)  # hashed off the loop
    stored = await store.put_image(big, "image/png")
    store.image_path(stored.sha256).write_bytes(bytes(len(big)))
    with pytest.raises(ImageMissing, match="damaged on disk"):
        await store.get_image(stored.sha256)


async def test_storing_an_image_again_makes_it_young_again(store):
    async def stored_at() -> object:
        async with store._engine.connect() as conn:
            return await conn.scalar(sa.select(images.c.created_at))

    digest = (await store.put_image(PNG, "image/png")).sha256
    first = await stored_at()
    await asyncio.sleep(0.01)
    await store.put_image(PNG, "image/png")
    assert await stored_at() > first
    # Nothing refers to it, but it was stored after the cutoff: kept.
    assert await store.delete_unused_images(first + timedelta(microseconds=1)) == (0, digest)
    assert await store.delete_unused_images(first, digest) == (0, None)  # the end of the walk


async def test_put_image_writes_the_file_again_if_a_sweep_took_it_meanwhile(store, monkeypatch):
    digest = (await store.put_image(PNG, "image/png")).sha256
    real = store.blobs.has

    async def seen_then_swept(key, size):
        found = await real(key, size)
        await store.blobs.remove(key)  # a sweep deleting it right after the check
        monkeypatch.setattr(store.blobs, "has", real)
        return found

    monkeypatch.setattr(store.blobs, "has", seen_then_swept)
    await store.put_image(PNG, "image/png")
    assert await store.get_image(digest) == PNG


def test_every_column_holding_an_image_hash_keeps_the_image():
    assert set(bot.storage.files.IMAGE_REFERENCES) == {job_images.c.sha256, turn_images.c.sha256}


async def test_image_ids_cannot_escape_the_image_directory(store):
    with pytest.raises(ImageMissing):
        await store.get_image("../../etc/passwd")


# -- jobs --------------------------------------------------------------------------------------
async def test_a_new_job_is_on_disk_before_anything_runs(store):
    image = await store.put_image(PNG, "image/png")
    mask = await store.put_image(PNG + b"mask", "image/png")
    job = await new_job(
        store, kind=JobKind.EDIT, input_images=[image.sha256, image.sha256], mask_image=mask.sha256
    )
    assert job.status is JobStatus.QUEUED and job.started_at is None
    assert job.created_at is not None and job.created_at.tzinfo is UTC

    store = await reopen(store)
    async with store:
        again = await store.get_job(job.id)
    assert again == job
    assert again.prompt == "a red fox" and again.params == {"model": "openai/gpt-image-1", "n": 1}
    assert again.origin == {"guild": "1", "channel": "2", "interaction": "3"}
    assert again.input_images == (image.sha256, image.sha256) and again.mask_image == mask.sha256


async def test_a_job_with_unstored_inputs_is_refused_whole(store):
    with pytest.raises(ImageMissing):
        await new_job(store, kind=JobKind.EDIT, input_images=["ab" * 32])
    assert await store.jobs_with_status(*JobStatus) == []
    assert await store.get_job(1) is None


async def test_start_job_is_compare_and_set(store, url):
    job = await new_job(store)
    started = await store.start_job(job.id, "worker-a")
    assert started is not None and started.status is JobStatus.RUNNING
    assert started.started_at is not None
    assert await store.start_job(job.id, "worker-b") is None
    row = await job_row(store, job.id)
    assert (row["claimed_by"], row["attempts"]) == ("worker-a", 1)

    # Two processes (two stores on one database) racing for the same jobs: one winner each.
    async with await Store.open(url, store.data_dir) as other:
        queued = [await new_job(store, prompt=f"p{i}") for i in range(5)]
        claims = await asyncio.gather(
            *(s.start_job(j.id, name) for j in queued for s, name in ((store, "a"), (other, "b")))
        )
    winners = [c for c in claims if c is not None]
    assert sorted(c.id for c in winners) == [j.id for j in queued]


async def test_finish_and_fail(store):
    out = await store.put_image(b"result", "image/png")
    job = await new_job(store, user="7")
    await store.start_job(job.id, "w")
    done = await store.finish_job(job.id, result_images=[out.sha256], result_text="here", cost=0.04)
    assert done.status is JobStatus.DONE and done.result_images == (out.sha256,)
    assert (done.result_text, done.cost) == ("here", 0.04)
    assert done.finished_at is not None and done.finished_at >= done.started_at

    # Failing straight from the queue (bad options) keeps the prompt for Retry.
    bad = await new_job(store, prompt="keep me")
    failed = await store.fail_job(
        bad.id, error_code="refused", error_message="No.", result_text="I can't draw that."
    )
    assert failed.status is JobStatus.FAILED and failed.prompt == "keep me"
    assert (failed.error_code, failed.error_message) == ("refused", "No.")
    assert failed.result_text == "I can't draw that."

    # An outcome arriving after the end (a cancel won the race) changes nothing.
    assert await store.finish_job(job.id, result_images=[], result_text="late", cost=1.0) == done
    with pytest.raises(NotFound):
        await store.fail_job(999, error_code="x", error_message="y")


async def test_a_dropped_token_stays_dropped_when_the_job_finishes(store):
    origin = {"channel_id": "2", "interaction": {"app_id": "7", "token": "t", "created_at": 1.0}}
    job = await new_job(store, origin=origin)
    started = await store.start_job(job.id, "w")  # read with its token, as a worker does
    later = datetime.now(UTC) + timedelta(minutes=20)
    assert await store.drop_expired_tokens(later) == (1, job.id)
    assert await store.drop_expired_tokens(later, job.id) == (0, None)

    warned = {**started.origin, "warnings": ["size ignored"]}
    done = await store.finish_job(
        job.id, result_images=[], result_text=None, cost=None, origin=warned
    )
    assert done.origin == {
        "channel_id": "2",
        "interaction": {"app_id": "7", "created_at": 1.0},
        "warnings": ["size ignored"],
    }


async def test_cancel_only_active_jobs(store):
    job = await new_job(store)
    assert await store.cancel_job(job.id)
    assert not await store.cancel_job(job.id)
    assert not await store.cancel_job(12345)
    assert (await store.get_job(job.id)).status is JobStatus.CANCELLED
    assert await store.start_job(job.id, "w") is None
    late = await store.finish_job(job.id, result_images=[], result_text="x", cost=None)
    assert late.status is JobStatus.CANCELLED


async def test_set_delivery_is_compare_and_set(store, url):
    job = await new_job(store)
    assert (await store.get_job(job.id)).delivery == {}
    assert await store.set_delivery(job.id, {"channel": "2", "message": "100"})
    assert not await store.set_delivery(job.id, {"channel": "2", "message": "101"})
    assert (await store.get_job(job.id)).delivery == {"channel": "2", "message": "100"}
    assert await store.set_delivery(job.id, {"message": "102"}, only_if_unset=False)
    assert (await store.get_job(job.id)).delivery == {"message": "102"}
    assert not await store.set_delivery(999, {"message": "1"})
    # An empty delivery releases the claim (a restart found "posting" but no message).
    assert await store.set_delivery(job.id, {}, only_if_unset=False)
    assert (await store.get_job(job.id)).delivery == {}
    assert await store.set_delivery(job.id, {"message": "103"})

    fresh = await new_job(store)
    async with await Store.open(url, store.data_dir) as other:
        results = await asyncio.gather(
            *(s.set_delivery(fresh.id, {"by": i}) for i, s in enumerate([store, other] * 3))
        )
    assert results.count(True) == 1
    winner = results.index(True)
    assert (await store.get_job(fresh.id)).delivery == {"by": winner}


async def test_running_jobs_are_requeued_after_a_restart(store):
    first, second, third = [await new_job(store, prompt=f"p{i}") for i in range(3)]
    await store.start_job(first.id, "host:1")
    await store.start_job(second.id, "host:2")

    store = await reopen(store)
    async with store:
        running = await store.jobs_with_status(JobStatus.RUNNING)
        assert [j.id for j in running] == [first.id, second.id]
        requeued = await store.requeue_job(first.id)
        assert requeued.status is JobStatus.QUEUED
        assert (await job_row(store, first.id))["claimed_by"] is None
        # With a worker given, another worker's job is left alone.
        assert (await store.requeue_job(second.id, worker="host:1")).status is JobStatus.RUNNING
        assert (await store.requeue_job(second.id, worker="host:2")).status is JobStatus.QUEUED
        assert (await store.requeue_job(third.id)).status is JobStatus.QUEUED  # unchanged
        with pytest.raises(NotFound):
            await store.requeue_job(999)

        queued = await store.jobs_with_status(JobStatus.QUEUED)
        assert [j.id for j in queued] == [first.id, second.id, third.id]  # oldest first
        assert len(await store.jobs_with_status(JobStatus.QUEUED, limit=2)) == 2
        assert await store.jobs_with_status() == []
        again = await store.start_job(first.id, "host:3")
        assert again is not None
        assert (await job_row(store, first.id))["attempts"] == 2


async def test_lineage_walks_up_the_parents(store):
    root = await new_job(store, prompt="root")
    child = await new_job(store, prompt="child", parent_job_id=root.id)
    grandchild = await new_job(store, prompt="grandchild", parent_job_id=child.id)
    lineage = await store.job_lineage(grandchild.id)
    assert [j.prompt for j in lineage] == ["grandchild", "child", "root"]
    assert [j.id for j in await store.job_lineage(grandchild.id, limit=2)] == [
        grandchild.id,
        child.id,
    ]
    assert await store.job_lineage(999) == []


# -- sessions, turns, channel settings -----------------------------------------------------------
async def test_sessions_and_turns(store):
    image = await store.put_image(PNG, "image/png")
    other = await store.put_image(b"other", "image/jpeg")
    session = await store.create_session(
        thread_id="555",
        channel_id="2",
        guild_id="1",
        owner_id="42",
        model="google/gemini-2.5-flash-image",
        family="chat",
        settings={"counts": "every"},
    )
    assert await store.session_by_thread("555") == session
    assert await store.session_by_thread("556") is None
    assert session.created_at.tzinfo is UTC and session.settings == {"counts": "every"}

    reasoning = [{"type": "reasoning.encrypted", "data": "abc", "index": 0, "format": None}]
    await store.add_turn(session.id, role="user", text="a cat", images=[image.sha256, other.sha256])
    reply = await store.add_turn(
        session.id,
        role="assistant",
        text=None,
        images=[other.sha256],
        reasoning_details=reasoning,
        message_id="900",
        version=1,
    )
    failed = await store.add_turn(
        session.id, role="assistant", text="no", images=[], status="failed"
    )

    store = await reopen(store)
    async with store:
        turns = await store.turns(session.id)
        assert [t.position for t in turns] == [0, 1, 2]
        assert turns[0].images == (image.sha256, other.sha256) and turns[0].role == "user"
        assert turns[1] == reply and turns[1].reasoning_details == reasoning
        assert (turns[1].message_id, turns[1].version) == ("900", 1)
        assert turns[2] == failed and failed.status == "failed" and failed.reasoning_details is None

        moved = await store.update_session(session.id, head_turn_id=reply.id, model="other/model")
        assert (moved.head_turn_id, moved.model) == (reply.id, "other/model")
        assert moved.updated_at >= session.updated_at
        assert await store.get_session(session.id) == moved
        with pytest.raises(TypeError):
            await store.update_session(session.id, id=5)
        with pytest.raises(NotFound):
            await store.update_session(999, model="x")
        with pytest.raises(NotFound):
            await store.add_turn(999, role="user", text="x", images=[])

        branch = await store.create_session(
            thread_id=None,
            channel_id="2",
            guild_id="1",
            owner_id="42",
            model="m",
            family="images",
            parent_session_id=session.id,
        )
        assert branch.parent_session_id == session.id and branch.settings == {}


async def test_concurrent_turns_get_distinct_positions(store):
    session = await store.create_session(
        thread_id="1", channel_id=None, guild_id=None, owner_id=None, model="m", family="chat"
    )
    await asyncio.gather(
        *(store.add_turn(session.id, role="user", text=str(i), images=[]) for i in range(8))
    )
    assert [t.position for t in await store.turns(session.id)] == list(range(8))


async def test_channel_settings(store):
    assert await store.channel_settings("2") == {}
    await store.set_channel_settings("2", {"every_reply_counts": True})
    await store.set_channel_settings("3", {"model": "x"})
    await store.set_channel_settings("2", {"every_reply_counts": False})
    store = await reopen(store)
    async with store:
        assert await store.channel_settings("2") == {"every_reply_counts": False}
        assert await store.channel_settings("3") == {"model": "x"}


def test_importing_the_module_opens_nothing():
    assert isinstance(bot.storage.engine.MIGRATIONS, Path)
    assert (bot.storage.engine.MIGRATIONS / "env.py").is_file()
    modules = [bot.storage] + [
        importlib.import_module(f"bot.storage.{m.name}")
        for m in pkgutil.iter_modules(bot.storage.__path__)
    ]
    for module in modules:
        assert not any(isinstance(v, sa.ext.asyncio.AsyncEngine) for v in vars(module).values())
