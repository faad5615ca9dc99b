"""Large payloads in worker processes (``bot.offload``): through the real router client against
the fake router on loopback, and the fitting for Discord; same results and same errors as the
threads give, and a killed worker fails only its own call."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from bot import canvas, fitting, offload, spool
from bot.domain import ImageSpec
from bot.errors import BadResponse, CorruptImage, EaselError
from bot.router import RouterClient, decoding, offloaded
from tests.e2e.processes import router_process
from tests.fakes.router import FakeRouter, Fault
from tests.fakes.router.imaging import huge

GPT = "azure/openai/gpt-image-1"
GEMINI = "vertex/google/gemini-3-pro-image-preview"
MIB = 1024 * 1024

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=["process", "thread"])
def where(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every payload to a worker process (threshold 1 byte), or none (0: threads only)."""
    offload.configure(1, 1 if request.param == "process" else 0)
    yield request.param
    offload.shutdown()
    offload.configure(2, offload.DEFAULT_ABOVE)


@pytest.fixture
def process(where: str) -> str:
    if where != "process":
        pytest.skip("about worker processes only")
    return where


@pytest.fixture
async def fake_router() -> Any:
    async with FakeRouter() as fake:
        yield fake


def client_for(fake: FakeRouter) -> RouterClient:
    return RouterClient(fake.base_url, "test-key", max_retries=0, timeout=120)


async def chat_4k(client: RouterClient) -> Any:
    message = RouterClient.user_message("a 4k fox", [])
    return await client.chat(GEMINI, [message], aspect_ratio="16:9", image_size="4K")


async def test_a_4k_chat_answer_gives_the_routers_image(fake_router, where):
    fake_router.add_fault(Fault("huge", endpoint="chat"))
    before = offload.finished
    async with client_for(fake_router) as client:
        result = await chat_4k(client)
    image = result.images[0]
    assert (image.mime, image.width, image.height) == ("image/png", 5504, 3072)
    assert image.data == huge((5504, 3072), "png")
    assert result.text and "a 4k fox" in result.text
    assert offload.finished == before + (where == "process")


async def test_a_large_b64_json_answer_gives_the_routers_image(fake_router, where):
    fake_router.add_fault(Fault("huge", endpoint="generations"))
    async with client_for(fake_router) as client:
        result = await client.generate("a fox", ImageSpec(GPT, size="1536x1024"))
    image = result.images[0]
    assert (image.width, image.height) == (1536, 1024)
    assert image.data == huge((1536, 1024), "png")


async def test_a_damaged_image_is_the_same_friendly_error(fake_router, where):
    fake_router.add_fault(Fault("truncated_b64", endpoint="chat"))
    async with client_for(fake_router) as client:
        with pytest.raises(BadResponse) as info:
            await client.chat(GEMINI, [RouterClient.user_message("a fox", [])])
    assert info.value.user_message == decoding.DAMAGED
    assert info.value.status is None


def _tall_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")  # 1 bit a pixel: small to make
    return buffer.getvalue()


async def test_an_image_too_large_to_show_is_the_same_friendly_error(where):
    body = b'{"data": [{"b64_json": "%s"}]}' % base64.b64encode(_tall_png(9000, 9000))
    tree = await offloaded.loads(body)
    with pytest.raises(BadResponse) as info:
        decoding.decode_b64(tree["data"][0]["b64_json"])
    assert info.value.user_message == (
        "The image service sent a 9000×9000 image, larger than I can show."
    )


async def test_an_answer_that_is_not_json_is_the_same_error(where):
    with pytest.raises(BadResponse) as info:
        await offloaded.loads(b'{"data": [' + b"x" * (2 * MIB))
    assert (info.value.user_message, info.value.status) == (decoding.UNREADABLE, 200)


async def test_fitting_a_4k_image_for_discord(where):
    data = huge((3840, 2160), "png")
    fitted = await fitting.fitted(data, 10 * MIB)
    assert fitted.reencoded and len(fitted.data) <= 10 * MIB
    assert (fitted.width, fitted.height) == (3840, 2160)
    with Image.open(io.BytesIO(fitted.data)) as img:
        assert (Image.MIME[img.format or ""], img.size) == (fitted.mime, (3840, 2160))


