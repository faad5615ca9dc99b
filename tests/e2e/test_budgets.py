"""Budgets, quotas and cooldowns through the real discord.py client, the fake Discord and the
fake router: refused before any router request, with the figures, the prompt kept and Retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.budgets import money, period_end
from bot.domain import JobStatus
from tests.e2e.conftest import outcome
from tests.e2e.test_edit import answer_to, edits_to, png
from tests.e2e.test_imagine import GEMINI, button
from tests.e2e.test_refine import chat_bodies, say, start_thread
from tests.fakes.router import Fault

pytestmark = pytest.mark.timeout(120)


def generations(router):
    return [r for r in router.requests if r.path.endswith("/images/generations")]


async def as_owner(fake, channel, command, options=None):
    """Run an owner command and return its ephemeral answer's text."""
    handle = await fake.slash(fake.world.owner, channel, command, options or {})
    message = await handle.original(10)
    assert handle.ephemeral, command
    return message.content


async def imagine(fake, user, channel, prompt, **options):
    handle = await fake.slash(user, channel, "imagine", {"prompt": prompt, **options})
    return await outcome(fake, handle)


def refused_text(message):
    return " ".join(str(e.get("description", "")) for e in message.embeds) + str(message.embeds)


async def costs_of(easel, user):
    jobs = await easel.store.jobs_with_status(JobStatus.DONE)
    return [j.cost for j in jobs if j.user_id == str(user.id)]


async def test_a_user_budget_refuses_the_job_that_would_exceed_it(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    text = await as_owner(
        fake, channel, "easel-budget set", {"amount": 0.1, "per": "day", "user": alice}
    )
    assert f"<@{alice.id}>" in text and "$0.100 daily" in text
    for prompt in ("one fox", "two foxes"):
        assert (await imagine(fake, alice, channel, prompt)).attachments
    await easel.idle()
    asked = len(router.requests)
    refused = await imagine(fake, alice, channel, "three foxes")
    assert not refused.attachments
    spent = sum(await costs_of(easel, alice))
    estimate = await easel.bot.service.spending.estimate(
        (await easel.store.jobs_with_status(JobStatus.DONE))[-1].spec
    )
    resets = int(period_end("day", datetime.now(UTC)).timestamp())
    shown = refused_text(refused)
    assert "your daily budget of $0.100" in shown
    assert f"{money(0.1 - spent)} left" in shown
    assert f"would cost about {money(estimate)}" in shown
    assert f"<t:{resets}:R>" in shown
    assert "three foxes" in shown  # the prompt is kept
    assert button(refused, "retry")
    assert len(router.requests) == asked  # refused before any router request
    failed = await easel.store.jobs_with_status(JobStatus.FAILED)
    assert failed[-1].error_code == "over_budget" and failed[-1].prompt == "three foxes"


async def test_a_burst_of_five_with_budget_for_two_runs_two(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.1, "per": "day", "user": alice})
    handles = await asyncio.gather(
        *(fake.slash(alice, channel, "imagine", {"prompt": f"fox {i}"}) for i in range(5))
    )
    messages = [await outcome(fake, h) for h in handles]
    await easel.idle()
    made = [m for m in messages if m.attachments]
    assert len(made) == 2 and len(generations(router)) == 2
    assert all("daily budget" in refused_text(m) for m in messages if not m.attachments)
    assert sum(await costs_of(easel, alice)) <= 0.1


async def test_a_failed_job_releases_its_hold(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.05, "per": "day", "user": alice})
    router.add_fault(Fault(kind="status", status=400, endpoint="generations"))
    failed = await imagine(fake, alice, channel, "a failing fox")
    assert not failed.attachments and "daily budget" not in refused_text(failed)
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.FAILED))[-1]
    row = await easel.store.spend_of(job.id)
    assert (row.state, row.amount) == ("released", 0.0)
    assert (await imagine(fake, alice, channel, "a working fox")).attachments  # room again


async def test_the_period_resets_with_time_injected(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    spending = easel.bot.service.spending
    now = [datetime(2026, 12, 2, 23, 58, tzinfo=UTC)]
    spending.clock = lambda: now[0]
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.05, "per": "day", "user": alice})
    assert (await imagine(fake, alice, channel, "before midnight")).attachments
    await easel.idle()
    refused = await imagine(fake, alice, channel, "still today")
    midnight = datetime(2026, 12, 3, tzinfo=UTC)
    assert f"<t:{int(midnight.timestamp())}:R>" in refused_text(refused)
    now[0] = midnight + timedelta(minutes=1)
    retried = await outcome(fake, await fake.click(alice, refused, button(refused, "retry")))
    assert retried.attachments and "still today" in retried.embeds[0]["description"]


