"""/describe through the real discord.py client, the fake Discord and the fake router: the
words-only chat request, the four prompts posted with a button each, and a button running
/imagine on its prompt after a restart."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import JobKind, JobStatus
from tests.e2e.conftest import outcome

pytestmark = pytest.mark.timeout(120)

DESCRIBE_MODEL = "vertex/google/gemini-2.5-flash-image-preview"


def png(width: int, height: int, colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_describe_then_imagine_a_prompt_after_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["describe"])
    handle = await fake.slash(
        alice, channel, "describe", {"image": ("red.png", png(64, 48, "red"))}
    )
    message = await outcome(fake, handle)
    request = router.requests[-1]
    assert request.path.endswith("/chat/completions")
    assert request.body["model"] == DESCRIBE_MODEL and request.body["modalities"] == ["text"]
    parts = request.body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    description = message.embeds[0]["description"]
    assert "**1.** a photograph of a scene in #ff0000, 64x48" in description
    assert "**4.** a 3D render" in description and not message.attachments
    prompts = [c for c in message.custom_ids() if c.startswith("easel:prompt")]
    assert [p.split(":")[1] for p in prompts] == ["prompta", "promptb", "promptc", "promptd"]
    await easel.idle()
    await easel.restart()
    click = await fake.click(alice, message, prompts[2])
    result = await outcome(fake, click)
    body = router.requests[-1].body
    assert router.requests[-1].path.endswith("/images/generations")
    assert body["prompt"] == "a pencil sketch of a scene in #ff0000, 64x48"
    assert result.attachments
    await easel.idle()
    done = await easel.store.jobs_with_status(JobStatus.DONE)
    described = next(j for j in done if j.kind is JobKind.DESCRIBE)
    assert done[-1].parent_job_id == described.id


async def test_describe_a_file_that_is_not_an_image(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["describe"])
    handle = await fake.slash(alice, channel, "describe", {"image": ("a.txt", b"hello")})
    message = await outcome(fake, handle)
    assert message.embeds[0]["title"] == "Couldn't finish that"
    assert not [r for r in router.requests if r.method == "POST"]
