"""A public result may be built on only by someone who can see the channel it was posted in.

The channel rule is decided in the core (``check_may_use``) with what discord.py's cache says
about the member's permissions, here filled from the fake gateway's real overwrites."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain import JobStatus
from bot.errors import NotAllowed
from cogs import links
from tests.e2e.conftest import outcome
from tests.fakes.discord.model import Overwrite
from tests.fakes.discord.permissions import Perm

pytestmark = pytest.mark.timeout(120)


async def _hide_from(fake, guild, name, user):
    """A channel where ``user`` has VIEW_CHANNEL denied, known to the bot's cache."""
    channel = fake.create_channel(guild, name)
    channel.overwrites[user.id] = Overwrite(user.id, 1, 0, int(Perm.VIEW_CHANNEL))
    fake.world.dispatch("CHANNEL_UPDATE", fake.world.render.channel(channel), guild.id)
    return channel


async def test_a_public_result_in_a_hidden_channel_is_not_reused(easel, world, router):
    fake, guild, channel, alice, bob = world
    hidden = await _hide_from(fake, guild, "staff", bob)
    await outcome(fake, await fake.slash(alice, hidden, "imagine", {"prompt": "plans"}), timeout=60)
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    assert not job.origin.get("private")
    bot = easel.bot
    cached_guild = bot.get_guild(guild.id)
    async with asyncio.timeout(10):
        while not any(o.id == bob.id for o in cached_guild.get_channel(hidden.id).overwrites):
            await asyncio.sleep(0.02)
    # As an interaction or a guild message carries it: the member with their roles.
    bob_member = await cached_guild.fetch_member(bob.id)
    sees_bob = links.sees(cached_guild, bob_member)
    assert sees_bob(str(channel.id)) and not sees_bob(str(hidden.id))
    where_bob_is = {"guild_id": str(guild.id), "channel_id": str(channel.id)}
    calls = len(router.requests)
    with pytest.raises(NotAllowed, match="channel you can't see"):
        await bot.service.submit_retry(job, user_id=str(bob.id), origin=where_bob_is, sees=sees_bob)
    # Alice's own result is hers wherever she is; a member who sees the channel may reuse it.
    alice_sees = links.sees(cached_guild, await cached_guild.fetch_member(alice.id))
    again = await bot.service.submit_retry(
        job, user_id=str(alice.id), origin=where_bob_is, sees=alice_sees
    )
    assert again.status is JobStatus.QUEUED
    await bot.queue.enqueue(again)
    await easel.idle()
    assert len(router.requests) == calls + 1  # only Alice's retry reached the router