async def test_a_role_allowance_a_member_default_and_the_server_cap(easel, world, router):
    fake, guild, channel, _alice, bob = world
    artists = fake.create_role(guild, "artists")
    carol = fake.create_user("carol", guild=guild, roles=(artists,))
    await as_owner(
        fake, channel, "easel-budget set", {"amount": 0.1, "per": "day", "role": artists}
    )
    await as_owner(
        fake, channel, "easel-budget set", {"amount": 0.05, "per": "day", "each_member": True}
    )
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.12, "per": "day"})
    for prompt in ("carol 1", "carol 2"):
        assert (await imagine(fake, carol, channel, prompt)).attachments
    await easel.idle()
    third = await imagine(fake, carol, channel, "carol 3")
    assert f"your role's (<@&{artists.id}>) daily budget of $0.100" in refused_text(third)
    capped = await imagine(fake, bob, channel, "bob 1")  # his own 0.05 fits, the server's not
    assert "the server's daily budget of $0.120" in refused_text(capped)
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.2, "per": "day"})
    await asyncio.sleep(0)  # the cache was dropped by the command itself
    assert (await imagine(fake, bob, channel, "bob 2")).attachments
    await easel.idle()
    over = await imagine(fake, bob, channel, "bob 3")
    assert "the server's per-member daily budget of $0.050" in refused_text(over)


async def test_an_image_quota_counts_each_image_and_a_cooldown_waits(easel, world, router):
    fake, _guild, channel, alice, bob = world
    await as_owner(fake, channel, "easel-budget quota", {"images": 2, "per": "week", "user": alice})
    assert len((await imagine(fake, alice, channel, "two", count=2)).attachments) == 2
    await easel.idle()
    refused = await imagine(fake, alice, channel, "one more")
    assert "your weekly quota of 2 images: 0 left, and this job makes 1" in refused_text(refused)
    await as_owner(fake, channel, "easel-budget cooldown", {"seconds": 3600})
    assert (await imagine(fake, bob, channel, "first")).attachments
    await easel.idle()
    waiting = await imagine(fake, bob, channel, "second")
    assert "cooldown is 3600 s between jobs" in refused_text(waiting)


async def test_a_costly_job_asks_for_confirmation_first(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    asked = await imagine(fake, alice, channel, "four castles", quality="high", count=4)
    assert not asked.attachments and not generations(router)
    assert "would cost about $0.668, more than $0.500" in refused_text(asked)
    confirm = button(asked, "confirm")
    assert button(asked, "retry")  # like every error, it names its job
    handle = await fake.click(alice, asked, confirm)
    message = await outcome(fake, handle)
    assert len(message.attachments) == 4 and len(generations(router)) == 1
    again = await fake.click(alice, asked, confirm)
    assert "already confirmed" in str((await again.original(10)).embeds)
    assert len(generations(router)) == 1


async def test_usage_and_stats_agree_with_the_stored_costs(easel, world, router):
    fake, _guild, channel, alice, bob = world
    await as_owner(fake, channel, "easel-budget set", {"amount": 1, "per": "month", "user": alice})
    for user, prompt in ((alice, "a"), (alice, "b"), (bob, "c")):
        assert (await imagine(fake, user, channel, prompt)).attachments
    await easel.idle()
    mine, total = (
        sum(await costs_of(easel, alice)),
        sum(j.cost for j in await easel.store.jobs_with_status(JobStatus.DONE)),
    )
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.01, "per": "day", "user": bob})
    assert not (await imagine(fake, bob, channel, "refused")).attachments
    handle = await fake.slash(alice, channel, "easel-usage", {})
    usage = (await handle.original(10)).content
    assert f"{money(mine)} spent" in usage and f"{money(1 - mine)} left of your $1.00" in usage
    handle = await fake.slash(fake.world.owner, channel, "easel-stats", {"period": "month"})
    stats = await handle.original(10)
    assert f"{money(total)} spent on 3 jobs (3 done, 0 failed" in stats.content
    assert "1 refused by a limit" in stats.content
    assert f"<@{alice.id}> {money(mine)}" in stats.content
    files = {a.filename: a.data for a in stats.attachments}
    assert files["easel-spend.png"].startswith(b"\x89PNG")
    lines = files["easel-spend.csv"].decode().splitlines()[1:]
    assert sum(float(line.split(",")[5]) for line in lines) == pytest.approx(total, abs=1e-5)


