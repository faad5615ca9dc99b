"""No message the bot sends can ping everyone, here or a role, whatever the user typed: every
kind of message that echoes user text is driven with "@everyone @here <@&role>" in it."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import outcome
from tests.e2e.test_imagine import button
from tests.e2e.test_refine import say, start_thread
from tests.fakes.router import Fault

pytestmark = pytest.mark.timeout(120)


def loud(fake, guild) -> str:
    role = fake.create_role(guild, "everyone-ish")
    return f"@everyone @here <@&{role.id}> a castle"


def assert_nobody_pinged(fake, channels) -> None:
    sent = [
        m for channel in channels for m in fake.messages(channel) if m.author.id == fake.bot_user.id
    ]
    assert sent, "the bot sent nothing"
    for message in sent:
        assert not message.mention_everyone, message.content
        assert not message.mention_role_ids, message.content
    # And what it asked Discord for: never "parse everyone/roles", never a role listed.
    for request in fake.requests:
        body = request.json if isinstance(request.json, dict) else None
        if request.method not in ("POST", "PATCH") or not body or "allowed_mentions" not in body:
            continue
        allowed = body["allowed_mentions"] or {}
        assert not {"everyone", "roles"} & set(allowed.get("parse") or []), request.path
        assert not allowed.get("roles"), request.path


async def test_imagine_progress_result_error_and_dm_fallback(easel, world, router):
    fake, guild, channel, alice, _bob = world
    text = loud(fake, guild)
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": text}))
    assert "@everyone" in result.embeds[0]["description"]  # shown, not pinged
    router.add_fault(Fault(kind="refusal"))
    await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": text}))
    expired = await fake.slash(alice, channel, "imagine", {"prompt": text})
    fake.expire_interaction(expired)  # posted in the channel, mentioning the requester only
    await fake.world.wait_until(
        lambda: any("@everyone" in str(m.embeds) and m.mention_ids for m in fake.messages(channel)),
        30,
        "the channel fallback",
    )
    fallback = [m for m in fake.messages(channel) if m.mention_ids][-1]
    assert fallback.mention_ids == [alice.id]  # the one ping that is meant
    await easel.idle()
    assert_nobody_pinged(fake, [channel])


async def test_reply_edit_thread_turn_and_branch(easel, world, router):
    fake, guild, channel, alice, _bob = world
    text = loud(fake, guild)
    source, thread = await start_thread(fake, channel, alice, prompt=text)
    v2 = await say(fake, thread, alice, text)
    branch = await fake.click(alice, v2, button(v2, "branch"))
    await branch.wait_followups(1, timeout=10)
    asked = await fake.post_message(alice, channel, text, reply_to=source, mention_bot=True)
    await fake.wait_for_message(
        channel, lambda m: m.referenced_id == asked.id and bool(m.attachments), timeout=30
    )
    await easel.idle()
    assert_nobody_pinged(fake, [channel, *fake.threads(channel)])
