"""Faults injected on loopback: whatever breaks between the router's answer and Discord, the user
ends with exactly one result or one error message, the router is asked at most once more than
needed, and nothing is lost."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.domain import JobKind, JobStatus
from bot.errors import StorageError
from tests.e2e.conftest import outcome
from tests.e2e.test_imagine import GEMINI, button
from tests.fakes.router import Fault

pytestmark = pytest.mark.timeout(120)


def bot_messages(fake, channel):
    return [m for m in fake.messages(channel) if m.author.id == fake.bot_user.id]


async def posted(easel, job_id: int) -> None:
    """Wait (bounded) until the store records the job's outcome as posted."""
    async with asyncio.timeout(10):
        while ((await easel.store.get_job(job_id)).delivery or {}).get("state") != "posted":
            await asyncio.sleep(0.05)


def generations(router):
    return [r for r in router.requests if r.path.endswith("/images/generations")]


async def test_a_result_over_the_input_pixel_cap_is_still_posted(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="oversize"))  # a valid 8000×7000 PNG: 56 megapixels
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "big"}))
    assert message.attachments, message.embeds
    with Image.open(io.BytesIO(message.attachments[0].data)) as posted:
        assert posted.size == (8000, 7000)  # flat colour: it fits 10 MiB as it is
    assert len(message.attachments[0].data) <= 10 * 1024 * 1024


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
async def test_a_stored_result_that_is_gone_is_explained_with_retry(easel, world, router, damage):
    fake, _guild, channel, alice, _bob = world
    first = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "owl"}))
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    path = easel.store.image_path(job.result_images[0])
    await easel.stop()
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(b"\0" * path.stat().st_size)  # same length, wrong bytes
    await easel.start()
    await easel.store.set_delivery(job.id, {}, only_if_unset=False)  # as if a crash came first
    await easel.restart()
    await easel.idle()
    await fake.world.wait_until(
        lambda: "can't show it" in str(fake.message(first.id).embeds), 30, "the explanation"
    )
    shown = fake.message(first.id)
    assert "owl" in str(shown.embeds)  # the prompt is shown back
    assert button(shown, "retry")
    await posted(easel, job.id)


async def test_disk_full_after_the_router_answered_fails_the_job_once(
    easel, world, router, monkeypatch
):
    fake, _guild, channel, alice, _bob = world

    async def disk_full(*args, **kwargs):
        raise StorageError("The bot's disk is full.")

    monkeypatch.setattr(type(easel.store), "_ensure", disk_full)  # writing an image file
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "fox"}))
    assert "couldn't keep it" in str(message.embeds) and "fox" in str(message.embeds)
    assert button(message, "retry")
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.FAILED))[-1]
    assert job.error_code == "storage"
    assert not await easel.store.jobs_with_status(JobStatus.RUNNING)
    monkeypatch.undo()
    paid = len(generations(router))
    await easel.restart()
    await easel.idle()
    assert len(generations(router)) == paid  # not run (and billed) again at the next start


async def test_a_discord_outage_longer_than_its_retries_still_delivers_once(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=0.5))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "storm"})
    await handle.wait_ack(3)
    fake.outage(30)  # every REST call, longer than discord.py's own ~25 s of 5xx retries
    message = await outcome(fake, handle, timeout=100)
    assert message.attachments and "storm" in message.embeds[0]["description"]
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    await posted(easel, job.id)
    assert len(generations(router)) == 1
    results = [m for m in bot_messages(fake, channel) if m.attachments]
    assert len(results) == 1


async def test_restart_after_a_thousand_finished_jobs_posts_the_newest_unposted(
    easel, world, router
):
    fake, _guild, channel, alice, _bob = world
    store = easel.store
    origin = {"channel_id": str(channel.id), "guild_id": str(channel.guild_id)}
    for index in range(1001):
        old = await store.create_job(
            kind=JobKind.IMAGINE,
            prompt=f"old {index}",
            params={"model": "azure/openai/gpt-image-1"},
            user_id=str(alice.id),
            origin=origin,
        )
        await store.start_job(old.id, "w")
        await store.fail_job(old.id, error_code="x", error_message="old")
        await store.set_delivery(old.id, {"state": "posted"})
    # The newest job finished, and then the process died before posting it.
    lost = await store.create_job(
        kind=JobKind.IMAGINE,
        prompt="the one that was lost",
        params={"model": "azure/openai/gpt-image-1"},
        user_id=str(alice.id),
        origin=origin,
    )
    await store.start_job(lost.id, "w")
    await store.fail_job(lost.id, error_code="x", error_message="Kept for you.")
    await easel.restart()
    await fake.world.wait_until(
        lambda: any("the one that was lost" in str(m.embeds) for m in bot_messages(fake, channel)),
        30,
        "the lost job posted",
    )
    await posted(easel, lost.id)


async def test_one_user_cannot_queue_without_limit(easel, world, router):
    fake, _guild, channel, alice, bob = world
    router.add_fault(Fault(kind="latency", seconds=2.0, times=10))
    handles = [
        await fake.slash(alice, channel, "imagine", {"prompt": f"cat {i}"}) for i in range(5)
    ]
    for handle in handles:
        await handle.wait_ack(3)
    await fake.world.wait_until(
        lambda: len(easel.bot.queue.positions()) + len(easel.bot.queue.running()) >= 5,
        10,
        "five jobs queued",
    )
    refused = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "cat 6"}))
    assert "You already have 5 images waiting" in refused.embeds[0]["description"]
    assert "cat 6" in str(refused.embeds) and button(refused, "retry")  # the prompt is kept
    other = await fake.slash(bob, channel, "imagine", {"prompt": "dog"})  # others aren't held up
    assert (await outcome(fake, other, timeout=60)).attachments


async def test_full_resolution_when_the_original_is_gone_says_so(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="huge", endpoint="chat"))  # a 4K PNG over 10 MiB: re-encoded
    options = {"prompt": "big", "model": GEMINI, "aspect": "16:9", "resolution": "4K"}
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", options), timeout=60)
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    easel.store.image_path(job.result_images[0]).unlink()
    click = await fake.click(alice, message, button(message, "full"))
    await click.wait_followups(1, timeout=10)
    answer = str([(m.content, m.embeds) for m in click.messages()])
    assert "Couldn't finish that" in answer and "missing" in answer  # not "thinking…" forever
