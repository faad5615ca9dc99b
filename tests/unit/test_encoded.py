"""Stored images' base64 cache (``bot.storage.encoded``) and the streamed chat body
(``bot.router.bodies.StreamedBody``): the body streamed from the caches is byte for byte the
JSON the router was sent before (text, images, reasoning turns, odd text); a missing, truncated
or damaged cache is rebuilt; retention removes the cache with its image; all of it on the local
disk and in an S3 object store (moto's real server on loopback)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from bot import conversation
from bot.conversation import ContextTurn
from bot.domain import InputImage
from bot.router import bodies
from bot.router.client import _dumps
from bot.router.profiles import PROFILES, Attribution
from bot.storage import Store
from bot.storage.encoded import cache_key
from bot.streamed import CacheDamaged

pytestmark = pytest.mark.timeout(60)

REASONING = [{"type": "reasoning.encrypted", "format": "google-gemini-v1", "data": "QUJD" * 50}]


def image_bytes(seed: int, size: int) -> bytes:
    """Sizes of every remainder mod 3, so base64 padding is covered."""
    return hashlib.sha256(bytes([seed])).digest() * (size // 32) + bytes(size % 32)


@pytest.fixture(params=["local", "s3"])
def place(request):
    """Where the images are kept: (IMAGE_STORE, S3_ENDPOINT_URL), both None on the local disk."""
    return (None, None) if request.param == "local" else request.getfixturevalue("image_store")


@pytest.fixture
async def store(place, tmp_path):
    where, endpoint = place
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    async with await Store.open(
        url, tmp_path / "data", image_store=where, s3_endpoint=endpoint
    ) as opened:
        yield opened


async def collect(content) -> bytes:
    if isinstance(content, bytes):
        return content
    return b"".join([chunk async for chunk in content])


async def streamed_text(image) -> bytes:
    return b"".join([chunk async for chunk in image.chunks()])


async def stored_turns(store: Store, sizes=(3000, 3001, 3002)) -> list[tuple[str, str, list]]:
    hashes = [
        (await store.put_image(image_bytes(i, size), "image/png")).sha256
        for i, size in enumerate(sizes)
    ]
    return [
        ("user", 'a barn "at dusk" — ünïcode \\ \u0000 \n', [hashes[0]]),
        ("assistant", "here it is", [hashes[1]]),
        ("user", "snow", []),
        ("assistant", "", [hashes[2], hashes[0]]),
    ]


async def both_histories(store: Store, rows) -> tuple[list[ContextTurn], list[ContextTurn]]:
    """The same turns with images loaded (the old path) and as streamed references."""
    old, new = [], []
    for role, text, hashes in rows:
        reasoning = REASONING if role == "assistant" else None
        loaded = tuple([await store.input_image(h) for h in hashes])
        streamed = tuple([await store.streamed_image(h) for h in hashes])
        old.append(ContextTurn(role, text, loaded, reasoning))
        new.append(ContextTurn(role, text, streamed, reasoning))
    return old, new


def chat(messages):
    return bodies.chat_body(
        PROFILES["openrouter"],
        "vertex/google/gemini-3-pro-image-preview",
        messages,
        aspect_ratio="16:9",
        image_size=None,
        modalities=None,
        who=Attribution(user_id="u1", job_id=7),
    )


async def test_streamed_body_is_the_json_that_was_sent_before(store):
    old, new = await both_histories(store, await stored_turns(store))
    inputs = [InputImage(image_bytes(9, 1000), "image/jpeg", "x.jpg")]  # new, in memory
    before = _dumps(chat(conversation.build(old, "now 'warmer' ✨", inputs).messages))
    streamed = bodies.StreamedBody(
        chat(conversation.build(new, "now 'warmer' ✨", inputs).messages)
    )
    assert len(streamed.images) == 4  # the new input goes inline, as before
    sent = await collect(streamed.content())
    assert sent == before
    assert streamed.length == len(before)  # the Content-Length
    assert json.loads(sent) == json.loads(before)
    assert await collect(streamed.content()) == before  # replayed for a retry


async def test_a_body_without_streamed_images_is_one_bytes_object():
    body = chat([{"role": "user", "content": "plain \u0000 text"}])
    streamed = bodies.StreamedBody(body)
    assert streamed.content() == _dumps(body)
    assert streamed.length == len(_dumps(body))


async def test_the_cache_is_the_base64_and_is_made_once(store):
    data = image_bytes(1, 5000)
    sha = (await store.put_image(data, "image/png")).sha256
    image = await store.streamed_image(sha)
    assert image.size == len(data) and image.mime == "image/png"
    assert await streamed_text(image) == base64.b64encode(data)
    cache = await store.blobs.read(cache_key(sha))
    assert cache.startswith(base64.b64encode(data) + b"\n")
    again = await store.streamed_image(sha)
    assert await streamed_text(again) == base64.b64encode(data)
    assert await store.blobs.read(cache_key(sha)) == cache


async def test_a_missing_or_truncated_cache_is_rebuilt(store):
    data = image_bytes(2, 4000)
    sha = (await store.put_image(data, "image/png")).sha256
    await store.streamed_image(sha)
    good = await store.blobs.read(cache_key(sha))
    await store.blobs.remove(cache_key(sha))
    assert await streamed_text(await store.streamed_image(sha)) == base64.b64encode(data)
    await store.blobs.write(cache_key(sha), good[:-100], hashlib.sha256(good[:-100]).hexdigest())
    assert await streamed_text(await store.streamed_image(sha)) == base64.b64encode(data)
    assert await store.blobs.read(cache_key(sha)) == good


async def test_a_damaged_cache_is_never_sent_whole_and_is_rebuilt(store):
    data = image_bytes(3, 3 * 1024 * 1024)  # more than one chunk
    sha = (await store.put_image(data, "image/png")).sha256
    image = await store.streamed_image(sha)
    good = await store.blobs.read(cache_key(sha))
    bad = good[:10] + (b"A" if good[10:11] != b"A" else b"B") + good[11:]  # same size
    await store.blobs.write(cache_key(sha), bad, hashlib.sha256(bad).hexdigest())
    sent = b""
    with pytest.raises(CacheDamaged):
        async for chunk in image.chunks():
            sent += chunk
    assert len(sent) < len(base64.b64encode(data))  # the last bytes were held back
    # Removed when found damaged; the next read (a retry) rebuilds it from the image.
    assert await streamed_text(image) == base64.b64encode(data)
    assert await store.blobs.read(cache_key(sha)) == good


async def test_retention_removes_the_cache_with_its_image(store):
    sha = (await store.put_image(image_bytes(4, 2000), "image/png")).sha256
    await store.streamed_image(sha)
    assert await store.blobs.has(cache_key(sha), len(await store.blobs.read(cache_key(sha))))
    later = datetime.now(UTC) + timedelta(days=1)
    assert await store.delete_unused_images(later) == (1, sha)
    with pytest.raises(FileNotFoundError):
        await store.blobs.read(cache_key(sha))
    with pytest.raises(FileNotFoundError):
        await store.blobs.read(cache_key(sha).removesuffix(".b64"))


async def test_a_cache_file_left_on_disk_is_named_beside_its_image(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    async with await Store.open(url, tmp_path / "data") as store:
        sha = (await store.put_image(os.urandom(999), "image/png")).sha256
        await store.streamed_image(sha)
        path = store.image_path(sha)
        assert path.with_name(path.name + ".b64").is_file()
