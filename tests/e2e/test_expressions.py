"""Add as emoji / Add as sticker from a result's More… select, through the real discord.py
client and the fake Discord: trimmed and fitted within Discord's limits, only for members
with Manage Expressions, and working after a restart."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.e2e.conftest import outcome
from tests.fakes.discord.permissions import Perm

pytestmark = pytest.mark.timeout(120)


def more(message) -> str:
    return next(c for c in message.custom_ids() if c.startswith("easel:more:"))


def grant_bot(fake, guild) -> None:
    bot_member = guild.members[fake.world.bot_user.id]
    for role_id in bot_member.roles:
        guild.roles[role_id].permissions |= Perm.MANAGE_GUILD_EXPRESSIONS


async def transparent_result(fake, channel, user):
    options = {"prompt": "a fox sticker", "background": "transparent"}
    return await outcome(fake, await fake.slash(user, channel, "imagine", options))


async def test_add_as_emoji_and_sticker_after_a_restart(easel, world, router):
    fake, guild, channel, _alice, _bob = world
    grant_bot(fake, guild)
    curator = fake.create_role(guild, "curators", Perm.MANAGE_GUILD_EXPRESSIONS)
    carol = fake.create_user("carol", guild=guild, roles=(curator,))
    result = await transparent_result(fake, channel, carol)
    await easel.idle()
    await easel.restart()
    handle = await fake.select(carol, result, more(result), ["emoji"])
    [answer] = await handle.wait_followups(1, timeout=20)
    assert "Added" in answer.content and ":a_fox_sticker:" in answer.content
    [emoji] = guild.emojis
    assert emoji["name"] == "a_fox_sticker" and len(emoji["data"]) <= 256 * 1024
    with Image.open(io.BytesIO(emoji["data"])) as im:
        assert im.format == "PNG" and im.size == (128, 128)
        assert im.convert("RGBA").getpixel((0, 0))[3] == 0  # still transparent around it
    handle = await fake.select(carol, result, more(result), ["sticker"])
    [answer] = await handle.wait_followups(1, timeout=20)
    assert "Added the sticker" in answer.content
    [sticker] = guild.stickers
    assert sticker["tags"] and len(sticker["data"]) <= 512 * 1024
    with Image.open(io.BytesIO(sticker["data"])) as im:
        assert im.format == "PNG" and im.size == (320, 320)


async def test_only_members_with_manage_expressions(easel, world, router):
    fake, guild, channel, alice, _bob = world
    grant_bot(fake, guild)
    result = await transparent_result(fake, channel, alice)
    handle = await fake.select(alice, result, more(result), ["emoji"])
    answer = await handle.original()
    assert "Manage Expressions" in str(answer.embeds) and not guild.emojis


async def test_the_bot_without_manage_expressions_says_so(easel, world, router):
    fake, guild, channel, _alice, _bob = world
    curator = fake.create_role(guild, "curators", Perm.MANAGE_GUILD_EXPRESSIONS)
    carol = fake.create_user("carol", guild=guild, roles=(curator,))
    result = await transparent_result(fake, channel, carol)
    handle = await fake.select(carol, result, more(result), ["sticker"])
    [answer] = await handle.wait_followups(1, timeout=20)
    assert "I need the Manage Expressions permission" in str(answer.embeds)
    assert not guild.stickers
