"""Results that tell the user what happened: fewer images than asked (with Retry missing), options
the model doesn't take, and which model a reply-edit used (the replied-to result's, or the one
the reply names)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import outcome
from tests.e2e.test_imagine import GEMINI, button
from tests.fakes.router import Fault

GPT = "azure/openai/gpt-image-1"
FLASH = "vertex/google/gemini-2.5-flash-image-preview"
pytestmark = pytest.mark.timeout(90)


def footer(message) -> str:
    return message.embeds[0].get("footer", {}).get("text", "")


async def test_one_of_three_chat_calls_failing_says_so_with_retry_missing(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault(kind="status", status=400, endpoint="/chat", message="bad seed"))
    handle = await fake.slash(
        alice, channel, "imagine", {"prompt": "three owls", "model": GEMINI, "count": 3}
    )
    message = await outcome(fake, handle)
    assert len(message.attachments) == 2
    assert "2 of 3 images; 1 call failed" in message.content
    asked = len(router.requests)
    again = await outcome(fake, await fake.click(alice, message, button(message, "missing")))
    assert len(again.attachments) == 1  # only the missing one is made, and paid for
    assert len(router.requests) - asked == 1
    assert "three owls" in again.embeds[0]["description"]
    assert not [c for c in again.custom_ids() if c.startswith("easel:missing:")]
    await easel.restart()  # the note is kept with the job: a re-post would say it again
    job = await easel.store.get_job(int(button(message, "retry").rsplit(":", 1)[1]))
    assert job.origin["warnings"] and "2 of 3" in job.origin["warnings"][0]


async def test_options_the_model_ignores_are_named(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    gemini = await outcome(
        fake,
        await fake.slash(
            alice, channel, "imagine", {"prompt": "a", "model": GEMINI, "format": "jpeg"}
        ),
    )
    assert "format ignored" in footer(gemini) and "answers PNG" in footer(gemini)
    gpt = await outcome(
        fake,
        await fake.slash(
            alice,
            channel,
            "imagine",
            {"prompt": "b", "model": GPT, "resolution": "4K", "aspect": "16:9"},
        ),
    )
    assert "resolution ignored" in footer(gpt)
    assert "16:9 became 1536x1024" in footer(gpt)
    assert router.requests[-1].body["size"] == "1536x1024"
    plain = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "c"}))
    assert "ignored" not in footer(plain)


async def reply_edit(fake, channel, user, target, text):
    asked = await fake.post_message(user, channel, text, reply_to=target, mention_bot=True)
    return await fake.wait_for_message(
        channel, lambda m: m.referenced_id == asked.id and bool(m.attachments), timeout=30
    )


async def test_reply_edit_uses_the_model_that_made_the_result(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source = await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "a", "model": GEMINI})
    )
    edited = await reply_edit(fake, channel, alice, source, "make it blue")
    call = router.requests[-1]
    assert call.path.endswith("/chat/completions") and call.body["model"] == GEMINI
    assert "Gemini" in {f["name"]: f["value"] for f in edited.embeds[0]["fields"]}["Model"]


async def test_a_reply_can_name_its_model(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a"}))
    edited = await reply_edit(fake, channel, alice, source, "make it blue --model gemini-2.5")
    call = router.requests[-1]
    assert call.path.endswith("/chat/completions") and call.body["model"] == FLASH
    texts = [p["text"] for p in call.body["messages"][-1]["content"] if p["type"] == "text"]
    assert texts == ["make it blue"]  # the flag is not part of the instruction
    assert "make it blue" in edited.embeds[0]["description"]


async def test_a_reply_naming_an_unknown_model_is_told_which_exist(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a"}))
    asked = len(router.requests)
    sent = await fake.post_message(
        alice, channel, "make it blue --model nonsense", reply_to=source, mention_bot=True
    )
    answer = await fake.wait_for_message(
        channel, lambda m: m.referenced_id == sent.id and bool(m.embeds), timeout=30
    )
    assert "can't tell which model" in answer.embeds[0]["description"]
    assert "make it blue" in str(answer.embeds[0])  # the prompt is shown back
    assert len(router.requests) == asked


async def test_edit_image_form_offers_a_select_of_models(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    source = await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "a", "model": GEMINI})
    )
    opened = await fake.message_command(alice, source, "Edit image")
    modal = await opened.wait_modal()
    selects = [c for c in _walk(modal) if c.get("custom_id") == "model"]
    assert selects and selects[0]["type"] == 3  # a string select, not free text
    offered = {o["value"]: o.get("default", False) for o in selects[0]["options"]}
    assert GPT in offered and offered[GEMINI] is True  # the result's own model comes first
    uploads = [c for c in _walk(modal) if c.get("type") == 19]
    assert uploads[0]["min_values"] == 0 and uploads[0]["max_values"] == 1


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
