"""/history's search in the store: owner, server, model, privacy and prompt words (SQLite
FTS5; PostgreSQL full-text search with EASEL_TEST_DATABASE_URL=postgresql+asyncpg://...)."""

from __future__ import annotations

import os

import pytest

from bot.domain import JobKind
from bot.storage import Store, make_engine
from bot.storage.history import HistoryQuery, fts_query

GPT, GEMINI = "azure/openai/gpt-image-1", "vertex/google/gemini-3-pro-image-preview"


@pytest.fixture
async def store(tmp_path):
    url = os.environ.get("EASEL_TEST_DATABASE_URL")
    if url:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
        await engine.dispose()
    url = url or f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    async with await Store.open(url, tmp_path / "data") as store:
        yield store


async def done(store: Store, prompt: str, user: str, model: str = GPT, **origin) -> int:
    job = await store.create_job(
        kind=JobKind.IMAGINE,
        prompt=prompt,
        params={"model": model, "n": 1},
        user_id=user,
        origin={"guild_id": "1", "private": False, **origin},
    )
    await store.start_job(job.id, "w")
    await store.finish_job(job.id, result_images=[], result_text=None, cost=None)
    return job.id


async def test_search_by_words_owner_model_and_privacy(store):
    fox = await done(store, "A red fox in the snow", "alice")
    cat = await done(store, "a sleeping cat", "alice", GEMINI)
    secret = await done(store, "a secret fox", "alice", private=True)
    bobs = await done(store, "bob's fox, running", "bob")
    elsewhere = await done(store, "a fox abroad", "alice", guild_id="2")
    await store.create_job(  # queued, not finished: not listed
        kind=JobKind.IMAGINE, prompt="fox queued", params={"model": GPT}, user_id="alice", origin={}
    )

    async def ids(**query) -> list[int]:
        return [j.id for j in await store.search_jobs(HistoryQuery(**query), limit=10)]

    assert await ids(user_id="alice", text="fox") == [elsewhere, secret, fox]
    assert await ids(user_id="alice", text="FOX snow") == [fox]  # every word, any case
    assert await ids(user_id="alice", guild_id="1") == [secret, cat, fox]
    assert await ids(user_id="alice", model=GEMINI) == [cat]
    assert await ids(text="fox", guild_id="1", public_only=True) == [bobs, fox]
    assert await ids(user_id="alice", text="dog") == []
    page = await store.search_jobs(HistoryQuery(user_id="alice"), offset=1, limit=2)
    assert [j.id for j in page] == [secret, cat]


async def test_search_text_is_words_not_syntax(store):
    fox = await done(store, 'the "quoted" fox (AND) NOT here*', "alice")
    found = await store.search_jobs(HistoryQuery(text='"quoted" NOT (AND) here*'))
    assert [j.id for j in found] == [fox]
    assert await store.search_jobs(HistoryQuery(text="*** ()")) == []
    assert fts_query('a "b" c') == '"a" "b" "c"'


async def test_deleted_jobs_leave_the_index(store):
    if store._engine.dialect.name != "sqlite":
        pytest.skip("the FTS5 triggers are SQLite's")
    fox = await done(store, "a fox", "alice")
    async with store._engine.begin() as conn:
        await conn.exec_driver_sql(f"DELETE FROM job_images WHERE job_id = {fox}")
        await conn.exec_driver_sql(f"DELETE FROM jobs WHERE id = {fox}")
        count = await conn.exec_driver_sql(
            "SELECT count(*) FROM jobs_fts WHERE jobs_fts MATCH 'fox'"
        )
        assert count.scalar() == 0
