"""The router half of refine: the service against the fake router, with a real store.

Checks the exact chat body on each turn (earlier texts and images in order, reasoning_details
echoed), that a reopened store (a restart) builds the identical body, that a failed turn leaves
no trace in the context, trimming with its warning, and an images-model session."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.catalog import Catalog
from bot.conversation import Budget
from bot.errors import NoImage
from bot.inputs import Limits, RawImage
from bot.router import RouterClient
from bot.service import ImageService
from bot.storage import Store
from tests.fakes.router import FakeRouter, Fault

GEMINI = "vertex/google/gemini-3-pro-image-preview"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def router():
    async with FakeRouter() as fake:
        yield fake


class Opened:
    def __init__(self, router, data_dir, budget=None):
        self.router, self.data_dir, self.budget = router, data_dir, budget or Budget()

    async def __aenter__(self):
        self.client = RouterClient(self.router.base_url, "test-key")
        self.store = await Store.open(
            f"sqlite+aiosqlite:///{self.data_dir / 'e.db'}", self.data_dir
        )
        return ImageService(self.client, self.store, Catalog.load(), Limits(budget=self.budget))

    async def __aexit__(self, *exc):
        await self.store.close()
        await self.client.aclose()


def png(colour=(10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(buf, "PNG")
    return buf.getvalue()


async def turn(service, session_id, text, inputs=()):
    job = await service.submit_refine(session_id, text, [RawImage(i) for i in inputs], user_id="u1")
    return await service.run(job.id)


def chat_bodies(router):
    return [r.body for r in router.requests if r.path.endswith("/chat/completions")]


async def test_chat_session_replays_everything_and_survives_restart(router, tmp_path):
    async with Opened(router, tmp_path) as service:
        session = await service.store.create_session(
            thread_id="t1",
            channel_id="c",
            guild_id="g",
            owner_id="u1",
            model=GEMINI,
            family="chat",
            settings={"spec": {"aspect_ratio": "16:9"}},
        )
        first = await turn(service, session.id, "a red barn", [png()])
        await turn(service, session.id, "make it snowy")
        stored_turns = await service.store.turns(session.id)
    body1, body2 = chat_bodies(router)
    assert [m["role"] for m in body1["messages"]] == ["user"]
    assert body1["image_config"] == {"aspect_ratio": "16:9"}
    roles = [m["role"] for m in body2["messages"]]
    assert roles == ["user", "assistant", "user"]
    user1, assistant1, user2 = body2["messages"]
    assert user1["content"][0] == {"type": "text", "text": "a red barn"}
    assert user1["content"][1]["type"] == "image_url"
    assert assistant1["content"] == first.text
    assert len(assistant1["images"]) == 1
    # reasoning_details go back exactly as the model sent them (kept in the store)
    assert assistant1["reasoning_details"] == stored_turns[1].reasoning_details
    assert assistant1["reasoning_details"][0]["type"] == "reasoning.encrypted"
    assert user2 == {"role": "user", "content": "make it snowy"}

    # Restart: a new store and client on the same data give the identical body for turn 3.
    async with Opened(router, tmp_path) as service:
        await turn(service, session.id, "add a fox")
    async with Opened(router, tmp_path) as service:
        context_again = await service.sessions.history(session.id)
    body3 = chat_bodies(router)[2]
    assert [m["role"] for m in body3["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert body3["messages"][:3] == body2["messages"][:3]
    assert len(context_again) == 6

    # The body for a turn built after a restart is identical to the one built before it.
    async with Opened(router, tmp_path) as service:
        before = await service.sessions.history(session.id)
    async with Opened(router, tmp_path) as service:
        after = await service.sessions.history(session.id)
    from bot.conversation import build

    assert build(before, "next").messages == build(after, "next").messages


async def test_failed_turn_does_not_pollute_the_context(router, tmp_path):
    async with Opened(router, tmp_path) as service:
        session = await service.store.create_session(
            thread_id="t2", channel_id="c", guild_id="g", owner_id="u1", model=GEMINI, family="chat"
        )
        await turn(service, session.id, "a cat")
        router.add_fault(Fault(kind="no_image"))
        with pytest.raises(NoImage):
            await turn(service, session.id, "this one fails")
        await turn(service, session.id, "a hat for the cat")
    last = chat_bodies(router)[-1]
    texts = [m["content"] for m in last["messages"] if m["role"] == "user"]
    assert texts == ["a cat", "a hat for the cat"]


async def test_trim_keeps_latest_and_warns(router, tmp_path):
    async with Opened(router, tmp_path, Budget(max_turns=3)) as service:
        session = await service.store.create_session(
            thread_id="t3",
            channel_id=None,
            guild_id=None,
            owner_id="u1",
            model=GEMINI,
            family="chat",
        )
        for text in ("one", "two", "three"):
            result = await turn(service, session.id, text)
    assert result.warnings == ("⚠️ Only using the last 2 turns of this conversation.",)
    last = chat_bodies(router)[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert last[0]["content"] == "two" and last[-1]["content"] == "three"


async def test_images_model_session_edits_the_latest_image(router, tmp_path):
    async with Opened(router, tmp_path) as service:
        session = await service.store.create_session(
            thread_id="t4",
            channel_id=None,
            guild_id=None,
            owner_id="u1",
            model="azure/openai/gpt-image-1",
            family="images",
        )
        first = await turn(service, session.id, "a tower", [png()])
        await turn(service, session.id, "make it taller")
    edits = [r for r in router.requests if r.path.endswith("/images/edits")]
    assert len(edits) == 2
    second_input = edits[1].body["image[]"]
    second_input = second_input[0] if isinstance(second_input, list) else second_input
    import hashlib

    assert second_input["sha256"] == hashlib.sha256(first.images[0].data).hexdigest()


async def test_a_4k_result_goes_back_to_the_model_within_its_input_limit(router, tmp_path):
    async with Opened(router, tmp_path) as service:
        session = await service.store.create_session(
            thread_id="t5",
            channel_id=None,
            guild_id=None,
            owner_id="u1",
            model=GEMINI,
            family="chat",
            settings={"spec": {"aspect_ratio": "16:9", "resolution": "4K"}},
        )
        router.add_fault(Fault(kind="huge", endpoint="chat"))
        first = await turn(service, session.id, "a 4k landscape")
        assert len(first.images[0].data) > 7 * 1024 * 1024  # the original, kept whole
        second = await turn(service, session.id, "add a moon")  # the fake refuses > 7 MB
        assert second.images
        turns = await service.store.turns(session.id)
        sent = await service.store.get_image(turns[1].images[0])
        assert len(sent) <= 7 * 1024 * 1024
        assert first.job.result_images[0] != turns[1].images[0]


async def test_the_streamed_body_is_the_old_one_and_a_damaged_cache_is_rebuilt(router, tmp_path):
    """The router gets exactly the body the loaded-images path built; a base64 cache damaged
    on disk cuts that attempt short, is removed, and the retry sends the body whole."""
    from bot.conversation import build
    from bot.router.client import _dumps

    async with Opened(router, tmp_path) as service:
        session = await service.store.create_session(
            thread_id="t1",
            channel_id="c",
            guild_id="g",
            owner_id="u1",
            model=GEMINI,
            family="chat",
        )
        await turn(service, session.id, "a red barn", [png()])
        await turn(service, session.id, "make it snowy")
        expected = build(await service.sessions.history(session.id), "add a fox").messages
        hashes = [h for t in await service.store.turns(session.id) for h in t.images]
        assert hashes
        caches = [
            path.with_name(path.name + ".b64") for path in map(service.store.image_path, hashes)
        ]
        damaged = [cache for cache in caches if cache.exists()]  # made when turn 2 was sent
        assert damaged
        for cache in damaged:
            text = bytearray(cache.read_bytes())
            text[5] = ord("A") if text[5] != ord("A") else ord("B")  # same size, wrong text
            cache.write_bytes(bytes(text))
        third = await turn(service, session.id, "add a fox")
        assert third.images
    statuses = [r.status for r in router.requests if r.path.endswith("/chat/completions")]
    assert statuses[2:] == [None] * len(damaged) + [200]  # cut short once per damaged cache
    sent = [body for body in chat_bodies(router) if body is not None][-1]
    assert sent["messages"] == expected
    whole = router.requests[-1]
    assert "transfer-encoding" not in whole.headers  # streamed, with its length said up front
    assert int(whole.headers["content-length"]) == len(_dumps(sent))  # the same JSON text
    assert sent["messages"][1]["reasoning_details"]