async def test_fitting_a_damaged_image_is_the_same_friendly_error(where):
    data = huge((1536, 1024), "png")
    with pytest.raises(CorruptImage) as info:
        await fitting.fitted(data[: len(data) // 2], 64 * 1024)
    with pytest.raises(CorruptImage) as direct:
        fitting.fit_under(data[: len(data) // 2], 64 * 1024)
    assert info.value.user_message == direct.value.user_message


async def test_a_killed_worker_fails_its_job_and_the_next_job_works(fake_router, process):
    fake_router.add_fault(Fault("huge", endpoint="chat", times=2))
    async with client_for(fake_router) as client:
        offload.kill_next_worker()
        with pytest.raises(BadResponse) as info:
            await chat_4k(client)
        assert info.value.user_message == offloaded.CRASHED
        result = await chat_4k(client)
    assert result.images[0].data == huge((5504, 3072), "png")


async def test_a_killed_worker_while_fitting_is_a_clear_error_then_it_recovers(process):
    data = huge((1536, 1024), "png")
    offload.kill_next_worker()
    with pytest.raises(EaselError) as info:
        await fitting.fitted(data, 256 * 1024)
    assert info.value.user_message == fitting.CRASHED
    fitted = await fitting.fitted(data, 256 * 1024)
    assert len(fitted.data) <= 256 * 1024


async def test_spool_files_are_removed(process):
    await fitting.fitted(huge((1536, 1024), "png"), 256 * 1024)
    spool = offload.spool.directory()
    assert list(spool.iterdir()) == []
    offload.shutdown()
    assert not spool.exists()


async def test_canvas_work_gives_what_the_direct_calls_give(where):
    data = huge((1536, 1024), "png")
    plan = canvas.layout("zoom15", 1536, 1024)
    assert await canvas.padded(data, plan, fill=canvas.CHAT_FILL) == canvas.pad(
        data, plan, fill=canvas.CHAT_FILL
    )
    assert await canvas.resampled(data, 1.5) == canvas.resample(data, 1.5)


async def test_one_service_closing_leaves_the_pool_to_the_other(process):
    data = huge((1536, 1024), "png")
    async with offload.session(1, 1):
        async with offload.session(1, 1):
            await fitting.fitted(data, 256 * 1024)
        pool = offload._pool
        fitted = await fitting.fitted(data, 256 * 1024)
        assert offload._pool is pool is not None
    assert len(fitted.data) <= 256 * 1024
    assert offload._pool is None


async def test_a_large_answer_is_spooled_as_it_is_read_never_held_whole(process):
    """The answer (tens of MiB of JSON) goes to a spool file chunk by chunk: the bot's own peak
    of allocations during the call stays under the answer's size (it holds the image only).
    The fake router runs in another process, so that its allocations are not counted."""
    spooled: list[int] = []
    finish = spool.Writer.finish

    async def recorded(writer: spool.Writer) -> spool.Spooled:
        spooled.append(writer.length)
        return await finish(writer)

    with router_process("test-key") as url:
        async with RouterClient(url, "test-key", max_retries=0, timeout=120) as client:
            fault = {"kind": "huge", "endpoint": "chat"}
            root = url.rsplit("/v1", 1)[0]
            (await client._client.post(f"{root}/_fake/faults", json=fault)).raise_for_status()
            tracemalloc.start()
            try:
                with pytest.MonkeyPatch.context() as patch:
                    patch.setattr(spool.Writer, "finish", recorded)
                    result = await chat_4k(client)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    image = result.images[0]
    assert (image.mime, image.width, image.height) == ("image/png", 5504, 3072)
    assert len(image.data) > 10 * MIB  # checked in the worker: a whole PNG
    assert len(spooled) == 1 and spooled[0] > 40 * MIB
    assert peak < spooled[0], (peak, spooled)
    assert list(spool.directory().iterdir()) == []


async def test_an_answer_cut_short_while_spooled_leaves_no_file(process):
    """The connection drops halfway through a large answer: a clear error, nothing left behind."""

    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        await reader.read(1024)
        length = 8 * MIB
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}"
        writer.write(head.encode() + b"\r\n\r\n" + b'{"id": "x", "data": "' + b"A" * (3 * MIB))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(half, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RouterClient(f"http://127.0.0.1:{port}/v1", "k", max_retries=0) as client:
            with pytest.raises(EaselError) as info:
                await client.generate("a fox", ImageSpec(GPT, size="1024x1024"))
    finally:
        server.close()
        await server.wait_closed()
    assert "image service" in info.value.user_message
    assert list(spool.directory().iterdir()) == []


def test_a_killed_processes_spool_directory_is_removed_by_the_next_one(monkeypatch, tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    left = tmp_path / f"{spool.PREFIX}{int(dead.stdout)}-x1y2"
    left.mkdir()
    (left / "answer.in").write_bytes(b"x" * 1024)  # in /dev/shm this would hold memory
    running = tmp_path / f"{spool.PREFIX}{os.getppid()}-a1b2"  # a live process's: kept
    running.mkdir()
    monkeypatch.setattr(spool, "_root", lambda: str(tmp_path))
    monkeypatch.setattr(spool, "_directory", None)
    made = spool.directory()
    assert made.parent == tmp_path and made.name.startswith(f"{spool.PREFIX}{os.getpid()}-")
    assert not left.exists() and running.exists()
    spool.remove_all()
    assert not made.exists()
