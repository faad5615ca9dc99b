"""Retention on a real store: what the sweeper deletes, what it must keep, tokens it drops.

Time is injected (``sweep(now=...)``) rather than waited for. Like test_storage, each runs on
SQLite and on the suite's real PostgreSQL server (``store_url``).
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.config import load_settings
from bot.domain import JobKind
from bot.errors import ConfigError, StorageError
from bot.retention import Sweeper, SweepReport
from bot.schema import images, job_images
from bot.storage import Store

pytestmark = pytest.mark.timeout(30)

DAY = timedelta(days=1)
TOKEN = "aW50ZXJhY3Rpb24.secret-token"
POSTED = {"state": "posted", "channel_id": "2", "message_id": "900"}


@pytest.fixture
async def store(store_url, tmp_path):
    async with await Store.open(store_url, tmp_path / "data") as store:
        yield store


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def discord_origin(**extra):
    """The shape of cogs.links.interaction_origin."""
    return {
        "guild_id": "1",
        "channel_id": "2",
        "user_id": "42",
        "private": False,
        "upload_limit": 10 * 2**20,
        "interaction": {"app_id": "77", "token": TOKEN, "created_at": 1.7e9},
        **extra,
    }


async def finished_job(store, *, inputs=(), outputs=(), delivery=POSTED, origin=None, **kwargs):
    """A job that ran and whose result was posted (unless ``delivery`` says otherwise)."""
    job = await store.create_job(
        kind=JobKind.IMAGINE,
        prompt="a fox",
        params={"model": "m"},
        user_id="42",
        origin=discord_origin() if origin is None else origin,
        input_images=inputs,
        **kwargs,
    )
    await store.start_job(job.id, "w")
    await store.finish_job(job.id, result_images=outputs, result_text=None, cost=None)
    if delivery:
        await store.set_delivery(job.id, delivery)
    return job


async def picture(store, name: str) -> str:
    return (await store.put_image(f"picture {name}".encode(), "image/png")).sha256


async def links_of(store, job_id: int) -> list:
    async with store._engine.connect() as conn:
        stmt = sa.select(job_images.c.sha256).where(job_images.c.job_id == job_id)
        return list(await conn.scalars(stmt))


async def image_rows(store) -> set[str]:
    async with store._engine.connect() as conn:
        return set(await conn.scalars(sa.select(images.c.sha256)))


def keeping(store, days: int = 30, **kwargs) -> Sweeper:
    return Sweeper(store, keep_jobs_days=days, keep_images_days=days, **kwargs)


# -- jobs --------------------------------------------------------------------------------------
async def test_an_old_finished_job_goes_with_its_images(store, caplog):
    source, result = await picture(store, "in"), await picture(store, "out")
    job = await finished_job(store, inputs=[source], outputs=[result])

    assert await keeping(store).sweep(now=later(days=29)) == SweepReport(tokens=1)
    assert await store.get_job(job.id) is not None
    with caplog.at_level(logging.INFO, logger="bot.retention"):
        report = await keeping(store).sweep(now=later(days=31))

    assert report == SweepReport(jobs=1, images=2, tokens=0)
    assert await store.get_job(job.id) is None
    assert await links_of(store, job.id) == [] and await image_rows(store) == set()
    assert not store.image_path(source).exists() and not store.image_path(result).exists()
    assert "sweep: 1 job(s), 2 image(s) deleted, 0 token(s) dropped" in caplog.text


async def test_a_job_in_a_conversation_is_kept_with_its_images(store):
    image = await picture(store, "turn")
    job = await finished_job(store, outputs=[image])
    session = await store.create_session(
        thread_id="555", channel_id="2", guild_id="1", owner_id="42", model="m", family="chat"
    )
    await store.add_turn(session.id, role="user", text="a fox", images=[], job_id=job.id)

    report = await keeping(store, days=1).sweep(now=later(days=3650))
    assert (report.jobs, report.images) == (0, 0)
    assert (await store.get_job(job.id)).result_images == (image,)
    assert await store.get_image(image)


async def test_a_job_not_yet_posted_is_kept(store):
    never = await finished_job(store, delivery=None)
    posting = await finished_job(store, delivery={"state": "posting", "at": 1.0})
    failed = await finished_job(store, delivery={"state": "failed", "reason": "no access"})
    cli = await finished_job(store, delivery=None, origin={"cli": True})
    draft = await store.create_job(
        kind=JobKind.EDIT, prompt="p", params={}, user_id="42", origin=discord_origin()
    )
    await store.cancel_job(draft.id)  # a preview nobody started: nothing will ever post it

    report = await keeping(store).sweep(now=later(days=31))
    assert report.jobs == 3
    assert [await store.get_job(j.id) is None for j in (never, posting, failed, cli, draft)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    await store.set_delivery(posting.id, POSTED, only_if_unset=False)
    assert (await keeping(store).sweep(now=later(days=31))).jobs == 1
    assert await store.get_job(posting.id) is None


async def test_a_job_still_queued_or_running_is_kept(store):
    queued = await store.create_job(
        kind=JobKind.IMAGINE, prompt="p", params={}, user_id="42", origin={}
    )
    running = await store.create_job(
        kind=JobKind.IMAGINE, prompt="p", params={}, user_id="42", origin={}
    )
    await store.start_job(running.id, "w")
    assert (await keeping(store).sweep(now=later(days=365))).jobs == 0
    assert await store.get_job(queued.id) and await store.get_job(running.id)


async def test_a_parent_goes_after_its_children_in_batches(store):
    parent = await finished_job(store)
    child = await finished_job(store, parent_job_id=parent.id)
    grandchild = await finished_job(store, parent_job_id=child.id)
    others = [await finished_job(store) for _ in range(3)]

    report = await keeping(store, batch=2).sweep(now=later(days=31))
    assert report.jobs == 6
    for job in (parent, child, grandchild, *others):
        assert await store.get_job(job.id) is None


async def test_a_sweep_stops_after_max_batches_and_the_next_goes_on(store):
    for _ in range(5):
        await finished_job(store)
    sweeper = keeping(store, batch=2, max_batches=2)
    assert (await sweeper.sweep(now=later(days=31))).jobs == 4
    assert (await sweeper.sweep(now=later(days=31))).jobs == 1


# -- images ------------------------------------------------------------------------------------
async def test_an_image_a_turn_refers_to_is_kept_whatever_its_age(store):
    image = await picture(store, "kept")
    session = await store.create_session(
        thread_id=None, channel_id="2", guild_id="1", owner_id="42", model="m", family="chat"
    )
    await store.add_turn(session.id, role="assistant", text=None, images=[image])
    assert (await keeping(store, days=1).sweep(now=later(days=36500))).images == 0
    assert await store.get_image(image) == b"picture kept"


async def test_an_orphan_image_goes_file_and_row_once_old_enough(store):
    orphan = await picture(store, "orphan")
    path = store.image_path(orphan)
    assert (await keeping(store).sweep(now=later(days=29))).images == 0
    assert path.exists()

    assert (await keeping(store).sweep(now=later(days=31))).images == 1
    assert orphan not in await image_rows(store) and not path.exists()
    assert await store.image_info(orphan) is None
    # Storing the same bytes again brings it back whole.
    assert (await store.put_image(b"picture orphan", "image/png")).sha256 == orphan
    assert await store.get_image(orphan) == b"picture orphan"


# -- tokens ------------------------------------------------------------------------------------
async def test_tokens_are_dropped_after_15_minutes_and_the_rest_of_the_origin_kept(store):
    job = await finished_job(store, delivery=None, origin=discord_origin(reply_to="31"))
    sweeper = Sweeper(store)

    assert (await sweeper.sweep(now=later(minutes=14))).tokens == 0
    assert (await store.get_job(job.id)).origin["interaction"]["token"] == TOKEN

    assert (await sweeper.sweep(now=later(minutes=16))).tokens == 1
    origin = (await store.get_job(job.id)).origin
    expected = discord_origin(reply_to="31")
    del expected["interaction"]["token"]
    assert origin == expected
    assert (await sweeper.sweep(now=later(minutes=30))).tokens == 0
    assert (await Sweeper(store).sweep(now=later(minutes=30))).tokens == 0  # after a restart


async def test_tokens_of_jobs_made_after_a_sweep_are_dropped_by_a_later_one(store):
    sweeper = Sweeper(store, batch=2)
    first = [await finished_job(store) for _ in range(3)]
    assert (await sweeper.sweep(now=later(minutes=16))).tokens == 3
    second = [await finished_job(store) for _ in range(3)]
    assert (await sweeper.sweep(now=later(minutes=16))).tokens == 3
    for job in first + second:
        assert "token" not in (await store.get_job(job.id)).origin["interaction"]


async def test_with_keeping_off_nothing_is_deleted_but_tokens_are_dropped(store):
    orphan = await picture(store, "orphan")
    job = await finished_job(store, outputs=[await picture(store, "out")])
    report = await Sweeper.from_settings(store, load_settings()).sweep(now=later(days=36500))
    assert report == SweepReport(jobs=0, images=0, tokens=1)
    assert await store.get_job(job.id) is not None
    assert orphan in await image_rows(store) and store.image_path(orphan).exists()


# -- running -----------------------------------------------------------------------------------
async def test_run_forever_survives_a_failing_sweep_and_stops_when_cancelled(store, caplog):
    sweeper = Sweeper(store)
    calls: list[int] = []
    third = asyncio.Event()

    async def sweep(now=None):
        calls.append(len(calls))
        if len(calls) == 1:
            raise StorageError(detail="database went away")
        if len(calls) == 3:
            third.set()
        return SweepReport()

    sweeper.sweep = sweep
    task = asyncio.create_task(sweeper.run_forever(0.01))
    await asyncio.wait_for(third.wait(), timeout=5)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert "sweep failed" in caplog.text


# -- settings ----------------------------------------------------------------------------------
def test_retention_settings_default_to_keeping_forever(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("KEEP_JOBS_DAYS", "KEEP_IMAGES_DAYS", "SWEEP_EVERY_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.keep_jobs_days, settings.keep_images_days) == (0, 0)
    assert settings.sweep_every_minutes == 60

    monkeypatch.setenv("KEEP_JOBS_DAYS", "30")
    monkeypatch.setenv("KEEP_IMAGES_DAYS", "")  # empty is unset
    assert (load_settings().keep_jobs_days, load_settings().keep_images_days) == (30, 0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEEP_JOBS_DAYS", "-1"),
        ("KEEP_IMAGES_DAYS", "100000"),
        ("SWEEP_EVERY_MINUTES", "0"),
        ("SWEEP_EVERY_MINUTES", "hourly"),
    ],
)
def test_retention_settings_are_checked(monkeypatch, tmp_path, name, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name} is invalid"):
        load_settings()
