"""A server's access rules and defaults through the real discord.py client, the fake Discord and
the fake router: channel and role denials on every way in (slash command, button, reply edit,
thread message) before any router request, default models, the model allow-list, role limits,
cost display, private by default, and the /easel-settings panel across a restart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.rules import EVERYONE, Limit
from tests.e2e.conftest import outcome
from tests.e2e.test_edit import answer_to, button, fields_of, png
from tests.e2e.test_refine import start_thread
from tests.fakes.discord.permissions import Perm

pytestmark = pytest.mark.timeout(120)

GEMINI = "vertex/google/gemini-3-pro-image-preview"
GPT = "azure/openai/gpt-image-1"
COMMANDS = ["imagine", "Edit image", "easel-settings"]


@pytest.fixture
async def ready(easel, world):
    await world[0].wait_for_commands(COMMANDS)
    return easel


async def rule(easel, guild, edit) -> None:
    await easel.bot.service.policy.change(str(guild.id), edit)


def models_asked(router) -> list[str]:
    """The model of every generation or chat request the router saw (edits are forms)."""
    return [r.body["model"] for r in router.requests if isinstance(r.body, dict)]


async def refusal(handle) -> str:
    await handle.wait_ack(5)
    assert handle.ephemeral or handle.responses[-1].get("data", {}).get("flags", 0) & 64
    return str(handle.responses[-1])


async def thread_answer(fake, thread, user, text):
    sent = await fake.post_message(user, thread, text)
    return await fake.wait_for_message(
        thread,
        lambda m: m.reference and str(m.reference.get("message_id")) == str(sent.id),
        timeout=30,
    )


async def test_a_closed_channel_refuses_every_way_in_before_the_router(ready, world, router):
    fake, guild, channel, alice, _bob = world
    result, thread = await start_thread(fake, channel, alice)
    await ready.idle()
    await rule(ready, guild, lambda r: r.with_channel(str(channel.id), False))
    asked = len(router.requests)

    text = await refusal(await fake.slash(alice, channel, "imagine", {"prompt": "a cat"}))
    assert "I don't answer in this channel" in text
    retry = await fake.click(alice, result, button(result, "retry"))
    assert "I don't answer in this channel" in await refusal(retry)
    mine = await fake.post_message(alice, channel, "make it blue", reply_to=result)
    answer = await answer_to(fake, mine)
    assert "I don't answer in this channel" in answer.content and not answer.attachments
    said = await thread_answer(fake, thread, alice, "make it snowy")
    assert "I don't answer in this channel" in said.content
    assert len(router.requests) == asked  # nothing reached the router

    other = fake.create_channel(guild, "elsewhere")
    await outcome(fake, await fake.slash(alice, other, "imagine", {"prompt": "a cat"}))
    assert len(router.requests) == asked + 1


async def test_a_role_rule_refuses_the_others_everywhere(ready, world, router):
    fake, guild, channel, alice, bob = world
    artists = fake.create_role(guild, "artists")
    carol = fake.create_user("carol", guild=guild, roles=(artists,))
    result, thread = await start_thread(fake, channel, carol)
    await ready.idle()
    only = (str(artists.id),)
    await rule(
        ready,
        guild,
        lambda r: r.with_roles("imagine", only).with_roles("edit", only).with_roles("refine", only),
    )
    asked = len(router.requests)

    text = await refusal(await fake.slash(bob, channel, "imagine", {"prompt": "a cat"}))
    assert "Your roles can't use /imagine" in text and f"<@&{artists.id}>" in text
    remix = await fake.click(bob, result, button(result, "remix"))
    assert "can't use /imagine" in await refusal(remix)
    mine = await fake.post_message(bob, channel, "make it blue", reply_to=result)
    assert "can't use image edits" in (await answer_to(fake, mine)).content
    said = await thread_answer(fake, thread, bob, "make it snowy")
    assert "can't use refine threads" in said.content
    assert len(router.requests) == asked

    made = await outcome(fake, await fake.slash(carol, channel, "imagine", {"prompt": "a cat"}))
    assert made.attachments and len(router.requests) == asked + 1
    blocked = fake.create_role(guild, "blocked")
    dave = fake.create_user("dave", guild=guild, roles=(artists, blocked))
    await rule(ready, guild, lambda r: replace(r, roles_denied=(str(blocked.id),)))
    text = await refusal(await fake.slash(dave, channel, "imagine", {"prompt": "a cat"}))
    assert "can't use /imagine" in text


async def test_channel_and_server_default_models_lose_to_an_explicit_choice(ready, world, router):
    fake, guild, channel, alice, _bob = world
    other = fake.create_channel(guild, "other")
    await rule(
        ready,
        guild,
        lambda r: r.with_default("imagine", GEMINI, str(channel.id)).with_default("edit", GEMINI),
    )
    await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox"}))
    assert models_asked(router)[-1] == GEMINI  # the channel's default
    await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox", "model": GPT})
    )
    assert models_asked(router)[-1] == GPT  # the user's choice wins
    await outcome(fake, await fake.slash(alice, other, "imagine", {"prompt": "a fox"}))
    assert models_asked(router)[-1] == GPT  # no channel default there: the config's

    post = await fake.post_message(alice, other, "pic", attachments=[("a.png", png())])
    mine = await fake.post_message(alice, other, "make it blue", reply_to=post, mention_bot=True)
    edited = await answer_to(fake, mine)
    assert edited.attachments and models_asked(router)[-1] == GEMINI  # the server's edit default


async def test_the_model_allow_list_refuses_another_model_and_keeps_the_prompt(
    ready, world, router
):
    fake, guild, channel, alice, _bob = world
    await rule(ready, guild, lambda r: replace(r, models=(GPT,)))
    asked = len(router.requests)
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a heron", "model": GEMINI})
    message = await outcome(fake, handle)
    embed = message.embeds[0]
    assert "allows only these models: GPT Image 1" in embed["description"]
    assert fields_of(message)["Your prompt was"] == "a heron"
    assert any(c.startswith("easel:remix:") for c in message.custom_ids())
    assert len(router.requests) == asked
    await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a heron"}))
    assert models_asked(router)[-1] == GPT


async def test_a_thread_refuses_a_model_outside_the_allow_list(ready, world, router):
    fake, guild, channel, alice, _bob = world
    _result, thread = await start_thread(fake, channel, alice)
    await ready.idle()
    await rule(ready, guild, lambda r: replace(r, models=(GEMINI,)))
    switch = await fake.slash(alice, thread, "easel-thread", {"model": GPT})
    assert "allows only these models: Gemini 3 Pro Image" in await refusal(switch)
    session = await ready.bot.service.sessions.for_thread(str(thread.id))
    assert session.model == GEMINI


async def test_role_limits_on_count_and_resolution(ready, world, router):
    fake, guild, channel, alice, bob = world
    patrons = fake.create_role(guild, "patrons")
    carol = fake.create_user("carol", guild=guild, roles=(patrons,))
    await rule(
        ready,
        guild,
        lambda r: r.with_limit(EVERYONE, Limit(max_count=2, max_resolution="2K")).with_limit(
            str(patrons.id), Limit(max_resolution="4K")
        ),
    )
    asked = len(router.requests)
    many = {"prompt": "owls", "count": 4}
    message = await outcome(fake, await fake.slash(bob, channel, "imagine", many))
    assert "at most 2 image(s)" in message.embeds[0]["description"]
    big = {"prompt": "owls", "model": GEMINI, "resolution": "4K"}
    message = await outcome(fake, await fake.slash(bob, channel, "imagine", big))
    assert "4K isn't open to your roles here; the most is 2K" in message.embeds[0]["description"]
    assert len(router.requests) == asked
    made = await outcome(fake, await fake.slash(carol, channel, "imagine", big))
    assert made.attachments and len(router.requests) == asked + 1
    made = await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "x", "count": 2})
    )
    assert len(made.embeds) >= 1 and len(router.requests) == asked + 2


async def test_cost_shown_to_everyone_the_requester_or_nobody(ready, world, router):
    fake, guild, channel, alice, _bob = world
    shown = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a"}))
    assert "Cost" in fields_of(shown)
    await rule(ready, guild, lambda r: replace(r, cost_shown="nobody"))
    hidden = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "b"}))
    assert "Cost" not in fields_of(hidden)
    await rule(ready, guild, lambda r: replace(r, cost_shown="requester"))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "c"})
    public = await outcome(fake, handle)
    assert "Cost" not in fields_of(public) and not public.ephemeral
    await ready.idle()
    [told] = [m for m in await handle.wait_followups(1) if m is not public]
    assert told.ephemeral and "cost $" in told.content
    private = await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "d", "private": True})
    )
    assert private.ephemeral and "Cost" in fields_of(private)  # the requester's alone


async def test_private_by_default(ready, world, router):
    fake, guild, channel, alice, _bob = world
    await rule(ready, guild, lambda r: replace(r, private=True))
    quiet = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a"}))
    assert quiet.ephemeral
    loud = await outcome(
        fake, await fake.slash(alice, channel, "imagine", {"prompt": "b", "private": False})
    )
    assert not loud.ephemeral


async def test_the_settings_panel_changes_rules_that_survive_a_restart(ready, world, router):
    fake, guild, channel, alice, _bob = world
    admins = fake.create_role(guild, "admins", Perm.MANAGE_GUILD | Perm.MANAGE_CHANNELS)
    mods = fake.create_role(guild, "mods", Perm.MANAGE_CHANNELS)
    owner = fake.create_user("owner", guild=guild, roles=(admins,))
    carol = fake.create_user("carol", guild=guild, roles=(mods,))
    opened = await fake.slash(owner, channel, "easel-settings", {})
    panel = await opened.original()
    assert panel.ephemeral and panel.embeds[0]["title"] == "Easel settings"

    shown = await fake.select(owner, panel, "settings:section", ["models"])
    await shown.wait_ack(5)
    picked = await fake.select(owner, panel, "settings:default:imagine", [GEMINI])
    await picked.wait_ack(5)
    assert "imagine default: Gemini 3 Pro Image" in str(fake.message(panel.id).embeds)

    mod_panel = await (await fake.slash(carol, channel, "easel-settings", {})).original()
    await (await fake.select(carol, mod_panel, "settings:section", ["results"])).wait_ack(5)
    denied = await fake.select(carol, mod_panel, "settings:cost", ["nobody"])
    assert "Manage Server" in await refusal(denied)
    await (await fake.select(carol, mod_panel, "settings:section", ["channel"])).wait_ack(5)
    await (await fake.click(carol, mod_panel, "settings:here")).wait_ack(5)
    assert "Easel answers here: **no**" in str(fake.message(mod_panel.id).embeds)

    await ready.restart()
    await fake.wait_for_commands(COMMANDS)
    text = await refusal(await fake.slash(alice, channel, "imagine", {"prompt": "a wren"}))
    assert "I don't answer in this channel" in text
    other = fake.create_channel(guild, "other")
    await outcome(fake, await fake.slash(alice, other, "imagine", {"prompt": "a wren"}))
    assert models_asked(router)[-1] == GEMINI  # the server default set in the panel


async def test_only_managers_open_the_panel_and_replies_option_still_works(ready, world):
    fake, _guild, channel, alice, _bob = world
    refused = await fake.slash(alice, channel, "easel-settings", {})
    assert "Manage Channels" in await refusal(refused)
