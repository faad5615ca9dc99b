"""Conversations on a real SQLite store: opening, the one version rule, revert, branch, replay,
adopt, recording only successes, and the context each kind of model is sent."""

from __future__ import annotations

import pytest

from bot.catalog import Catalog
from bot.conversation import Budget
from bot.domain import GeneratedImage, ImageSpec, JobKind, Place, RebuiltPair, RouterResult
from bot.errors import InputError, NotFound
from bot.sessions import Conversations
from bot.storage import Store
from tests.unit.pictures import encode, noisy

pytestmark = pytest.mark.timeout(30)

GEMINI = "vertex/google/gemini-3-pro-image-preview"
GPT = "azure/openai/gpt-image-1"
PLACE = Place("t1", "c1", "g1", "u1")


def png(seed: int) -> bytes:
    return encode(noisy((16, 16), seed=seed), "PNG")


@pytest.fixture
async def store(tmp_path):
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", tmp_path) as store:
        yield store


@pytest.fixture
def sessions(store) -> Conversations:
    return Conversations(store, Catalog.load(), Budget(), refine_model=GEMINI, max_pixels=10**7)


async def finished_job(store: Store, model: str, prompt: str, seed: int, **fields):
    """A done job with one result image, as the service leaves it."""
    params = ImageSpec(model=model, aspect_ratio="16:9").to_params()
    job = await store.create_job(
        kind=JobKind.IMAGINE, prompt=prompt, params=params, user_id="u1", origin={}, **fields
    )
    sha = (await store.put_image(png(seed), "image/png")).sha256
    await store.start_job(job.id, "w")
    return await store.finish_job(
        job.id, result_images=[sha], result_text=f"text {seed}", cost=None
    )


async def turn_job(store: Store, session_id: int, model: str, prompt: str, **origin):
    return await store.create_job(
        kind=JobKind.REFINE,
        prompt=prompt,
        params={"model": model},
        user_id="u1",
        origin=origin,
        session_id=session_id,
    )


def answer(seed: int, text: str = "done") -> tuple[RouterResult, list[str]]:
    image = GeneratedImage(data=png(seed), mime="image/png", width=16, height=16)
    return RouterResult(images=(image,), text=text, reasoning_details=[{"seed": seed}]), []


async def record(store, sessions, session_id, model, prompt, seed):
    job = await turn_job(store, session_id, model, prompt)
    result, _ = answer(seed)
    sha = (await store.put_image(result.images[0].data, "image/png")).sha256
    await sessions.record(job, result, [sha])
    return job


async def test_open_seeds_v1_and_is_idempotent(store, sessions):
    source = await finished_job(store, GEMINI, "a barn", 1)
    session = await sessions.open(PLACE, source)
    again = await sessions.open(PLACE, source)
    assert again.id == session.id
    turns = await store.turns(session.id)
    assert [(t.role, t.version) for t in turns] == [("user", None), ("assistant", 1)]
    assert session.model == GEMINI and session.settings == {"spec": {"aspect_ratio": "16:9"}}
    assert (await store.get_session(session.id)).head_turn_id == turns[1].id
    assert await sessions.version_of(source) is None  # the source job belongs to no session
    assert await sessions.for_thread("t1") is not None


async def test_versions_count_up_and_revert_moves_the_head(store, sessions):
    session = await sessions.open(PLACE, await finished_job(store, GEMINI, "a barn", 1))
    v2 = await record(store, sessions, session.id, GEMINI, "snow", 2)
    v3 = await record(store, sessions, session.id, GEMINI, "night", 3)
    assert await sessions.version_of(v2) == 2 and await sessions.version_of(v3) == 3
    assert await sessions.revert(v2) == 2
    history = await sessions.history(session.id)
    assert [t.text for t in history] == ["a barn", "text 1", "snow", "done"]
    # The next turn after a revert is still a new number, never a reuse of v3.
    v4 = await record(store, sessions, session.id, GEMINI, "fox", 4)
    assert await sessions.version_of(v4) == 4


async def test_revert_of_a_job_outside_the_session_is_refused(store, sessions):
    stray = await finished_job(store, GEMINI, "elsewhere", 9)
    with pytest.raises(NotFound):
        await sessions.revert(stray)


