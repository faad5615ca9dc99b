"""Refine in a thread through the fake Discord and the fake router: the exact chat body on each
turn, a restart between turns, revert, branch, quick messages, failures, rebuild."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import outcome
from tests.fakes.router import Fault

GEMINI = "vertex/google/gemini-3-pro-image-preview"
pytestmark = pytest.mark.timeout(120)


def button(message, action):
    ids = [cid for cid in message.custom_ids() if cid.startswith(f"easel:{action}:")]
    assert ids, f"no {action} button: {message.custom_ids()}"
    return ids[0]


def chat_bodies(router):
    return [r.body for r in router.requests if r.path.endswith("/chat/completions")]


async def start_thread(fake, channel, user, prompt="a red barn", model=GEMINI):
    result = await outcome(fake, await fake.slash(user, channel, "imagine",
                                                   {"prompt": prompt, "model": model}))
    click = await fake.click(user, result, button(result, "refine"))
    await click.wait_followups(1, timeout=10)
    [thread] = fake.threads(channel)
    return result, thread


async def say(fake, thread, user, text, **kwargs):
    sent = await fake.post_message(user, thread, text, **kwargs)
    return await fake.wait_for_message(
        thread, lambda m: m.reference and str(m.reference.get("message_id")) == str(sent.id)
        and bool(m.attachments or m.embeds), timeout=30)


async def test_turns_replay_the_whole_conversation_across_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    first = await say(fake, thread, alice, "make it snowy")
    assert first.attachments and "v2" in first.embeds[0]["author"]["name"]
    body1 = chat_bodies(router)[-1]
    assert [m["role"] for m in body1["messages"]] == ["user", "assistant", "user"]
    assert body1["messages"][0]["content"] == "a red barn"
    assert body1["messages"][1]["images"]  # the model's own earlier image
    await say(fake, thread, alice, "add a fox")
    body2 = chat_bodies(router)[-1]
    assert [m["role"] for m in body2["messages"]] == ["user", "assistant"] * 2 + ["user"]
    assert body2["messages"][3]["reasoning_details"]  # echoed unchanged
    await easel.restart()
    await say(fake, thread, alice, "at night")
    body3 = chat_bodies(router)[-1]
    assert body3["messages"][:5] == body2["messages"][:5]  # identical context after restart
    assert body3["messages"][-1] == {"role": "user", "content": "at night"}


async def test_revert_and_branch(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    v2 = await say(fake, thread, alice, "make it blue")
    await say(fake, thread, alice, "make it green")
    revert = await fake.click(alice, v2, button(v2, "revert"))
    await revert.wait_ack(3)
    assert "v2" in str(revert.responses[-1])
    await say(fake, thread, alice, "now add a moon")
    body = chat_bodies(router)[-1]
    texts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "make it blue", "now add a moon"]
    branch = await fake.click(alice, v2, button(v2, "branch"))
    await branch.wait_followups(1, timeout=10)
    branched = [t for t in fake.threads(channel) if t.id != thread.id]
    assert len(branched) == 1
    await say(fake, branched[0], alice, "make it purple")
    body = chat_bodies(router)[-1]
    texts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "make it blue", "make it purple"]


async def test_failed_turn_keeps_the_session_clean(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    router.add_fault(Fault(kind="no_image"))
    failed = await say(fake, thread, alice, "this fails")
    assert "without an image" in failed.embeds[0]["description"]
    assert button(failed, "retry")
    await say(fake, thread, alice, "this works")
    texts = [m["content"] for m in chat_bodies(router)[-1]["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "this works"]


async def test_images_model_session_edits_the_latest_image(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice, model="azure/openai/gpt-image-1")
    reply = await say(fake, thread, alice, "make it taller")
    assert reply.attachments
    assert router.requests[-1].path.endswith("/images/edits")


async def test_quick_messages_are_taken_in_order(easel, world, router):
    fake, _guild, channel, alice, bob = world
    _result, thread = await start_thread(fake, channel, alice)
    router.add_fault(Fault(kind="latency", seconds=1.0))
    for text in ("one", "two", "three"):
        await fake.post_message(bob if text == "two" else alice, thread, text)
    await fake.world.wait_until(
        lambda: len([m for m in fake.messages(thread) if m.attachments]) >= 3, 60,
        "three results")
    body = chat_bodies(router)[-1]
    texts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "one", "two", "three"]


async def test_thread_the_store_forgot_is_rebuilt(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    async with easel.store._tx() as conn:  # the sessions are lost
        import sqlalchemy as sa

        await conn.execute(sa.text("DELETE FROM turn_images"))
        await conn.execute(sa.text("DELETE FROM turns"))
        await conn.execute(sa.text("UPDATE jobs SET session_id = NULL"))
        await conn.execute(sa.text("DELETE FROM sessions"))
    reply = await say(fake, thread, alice, "still here?")
    assert reply.attachments
    texts = [m["content"] for m in chat_bodies(router)[-1]["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "still here?"]
