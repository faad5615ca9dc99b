"""Server rules (``bot.rules``) and their enforcement and cache (``bot.policy``) on a real store:
one indexed lookup per event at most, changes seen at once here and within the TTL by another
process, compare-and-set changes that don't lose each other, and what each refusal says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.catalog import Catalog
from bot.domain import ImageSpec
from bot.errors import AccessDenied, OverLimit
from bot.policy import Policy
from bot.rules import EVERYONE, Limit, Rules
from bot.storage import Store
from tests.unit.test_storage import url as database_url

GPT = "azure/openai/gpt-image-1"
GEMINI = "vertex/google/gemini-3-pro-image-preview"
HERE = {"guild_id": "1", "channel_id": "10", "role_ids": ["7"]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


url = database_url  # the fixture: SQLite, or EASEL_TEST_DATABASE_URL


@pytest.fixture
async def store(url, tmp_path):  # noqa: F811
    """SQLite, or PostgreSQL when EASEL_TEST_DATABASE_URL names one (as in test_storage)."""
    async with await Store.open(url, tmp_path / "data") as store:
        yield store


def test_rules_round_trip_and_tolerate_old_rows():
    rules = (
        Rules()
        .with_channel("10", False)
        .with_roles("edit", ("7",))
        .with_default("imagine", GEMINI, "10")
        .with_default("refine", GPT)
        .with_limit(EVERYONE, Limit(max_count=2))
    )
    assert Rules.from_json(rules.to_json()) == rules
    assert Rules.from_json({"cost_shown": "bogus", "unknown": 1}) == Rules()
    assert rules.default_model("imagine", "10") == GEMINI
    assert rules.default_model("refine", "10") == GPT
    assert rules.with_default("imagine", None, "10").channel_defaults == {}


def test_limits_take_the_most_generous_entry_per_dimension():
    rules = Rules().with_limit(EVERYONE, Limit(2, "2K")).with_limit("7", Limit(None, "4K"))
    assert rules.limit_for(()) == Limit(2, "2K")
    assert rules.limit_for(("7",)) == Limit(2, "4K")
    assert rules.with_limit("7", Limit()).limits.keys() == {EVERYONE}


def test_channel_allow_list_and_denials():
    rules = replace(Rules(), channels_allowed=("10",))
    assert rules.answers_in("10") and not rules.answers_in("11")
    assert rules.with_channel("11", True).answers_in("11")
    assert not rules.with_channel("10", False).answers_in("10")
    assert Rules().answers_in(None)


async def test_one_lookup_per_event_and_changes_seen_at_once_here(store):
    clock = Clock()
    policy = Policy(store, Catalog.load(), ttl=5, clock=clock)
    await policy.admit("imagine", HERE)
    await policy.default_model("imagine", HERE)
    await policy.private_default(HERE)
    assert policy.lookups == 1
    await policy.change("1", lambda r: r.with_channel("10", False))
    with pytest.raises(AccessDenied, match="I don't answer in this channel"):
        await policy.admit("imagine", HERE)
    assert (await policy.rules(None)) == Rules()  # outside a server: no lookup, no rules


async def test_another_process_sees_a_change_within_the_ttl(store):
    clock = Clock()
    mine = Policy(store, Catalog.load(), ttl=5, clock=clock)
    theirs = Policy(store, Catalog.load(), ttl=5, clock=clock)
    await theirs.admit("imagine", HERE)
    await mine.change("1", lambda r: r.with_roles("imagine", ("8",)))
    await theirs.admit("imagine", HERE)  # still cached
    clock.now = 5.1
    with pytest.raises(AccessDenied, match="<@&8>"):
        await theirs.admit("imagine", HERE)


async def test_changes_from_two_panels_both_land(store):
    one = Policy(store, Catalog.load(), ttl=60)
    two = Policy(store, Catalog.load(), ttl=60)
    await one.rules("1")
    await two.rules("1")  # both cached at version 0
    await one.change("1", lambda r: replace(r, private=True))
    await two.change("1", lambda r: replace(r, cost_shown="nobody"))
    data, version = await store.guild_rules("1")
    assert version == 2 and data["private"] is True and data["cost_shown"] == "nobody"


async def test_refusals_name_what_is_allowed(store):
    policy = Policy(store, Catalog.load())
    rules = replace(Rules(), models=(GPT,)).with_limit(EVERYONE, Limit(1, "1K"))
    with pytest.raises(OverLimit, match="only these models: GPT Image 1"):
        policy.check(rules, ImageSpec(model=GEMINI), HERE)
    with pytest.raises(OverLimit, match="at most 1 image"):
        policy.check(rules, ImageSpec(model=GPT, n=3), HERE)
    with pytest.raises(OverLimit, match="the most is 1K"):
        policy.check(replace(rules, models=()), ImageSpec(model=GEMINI, resolution="2K"), HERE)
    policy.check(rules, ImageSpec(model=GPT), HERE)
