"""Threads that converse, whatever model made the first image: a 🧵 thread from a GPT Image
result runs on the refine model with the result seeded as the first assistant image; one router
request per thread message, a reply to a version too; switching the thread's model; an
images-model session still hears the whole conversation, as words."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from tests.e2e.conftest import outcome
from tests.e2e.test_refine import GEMINI, GPT, button, chat_bodies, say, start_thread, use_model

pytestmark = pytest.mark.timeout(120)


def sha_of_data_url(url: str) -> str:
    return hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()


def first_file(field):
    return field[0] if isinstance(field, list) else field


async def result_sha(easel, message) -> str:
    """The stored image behind a posted result (its job's first result image)."""
    job = await easel.store.get_job(int(button(message, "retry").rsplit(":", 1)[1]))
    return hashlib.sha256(await easel.store.get_image(job.result_images[0])).hexdigest()


async def test_thread_from_a_gpt_image_result_converses(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source, thread = await start_thread(fake, channel, alice, model=GPT, aspect="3:2")
    v2 = await say(fake, thread, alice, "make it snowy")
    first = chat_bodies(router)[-1]
    assert first["model"] == GEMINI  # REFINE_MODEL, not the GPT Image that made the source
    roles = [m["role"] for m in first["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert first["messages"][0]["content"] == "a red barn"
    seeded = first["messages"][1]["images"]
    assert len(seeded) == 1  # the GPT Image result, seeded as the model's own first image
    assert sha_of_data_url(seeded[0]["image_url"]["url"]) == await result_sha(easel, source)
    assert first["image_config"] == {"aspect_ratio": "3:2"}  # GPT's 1536x1024 as a ratio
    assert "v2" in v2.embeds[0]["author"]["name"]

    await say(fake, thread, alice, "add a fox")
    second = chat_bodies(router)[-1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant"] * 2 + ["user"]
    assert second[2] == {"role": "user", "content": "make it snowy"}
    turn1 = second[3]["images"]
    assert len(turn1) == 1 and sha_of_data_url(turn1[0]["image_url"]["url"]) == await result_sha(
        easel, v2
    )
    assert second[-1] == {"role": "user", "content": "add a fox"}


async def test_one_router_request_per_thread_message(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _source, thread = await start_thread(fake, channel, alice)
    before = len(router.requests)
    v2 = await say(fake, thread, alice, "make it blue")
    await say(fake, thread, alice, "make it green")
    # A reply to an earlier version that mentions Easel: a turn on that version, and nothing else.
    await say(fake, thread, alice, "add a moon", reply_to=v2, mention_bot=True)
    await easel.idle()
    assert len(router.requests) - before == 3
    results = [m for m in fake.messages(thread) if m.author.id == fake.bot_user.id and m.embeds]
    assert len(results) == 3
    assert not [m for m in fake.messages(channel) if m.author.id == fake.bot_user.id][1:]


async def test_switching_the_model_is_said_in_the_thread_and_used(easel, world, router):
    fake, _guild, channel, alice, bob = world
    _source, thread = await start_thread(fake, channel, alice)
    await say(fake, thread, alice, "make it snowy")
    switched = await use_model(fake, thread, alice, GPT)
    said = switched.responses[-1]
    assert "From now on this thread uses" in str(said) and "GPT Image" in str(said)
    assert not said.get("data", {}).get("flags")  # said for everyone, not ephemeral
    refused = await fake.slash(bob, thread, "easel-thread", {"model": GEMINI})
    await refused.wait_ack(5)
    assert "Only the person who started" in str(refused.responses[-1])

    await say(fake, thread, alice, "add a fox")
    edit = router.requests[-1]
    assert edit.path.endswith("/images/edits") and edit.body["model"] == GPT
    prompt = edit.body["prompt"]
    # The images model hears the conversation as words, oldest first, then the new instruction.
    assert prompt.index("a red barn") < prompt.index("make it snowy") < prompt.index("add a fox")
    assert prompt.endswith("Now: add a fox")


async def test_unknown_model_is_refused(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _source, thread = await start_thread(fake, channel, alice)
    refused = await fake.slash(alice, thread, "easel-thread", {"model": "no-such-model"})
    await refused.wait_ack(5)
    assert "don't know the model" in str(refused.responses[-1])


async def test_model_option_autocompletes(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _source, thread = await start_thread(fake, channel, alice)
    choices = await fake.autocomplete(alice, thread, "easel-thread", {"model": "gpt"}, "model")
    assert GPT in [c["value"] for c in choices]


async def test_a_dm_session_refines_by_replies(easel, world, router):
    fake, _guild, _channel, alice, _bob = world
    dm = fake.dm_channel(alice)
    source = await outcome(fake, await fake.slash(alice, dm, "imagine", {"prompt": "a red barn"}))
    assert source.attachments
    assert not [
        c for c in source.custom_ids() if c.startswith("easel:refine:")
    ]  # no threads in DMs
    before = len(router.requests)
    asked = await fake.post_message(alice, dm, "make it snowy", reply_to=source)
    answer = await fake.wait_for_message(
        dm, lambda m: m.referenced_id == asked.id and bool(m.attachments), timeout=30
    )
    assert "make it snowy" in answer.embeds[0]["description"]
    assert len(router.requests) - before == 1
    edit = router.requests[-1]
    assert edit.path.endswith("/images/edits")
    assert first_file(edit.body["image[]"])["sha256"] == await result_sha(easel, source)
    # And on from there: a reply to the edit edits the edit.
    again = await fake.post_message(alice, dm, "add a fox", reply_to=answer)
    await fake.wait_for_message(
        dm, lambda m: m.referenced_id == again.id and bool(m.attachments), timeout=30
    )
    sent = first_file(router.requests[-1].body["image[]"])
    assert sent["sha256"] == await result_sha(easel, answer)


async def test_owner_only_thread_gates_revert_and_branch(easel, world, router):
    fake, _guild, channel, alice, bob = world
    _source, thread = await start_thread(fake, channel, alice)
    v2 = await say(fake, thread, alice, "make it blue")
    done = await fake.slash(alice, thread, "easel-thread", {"owner_only": True})
    await done.wait_ack(5)
    for action in ("revert", "branch"):
        refused = await fake.click(bob, v2, button(v2, action))
        await refused.wait_ack(5)
        assert "Only the person who started this thread" in str(refused.responses[-1])
    assert len(fake.threads(channel)) == 1  # bob's Branch opened nothing
    allowed = await fake.click(alice, v2, button(v2, "revert"))
    await allowed.wait_ack(5)
    assert "v2" in str(allowed.responses[-1])


async def test_refine_pressed_twice_points_at_the_thread(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source, thread = await start_thread(fake, channel, alice)
    again = await fake.click(alice, source, button(source, "refine"))
    await again.wait_followups(1, timeout=10)
    assert f"already has a thread: <#{thread.id}>" in str(again.responses + again.messages())
    assert len(fake.threads(channel)) == 1


async def test_messages_in_other_threads_cost_one_look_at_most(easel, world, router):
    fake, _guild, channel, alice, bob = world
    post = await fake.post_message(alice, channel, "let's talk")
    thread = await fake.start_thread(alice, post, "chat")
    for text in ("one", "two", "three"):
        await fake.post_message(bob, thread, text)
    await fake.world.wait_until(
        lambda: len(fake.requests_to(f"/messages/{post.id}", "GET")) >= 1, 10, "one look"
    )
    await easel.idle()
    await fake.post_message(bob, thread, "four")
    await fake.post_message(bob, thread, "five")
    await asyncio.sleep(0.5)  # time for the bot to have handled them (it answers nothing)
    assert len(fake.requests_to(f"/messages/{post.id}", "GET")) == 1
    assert not [m for m in fake.messages(thread) if m.author.id == fake.bot_user.id]
    refine = easel.bot.get_cog("Threads")
    assert thread.id not in refine._order  # no lock kept for a thread that isn't Easel's
