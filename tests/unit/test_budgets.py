"""Budget policy and the ledger in the store: periods, whose allowance applies, the hold placed
with the job, settled or released with its end, and a two-process burst that can't overspend."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.budgets import Limit, Member, Rules, Totals, check, money, period_end, period_start
from bot.catalog import Catalog
from bot.domain import ImageSpec, JobKind, JobStatus
from bot.errors import NeedsConfirmation, OverBudget
from bot.inputs import Limits, Request
from bot.records import JobRecords
from bot.spending import Spending
from bot.storage import Store

ROOT = Path(__file__).resolve().parents[2]
GPT = "azure/openai/gpt-image-1"
NOW = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)  # a Thursday


@pytest.fixture
async def store(store_url, tmp_path):
    async with await Store.open(store_url, tmp_path / "data") as store:
        yield store


def guild() -> str:
    return uuid.uuid4().hex[:16]  # a server of its own, so a shared PostgreSQL database is clean


def records_for(store, **options) -> JobRecords:
    return JobRecords(
        store, Limits(max_queued_per_user=1000), Spending(store, Catalog.load(), **options)
    )


def request(guild_id: str, user: str = "7", roles=(), **spec) -> Request:
    origin = {"guild_id": guild_id, "channel_id": "1", "user_id": user, "role_ids": list(roles)}
    return Request(JobKind.IMAGINE, "a fox", ImageSpec(model=GPT, **spec), user, origin)


def test_calendar_periods_in_utc():
    assert period_start("day", NOW) == datetime(2026, 12, 31, tzinfo=UTC)
    assert period_start("week", NOW) == datetime(2026, 12, 28, tzinfo=UTC)  # Monday
    assert period_start("month", NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert period_end("day", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("week", NOW) == datetime(2027, 1, 4, tzinfo=UTC)
    assert period_end("month", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert (money(0.0421), money(12.5)) == ("$0.042", "$12.50")


def test_user_before_largest_role_before_member_default():
    rules = Rules(
        (
            Limit("member", "", "usd", "day", 0.5),
            Limit("role", "r1", "usd", "day", 1.0),
            Limit("role", "r2", "usd", "day", 3.0),
            Limit("user", "u1", "usd", "day", 0.25),
        )
    )
    assert rules.allowance(Member("g", "u1", ("r2",)), "usd", "day").amount == 0.25
    both = rules.allowance(Member("g", "u2", ("r1", "r2")), "usd", "day")
    assert (both.amount, both.whose, both.role_id) == (3.0, "your role's", "r2")
    assert rules.allowance(Member("g", "u3"), "usd", "day").whose == "the server's per-member"
    assert rules.allowance(Member("g", "u3"), "usd", "week") is None


def test_the_server_budget_caps_the_sum_and_the_bot_cap_the_day():
    rules = Rules((Limit("server", "", "usd", "month", 1.0),))
    totals = Totals(server_usd={"month": 0.98}, bot_day_usd=4.99)
    member = Member("g", "u")
    refusal = check(rules, member, totals, cost=0.04, images=1, now=NOW)
    assert (refusal.whose, refusal.period) == ("the server's", "month")
    assert "$0.020 left" in refusal.message() and "about $0.040" in refusal.message()
    assert check(Rules(), member, totals, cost=0.04, images=1, now=NOW, bot_usd_per_day=5.0)
    assert check(Rules(), member, totals, cost=0.01, images=1, now=NOW, bot_usd_per_day=5.0) is None


async def test_the_hold_is_placed_with_the_job_and_settled_to_the_cost(store):
    records = records_for(store)
    job = await records.store(request(guild()))
    held = await store.spend_of(job.id)
    assert (held.state, held.amount) == ("held", pytest.approx(0.042))
    await store.start_job(job.id, "w")
    await store.finish_job(job.id, result_images=[], result_text=None, cost=0.05)
    settled = await store.spend_of(job.id)
    assert (settled.state, settled.amount, settled.estimated) == ("settled", 0.05, False)
    assert settled.seconds is not None and settled.seconds >= 0


async def test_no_cost_from_the_router_records_the_estimate_marked_estimated(store):
    job = await records_for(store).store(request(guild(), quality="high"))
    await store.start_job(job.id, "w")
    await store.finish_job(job.id, result_images=[], result_text=None, cost=None)
    row = await store.spend_of(job.id)
    assert (row.state, row.amount, row.estimated) == ("settled", pytest.approx(0.167), True)


@pytest.mark.parametrize("end", ["fail", "cancel"])
async def test_a_failed_or_cancelled_job_releases_its_hold(store, end):
    job = await records_for(store).store(request(guild()))
    if end == "fail":
        await store.fail_job(job.id, error_code="x", error_message="x")
    else:
        await store.cancel_job(job.id)
    row = await store.spend_of(job.id)
    assert (row.state, row.amount) == ("released", 0.0)


async def test_over_budget_keeps_the_job_failed_and_counts_the_refusal(store):
    server = guild()
    await store.set_limit(server, Limit("user", "7", "usd", "day", 0.05))
    records = records_for(store)
    await records.store(request(server))
    with pytest.raises(OverBudget) as refused:
        await records.store(request(server))
    job = await store.get_job(refused.value.job_id)
    assert job.status is JobStatus.FAILED and job.error_code == "over_budget"
    assert (await store.spend_of(job.id)).state == "refused"


async def test_the_median_of_recent_costs_refines_the_estimate(store):
    spending = Spending(store, Catalog.load())
    records = JobRecords(store, Limits(max_queued_per_user=1000), spending)
    for cost in (0.03, 0.05, 0.04):
        job = await records.store(request(guild()))
        await store.start_job(job.id, "w")
        await store.finish_job(job.id, result_images=[], result_text=None, cost=cost)
    assert await spending.estimate(ImageSpec(model=GPT)) == pytest.approx(0.04)
    assert await spending.estimate(ImageSpec(model=GPT, n=2)) == pytest.approx(0.084)  # no median


async def test_above_the_threshold_the_user_confirms_first(store):
    records = records_for(store, confirm_above=0.5)
    with pytest.raises(NeedsConfirmation) as asked:
        await records.store(request(guild(), quality="high", n=4))
    assert "$0.668" in asked.value.user_message
    kept = await store.get_job(asked.value.job_id)
    assert (await store.spend_of(kept.id)) is None  # nothing held until confirmed
    await records.store(request(guild(), quality="high", n=4), confirmed=True)


async def test_two_processes_bursting_at_once_never_overspend(store_url, store, tmp_path):
    server, budget = guild(), 0.13  # room for 3 holds of $0.042
    await store.set_limit(server, Limit("user", "7", "usd", "day", budget))
    go = tmp_path / "go"
    command = [sys.executable, "-m", "tests.unit.budget_burst", store_url, str(tmp_path / "data")]
    procs = [
        await asyncio.create_subprocess_exec(
            *command, server, "7", str(go), "5", cwd=ROOT, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    await asyncio.sleep(0.5)  # both open the store and wait for the go file
    go.touch()
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
    assert all(p.returncode == 0 for p in procs)
    held = sum(int(out.decode().strip()) for out, _ in outputs)
    assert held == 3
    rows = await store.spend_rows(server, datetime(2000, 1, 1, tzinfo=UTC))
    assert sum(r.amount for r in rows if r.state == "held") <= budget


async def test_a_job_the_budget_refuses_anyway_is_refused_before_confirming(store):
    server = guild()
    await store.set_limit(server, Limit("server", "", "usd", "month", 0.5))
    with pytest.raises(OverBudget) as refused:
        await records_for(store, confirm_above=0.5).store(request(server, quality="high", n=4))
    assert "the server's monthly budget of $0.500" in refused.value.user_message
    assert (await store.spend_of(refused.value.job_id)).state == "refused"


def test_the_spend_settings_are_checked():
    from bot.config import load_settings
    from bot.errors import ConfigError

    settings = load_settings(_env_file=None, budget_usd_per_day="12.5")
    assert (settings.budget_usd_per_day, settings.confirm_above_usd) == (12.5, 0.5)
    with pytest.raises(ConfigError, match="BUDGET_USD_PER_DAY"):
        load_settings(_env_file=None, budget_usd_per_day="-1")