async def test_someone_elses_usage_needs_manage_server(easel, world):
    fake, _guild, channel, alice, bob = world
    handle = await fake.slash(alice, channel, "easel-usage", {"user": bob})
    assert "Manage Server" in str((await handle.original(10)).embeds)


async def test_every_job_is_posted_in_the_log_channel(easel, world, router):
    fake, guild, channel, alice, _bob = world
    logs = fake.create_channel(guild, "easel-log")
    await as_owner(fake, channel, "easel-budget log", {"channel": logs})
    result = await imagine(fake, alice, channel, "a logged lynx")
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]

    def line():
        found = [m for m in fake.messages(logs) if f"Job {job.id} " in m.content]
        return found[0] if found else None

    posted = await fake.world.wait_until(line, 10, "the log channel's line")
    assert f"<@{alice.id}>" in posted.content and "a logged lynx" in posted.content
    assert money(job.cost) in posted.content and job.spec.model in posted.content
    assert f"/{channel.id}/{result.id}" in posted.content
    assert not posted.mention_ids  # nobody is pinged


async def test_a_reply_edit_over_budget_is_refused_in_the_reply_with_retry(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.01, "per": "month"})
    post = await fake.post_message(alice, channel, "my cat", attachments=[("cat.png", png())])
    mine = await fake.post_message(alice, channel, "make it blue", reply_to=post, mention_bot=True)
    answer = await answer_to(fake, mine)
    assert not answer.attachments and not edits_to(router)
    shown = refused_text(answer)
    assert "the server's monthly budget of $0.010" in shown and "make it blue" in shown
    assert button(answer, "retry")


async def test_show_lists_the_limits_and_clear_removes_them(easel, world):
    fake, guild, channel, alice, _bob = world
    logs = fake.create_channel(guild, "easel-log")
    await as_owner(fake, channel, "easel-budget set", {"amount": 2, "per": "week", "user": alice})
    await as_owner(fake, channel, "easel-budget quota", {"images": 20, "per": "day"})
    await as_owner(fake, channel, "easel-budget log", {"channel": logs})
    shown = await as_owner(fake, channel, "easel-budget show")
    assert f"<@{alice.id}>: $2.000 weekly" in shown and "the server: 20 images daily" in shown
    assert f"Log channel: <#{logs.id}>" in shown
    hers = await as_owner(fake, channel, "easel-budget show", {"user": alice})
    assert "$2.000 left of your $2.000" in hers
    cleared = await as_owner(fake, channel, "easel-budget clear", {"user": alice})
    assert "Cleared 1 limit" in cleared
    assert f"<@{alice.id}>" not in await as_owner(fake, channel, "easel-budget show")


async def test_budget_commands_need_manage_server(easel, world):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "easel-budget set", {"amount": 5, "per": "day"})
    answer = await handle.original(10)
    assert "Manage Server" in str(answer.embeds)
    assert not await easel.store.budget_limits(str(_guild.id))


async def test_limits_and_spend_hold_across_a_restart(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    await as_owner(fake, channel, "easel-budget set", {"amount": 0.05, "per": "day", "user": alice})
    assert (await imagine(fake, alice, channel, "before")).attachments
    await easel.idle()
    await easel.restart()
    await fake.wait_for_commands(["imagine"])
    refused = await imagine(fake, alice, channel, "after")
    assert "your daily budget of $0.050" in refused_text(refused)


async def test_a_thread_turn_is_held_to_the_role_budget_too(easel, world, router):
    fake, guild, channel, _alice, _bob = world
    artists = fake.create_role(guild, "artists")
    carol = fake.create_user("carol", guild=guild, roles=(artists,))
    await as_owner(
        fake, channel, "easel-budget set", {"amount": 0.2, "per": "day", "role": artists}
    )
    _result, thread = await start_thread(fake, channel, carol, model=GEMINI)
    await easel.idle()
    asked = len(chat_bodies(router))
    refused = await say(fake, thread, carol, "make it snowy")
    assert not refused.attachments and len(chat_bodies(router)) == asked
    shown = refused_text(refused)
    assert f"your role's (<@&{artists.id}>) daily budget of $0.200" in shown
    assert "make it snowy" in shown and button(refused, "retry")
