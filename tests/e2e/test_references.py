"""/imagine with reference images and a transparent background, and /blend, through the real
discord.py client, the fake Discord and the fake router: the exact images each model is sent."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import JobKind, JobStatus
from tests.e2e.conftest import outcome

pytestmark = pytest.mark.timeout(120)

GEMINI = "vertex/google/gemini-3-pro-image-preview"


def png(width: int, height: int, colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def uploads(body) -> list[dict]:
    parts = body["image[]"]
    return parts if isinstance(parts, list) else [parts]


def image_parts(body) -> list[dict]:
    content = body["messages"][-1]["content"]
    return [p for p in content if p["type"] == "image_url"]


async def ready(world) -> None:
    await world[0].wait_for_commands(["imagine", "blend"])


async def test_imagine_with_references_on_an_images_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await ready(world)
    options = {
        "prompt": "a cat in this style",
        "reference": ("style.png", png(64, 48, "red")),
        "reference2": ("cat.png", png(40, 40, "blue")),
    }
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", options))
    assert message.attachments, message.embeds
    request = router.requests[-1]
    assert request.path.endswith("/images/edits")
    sizes = [(p["width"], p["height"]) for p in uploads(request.body)]
    assert sizes == [(64, 48), (40, 40)] and request.body["prompt"] == "a cat in this style"
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.kind is JobKind.EDIT and len(job.input_images) == 2


async def test_imagine_with_references_on_a_chat_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await ready(world)
    options = {
        "prompt": "combine",
        "model": GEMINI,
        "reference": ("a.png", png(32, 32, "red")),
        "reference2": ("b.png", png(32, 32, "green")),
        "reference3": ("c.png", png(32, 32, "blue")),
    }
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", options))
    assert message.attachments
    request = router.requests[-1]
    assert request.path.endswith("/chat/completions")
    assert len(image_parts(request.body)) == 3


async def test_a_reference_that_is_not_an_image_is_named(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await ready(world)
    options = {"prompt": "keep me", "reference": ("notes.txt", b"just words")}
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", options))
    embed = message.embeds[0]
    assert embed["title"] == "Couldn't finish that" and "keep me" in str(embed)
    assert not [r for r in router.requests if "/images/" in r.path]


async def test_transparent_background(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    options = {"prompt": "a sticker of a fox", "background": "transparent"}
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", options))
    body = router.requests[-1].body
    assert body["background"] == "transparent" and body["output_format"] == "png"
    with Image.open(io.BytesIO(message.attachments[0].data)) as im:
        assert im.mode == "RGBA" and im.getextrema()[3][0] == 0


async def test_blend_two_to_five_images(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await ready(world)
    options = {
        "image1": ("a.png", png(64, 64, "red")),
        "image2": ("b.png", png(64, 64, "blue")),
        "image3": ("c.png", png(48, 64, "green")),
        "prompt": "as a watercolour",
    }
    message = await outcome(fake, await fake.slash(alice, channel, "blend", options))
    assert message.attachments, message.embeds
    request = router.requests[-1]
    assert request.path.endswith("/images/edits") and len(uploads(request.body)) == 3
    assert request.body["prompt"].startswith("Blend these images")
    assert request.body["prompt"].endswith("as a watercolour")
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.origin["action"] == "blend" and len(job.input_images) == 3
    # After a restart the result still goes on: its More… select zooms out the blend.
    await easel.restart()
    more = next(c for c in message.custom_ids() if c.startswith("easel:more:"))
    result = await outcome(fake, await fake.select(alice, message, more, ["zoom15"]), timeout=60)
    assert result.attachments
    assert router.requests[-1].body["mask"]["width"] == 1536


async def test_blend_on_a_chat_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await ready(world)
    options = {
        "image1": ("a.png", png(32, 32, "red")),
        "image2": ("b.png", png(32, 32, "blue")),
        "model": GEMINI,
    }
    message = await outcome(fake, await fake.slash(alice, channel, "blend", options))
    assert message.attachments
    assert len(image_parts(router.requests[-1].body)) == 2
