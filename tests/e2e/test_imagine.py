"""/imagine through the real discord.py client, the fake Discord and the fake router."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.fakes.discord.permissions import Perm
from tests.fakes.router import Fault

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


GEMINI = "vertex/google/gemini-3-pro-image-preview"


def posts(router):
    """The router calls jobs made (the bot also reads GET /models at start-up)."""
    return [r for r in router.requests if r.method == "POST"]


def fields_of(message):
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def button(message, action):
    ids = [cid for cid in message.custom_ids() if cid.startswith(f"easel:{action}:")]
    assert ids, f"no {action} button on the message: {message.custom_ids()}"
    return ids[0]


async def test_autocomplete_lists_models(easel, world):
    fake, _guild, channel, alice, _bob = world
    choices = await fake.autocomplete(
        alice, channel, "imagine", {"prompt": "x", "model": "gem"}, focused="model"
    )
    values = [c["value"] for c in choices]
    assert GEMINI in values and all("gemini" in v for v in values)


async def test_imagine_chat_model_with_every_option(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(
        alice,
        channel,
        "imagine",
        {
            "prompt": "a lighthouse",
            "model": GEMINI,
            "aspect": "16:9",
            "resolution": "2K",
            "count": 2,
        },
    )
    message = await outcome(fake, handle)
    assert len(message.attachments) == 2
    with Image.open(io.BytesIO(message.attachments[0].data)) as im:
        assert im.size == (2752, 1536)
    chats = [r for r in router.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2  # a chat model makes one image a call
    assert chats[0].body["image_config"] == {"aspect_ratio": "16:9", "image_size": "2K"}
    assert "2752×1536" in fields_of(message)["Size"]


async def test_imagine_images_model_quality_format_aspect(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(
        alice,
        channel,
        "imagine",
        {"prompt": "a boat", "quality": "low", "format": "webp", "aspect": "3:2"},
    )
    message = await outcome(fake, handle)
    body = router.requests[-1].body
    assert body["size"] == "1536x1024" and body["quality"] == "low"
    assert body["output_format"] == "webp"
    assert message.attachments[0].filename.endswith(".webp")


async def test_private_result_only_for_the_requester(easel, world):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "secret cat", "private": True})
    message = await outcome(fake, handle)
    assert handle.ephemeral and message.attachments
    assert not any(m.attachments for m in fake.messages(channel))


async def test_4k_result_is_refit_under_10_mib_with_full_resolution(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="huge", endpoint="chat"))
    handle = await fake.slash(
        alice,
        channel,
        "imagine",
        {"prompt": "a 4k photo", "model": GEMINI, "aspect": "16:9", "resolution": "4K"},
    )
    message = await outcome(fake, handle, timeout=60)
    attachment = message.attachments[0]
    assert attachment.size <= 10 * 1024 * 1024
    with Image.open(io.BytesIO(attachment.data)) as im:
        assert im.size == (5504, 3072)  # re-encoded, not shrunk
    assert "Full resolution" in message.embeds[0]["footer"]["text"]
    await easel.restart()  # the button is served from the store, also after a restart
    click = await fake.click(alice, message, button(message, "full"))
    [reply] = await click.wait_followups(1, timeout=20)
    assert "over this server's 10 MB upload limit" in reply.content
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    original = await easel.store.get_image(job.result_images[0])
    assert len(original) > 10 * 1024 * 1024  # the original is kept whole


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault(kind="refusal"), "The model said"),
        (Fault(kind="no_image"), "without an image"),
        (Fault(kind="status", status=503, times=2), "unavailable"),
        (Fault(kind="status", status=429, retry_after=120), "Try again in about 120 s"),
        (Fault(kind="status", status=402), "out of credit"),
    ],
)
async def test_errors_show_the_prompt_and_retry(easel, world, router, fault, words):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(fault)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "my precious prompt"})
    message = await outcome(fake, handle)
    embed = message.embeds[0]
    assert embed["title"] == "Couldn't finish that"
    assert words in embed["description"]
    assert fields_of(message)["Your prompt was"] == "my precious prompt"
    assert button(message, "retry") and button(message, "remix")
    # Retry runs the same prompt again and this time it works.
    click = await fake.click(alice, message, button(message, "retry"))
    result = await outcome(fake, click)
    assert result.attachments and "my precious prompt" in result.embeds[0]["description"]


async def test_invalid_option_is_refused_before_spending(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(
        alice,
        channel,
        "imagine",
        {"prompt": "odd", "model": "azure/openai/gpt-image-1", "resolution": "4K", "count": 10},
    )
    message = await outcome(fake, handle)
    assert message.attachments or message.embeds  # images models ignore the Gemini tier
    handle = await fake.slash(
        alice, channel, "imagine", {"prompt": "too many", "model": GEMINI, "count": 3}
    )
    message = await outcome(fake, handle)
    assert len(message.attachments) == 3


async def test_expired_interaction_falls_back_to_the_channel(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=1.0))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "late cat"})
    await handle.wait_ack(3)
    fake.expire_interaction(handle)
    posted = await fake.wait_for_message(channel, lambda m: bool(m.attachments), timeout=30)
    assert f"<@{alice.id}>" in posted.content
    assert "late cat" in posted.embeds[0]["description"]


async def test_upload_refused_is_refit_and_sent_again(easel, world):
    fake, _guild, channel, alice, _bob = world
    fake.refuse_uploads(times=1)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "too big?"})
    message = await outcome(fake, handle)
    assert message.attachments
    assert any(r.status == 413 for r in fake.requests)


async def test_missing_permission_is_named_in_a_dm(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    fake.set_permissions(channel, deny=Perm.SEND_MESSAGES | Perm.ATTACH_FILES)
    router.add_fault(Fault(kind="latency", seconds=1.0))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "nowhere to go"})
    await handle.wait_ack(3)
    fake.expire_interaction(handle)
    dm = fake.dm_channel(alice)
    note = await fake.wait_for_message(dm, timeout=30)
    assert "Send Messages" in note.content and "Attach Files" in note.content
    assert "nowhere to go" in note.content


async def test_buttons_work_after_a_restart(easel, world):
    fake, guild, channel, alice, bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a castle"})
    message = await outcome(fake, handle)
    await easel.restart()
    # Retry
    retry = await outcome(fake, await fake.click(bob, message, button(message, "retry")))
    assert retry.attachments and "a castle" in retry.embeds[0]["description"]
    # Edit: a modal prefilled with the prompt, submitted with a new one
    edit = await fake.click(alice, message, button(message, "remix"))
    modal = await edit.wait_modal()
    assert "a castle" in str(modal)
    ids = _text_input_ids(modal)
    submitted = await fake.submit_modal(alice, edit, {ids[0]: "a castle at night", ids[-1]: "2"})
    edited = await outcome(fake, submitted)
    assert len(edited.attachments) == 2
    assert "a castle at night" in edited.embeds[0]["description"]
    # Delete: refused for someone else, allowed for the requester
    refused = await fake.click(bob, message, button(message, "delete"))
    await refused.wait_ack(3)
    assert "Only the person who asked" in str(refused.responses[-1])
    assert not fake.message(message.id).deleted
    allowed = await fake.click(alice, message, button(message, "delete"))
    await allowed.wait_ack(3)
    await fake.world.wait_until(lambda: fake.message(message.id).deleted, 5, "deletion")


async def test_moderator_may_delete(easel, world):
    fake, guild, channel, alice, _bob = world
    mods = fake.create_role(guild, "mods", Perm.MANAGE_MESSAGES)
    carol = fake.create_user("carol", guild=guild, roles=(mods,))
    message = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "x"}))
    click = await fake.click(carol, message, button(message, "delete"))
    await click.wait_ack(3)
    await fake.world.wait_until(lambda: fake.message(message.id).deleted, 5, "deletion")


async def test_job_interrupted_by_restart_is_posted_exactly_once(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=3.0))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "survive a restart"})
    await handle.wait_ack(3)

    async def running():
        return await easel.store.jobs_with_status(JobStatus.RUNNING)

    await fake.world.wait_until(lambda: posts(router), 10, "the router call")
    assert await running()
    await easel.restart()  # the job was mid-flight
    message = await outcome(fake, handle)
    await easel.idle()
    assert message.attachments and "survive a restart" in message.embeds[0]["description"]
    done = await easel.store.jobs_with_status(JobStatus.DONE)
    assert [j.prompt for j in done] == ["survive a restart"]
    # exactly once: the original response carries it and nothing else was posted
    assert not [m for m in fake.messages(channel) if m.attachments and m.id != message.id]
    await easel.restart()  # a second restart must not post it again
    await easel.idle()
    assert not [m for m in fake.messages(channel) if m.attachments and m.id != message.id]


async def test_cancel_a_queued_job(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await easel.restart(max_concurrent_jobs=1)
    router.add_fault(Fault(kind="latency", seconds=5.0))
    first = await fake.slash(alice, channel, "imagine", {"prompt": "first"})
    await fake.world.wait_until(lambda: posts(router), 20, "the first job to start")
    second = await fake.slash(alice, channel, "imagine", {"prompt": "second"})
    waiting = await fake.world.wait_until(
        lambda: (
            second.original_message
            if second.original_message
            and "Waiting to start" in (second.original_message.content or "")
            else None
        ),
        20,
        "the queue position",
    )
    click = await fake.click(alice, waiting, button(waiting, "cancel"))
    await click.wait_ack(3)
    cancelled = await outcome(fake, second)
    assert "cancelled" in cancelled.embeds[0]["description"].lower()
    assert "second" in fields_of(cancelled)["Your prompt was"]
    assert (await outcome(fake, first)).attachments


async def test_twenty_users_at_once_caps_and_fair_order(easel, world, router):
    fake, guild, channel, _alice, _bob = world
    await easel.restart(max_concurrent_jobs=3, max_jobs_per_user=1)
    # The first three jobs hold every slot until all 40 have arrived; the rest are quick.
    router.add_fault(Fault(kind="latency", seconds=4.0, times=3))
    router.add_fault(Fault(kind="latency", seconds=0.05, times=37))
    users = [fake.create_user(f"user{i}", guild=guild) for i in range(20)]
    handles = []
    for user in users:
        for k in range(2):
            handles.append(
                await fake.slash(user, channel, "imagine", {"prompt": f"{user.name} {k}"})
            )
    for handle in handles:
        assert await handle.wait_ack(3) == 5
    for handle in handles:
        assert (await outcome(fake, handle, timeout=90)).attachments
    await easel.idle()
    jobs = await easel.store.jobs_with_status(JobStatus.DONE)
    assert len(jobs) == 40
    # never more than 3 at once, and never 2 of one user at once
    events = sorted(
        [(j.started_at, 1, j.user_id) for j in jobs]
        + [(j.finished_at, -1, j.user_id) for j in jobs]
    )
    running, per_user = 0, {}
    for _when, delta, user in events:
        running += delta
        per_user[user] = per_user.get(user, 0) + delta
        assert running <= 3 and per_user[user] <= 1
    # fair: every user's first job (by submission) starts before any user's second
    first_id = {}
    for job in sorted(jobs, key=lambda j: j.id):
        first_id.setdefault(job.user_id, job.id)
    order = sorted(jobs, key=lambda j: j.started_at)
    firsts = [i for i, j in enumerate(order) if j.id == first_id[j.user_id]]
    seconds = [i for i, j in enumerate(order) if j.id != first_id[j.user_id]]
    assert max(firsts) < min(seconds), [(j.user_id, j.id) for j in order]


def _text_input_ids(modal):
    ids = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == 4:
                ids.append(node["custom_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(modal)
    return ids


async def test_progress_shows_queue_position_then_elapsed_time(easel, world, router):
    fake, _guild, channel, alice, bob = world
    await easel.restart(max_concurrent_jobs=1)
    router.add_fault(Fault(kind="latency", seconds=6.5, times=2))
    first = await fake.slash(alice, channel, "imagine", {"prompt": "slow one"})
    await fake.world.wait_until(lambda: posts(router), 20, "the first job to start")
    second = await fake.slash(bob, channel, "imagine", {"prompt": "slow two"})
    await outcome(fake, second, timeout=40)
    texts = [m.get("content") or "" for m in second.original_message.edits]
    assert any("next in line" in t for t in texts), texts
    assert any("Generating with GPT Image 1 (Azure)… " in t and " s" in t for t in texts), texts
    assert all(len(t) <= 2000 for t in texts)
    assert (await outcome(fake, first)).attachments


async def test_discord_rate_limit_on_delivery_is_waited_out(easel, world):
    fake, _guild, channel, alice, _bob = world
    fake.rate_limit("/webhooks/", times=2, retry_after=0.3)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "patient"})
    message = await outcome(fake, handle)
    assert message.attachments
    assert any(r.status == 429 for r in fake.requests)


async def test_gateway_drop_during_a_job_still_delivers(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="latency", seconds=1.5))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "through the storm"})
    await handle.wait_ack(3)
    await fake.drop_gateway()
    message = await outcome(fake, handle)
    assert message.attachments
    await fake.world.wait_until(lambda: fake.gateway.resumes, 10, "a gateway resume")
    # and the bot still answers new commands after resuming
    again = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "again"}))
    assert again.attachments
