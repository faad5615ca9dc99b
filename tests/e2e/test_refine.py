"""Refine in a thread through the fake Discord and the fake router: the exact chat body on each
turn, a restart between turns, revert, branch, quick messages, failures, rebuild."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import outcome
from tests.fakes.router import Fault

GEMINI = "vertex/google/gemini-3-pro-image-preview"
GPT = "azure/openai/gpt-image-1"
pytestmark = pytest.mark.timeout(120)


def button(message, action):
    ids = [cid for cid in message.custom_ids() if cid.startswith(f"easel:{action}:")]
    assert ids, f"no {action} button: {message.custom_ids()}"
    return ids[0]


def chat_bodies(router):
    return [r.body for r in router.requests if r.path.endswith("/chat/completions")]


async def start_thread(fake, channel, user, prompt="a red barn", model=GEMINI, **options):
    result = await outcome(
        fake,
        await fake.slash(user, channel, "imagine", {"prompt": prompt, "model": model, **options}),
    )
    click = await fake.click(user, result, button(result, "refine"))
    await click.wait_followups(1, timeout=10)
    [thread] = fake.threads(channel)
    return result, thread


async def say(fake, thread, user, text, **kwargs):
    sent = await fake.post_message(user, thread, text, **kwargs)
    return await fake.wait_for_message(
        thread,
        lambda m: (
            m.reference
            and str(m.reference.get("message_id")) == str(sent.id)
            and bool(m.attachments or m.embeds)
        ),
        timeout=30,
    )


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


async def use_model(fake, thread, user, model):
    """``/easel-thread model:`` in the thread; the switch is said there for everyone."""
    switched = await fake.slash(user, thread, "easel-thread", {"model": model})
    await switched.wait_ack(5)
    return switched


async def test_images_model_session_edits_the_latest_image(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice, model=GPT)
    await use_model(fake, thread, alice, GPT)
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
        lambda: len([m for m in fake.messages(thread) if m.attachments]) >= 3, 60, "three results"
    )
    body = chat_bodies(router)[-1]
    texts = [m["content"] for m in body["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "one", "two", "three"]


async def test_thread_the_store_forgot_is_rebuilt(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    await say(fake, thread, alice, "make it blue")
    async with easel.store._tx() as conn:  # the sessions are lost
        import sqlalchemy as sa

        await conn.execute(sa.text("DELETE FROM turn_images"))
        await conn.execute(sa.text("DELETE FROM turns"))
        await conn.execute(sa.text("UPDATE jobs SET session_id = NULL"))
        await conn.execute(sa.text("DELETE FROM sessions"))
    reply = await say(fake, thread, alice, "still here?")
    assert reply.attachments
    texts = [m["content"] for m in chat_bodies(router)[-1]["messages"] if m["role"] == "user"]
    assert texts == ["a red barn", "make it blue", "still here?"]
    assistants = [m for m in chat_bodies(router)[-1]["messages"] if m["role"] == "assistant"]
    assert len(assistants) == 2 and all(m["images"] for m in assistants)


async def test_five_turns_body_on_turn_1_2_and_5(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    start = len(chat_bodies(router))
    for text in ("t1", "t2"):
        await say(fake, thread, alice, text)
    await easel.restart()
    for text in ("t3", "t4", "t5"):
        await say(fake, thread, alice, text)
    bodies = chat_bodies(router)[start:]
    assert len(bodies) == 5

    def shape(body):
        return [
            (
                m["role"],
                m["content"] if isinstance(m["content"], str) else "parts",
                len(m.get("images", [])),
                bool(m.get("reasoning_details")),
            )
            for m in body["messages"]
        ]

    first = shape(bodies[0])
    assert [s[0] for s in first] == ["user", "assistant", "user"]
    assert first[0][1] == "a red barn" and first[1][2] == 1 and first[2][1] == "t1"
    assert shape(bodies[1])[-1] == ("user", "t2", 0, False)
    assert [s[0] for s in shape(bodies[4])] == ["user", "assistant"] * 5 + ["user"]
    assert [s[1] for s in shape(bodies[4]) if s[0] == "user"] == [
        "a red barn",
        "t1",
        "t2",
        "t3",
        "t4",
        "t5",
    ]
    # every assistant turn after the first carries the model's image and its reasoning
    assistants = [m for m in bodies[4]["messages"] if m["role"] == "assistant"]
    assert all(len(m["images"]) == 1 for m in assistants)
    assert all(m.get("reasoning_details") for m in assistants[1:])
    # the conversation up to turn 2 is sent unchanged after the restart
    assert bodies[2]["messages"][:5] == bodies[1]["messages"]  # turn 2's whole request
    assert bodies[4]["messages"][:4] == bodies[1]["messages"][:4]


async def test_trim_warning_is_shown(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await easel.restart(refine_max_turns=4)
    _result, thread = await start_thread(fake, channel, alice)
    await say(fake, thread, alice, "one")
    reply = await say(fake, thread, alice, "two")
    assert "⚠️ Only using the last" in reply.content
    body = chat_bodies(router)[-1]["messages"]
    assert len(body) <= 4 and body[-1]["content"] == "two"


async def test_imagine_thread_option_opens_a_session(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(
        alice, channel, "imagine", {"prompt": "a kite", "model": GEMINI, "thread": True}
    )
    await outcome(fake, handle)
    await fake.world.wait_until(lambda: fake.threads(channel), 10, "the thread")
    [thread] = fake.threads(channel)
    assert thread.name == "a kite"
    reply = await say(fake, thread, alice, "make it red")
    assert reply.attachments


async def test_archived_thread_comes_back(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    await fake.archive_thread(thread)
    reply = await say(fake, thread, alice, "wake up")
    assert reply.attachments


async def test_reply_to_an_earlier_version_edits_that_one(easel, world, router):
    import hashlib

    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice, model=GPT)
    await use_model(fake, thread, alice, GPT)
    v2 = await say(fake, thread, alice, "make it taller")
    await say(fake, thread, alice, "make it wider")
    await say(fake, thread, alice, "add a flag", reply_to=v2)
    edit = router.requests[-1].body["image[]"]
    edit = edit[0] if isinstance(edit, list) else edit
    await easel.idle()
    job_id = int(button(v2, "retry").rsplit(":", 1)[1])
    v2_job = await easel.store.get_job(job_id)
    v2_image = await easel.store.get_image(v2_job.result_images[0])
    assert edit["sha256"] == hashlib.sha256(v2_image).hexdigest()


async def test_store_lost_entirely_is_rebuilt_from_the_thread(easel, world, router, tmp_path):
    fake, _guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    await say(fake, thread, alice, "make it snowy")
    await say(fake, thread, alice, "add a fox")
    easel.data_dir = tmp_path / "a-new-empty-store"  # the database and images are gone
    await easel.restart()
    reply = await say(fake, thread, alice, "at night")
    assert reply.attachments
    body = chat_bodies(router)[-1]["messages"]
    assert [m["role"] for m in body] == ["user", "assistant"] * 3 + ["user"]
    users = [m["content"] for m in body if m["role"] == "user"]
    assert users == ["a red barn", "make it snowy", "add a fox", "at night"]
    assert all(len(m["images"]) == 1 for m in body if m["role"] == "assistant")


async def test_owner_only_mode(easel, world, router):
    fake, _guild, channel, alice, bob = world
    _result, thread = await start_thread(fake, channel, alice)
    refused = await fake.slash(bob, thread, "easel-thread", {"owner_only": True})
    await refused.wait_ack(3)
    assert "Only the person who started" in str(refused.responses[-1])
    done = await fake.slash(alice, thread, "easel-thread", {"owner_only": True})
    await done.wait_ack(3)
    assert "Only you can refine here now" in str(done.responses[-1])
    sent = await fake.post_message(bob, thread, "let me try")
    answer = await fake.wait_for_message(
        thread,
        lambda m: m.reference and str(m.reference.get("message_id")) == str(sent.id),
        timeout=10,
    )
    assert "Only the person who started this thread" in answer.content
    assert (await say(fake, thread, alice, "my turn")).attachments