async def test_branch_copies_up_to_the_chosen_version(store, sessions):
    session = await sessions.open(PLACE, await finished_job(store, GEMINI, "a barn", 1))
    v2 = await record(store, sessions, session.id, GEMINI, "snow", 2)
    await record(store, sessions, session.id, GEMINI, "night", 3)
    branch = await sessions.open(Place("t2", "c1", "g1", "u2"), v2, parent=session, upto_job=v2.id)
    turns = await store.turns(branch.id)
    assert [t.version for t in turns if t.role == "assistant"] == [1, 2]
    assert branch.parent_session_id == session.id
    v3b = await record(store, sessions, branch.id, GEMINI, "rain", 5)
    assert await sessions.version_of(v3b) == 3


async def test_replay_rebuilds_from_jobs_in_order(store, sessions):
    first = await finished_job(store, GPT, "a barn", 1)
    later = [await finished_job(store, GPT, p, s) for p, s in (("snow", 2), ("night", 3))]
    session = await sessions.replay(PLACE, first, later)
    answers = [t for t in await store.turns(session.id) if t.role == "assistant"]
    assert [t.version for t in answers] == [1, 2, 3]
    assert [t.job_id for t in answers] == [first.id, later[0].id, later[1].id]
    assert session.head_turn_id == answers[-1].id


async def test_adopt_rebuilds_from_messages_on_the_refine_model(store, sessions):
    pairs = [RebuiltPair("a barn", [], [png(1)]), RebuiltPair("snow", [png(5)], [png(2)])]
    session = await sessions.adopt(Place("t9", "c1", "g1", None), pairs)
    assert session.model == GEMINI and session.owner_id is None
    turns = await store.turns(session.id)
    assert [(t.role, t.text, len(t.images), t.version) for t in turns] == [
        ("user", "a barn", 0, None),
        ("assistant", None, 1, 1),
        ("user", "snow", 1, None),
        ("assistant", None, 1, 2),
    ]
    assert all(t.reasoning_details is None for t in turns)


async def test_chat_context_replays_the_transcript(store, sessions):
    session = await sessions.open(PLACE, await finished_job(store, GEMINI, "a barn", 1))
    await record(store, sessions, session.id, GEMINI, "snow", 2)
    job = await turn_job(store, session.id, GEMINI, "add a fox")
    call = await sessions.context(job, Catalog.load().get(GEMINI), [])
    assert call.messages is not None and not call.warnings
    roles = [m["role"] for m in call.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert call.messages[3]["reasoning_details"] == [{"seed": 2}]
    assert call.messages[-1] == {"role": "user", "content": "add a fox"}


async def test_chat_context_is_trimmed_with_a_warning(store, sessions):
    sessions.contexts.budget = Budget(max_turns=3)
    session = await sessions.open(PLACE, await finished_job(store, GEMINI, "a barn", 1))
    for seed in (2, 3, 4):
        await record(store, sessions, session.id, GEMINI, f"step {seed}", seed)
    job = await turn_job(store, session.id, GEMINI, "last")
    call = await sessions.context(job, Catalog.load().get(GEMINI), [])
    assert call.messages is not None and len(call.messages) == 3
    assert call.messages[0]["role"] == "user"
    assert call.warnings and "Only using the last 2 turns" in call.warnings[0]


async def test_images_context_uses_the_latest_or_the_replied_to_version(store, sessions):
    session = await sessions.open(PLACE, await finished_job(store, GPT, "a barn", 1))
    v2 = await record(store, sessions, session.id, GPT, "snow", 2)
    gpt = Catalog.load().get(GPT)
    latest = await sessions.context(await turn_job(store, session.id, GPT, "x"), gpt, [])
    assert latest.messages is None and latest.images[0].data == png(2)
    source = await finished_job(store, GPT, "old", 7)
    pointed = await turn_job(store, session.id, GPT, "y", base_job=source.id)
    assert (await sessions.context(pointed, gpt, [])).images[0].data == png(7)
    assert await sessions.version_of(v2) == 2


async def test_images_context_without_any_image_is_an_input_error(store, sessions):
    session = await store.create_session(
        thread_id="t5", channel_id="c", guild_id="g", owner_id="u", model=GPT, family="images"
    )
    job = await turn_job(store, session.id, GPT, "x")
    with pytest.raises(InputError):
        await sessions.context(job, Catalog.load().get(GPT), [])


async def test_owner_only_setting_is_kept(store, sessions):
    session = await sessions.open(PLACE, await finished_job(store, GEMINI, "a barn", 1))
    await sessions.set_owner_only(session, True)
    kept = await store.get_session(session.id)
    assert kept.settings["owner_only"] is True and kept.settings["spec"] == session.settings["spec"]
