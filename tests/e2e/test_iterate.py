"""Going on from a result (the "More…" select): vary, zoom out, pan, make square, upscale,
through the real discord.py client, the fake Discord and the fake router; each after a restart,
checking the exact router request (canvas and mask sizes) and the posted result."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.domain import JobKind, JobStatus
from tests.e2e.conftest import outcome

pytestmark = pytest.mark.timeout(180)

GEMINI = "vertex/google/gemini-3-pro-image-preview"


def more(message) -> str:
    ids = [c for c in message.custom_ids() if c.startswith("easel:more:")]
    assert ids, f"no More… select on the message: {message.custom_ids()}"
    return ids[0]


def edits_to(router):
    return [r for r in router.requests if r.path.endswith("/images/edits")]


def chats_to(router):
    return [r for r in router.requests if r.path.endswith("/chat/completions")]


def size_of(part) -> tuple[int, int]:
    """The size of one uploaded image (``image[]`` is a list of one)."""
    if isinstance(part, list):
        [part] = part
    return part["width"], part["height"]


def alpha_at(data: bytes, xy: tuple[int, int]) -> int:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGBA").getpixel(xy)[3]


def chat_input(request) -> Image.Image:
    parts = request.body["messages"][-1]["content"]
    url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


async def pick(fake, user, message, action):
    handle = await fake.select(user, message, more(message), [action])
    return await outcome(fake, handle, timeout=60)


# action -> (canvas size, mask size or None, size asked for), on a 1024×1024 result
IMAGES_CASES = {
    "zoom15": ((1536, 1536), "1024x1024"),
    "zoom2": ((2048, 2048), "1024x1024"),
    "panleft": ((1536, 1024), "1536x1024"),
    "panright": ((1536, 1024), "1536x1024"),
    "panup": ((1024, 1536), "1024x1536"),
    "pandown": ((1024, 1536), "1024x1536"),
    "square": ((1024, 1024), "1024x1024"),
}


async def test_outpainting_on_an_images_model_after_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a lighthouse"})
    original = await outcome(fake, handle)
    await easel.idle()
    await easel.restart()  # the select is served from the store, also after a restart
    for action, (canvas, size) in IMAGES_CASES.items():
        result = await pick(fake, alice, original, action)
        request = edits_to(router)[-1]
        body = request.body
        assert size_of(body["image[]"]) == canvas, action
        assert size_of(body["mask"]) == canvas, action
        assert body["size"] == size and body["prompt"] == "a lighthouse"
        assert result.attachments, (action, result.embeds)
        await easel.idle()
    job = await easel.store.get_job(int(more(result).rsplit(":", 1)[1]))
    assert job.kind is JobKind.EDIT and job.parent_job_id is not None
    assert job.origin["action"] == "square"


async def test_zoom_mask_keeps_the_picture_and_opens_the_border(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    original = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox"}))
    await easel.idle()
    await pick(fake, alice, original, "zoom2")
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    mask = await easel.store.get_image(job.mask_image)
    canvas = await easel.store.get_image(job.input_images[0])
    assert alpha_at(mask, (10, 10)) == 0 and alpha_at(mask, (1024, 1024)) == 255
    assert alpha_at(canvas, (10, 10)) == 0 and alpha_at(canvas, (1024, 1024)) == 255
    # Source shows the chain: the zoom, then the /imagine it came from.
    message = await outcome(fake, await fake.select(alice, original, more(original), ["subtle"]))
    await easel.idle()
    click = await fake.click(alice, message, f"easel:source:{_job_of(message)}")
    chain = (await click.original()).content
    assert "Vary (Subtle)" in chain and "↳ from" in chain


def _job_of(message) -> int:
    return int(more(message).rsplit(":", 1)[1])


async def test_pan_square_of_a_landscape_result(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a road", "aspect": "3:2"})
    original = await outcome(fake, handle)
    await easel.idle()
    await easel.restart()
    await pick(fake, alice, original, "square")
    body = edits_to(router)[-1].body
    assert size_of(body["image[]"]) == (1536, 1536) and size_of(body["mask"]) == (1536, 1536)
    await easel.idle()
    await pick(fake, alice, original, "panright")
    body = edits_to(router)[-1].body
    assert size_of(body["image[]"]) == (2304, 1024) and size_of(body["mask"]) == (2304, 1024)


async def test_vary_and_upscale_on_an_images_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    original = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a cat"}))
    await easel.idle()
    await easel.restart()
    for action, fidelity in (("subtle", "high"), ("strong", "low")):
        result = await pick(fake, alice, original, action)
        body = edits_to(router)[-1].body
        assert body["input_fidelity"] == fidelity and "mask" not in body
        assert size_of(body["image[]"]) == (1024, 1024) and body["prompt"] == "a cat"
        assert result.attachments
        await easel.idle()
    result = await pick(fake, alice, original, "upscale")
    body = edits_to(router)[-1].body
    assert body["size"] == "1024x1024" and body["quality"] == "high"
    with Image.open(io.BytesIO(result.attachments[0].data)) as im:
        assert im.size == (2048, 2048)  # the largest size, then resampled 2×
    assert "resampled 2×" in result.content
    await easel.idle()
    retry = next(c for c in result.custom_ids() if c.startswith("easel:retry:"))
    again = await outcome(fake, await fake.click(alice, result, retry), timeout=60)
    with Image.open(io.BytesIO(again.attachments[0].data)) as im:
        assert im.size == (2048, 2048)  # a Retry of an upscale upscales too


async def test_chat_model_gets_the_padded_image_and_an_instruction(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a tree", "model": GEMINI})
    original = await outcome(fake, handle)
    await easel.idle()
    await easel.restart()
    result = await pick(fake, alice, original, "zoom2")
    request = chats_to(router)[-1]
    with chat_input(request) as im:
        assert im.size == (2048, 2048)
        assert im.convert("RGB").getpixel((5, 5)) == (255, 255, 255)  # the border to paint
    text = request.body["messages"][-1]["content"][0]["text"]
    assert "white border" in text and "a tree" in text
    assert request.body["image_config"]["aspect_ratio"] == "1:1"
    assert result.attachments
    await easel.idle()
    await pick(fake, alice, original, "upscale")
    assert chats_to(router)[-1].body["image_config"]["image_size"] == "4K"
    await easel.idle()
    await pick(fake, alice, original, "strong")
    text = chats_to(router)[-1].body["messages"][-1]["content"][0]["text"]
    assert text.startswith("Make a strong variation") and "a tree" in text
