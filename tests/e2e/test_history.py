"""/history through the real discord.py client, the fake Discord and the fake router: search
by prompt words and model, pages of five, Show bringing a result back with its buttons after a
restart, and who may list whose."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import outcome
from tests.fakes.discord.permissions import Perm

pytestmark = pytest.mark.timeout(180)

GEMINI = "vertex/google/gemini-3-pro-image-preview"


async def imagine(fake, user, channel, prompt, **options):
    return await outcome(
        fake, await fake.slash(user, channel, "imagine", {"prompt": prompt, **options})
    )


def shows(message) -> list[str]:
    return [c for c in message.custom_ids() if c.startswith("easel:show:")]


async def history(fake, viewer, channel, **options):
    handle = await fake.slash(viewer, channel, "history", options)
    [page] = await handle.wait_followups(1, timeout=20)
    return handle, page


async def test_search_and_show_after_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["history"])
    fox = await imagine(fake, alice, channel, "a red fox in the snow")
    whale = await imagine(fake, alice, channel, "a blue whale", model=GEMINI)
    assert whale.attachments, whale.embeds
    await easel.idle()
    await easel.restart()
    _handle, page = await history(fake, alice, channel, search="fox")
    assert "a red fox in the snow" in page.embeds[0]["description"]
    assert "whale" not in page.embeds[0]["description"] and len(shows(page)) == 1
    click = await fake.click(alice, page, shows(page)[0])
    [shown] = await click.wait_followups(1, timeout=30)
    assert shown.attachments[0].data == fox.attachments[0].data
    assert any(c.startswith("easel:more:") for c in shown.custom_ids())  # all its buttons
    assert any(c.startswith("easel:retry:") for c in shown.custom_ids())
    _handle, page = await history(fake, alice, channel, model=GEMINI)
    assert "whale" in page.embeds[0]["description"] and "fox" not in page.embeds[0]["description"]


async def test_pages_of_five(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await fake.wait_for_commands(["history"])
    for number in range(7):
        await imagine(fake, alice, channel, f"picture number {number}")
    await easel.idle()
    handle, page = await history(fake, alice, channel)
    assert len(shows(page)) == 5 and "picture number 6" in page.embeds[0]["description"]
    older = next(c["custom_id"] for c in page.walk_components() if c.get("label") == "Older")
    turn = await fake.click(alice, page, older)
    await turn.wait_ack(5)
    page = fake.message(page.id)
    assert len(shows(page)) == 2 and "picture number 0" in page.embeds[0]["description"]


async def test_only_managers_list_someone_else(easel, world, router):
    fake, guild, channel, alice, bob = world
    await fake.wait_for_commands(["history"])
    await imagine(fake, alice, channel, "alice's public cat")
    await imagine(fake, alice, channel, "alice's secret cat", private=True)
    await easel.idle()
    handle = await fake.slash(bob, channel, "history", {"user": alice})
    [refusal] = await handle.wait_followups(1, timeout=20)
    assert "Manage Server" in str(refusal.embeds)
    manager = fake.create_role(guild, "managers", Perm.MANAGE_GUILD)
    carol = fake.create_user("carol", guild=guild, roles=(manager,))
    _handle, page = await history(fake, carol, channel, user=alice)
    text = page.embeds[0]["description"]
    assert "public cat" in text and "secret cat" not in text  # private results stay private
