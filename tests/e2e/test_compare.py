"""/compare through the real discord.py client, the fake Discord and the fake router: the
models called, one message with the labelled grid and the originals, and the pick select
working after a restart."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.e2e.test_imagine import posts

pytestmark = pytest.mark.timeout(120)

GPT = "azure/openai/gpt-image-1"
GEMINI = "vertex/google/gemini-3-pro-image-preview"
FLASH = "vertex/gemini-3.1-flash-image-preview"


def called_models(router) -> list[str]:
    return [r.body["model"] for r in router.requests if r.method == "POST"]


def pick_id(message) -> str:
    ids = [c for c in message.custom_ids() if c.startswith("easel:pick:")]
    assert ids, f"no pick select: {message.custom_ids()}"
    return ids[0]


async def test_compare_three_models_then_pick_one_after_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["compare"])
    options = {"prompt": "a red kite", "models": f"{GPT}, {GEMINI}, 3.1 flash", "aspect": "1:1"}
    message = await outcome(fake, await fake.slash(alice, channel, "compare", options))
    assert sorted(called_models(router)) == sorted([GPT, GEMINI, FLASH]), message.embeds
    assert len(message.attachments) == 4  # the grid, then each original
    with Image.open(io.BytesIO(message.attachments[0].data)) as grid:
        assert grid.width > grid.height  # three tiles side by side
    footer = message.embeds[0]["footer"]["text"]
    for label in ("GPT Image 1 (Azure)", "Gemini 3 Pro Image", "Gemini 3.1 Flash Image"):
        assert label in footer
    assert " s" in footer and "$" in footer
    component = message.component(pick_id(message))
    assert len(component["options"]) == 3
    await easel.idle()
    before = len(posts(router))
    await easel.restart()
    handle = await fake.select(alice, message, pick_id(message), ["1"])
    picked = await outcome(fake, handle)
    assert len(posts(router)) == before  # picking spends nothing
    assert len(picked.attachments) == 1
    assert picked.attachments[0].data == message.attachments[2].data
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert job.parent_job_id is not None and job.spec.models is None
    # The picked image goes on like any result: its More… select, its Source chain.
    more = next(c for c in picked.custom_ids() if c.startswith("easel:more:"))
    zoomed = await outcome(fake, await fake.select(alice, picked, more, ["zoom15"]), timeout=60)
    assert zoomed.attachments
    assert router.requests[-1].body["model"] == job.spec.model
    click = await fake.click(alice, picked, f"easel:source:{job.id}")
    assert "↳ from" in (await click.original()).content


async def test_compare_needs_two_to_four_models(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["compare"])
    options = {"prompt": "just one", "models": GPT}
    message = await outcome(fake, await fake.slash(alice, channel, "compare", options))
    assert "2 to 4 different models" in message.embeds[0]["description"]
    assert not called_models(router)


async def test_compare_keeps_going_when_one_model_fails(easel, world, router):
    from tests.fakes.router import Fault

    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["compare"])
    router.add_fault(Fault(kind="status", status=402, endpoint="chat"))
    options = {"prompt": "two of them", "models": f"{GPT}, {GEMINI}"}
    message = await outcome(fake, await fake.slash(alice, channel, "compare", options))
    assert len(message.attachments) == 2  # the grid and the one that worked
    assert "Gemini 3 Pro Image failed" in message.content
    assert len(message.component(pick_id(message))["options"]) == 1


async def test_models_autocomplete_keeps_the_names_before(easel, world):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["compare"])
    options = {"prompt": "x", "models": f"{GPT}, gemini-3-pro"}
    choices = await fake.autocomplete(alice, channel, "compare", options, focused="models")
    assert [c["value"] for c in choices] == [f"{GPT}, {GEMINI}"]
