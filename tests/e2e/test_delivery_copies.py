"""One copy of a result's bytes: a fresh result is posted from the images its run holds, not
read back from the store; after a restart (nothing held) it is read back, as before."""

from __future__ import annotations

import pytest

from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.e2e.test_faults import posted

pytestmark = pytest.mark.timeout(90)


async def test_a_fresh_result_is_posted_from_memory_a_resumed_one_from_the_store(
    easel, world, monkeypatch
):
    fake, _guild, channel, alice, _bob = world
    store_class = type(easel.store)
    read: list[str] = []
    get_image = store_class.get_image

    async def noted(self, sha256):  # the real read, noted
        read.append(sha256)
        return await get_image(self, sha256)

    monkeypatch.setattr(store_class, "get_image", noted)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "two foxes", "count": 2})
    message = await outcome(fake, handle)
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert len(job.result_images) == 2 and len(message.attachments) == 2
    stored = [await get_image(easel.store, sha256) for sha256 in job.result_images]
    assert [a.data for a in message.attachments] == stored  # small PNGs: posted as they are
    assert read == []  # nothing was read back to post them
    assert easel.bot.queue.memory.used == 0  # and the memory they held is free again

    await easel.store.set_delivery(job.id, {}, only_if_unset=False)  # as if a crash came first
    await easel.restart()
    await posted(easel, job.id)
    assert read == list(job.result_images)  # nothing in memory after a restart: read back
