"""Edits through the real discord.py client, the fake Discord and the fake router: reply to edit,
Apps → Edit image with masks and regions, input limits, bad files and expired CDN links."""

from __future__ import annotations

import asyncio
import hashlib
import io

import pytest
from PIL import Image

from bot import masks
from bot.domain import JobKind, JobStatus
from tests.e2e.conftest import outcome
from tests.fakes.discord.permissions import Perm

pytestmark = pytest.mark.timeout(120)

GEMINI = "vertex/google/gemini-3-pro-image-preview"
COMMANDS = ["imagine", "Edit image", "easel-settings"]


def png(width: int = 64, height: int = 48, colour: str = "red", mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def edits_to(router):
    return [r for r in router.requests if r.path.endswith("/images/edits")]


def inputs_of(request) -> list[dict]:
    parts = request.body["image[]"]
    return parts if isinstance(parts, list) else [parts]


def footer(message) -> str:
    return (message.embeds[0].get("footer") or {}).get("text", "")


def fields_of(message) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def button(message, action: str) -> str:
    ids = [c for c in message.custom_ids() if c.startswith(f"easel:{action}:")]
    assert ids, f"no {action} button on the message: {message.custom_ids()}"
    return ids[0]


@pytest.fixture
async def ready(easel, world):
    await world[0].wait_for_commands(COMMANDS)
    return easel


async def answer_to(fake, mine, timeout: float = 30):
    """The bot's reply to ``mine`` once it shows a result or an error, not progress."""
    channel = fake.world.channels[mine.channel_id]

    def done():
        for m in fake.messages(channel):
            mine_answer = m.author.id == fake.bot_user.id and m.referenced_id == mine.id
            progress = any(mark in m.content for mark in ("⏳", "🎨"))
            if mine_answer and (m.embeds or not progress):
                return m
        return None

    return await fake.world.wait_until(done, timeout, "the bot's answer to the reply")


async def silence(fake, channel, after, seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)
    bots = [
        m for m in fake.messages(channel) if m.id > after.id and m.author.id == fake.bot_user.id
    ]
    assert not bots, f"the bot answered: {[m.content for m in bots]}"


# -- reply to edit ------------------------------------------------------------------------------


async def test_reply_with_mention_edits_an_upload(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    photo = png()
    post = await fake.post_message(alice, channel, "my cat", attachments=[("cat.png", photo)])
    mine = await fake.post_message(alice, channel, "make it blue", reply_to=post, mention_bot=True)
    result = await answer_to(fake, mine)
    assert result.attachments and "make it blue" in result.embeds[0]["description"]
    request = edits_to(router)[-1]
    assert request.body["prompt"] == "make it blue"
    assert [p["sha256"] for p in inputs_of(request)] == [sha(photo)]
    for action in ("retry", "remix", "delete", "editimage", "source"):
        button(result, action)
    await ready.idle()
    job = (await ready.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.kind is JobKind.EDIT and job.user_id == str(alice.id)
    assert job.origin["source_message"] == str(post.id)
    assert job.origin["source_channel"] == str(channel.id)


async def test_reply_to_another_users_message_with_mask_attachment(ready, world, router):
    fake, _guild, channel, alice, bob = world
    photo, extra = png(colour="green"), png(colour="yellow")
    post = await fake.post_message(bob, channel, "bob's photo", attachments=[("p.png", photo)])
    mask = png(64, 48, "white", "L")
    mine = await fake.post_message(
        alice,
        channel,
        "put a hat on it",
        reply_to=post,
        mention_bot=True,
        attachments=[("hat.png", extra), ("mask.png", mask)],
    )
    result = await answer_to(fake, mine)
    assert result.attachments, result.embeds
    request = edits_to(router)[-1]
    assert [p["sha256"] for p in inputs_of(request)] == [sha(photo), sha(extra)]
    assert request.body["mask"]["width"] == 64 and request.body["mask"]["height"] == 48
    await ready.idle()
    job = (await ready.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.user_id == str(alice.id) and job.mask_image is not None


async def test_reply_to_an_embed_image(ready, world, router):
    fake, _guild, channel, alice, bob = world
    photo = png(colour="purple")
    hidden = await fake.post_message(bob, channel, "source", attachments=[("orig.png", photo)])
    url = fake.world.cdn.url(hidden.attachments[0])
    post = await fake.post_message(bob, channel, "look", embeds=[{"image": {"url": url}}])
    mine = await fake.post_message(alice, channel, "add stars", reply_to=post, mention_bot=True)
    result = await answer_to(fake, mine)
    assert result.attachments, result.embeds
    assert [p["sha256"] for p in inputs_of(edits_to(router)[-1])] == [sha(photo)]


async def test_reply_to_an_easel_result_needs_no_mention_and_keeps_lineage(ready, world, router):
    fake, _guild, channel, alice, bob = world
    first = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox"}))
    mine = await fake.post_message(bob, channel, "make it night", reply_to=first)
    result = await answer_to(fake, mine)
    assert result.attachments and "make it night" in result.embeds[0]["description"]
    await ready.idle()
    done = await ready.store.jobs_with_status(JobStatus.DONE)
    imagine, edit = done[0], done[-1]
    assert edit.parent_job_id == imagine.id and imagine.kind is JobKind.IMAGINE
    source = await fake.click(alice, result, button(result, "source"))
    await source.wait_ack(3)
    text = str(source.responses[-1])
    assert "make it night" in text and "a fox" in text and f"job {imagine.id}" in text
    assert source.ephemeral


async def test_reply_needs_a_mention_unless_the_channel_says_all(ready, world, router):
    fake, guild, channel, alice, bob = world
    post = await fake.post_message(alice, channel, "pic", attachments=[("a.png", png())])
    quiet = await fake.post_message(bob, channel, "nice colours", reply_to=post)
    await silence(fake, channel, quiet)
    refused = await fake.slash(alice, channel, "easel-settings", {"replies": "all"})
    await refused.wait_ack(3)
    assert "Manage Channels" in str(refused.responses[-1])
    mods = fake.create_role(guild, "mods", Perm.MANAGE_CHANNELS)
    carol = fake.create_user("carol", guild=guild, roles=(mods,))
    allowed = await fake.slash(carol, channel, "easel-settings", {"replies": "all"})
    await allowed.wait_ack(3)
    assert "Every reply" in str(allowed.responses[-1])
    loud = await fake.post_message(bob, channel, "make it snow", reply_to=post)
    result = await answer_to(fake, loud)
    assert result.attachments and "make it snow" in result.embeds[0]["description"]


async def test_reply_to_a_message_without_image_or_instruction(ready, world, router):
    fake, _guild, channel, alice, bob = world
    text_only = await fake.post_message(alice, channel, "hello all")
    mine = await fake.post_message(
        bob, channel, "make it blue", reply_to=text_only, mention_bot=True
    )
    answer = await answer_to(fake, mine)
    embed = answer.embeds[0]
    assert "no image" in embed["description"]
    assert fields_of(answer)["Your prompt was"] == "make it blue"
    post = await fake.post_message(alice, channel, "pic", attachments=[("a.png", png())])
    empty = await fake.post_message(bob, channel, "", reply_to=post, mention_bot=True)
    answer = await answer_to(fake, empty)
    assert "Tell me what to change" in answer.content
    assert not edits_to(router)


async def test_reply_to_a_forwarded_image(ready, world, router):
    fake, _guild, channel, alice, bob = world
    photo = png(colour="teal")
    post = await fake.post_message(alice, channel, "mine", attachments=[("teal.png", photo)])
    forward = await fake.forward(bob, post, channel)
    await silence(fake, channel, forward)  # a forward is not a reply: it asks for nothing
    mine = await fake.post_message(alice, channel, "add a moon", reply_to=forward, mention_bot=True)
    result = await answer_to(fake, mine)
    assert result.attachments and "add a moon" in result.embeds[0]["description"]
    [request] = edits_to(router)
    assert request.body["prompt"] == "add a moon"
    assert [p["sha256"] for p in inputs_of(request)] == [sha(photo)]
    await ready.idle()
    [job] = await ready.store.jobs_with_status(JobStatus.DONE)
    assert job.kind is JobKind.EDIT and job.origin["source_message"] == str(forward.id)


async def test_forwarding_an_easel_result_is_not_a_request(ready, world, router):
    fake, _guild, channel, alice, bob = world
    first = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "an owl"}))
    forward = await fake.forward(bob, first, channel)
    await silence(fake, channel, forward)
    assert not edits_to(router)


# -- Apps → Edit image ------------------------------------------------------------------------


async def open_and_submit(fake, user, message, values, files=None):
    opened = await fake.message_command(user, message, "Edit image")
    modal = await opened.wait_modal()
    assert modal["title"] == "Edit image"
    return await fake.submit_modal(user, opened, values, files=files or {})


async def test_context_menu_with_typed_instruction_and_uploaded_mask(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    photo = png(80, 60)
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", photo)])
    mask = png(40, 30, "white", "L")  # half size, same shape: scaled to fit
    handle = await open_and_submit(
        fake, alice, post, {"instruction": "a red door"}, {"mask": [("door-mask.png", mask)]}
    )
    result = await outcome(fake, handle)
    assert result.attachments and "a red door" in result.embeds[0]["description"]
    request = edits_to(router)[-1]
    assert request.body["prompt"] == "a red door"
    assert (request.body["mask"]["width"], request.body["mask"]["height"]) == (80, 60)
    await ready.idle()
    job = (await ready.store.jobs_with_status(JobStatus.DONE))[-1]
    stored = await ready.store.get_image(job.mask_image)
    assert sha(stored) == request.body["mask"]["sha256"]
    with Image.open(io.BytesIO(stored)) as im:
        assert im.getchannel("A").getextrema() == (0, 0)  # all white: edit everywhere


async def test_context_menu_on_a_forwarded_message(ready, world, router):
    fake, guild, channel, alice, bob = world
    elsewhere = fake.create_channel(guild, "elsewhere")
    photo = png(72, 40, "navy")
    post = await fake.post_message(bob, elsewhere, "src", attachments=[("navy.png", photo)])
    forward = await fake.forward(bob, post, channel)
    handle = await open_and_submit(fake, alice, forward, {"instruction": "stars"})
    result = await outcome(fake, handle)
    assert result.attachments and "stars" in result.embeds[0]["description"]
    [request] = edits_to(router)
    assert [p["sha256"] for p in inputs_of(request)] == [sha(photo)]


REGION_PROBES = {  # (point inside the edit area, point kept) on an 80x60 image
    "left": ((10, 30), (70, 30)),
    "right": ((70, 30), (10, 30)),
    "top": ((40, 5), (40, 55)),
    "bottom": ((40, 55), (40, 5)),
    "center": ((40, 30), (2, 2)),
    "border": ((2, 2), (40, 30)),
}


async def test_context_menu_region_presets_build_the_mask(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", png(80, 60))])
    for preset, (edited, kept) in REGION_PROBES.items():
        handle = await open_and_submit(
            fake, alice, post, {"instruction": f"change the {preset}", "region": [preset]}
        )
        result = await outcome(fake, handle)
        assert result.attachments, (preset, result.embeds)
        request = edits_to(router)[-1]
        await ready.idle()
        job = (await ready.store.jobs_with_status(JobStatus.DONE))[-1]
        stored = await ready.store.get_image(job.mask_image)
        assert sha(stored) == request.body["mask"]["sha256"], preset
        expected = masks.prepare_mask(masks.region_mask((80, 60), preset), (80, 60)).data
        assert stored == expected, preset
        with Image.open(io.BytesIO(stored)) as im:
            alpha = im.getchannel("A")
            assert alpha.getpixel(edited) == 0 and alpha.getpixel(kept) == 255, preset


async def test_preview_first_then_go_ahead(ready, world, router):
    fake, _guild, channel, alice, bob = world
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", png(80, 60))])
    handle = await open_and_submit(
        fake, alice, post, {"instruction": "a moon", "region": ["center"], "preview": ["yes"]}
    )
    preview = await handle.original(30)
    assert handle.ephemeral and preview.attachments[0].filename == "mask-preview.png"
    assert not edits_to(router)  # nothing spent before the user agrees
    refused = await fake.click(bob, preview, button(preview, "maskgo"))
    await refused.wait_ack(3)
    assert "Only the person" in str(refused.responses[-1])
    go = await fake.click(alice, preview, button(preview, "maskgo"))
    result = await outcome(fake, go)
    assert result.attachments and not go.ephemeral
    assert len(edits_to(router)) == 1 and edits_to(router)[0].body["mask"]["width"] == 80
    again = await fake.click(alice, preview, button(preview, "maskgo"))
    await again.wait_ack(3)
    assert "already started" in str(again.responses[-1])


async def test_edit_again_opens_the_modal_on_the_result(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", png())])
    first = await outcome(fake, await open_and_submit(fake, alice, post, {"instruction": "one"}))
    opened = await fake.click(alice, first, button(first, "editimage"))
    await opened.wait_modal()
    second = await outcome(fake, await fake.submit_modal(alice, opened, {"instruction": "two"}))
    assert "two" in second.embeds[0]["description"]
    await ready.idle()
    done = await ready.store.jobs_with_status(JobStatus.DONE)
    assert done[-1].parent_job_id == done[-2].id
    chain = await ready.store.job_lineage(done[-1].id)
    assert [j.prompt for j in chain] == ["two", "one"]


async def test_chat_model_gets_image_url_parts(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    photo = png()
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", photo)])
    handle = await open_and_submit(
        fake, alice, post, {"instruction": "watercolour", "model": [GEMINI]}
    )
    result = await outcome(fake, handle)
    assert result.attachments, result.embeds
    chat = [r for r in router.requests if r.path.endswith("/chat/completions")][-1]
    content = chat.body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "watercolour"}
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert len(urls) == 1 and urls[0].startswith("data:image/png;base64,")
    assert not edits_to(router)


async def test_model_with_fewer_inputs_says_so(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    files = [(f"{i}.png", png(colour=c)) for i, c in enumerate(("red", "green", "blue", "white"))]
    post = await fake.post_message(alice, channel, "x", attachments=files)
    handle = await open_and_submit(
        fake,
        alice,
        post,
        {"instruction": "merge", "model": ["vertex/google/gemini-2.5-flash-image-preview"]},
    )
    answer = await outcome(fake, handle)
    assert "at most 3 input images; you gave 4" in answer.embeds[0]["description"]
    assert fields_of(answer)["Your prompt was"] == "merge"


# -- input limits and bad files ------------------------------------------------------------------


@pytest.mark.parametrize("count", [16, 17])
async def test_sixteen_inputs_and_one_too_many(ready, world, router, count):
    fake, _guild, channel, alice, _bob = world
    first = [(f"t{i}.png", png(16, 16, (i * 20, 0, 0))) for i in range(10)]
    own = [(f"r{i}.png", png(16, 16, (0, i * 20, 0))) for i in range(count - 10)]
    post = await fake.post_message(alice, channel, "many", attachments=first)
    mine = await fake.post_message(
        alice, channel, "collage", reply_to=post, mention_bot=True, attachments=own
    )
    result = await answer_to(fake, mine, timeout=60)
    assert result.attachments, result.embeds
    sent = inputs_of(edits_to(router)[-1])
    assert len(sent) == 16
    assert [p["sha256"] for p in sent] == [sha(d) for _, d in (first + own)[:16]]
    if count == 17:
        assert "first 16" in footer(result) and "r6.png" in footer(result)
    else:
        assert "first 16" not in footer(result)


async def refused(fake, alice, channel, name: str, data: bytes, text: str = "fix it"):
    post = await fake.post_message(alice, channel, "x", attachments=[(name, data)])
    mine = await fake.post_message(alice, channel, text, reply_to=post, mention_bot=True)
    answer = await answer_to(fake, mine)
    assert answer.embeds and answer.embeds[0]["title"] == "Couldn't finish that"
    assert fields_of(answer)["Your prompt was"] == text
    return answer.embeds[0]["description"]


async def test_corrupt_file(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    message = await refused(fake, alice, channel, "broken.png", png()[:60])
    assert "broken.png" in message and "damaged" in message
    assert not edits_to(router)


async def test_text_file_renamed_png(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    message = await refused(fake, alice, channel, "notes.png", b"just some text\n" * 20)
    assert "notes.png" in message and "isn't an image" in message
    assert not edits_to(router)


async def test_60_mb_image_is_refused_before_download(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    huge = png() + b"\0" * (60 * 1024 * 1024)
    before = fake.world.cdn.downloads
    message = await refused(fake, alice, channel, "huge.png", huge)
    assert "huge.png" in message and "60.0 MB; the limit is 50 MB" in message
    assert fake.world.cdn.downloads == before
    assert not edits_to(router)


async def test_animated_gif_uses_first_frame_and_says_so(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    post = await fake.post_message(alice, channel, "x", attachments=[("dance.gif", animated_gif())])
    mine = await fake.post_message(alice, channel, "freeze", reply_to=post, mention_bot=True)
    result = await answer_to(fake, mine)
    assert result.attachments, result.embeds
    assert "dance.gif is animated; I used its first frame" in footer(result)
    sent = inputs_of(edits_to(router)[-1])
    assert sent[0]["content_type"] == "image/png" and sent[0]["width"] == 32


async def test_expired_cdn_link_is_renewed_by_fetching_the_message(ready, world, router):
    fake, _guild, channel, alice, _bob = world
    photo = png(colour="orange")
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", photo)])
    opened = await fake.message_command(alice, post, "Edit image")
    await opened.wait_modal()
    fake.advance_time(25 * 3600)  # the URLs the modal holds are past their signature
    fetches = len(fake.requests_to(f"/messages/{post.id}", "GET"))
    handle = await fake.submit_modal(alice, opened, {"instruction": "sunset"})
    result = await outcome(fake, handle)
    assert result.attachments, result.embeds
    assert len(fake.requests_to(f"/messages/{post.id}", "GET")) == fetches + 1
    assert [p["sha256"] for p in inputs_of(edits_to(router)[-1])] == [sha(photo)]


async def test_expired_link_in_a_forward_is_renewed_from_the_forward(ready, world, router):
    fake, _guild, channel, alice, bob = world
    photo = png(colour="olive")
    post = await fake.post_message(alice, channel, "x", attachments=[("o.png", photo)])
    forward = await fake.forward(bob, post, channel)
    opened = await fake.message_command(alice, forward, "Edit image")
    await opened.wait_modal()
    fake.advance_time(25 * 3600)
    fetches = len(fake.requests_to(f"/messages/{forward.id}", "GET"))
    handle = await fake.submit_modal(alice, opened, {"instruction": "dusk"})
    result = await outcome(fake, handle)
    assert result.attachments, result.embeds
    assert len(fake.requests_to(f"/messages/{forward.id}", "GET")) == fetches + 1
    assert [p["sha256"] for p in inputs_of(edits_to(router)[-1])] == [sha(photo)]


async def test_expired_embed_link_that_cannot_be_renewed(ready, world, router):
    fake, _guild, channel, alice, bob = world
    hidden = await fake.post_message(bob, channel, "src", attachments=[("o.png", png())])
    url = fake.world.cdn.url(hidden.attachments[0])
    fake.advance_time(25 * 3600)  # the link pasted in the embed is signed once and never renewed
    post = await fake.post_message(bob, channel, "old", embeds=[{"image": {"url": url}}])
    mine = await fake.post_message(alice, channel, "brighter", reply_to=post, mention_bot=True)
    answer = await answer_to(fake, mine)
    assert "expired" in answer.embeds[0]["description"]
    assert fields_of(answer)["Your prompt was"] == "brighter"
