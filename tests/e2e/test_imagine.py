"""/imagine through the real discord.py client, the fake Discord and the fake router."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import JobStatus
from tests.e2e.conftest import outcome

pytestmark = pytest.mark.timeout(90)


async def test_imagine_images_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a red fox", "count": 2})
    assert await handle.wait_ack(3) == 5  # deferred within Discord's 3 s
    message = await outcome(fake, handle)
    assert len(message.attachments) == 2
    for attachment in message.attachments:
        assert attachment.description and "a red fox" in attachment.description  # alt text
        with Image.open(io.BytesIO(attachment.data)) as im:
            assert im.format == "PNG" and im.size == (1024, 1024)
    embed = message.embeds[0]
    assert "a red fox" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Model"] == "GPT Image 1 (Azure)" and fields["Cost"].startswith("$")
    assert any(cid.startswith("easel:retry:") for cid in message.custom_ids())
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.prompt == "a red fox" and job.delivery["state"] == "posted"
