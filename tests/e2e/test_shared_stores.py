"""Two processes on different machines share one PostgreSQL and one S3 bucket: a result made
by one is read back whole by the other, and its Retry button works there.
"""

from __future__ import annotations

import hashlib

import pytest

from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.e2e.test_imagine import button

pytestmark = pytest.mark.timeout(90)


async def test_a_process_elsewhere_serves_a_result_from_the_shared_stores(
    pg_url, image_store, easel, world, tmp_path
):
    fake, _guild, channel, alice, _bob = world
    where, endpoint = image_store
    shared = {"database_url": pg_url, "image_store": where, "s3_endpoint_url": endpoint}
    await easel.restart(**shared)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a red fox"})
    message = await outcome(fake, handle)
    await easel.idle()
    [job] = await easel.store.jobs_with_status(JobStatus.DONE)
    assert not any((tmp_path / "data" / "images").rglob("*"))  # nothing on this machine's disk

    easel.data_dir = tmp_path / "elsewhere"  # another machine: its own disk, the same stores
    await easel.restart(**shared)
    original = await easel.store.get_image(job.result_images[0])  # hash and size checked
    assert hashlib.sha256(original).hexdigest() == job.result_images[0]
    assert original == message.attachments[0].data
    again = await fake.click(alice, message, button(message, "retry"))  # the job, from PG
    retried = await outcome(fake, again)
    assert retried.attachments and "a red fox" in retried.embeds[0]["description"]
