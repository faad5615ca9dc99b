"""RouterClient against httpx.MockTransport: request shapes, answer parsing, error mapping, retries."""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import io
import json
import logging
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.domain import ImageSpec, InputImage
from bot.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    InputError,
    ModelNotFound,
    NoImage,
    OutOfCredit,
    RateLimited,
    Refused,
    RouterError,
    RouterPathNotFound,
    RouterUnavailable,
    TooManyImages,
)
from bot.router import RouterClient, decoding, hosts
from tests.fakes.router import FakeRouter, Fault

BASE = "https://router.test/v1"
KEY = "rqy_supersecretkey_1234567890"
GPT = "azure/openai/gpt-image-1"
GEMINI = "vertex/google/gemini-3-pro-image-preview"


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buffer, fmt)
    return buffer.getvalue()


PNG = image_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
JPEG = image_bytes("JPEG", (16, 9))
WEBP = image_bytes("WEBP", (5, 7))


def images_answer(*payloads: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"created": 1, "data": [{"b64_json": p} for p in payloads]}
    if usage is not None:
        answer["usage"] = usage
    return answer


def chat_answer(message: dict[str, Any], finish: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "model": GEMINI,
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        **extra,
    }


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class Recorder:
    """A MockTransport handler: answers in order (the last repeats) and keeps every request."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], Any]):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def json(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


def ok(body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=body, **kwargs)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps):
    clients: list[RouterClient] = []

    def make(handler: Recorder, **kwargs: Any) -> RouterClient:
        client = RouterClient(BASE, KEY, transport=httpx.MockTransport(handler), **kwargs)

        async def fake_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        client._retries.sleep = fake_sleep
        clients.append(client)
        return client

    yield make
    # Closing is async; MockTransport holds nothing, so dropping the clients is enough.


# -- generate -------------------------------------------------------------------------------------


async def test_generate_forces_b64_json_and_sends_only_set_fields(make_client):
    handler = Recorder(
        ok(
            images_answer(
                PNG_B64,
                usage={
                    "input_tokens": 10,
                    "output_tokens": 272,
                    "total_tokens": 282,
                    "cost": 0.011,
                },
            )
        )
    )
    async with make_client(handler) as client:
        result = await client.generate("a red fox", ImageSpec(GPT, size="1024x1024", quality="low"))

    request = handler.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/images/generations"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["X-Title"] == "Easel"
    assert request.headers["HTTP-Referer"]
    assert request.headers["User-Agent"] == "Easel/0.1"
    assert request.headers["Content-Type"] == "application/json"
    assert handler.json() == {
        "model": GPT,
        "prompt": "a red fox",
        "n": 1,
        "size": "1024x1024",
        "quality": "low",
        "response_format": "b64_json",
    }
    (image,) = result.images
    assert (image.data, image.mime, image.width, image.height) == (PNG, "image/png", 8, 6)
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        10,
        272,
        282,
    )
    assert result.usage.cost == pytest.approx(0.011)
    assert result.model == GPT


async def test_generate_sends_every_set_field_and_user(make_client):
    handler = Recorder(ok(images_answer(PNG_B64, PNG_B64)))
    spec = ImageSpec(
        GPT,
        n=2,
        size="1536x1024",
        quality="high",
        background="transparent",
        output_format="webp",
        output_compression=80,
        aspect_ratio="16:9",
        resolution="2K",
    )
    async with make_client(handler) as client:
        result = await client.generate("p", spec, user="discord:42")
    body = handler.json()
    assert body["n"] == 2 and body["background"] == "transparent"
    assert body["output_format"] == "webp" and body["output_compression"] == 80
    assert body["user"] == "discord:42"
    assert "aspect_ratio" not in body and "resolution" not in body and "input_fidelity" not in body
    assert len(result.images) == 2


# -- edit -----------------------------------------------------------------------------------------


def multipart_parts(request: httpx.Request) -> list[Any]:
    raw = (
        b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content
    )
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    return list(message.iter_parts())


async def test_edit_multipart_has_image_parts_mask_and_every_field(make_client):
    handler = Recorder(ok(images_answer(PNG_B64)))
    inputs = [
        InputImage(PNG, "image/png", "a.png"),
        InputImage(JPEG, "image/jpeg", "b.jpg"),
        InputImage(WEBP, "image/webp", "c.webp"),
    ]
    mask = InputImage(PNG, "image/png", "mask.png")
    spec = ImageSpec(
        GPT,
        n=1,
        size="1024x1024",
        quality="medium",
        background="opaque",
        output_format="jpeg",
        output_compression=70,
        input_fidelity="high",
    )
    async with make_client(handler) as client:
        result = await client.edit("make it blue", inputs, spec, mask=mask, user="u1")

    request = handler.requests[0]
    assert str(request.url) == f"{BASE}/images/edits"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    fields = {
        p.get_param("name", header="content-disposition"): p.get_content()
        for p in parts
        if p.get_filename() is None
    }
    assert fields == {
        "model": GPT,
        "prompt": "make it blue",
        "n": "1",
        "size": "1024x1024",
        "quality": "medium",
        "background": "opaque",
        "output_format": "jpeg",
        "output_compression": "70",
        "input_fidelity": "high",
        "response_format": "b64_json",
        "user": "u1",
    }
    files = [
        (
            p.get_param("name", header="content-disposition"),
            p.get_filename(),
            p.get_content_type(),
            p.get_payload(decode=True),
        )
        for p in parts
        if p.get_filename() is not None
    ]
    assert files == [
        ("image[]", "a.png", "image/png", PNG),
        ("image[]", "b.jpg", "image/jpeg", JPEG),
        ("image[]", "c.webp", "image/webp", WEBP),
        ("mask", "mask.png", "image/png", PNG),
    ]
    assert result.images[0].mime == "image/png"


async def test_edit_json_sends_data_urls_file_ids_and_mask(make_client):
    handler = Recorder(ok(images_answer(PNG_B64)))
    inputs = [InputImage(PNG, "image/png"), InputImage(JPEG, "image/jpeg")]
    async with make_client(handler) as client:
        await client.edit(
            "edit",
            inputs,
            ImageSpec(GPT, size="auto"),
            mask=InputImage(PNG, "image/png"),
            as_json=True,
            file_ids=["file-abc"],
        )
    request = handler.requests[0]
    assert request.headers["Content-Type"] == "application/json"
    body = handler.json()
    assert body["images"] == [
        {"image_url": data_url(PNG, "image/png")},
        {"image_url": data_url(JPEG, "image/jpeg")},
        {"file_id": "file-abc"},
    ]
    assert body["mask"] == {"image_url": data_url(PNG, "image/png")}
    assert body["response_format"] == "b64_json"
    assert body["size"] == "auto" and body["model"] == GPT and body["prompt"] == "edit"


async def test_edit_file_ids_alone_switch_to_json(make_client):
    handler = Recorder(ok(images_answer(PNG_B64)))
    async with make_client(handler) as client:
        await client.edit("edit", [], ImageSpec(GPT), file_ids=["file-1"])
    assert handler.json()["images"] == [{"file_id": "file-1"}]


async def test_edit_more_than_16_images_is_refused_before_sending(make_client):
    handler = Recorder(ok(images_answer(PNG_B64)))
    async with make_client(handler) as client:
        with pytest.raises(TooManyImages):
            await client.edit("x", [InputImage(PNG, "image/png")] * 17, ImageSpec(GPT))
        with pytest.raises(TooManyImages):
            await client.edit(
                "x", [InputImage(PNG, "image/png")] * 16, ImageSpec(GPT), file_ids=["f"]
            )
        with pytest.raises(InputError):
            await client.edit("x", [], ImageSpec(GPT))
    assert handler.requests == []


# -- chat -----------------------------------------------------------------------------------------


async def test_chat_request_and_answer_parsing(make_client):
    reasoning = [{"type": "reasoning.encrypted", "data": "opaque==", "id": "r1"}]
    answer = chat_answer(
        {
            "content": [
                {"type": "text", "text": "Here it is."},
                {"type": "text", "text": "Enjoy!"},
            ],
            "images": [
                {"type": "image_url", "image_url": {"url": data_url(JPEG, "image/jpeg")}},
                {"type": "image_url", "image_url": {"url": data_url(WEBP, "image/webp")}},
            ],
            "reasoning_details": reasoning,
        },
        usage={"prompt_tokens": 12, "completion_tokens": 1290, "total_tokens": 1302, "cost": 0.039},
    )
    handler = Recorder(ok(answer))
    messages = [RouterClient.user_message("a cat", [])]
    async with make_client(handler) as client:
        result = await client.chat(GEMINI, messages, aspect_ratio="16:9", image_size="2K", user="u")

    request = handler.requests[0]
    assert str(request.url) == f"{BASE}/chat/completions"
    assert handler.json() == {
        "model": GEMINI,
        "messages": [{"role": "user", "content": "a cat"}],
        "image_config": {"aspect_ratio": "16:9", "image_size": "2K"},
        "user": "u",
    }
    assert result.text == "Here it is.\nEnjoy!"
    assert [(i.mime, i.width, i.height) for i in result.images] == [
        ("image/jpeg", 16, 9),
        ("image/webp", 5, 7),
    ]
    assert result.reasoning_details == reasoning
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 1290)
    assert result.usage.cost == pytest.approx(0.039)
    assert result.finish_reason == "stop"
    assert result.model == GEMINI


async def test_chat_without_image_config_omits_it(make_client):
    answer = chat_answer(
        {"content": "ok", "images": [{"image_url": {"url": data_url(PNG, "image/png")}}]}
    )
    handler = Recorder(ok(answer))
    async with make_client(handler) as client:
        result = await client.chat(GEMINI, [{"role": "user", "content": "x"}], image_size=None)
    assert "image_config" not in handler.json()
    assert "modalities" not in handler.json()
    assert result.text == "ok" and result.reasoning_details is None


async def test_chat_image_config_with_one_value(make_client):
    answer = chat_answer(
        {"content": None, "images": [{"image_url": {"url": data_url(PNG, "image/png")}}]}
    )
    handler = Recorder(ok(answer))
    async with make_client(handler) as client:
        result = await client.chat(GEMINI, [], aspect_ratio="1:1", modalities=["image", "text"])
    assert handler.json()["image_config"] == {"aspect_ratio": "1:1"}
    assert handler.json()["modalities"] == ["image", "text"]
    assert result.text is None


def test_user_message_builds_data_url_parts():
    plain = RouterClient.user_message("hello", [])
    assert plain == {"role": "user", "content": "hello"}
    message = RouterClient.user_message(
        "blend", [InputImage(PNG, "image/png"), InputImage(JPEG, "image/jpeg")]
    )
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "blend"},
            {"type": "image_url", "image_url": {"url": data_url(PNG, "image/png")}},
            {"type": "image_url", "image_url": {"url": data_url(JPEG, "image/jpeg")}},
        ],
    }


# -- url answers ------------------------------------------------------------------------------------

CDN = {"result_hosts": ("cdn.example",)}  # ROUTER_RESULT_HOSTS=cdn.example


async def test_url_answer_is_downloaded_without_leaking_the_key(make_client):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/images/generations":
            return ok(
                {
                    "data": [
                        {"url": "https://cdn.example/img/1.png?sig=abc"},
                        {"url": f"{BASE}/files/2"},
                    ]
                }
            )
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    handler = Recorder(route)
    async with make_client(handler, **CDN) as client:
        result = await client.generate("p", ImageSpec(GPT))
    generation, other_host, same_host = handler.requests
    assert generation.headers["Authorization"] == f"Bearer {KEY}"
    assert other_host.url.host == "cdn.example"
    assert "Authorization" not in other_host.headers
    assert KEY not in str(other_host.headers)
    assert same_host.headers["Authorization"] == f"Bearer {KEY}"
    assert [i.data for i in result.images] == [PNG, PNG]


async def test_chat_https_image_is_downloaded(make_client):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "router.test":
            return ok(
                chat_answer(
                    {
                        "content": "x",
                        "images": [{"image_url": {"url": "https://cdn.example/a.jpg"}}],
                    }
                )
            )
        return httpx.Response(200, content=JPEG)

    handler = Recorder(route)
    async with make_client(handler, **CDN) as client:
        result = await client.chat(GEMINI, [])
    assert result.images[0].mime == "image/jpeg"
    assert "Authorization" not in handler.requests[1].headers


async def test_download_over_the_cap_is_bad_response(make_client):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "router.test":
            return ok({"data": [{"url": "https://cdn.example/big.png"}]})
        return httpx.Response(200, content=b"x" * 5000)

    async with make_client(Recorder(route), max_download_bytes=4096, **CDN) as client:
        with pytest.raises(BadResponse, match="too large"):
            await client.generate("p", ImageSpec(GPT))


async def test_download_failure_is_bad_response(make_client):
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "router.test":
            return ok({"data": [{"url": "https://cdn.example/gone.png"}]})
        return httpx.Response(404, text="<html>gone</html>")

    async with make_client(Recorder(route), **CDN) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert info.value.status == 404 and "<html" not in str(info.value)


# -- where url answers may be fetched from (bot/router/hosts.py) ------------------------------------

METADATA = "https://169.254.169.254/latest/meta-data/iam"
PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def resolved(monkeypatch) -> dict[str, list[str]]:
    """Stands in for DNS: host -> addresses; a host not listed fails the test if looked up."""
    table: dict[str, list[str]] = {}

    async def fake_resolve(host: str, port: int) -> list[str]:
        assert host in table, f"{host} should not have been looked up"
        return table[host]

    monkeypatch.setattr(hosts, "resolve", fake_resolve)
    return table


def answering(url: str, *files: httpx.Response) -> Recorder:
    """The router answers a generation with ``url``; every later request gets ``files`` in turn."""
    return Recorder(ok({"data": [{"url": url}]}), *(files or (image_response(),)))


def image_response() -> httpx.Response:
    return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})


def redirect(location: str, status: int = 302) -> httpx.Response:
    return httpx.Response(status, headers={"location": location})


def assert_refused(info: pytest.ExceptionInfo[BadResponse], caplog, host: str) -> None:
    assert info.value.user_message == hosts.REFUSED
    assert_no_key(info.value)
    assert "sig=" not in str(info.value)  # a signed URL's query is never repeated
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and host in r.message]
    assert warnings, caplog.text


async def test_url_on_another_host_is_refused_without_a_request(make_client, caplog, sleeps):
    handler = answering("https://elsewhere.example/img.png?sig=abc")
    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert_refused(info, caplog, "elsewhere.example")
    assert [r.url.host for r in handler.requests] == ["router.test"]
    assert sleeps == []  # the same answer would point the same way: not retried


async def test_same_host_on_another_port_or_scheme_is_not_the_origin(make_client, caplog):
    for url in ("https://router.test:8443/v1/files/1", "http://router.test/v1/files/1"):
        handler = answering(url)
        async with make_client(handler) as client:
            with pytest.raises(BadResponse, match="place I don't fetch from"):
                await client.generate("p", ImageSpec(GPT))
        assert len(handler.requests) == 1


async def test_redirect_from_the_origin_to_another_host_is_refused(make_client, caplog):
    handler = answering(f"{BASE}/files/1", redirect("https://evil.example/x.png?sig=abc"))
    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert_refused(info, caplog, "evil.example")
    assert [str(r.url) for r in handler.requests[1:]] == [f"{BASE}/files/1"]


async def test_redirect_within_the_origin_is_followed_with_the_key(make_client):
    handler = answering(f"{BASE}/files/1", redirect("/v1/files/2", 307), image_response())
    async with make_client(handler) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert result.images[0].data == PNG
    hops = handler.requests[1:]
    assert [str(r.url) for r in hops] == [f"{BASE}/files/1", f"{BASE}/files/2"]
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in hops)


async def test_redirect_to_an_allowed_host_drops_the_key(make_client):
    handler = answering(f"{BASE}/files/1", redirect("https://cdn.example/1.png"), image_response())
    async with make_client(handler, **CDN) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert result.images[0].data == PNG
    assert handler.requests[2].url.host == "cdn.example"
    assert "Authorization" not in handler.requests[2].headers


async def test_redirect_downgrading_to_http_is_refused(make_client, caplog):
    handler = answering(f"{BASE}/files/1", redirect("http://cdn.example/1.png"))
    async with make_client(handler, **CDN) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert_refused(info, caplog, "cdn.example")
    assert len(handler.requests) == 2


async def test_more_than_three_redirects_are_refused(make_client):
    handler = answering(f"{BASE}/files/0", *(redirect(f"/v1/files/{n}") for n in range(1, 9)))
    async with make_client(handler) as client:
        with pytest.raises(BadResponse, match="more than 3 redirects"):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 1 + 4  # the generation, the URL and three redirects


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (("CDN.example.",), "https://cdn.example/a.png"),
        (("*.blob.test",), "https://acct.blob.test/c/a.png"),
        (("*.blob.test",), "https://deep.acct.BLOB.test./c/a.png"),
        (("cdn.example", "*.blob.test"), "https://acct.blob.test/c/a.png"),
    ],
)
async def test_allow_listed_hosts_are_fetched_without_the_key(make_client, resolved, allowed, url):
    resolved.update(
        {"acct.blob.test": [PUBLIC_IP, "2606:4700::1"], "deep.acct.blob.test": [PUBLIC_IP]}
    )
    handler = answering(url)
    async with make_client(handler, result_hosts=allowed) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert result.images[0].data == PNG
    assert "Authorization" not in handler.requests[1].headers


@pytest.mark.parametrize("url", ["https://blob.test/a.png", "https://evilblob.test/a.png"])
async def test_a_wildcard_covers_subdomains_only(make_client, resolved, url):
    handler = answering(url)
    async with make_client(handler, result_hosts=("*.blob.test",)) as client:
        with pytest.raises(BadResponse, match="place I don't fetch from"):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://10.1.2.3/x.png",
        "https://172.16.0.1/x.png",
        "https://192.168.1.20:8080/x.png",
        METADATA,
        "https://0.0.0.0/x.png",
        "https://[::1]/x.png",
        "https://[fc00::1]/x.png",
        "https://[fe80::1]/x.png",
        "https://[::]/x.png",
        "https://[::ffff:10.0.0.1]/x.png",
        "https://100.100.100.200/latest/meta-data",
    ],
)
async def test_literal_private_and_loopback_addresses_are_refused(
    make_client, resolved, caplog, url
):
    handler = answering(url)
    async with make_client(handler, result_hosts=("*.blob.test",)) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    host = httpx.URL(url).host
    assert_refused(info, caplog, host)
    assert "private" in caplog.text
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.7"],
        [PUBLIC_IP, "127.0.0.1"],  # every address counts, not just the first
        ["fe80::1%eth0"],
        ["::ffff:192.168.0.1"],
        ["169.254.169.254"],
        [],
    ],
)
async def test_a_host_resolving_to_a_private_address_is_refused(
    make_client, resolved, caplog, addresses
):
    resolved["sneaky.blob.test"] = addresses
    handler = answering("https://sneaky.blob.test/x.png")
    async with make_client(handler, result_hosts=("*.blob.test",)) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert_refused(info, caplog, "sneaky.blob.test")
    assert len(handler.requests) == 1


async def test_a_host_named_exactly_may_be_private(make_client, resolved):
    """The operator vouches for a host named in full (an internal store): no lookup, no check."""
    handler = answering("https://minio.internal/x.png", image_response())
    async with make_client(handler, result_hosts=("minio.internal", "10.0.0.5")) as client:
        assert (await client.generate("p", ImageSpec(GPT))).images[0].data == PNG
    handler = answering("https://10.0.0.5/x.png", image_response())
    async with make_client(handler, result_hosts=("minio.internal", "10.0.0.5")) as client:
        assert (await client.generate("p", ImageSpec(GPT))).images[0].data == PNG


async def test_a_lookup_failure_is_retried_then_unavailable(make_client, monkeypatch, sleeps):
    async def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(hosts, "resolve", failing)
    handler = answering("https://gone.blob.test/x.png")
    async with make_client(handler, result_hosts=("*.blob.test",), max_retries=1) as client:
        with pytest.raises(RouterUnavailable, match="Couldn't reach"):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 1 and len(sleeps) == 1


async def test_resolve_uses_the_loops_getaddrinfo():
    assert await hosts.resolve("127.0.0.1", 80) == ["127.0.0.1"]  # numeric: no lookup at all


# -- against the fake router on loopback: its own origin works, elsewhere does not, time is bounded


@pytest.fixture
async def fake_router():
    async with FakeRouter() as fake:
        yield fake


def fake_client(fake: FakeRouter, **kwargs: Any) -> RouterClient:
    return RouterClient(fake.base_url, "test-key", **{"max_retries": 0, **kwargs})


async def test_the_routers_own_loopback_origin_still_works(fake_router):
    fake_router.add_fault(Fault("url"))
    async with fake_client(fake_router) as client:
        result = await client.generate("a fox", ImageSpec(GPT))
    assert result.images[0].width == 1024
    assert [r.path for r in fake_router.requests][-1].startswith("/v1/files/")


@pytest.mark.parametrize("where", ["http://localhost:{port}", "http://127.0.0.2:{port}"])
async def test_a_fake_url_answer_elsewhere_on_loopback_is_refused(fake_router, where):
    port = httpx.URL(fake_router.base_url).port
    target = where.format(port=port) + "/v1/files/anything"
    fake_router.add_fault(Fault("url", url=target))
    async with fake_client(fake_router) as client:
        with pytest.raises(BadResponse, match="place I don't fetch from"):
            await client.generate("a fox", ImageSpec(GPT))
    assert [r.path for r in fake_router.requests] == ["/v1/images/generations"]


@pytest.mark.timeout(30)
async def test_a_trickling_router_is_cut_off_at_the_deadline(fake_router):
    fake_router.add_fault(Fault("trickle", seconds=1, times=2))
    started = time.monotonic()
    async with fake_client(fake_router, timeout=2, max_retries=1, retry_budget=10) as client:
        with pytest.raises(RouterUnavailable, match="took longer than 2 s") as info:
            await client.generate("a fox", ImageSpec(GPT))
    assert info.value.retryable
    assert [r.fault for r in fake_router.requests] == ["trickle", "trickle"]  # retried once
    assert time.monotonic() - started < 15


@pytest.mark.timeout(30)
async def test_a_trickling_download_is_cut_off_at_the_deadline(fake_router):
    fake_router.add_fault(Fault("url"))
    fake_router.add_fault(Fault("trickle", endpoint="/files/", seconds=1))
    async with fake_client(fake_router, timeout=3) as client:
        with pytest.raises(RouterUnavailable, match="took longer than 3 s"):
            await client.generate("a fox", ImageSpec(GPT))
    assert fake_router.requests[-1].fault == "trickle"


async def test_the_deadline_bounds_a_slow_body_on_mock_transport(make_client):
    async def slow_body():
        for byte in json.dumps(images_answer(PNG_B64)).encode():
            await asyncio.sleep(0.05)  # always within httpx's per-read timeout
            yield bytes([byte])

    handler = Recorder(lambda request: httpx.Response(200, content=slow_body()))
    async with make_client(handler, timeout=0.5, max_retries=1) as client:
        with pytest.raises(RouterUnavailable, match="took longer than 0.5 s"):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 2


# -- error mapping ------------------------------------------------------------------------------------

NO_RETRY = {"max_retries": 0}


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (
            400,
            {"error": {"origin": "provider", "message": "size must be one of ..."}},
            BadRequest,
            None,
        ),
        (
            400,
            {
                "error": {
                    "message": "bad size",
                    "type": "invalid_request_error",
                    "param": "size",
                    "code": "invalid_value",
                }
            },
            BadRequest,
            "invalid_value",
        ),
        (401, {"error": {"origin": "router", "message": "missing key"}}, AuthFailed, None),
        (
            403,
            {
                "error": {
                    "message": "model blocked",
                    "type": "forbidden",
                    "param": None,
                    "code": None,
                }
            },
            AuthFailed,
            "forbidden",
        ),
        (
            402,
            {"error": {"origin": "router", "message": "insufficient balance"}},
            OutOfCredit,
            None,
        ),
        (412, {"error": {"origin": "router", "message": "monthly spend limit"}}, OutOfCredit, None),
        (
            404,
            {"error": {"origin": "router", "message": "model not supported"}},
            ModelNotFound,
            None,
        ),
        (429, {"error": {"origin": "router", "message": "slow down"}}, RateLimited, None),
        (
            502,
            {"error": {"origin": "provider", "message": "upstream error"}},
            RouterUnavailable,
            None,
        ),
        (
            503,
            {
                "error": {
                    "message": "provider timeout",
                    "type": "server_error",
                    "param": None,
                    "code": "timeout",
                }
            },
            RouterUnavailable,
            "timeout",
        ),
        (529, {"error": {"origin": "provider", "message": "overloaded"}}, RouterUnavailable, None),
        (408, {"error": "request timeout"}, RouterUnavailable, None),
        (409, {"message": "conflict"}, RouterUnavailable, None),
        (422, {"error": {"code": 422, "message": "unprocessable"}}, BadRequest, "422"),
    ],
)
async def test_status_mapping(make_client, status, body, expected, code):
    handler = Recorder(httpx.Response(status, json=body))
    async with make_client(handler, **NO_RETRY) as client:
        with pytest.raises(RouterError) as info:
            await client.generate("p", ImageSpec(GPT))
    error = info.value
    assert type(error) is expected
    assert error.status == status
    assert error.router_code == code
    assert error.detail is not None and error.detail.startswith(f"HTTP {status}: ")
    assert len(handler.requests) == 1


async def test_bad_request_shows_the_routers_message_to_the_user(make_client):
    body = {
        "error": {
            "message": "Invalid size '999x999'.",
            "type": "invalid_request_error",
            "param": "size",
            "code": None,
        }
    }
    async with make_client(Recorder(httpx.Response(400, json=body))) as client:
        with pytest.raises(BadRequest) as info:
            await client.generate("p", ImageSpec(GPT))
    assert (
        info.value.user_message == "The image service rejected the request: Invalid size '999x999'."
    )
    assert "Invalid size" in (info.value.detail or "")
    assert info.value.router_code == "invalid_request_error"


async def test_model_not_found_names_the_model(make_client):
    async with make_client(
        Recorder(httpx.Response(404, json={"error": {"message": "no such model"}}))
    ) as client:
        with pytest.raises(ModelNotFound, match="gpt-image-1"):
            await client.generate("p", ImageSpec(GPT))


@pytest.mark.parametrize("body", [{"error": {"origin": "router", "message": "Not Found"}}, None])
async def test_a_404_not_about_a_model_is_the_base_url(make_client, body):
    """A base URL without /v1: the router has no such path, whatever model was asked for."""
    answer = httpx.Response(404, json=body) if body else httpx.Response(404, text="Not Found")
    async with make_client(Recorder(answer)) as client:
        with pytest.raises(RouterPathNotFound, match="ROUTER_BASE_URL, which usually ends in /v1"):
            await client.generate("p", ImageSpec(GPT))
        with pytest.raises(RouterPathNotFound):
            await client.check()


@pytest.mark.parametrize("status", [400, 502])
async def test_non_json_error_bodies_get_a_plain_summary(make_client, status):
    html = "<html><head><title>502 Bad Gateway</title></head><body>" + "x" * 5000 + "</body></html>"
    handler = Recorder(httpx.Response(status, text=html, headers={"content-type": "text/html"}))
    async with make_client(handler, **NO_RETRY) as client:
        with pytest.raises(RouterError) as info:
            await client.generate("p", ImageSpec(GPT))
    assert info.value.detail == f"HTTP {status} from the router"
    assert "<html" not in str(info.value) and "<html" not in repr(info.value)
    assert info.value.router_code is None


async def test_moderation_block_is_refused_with_categories_and_not_retried(make_client, sleeps):
    body = {
        "error": {
            "type": "image_generation_user_error",
            "code": "moderation_blocked",
            "message": "Your request was rejected by the safety system.",
            "param": None,
            "moderation_details": {
                "moderation_stage": "input",
                "categories": ["violence", "harassment"],
            },
        }
    }
    handler = Recorder(httpx.Response(400, json=body))
    async with make_client(handler) as client:
        with pytest.raises(Refused) as info:
            await client.generate("p", ImageSpec(GPT))
    error = info.value
    assert error.categories == ("violence", "harassment")
    assert error.model_text == "Your request was rejected by the safety system."
    assert error.router_code == "moderation_blocked" and error.status == 400
    assert "violence" in error.user_message
    assert len(handler.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "error",
    [
        {"code": "content_policy_violation", "type": "invalid_request_error", "message": "policy"},
        {"origin": "provider", "message": '{"code": "moderation_blocked", "message": "no"}'},
        {"type": "image_generation_user_error", "message": "blocked"},
    ],
)
async def test_other_refusal_shapes(make_client, error):
    async with make_client(Recorder(httpx.Response(400, json={"error": error}))) as client:
        with pytest.raises(Refused):
            await client.edit("p", [InputImage(PNG, "image/png")], ImageSpec(GPT))


async def test_openrouter_flagged_403_is_refused(make_client):
    body = {
        "error": {
            "code": 403,
            "message": "Input flagged",
            "metadata": {"reasons": ["violence"], "flagged_input": "..."},
        }
    }
    async with make_client(Recorder(httpx.Response(403, json=body))) as client:
        with pytest.raises(Refused) as info:
            await client.chat(GEMINI, [])
    assert info.value.categories == ("violence",)


# -- retries ----------------------------------------------------------------------------------------


async def test_503_is_retried_then_succeeds(make_client, sleeps):
    handler = Recorder(
        httpx.Response(503, json={"error": {"origin": "provider", "message": "timeout"}}),
        ok(images_answer(PNG_B64)),
    )
    async with make_client(handler) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert len(result.images) == 1
    assert len(handler.requests) == 2
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0
    assert handler.requests[0].content == handler.requests[1].content


async def test_multipart_edit_is_resent_whole_on_retry(make_client):
    handler = Recorder(httpx.Response(502, text="bad gateway"), ok(images_answer(PNG_B64)))
    async with make_client(handler) as client:
        await client.edit("p", [InputImage(PNG, "image/png")] * 2, ImageSpec(GPT))
    assert [len(multipart_parts(r)) for r in handler.requests] == [6, 6]


async def test_backoff_grows_and_is_capped(make_client, sleeps):
    handler = Recorder(httpx.Response(500, text="boom"))
    async with make_client(handler, max_retries=6, retry_budget=1000) as client:
        with pytest.raises(RouterUnavailable) as info:
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 7
    assert info.value.status == 500
    assert sleeps[0] < sleeps[2] < sleeps[4]
    assert all(s <= 8.0 for s in sleeps) and sleeps[-1] == 8.0


async def test_retries_stop_at_max_retries(make_client, sleeps):
    handler = Recorder(httpx.Response(503, json={"error": {"message": "down"}}))
    async with make_client(handler, max_retries=3) as client:
        with pytest.raises(RouterUnavailable) as info:
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 4 and len(sleeps) == 3
    assert info.value.status == 503 and "down" in (info.value.detail or "")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "2.5"}, 2.5),
    ],
)
async def test_retry_after_is_honoured(make_client, sleeps, headers, expected):
    handler = Recorder(
        httpx.Response(429, json={"error": {"message": "rate"}}, headers=headers),
        ok(images_answer(PNG_B64)),
    )
    async with make_client(handler) as client:
        await client.generate("p", ImageSpec(GPT))
    assert sleeps == [expected]


async def test_retry_after_http_date(make_client, sleeps):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    handler = Recorder(
        httpx.Response(503, text="busy", headers={"Retry-After": when}), ok(images_answer(PNG_B64))
    )
    async with make_client(handler) as client:
        await client.generate("p", ImageSpec(GPT))
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


async def test_retry_after_beyond_budget_raises_rate_limited_at_once(make_client, sleeps):
    handler = Recorder(
        httpx.Response(429, json={"error": {"message": "rate"}}, headers={"Retry-After": "500"})
    )
    async with make_client(handler, retry_budget=120) as client:
        with pytest.raises(RateLimited) as info:
            await client.generate("p", ImageSpec(GPT))
    assert info.value.retry_after == 500
    assert info.value.status == 429 and info.value.retryable
    assert "500 s" in info.value.user_message
    assert len(handler.requests) == 1 and sleeps == []


async def test_budget_bounds_total_sleeping(make_client, sleeps):
    handler = Recorder(httpx.Response(429, text="", headers={"Retry-After": "4"}))
    async with make_client(handler, max_retries=10, retry_budget=10) as client:
        with pytest.raises(RateLimited) as info:
            await client.generate("p", ImageSpec(GPT))
    assert sleeps == [4.0, 4.0]  # a third 4 s wait would pass the 10 s budget
    assert len(handler.requests) == 3
    assert info.value.retry_after == 4.0


async def test_connection_error_is_retried_then_unavailable(make_client, sleeps):
    handler = Recorder(httpx.ConnectError("connection refused"))
    async with make_client(handler, max_retries=2) as client:
        with pytest.raises(RouterUnavailable, match="Couldn't reach") as info:
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 3 and len(sleeps) == 2
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert info.value.retryable


async def test_timeout_is_retried_then_unavailable(make_client):
    handler = Recorder(httpx.ReadTimeout("read timed out"), httpx.ReadTimeout("again"))
    async with make_client(handler, max_retries=1) as client:
        with pytest.raises(RouterUnavailable, match="timed out"):
            await client.chat(GEMINI, [])
    assert len(handler.requests) == 2


async def test_connection_error_then_success(make_client):
    handler = Recorder(httpx.RemoteProtocolError("peer closed"), ok(images_answer(PNG_B64)))
    async with make_client(handler) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert len(result.images) == 1


# -- answers without a usable image --------------------------------------------------------------------


async def test_chat_text_only_is_no_image_with_the_text_and_not_retried(make_client, sleeps):
    answer = chat_answer({"content": "I can't draw that, but here is a poem."})
    handler = Recorder(ok(answer))
    async with make_client(handler) as client:
        with pytest.raises(NoImage) as info:
            await client.chat(GEMINI, [])
    assert info.value.model_text == "I can't draw that, but here is a poem."
    assert info.value.retryable and info.value.status == 200
    assert "here is a poem" in info.value.user_message
    assert len(handler.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    "answer", [images_answer(), {"created": 1}, {"data": [{"revised_prompt": "x"}]}]
)
async def test_images_answer_without_image_is_no_image(make_client, answer):
    handler = Recorder(ok(answer))
    async with make_client(handler) as client:
        with pytest.raises(NoImage):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 1


async def test_chat_without_choices_is_no_image(make_client):
    async with make_client(Recorder(ok({"choices": []}))) as client:
        with pytest.raises(NoImage):
            await client.chat(GEMINI, [])


async def test_content_filter_is_refused_with_the_text(make_client):
    answer = chat_answer({"content": "That request goes against policy."}, finish="content_filter")
    async with make_client(Recorder(ok(answer))) as client:
        with pytest.raises(Refused) as info:
            await client.chat(GEMINI, [])
    assert info.value.model_text == "That request goes against policy."
    assert info.value.router_code == "content_filter"


async def test_error_object_inside_a_200_is_mapped(make_client):
    body = {"error": {"code": 402, "message": "no credits"}}
    async with make_client(Recorder(ok(body))) as client:
        with pytest.raises(OutOfCredit):
            await client.chat(GEMINI, [])


# -- damaged answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        PNG_B64[: len(PNG_B64) // 2 + 1],  # cut mid-quantum: bad padding
        base64.b64encode(PNG[: len(PNG) // 2 // 3 * 3]).decode(),  # valid base64 of half a PNG
        "not*base64!!",
        base64.b64encode(b"hello, this is not an image").decode(),
    ],
)
async def test_damaged_base64_is_bad_response_and_not_retried(make_client, payload, sleeps):
    handler = Recorder(ok(images_answer(payload)))
    async with make_client(handler) as client:
        with pytest.raises(BadResponse, match="damaged image"):
            await client.generate("p", ImageSpec(GPT))
    assert len(handler.requests) == 1 and sleeps == []


async def test_wrapped_base64_lines_are_accepted(make_client):
    wrapped = "\n".join(PNG_B64[i : i + 76] for i in range(0, len(PNG_B64), 76))
    async with make_client(Recorder(ok(images_answer(wrapped)))) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert result.images[0].data == PNG


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png,rawbytes",
        "data:image/png;base64,AAAA",
        "ftp://x/y.png",
        "https://exa mple.com:99999/x.png",
        "https://",
    ],
)
async def test_damaged_chat_image_urls_are_bad_response(make_client, url):
    answer = chat_answer({"content": "x", "images": [{"image_url": {"url": url}}]})
    async with make_client(Recorder(ok(answer))) as client:
        with pytest.raises(BadResponse):
            await client.chat(GEMINI, [])


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"[1, 2]"])
async def test_malformed_json_is_bad_response_and_not_retried(make_client, body, sleeps):
    handler = Recorder(
        httpx.Response(200, content=body, headers={"content-type": "application/json"})
    )
    async with make_client(handler) as client:
        with pytest.raises(BadResponse) as info:
            await client.generate("p", ImageSpec(GPT))
    assert info.value.retryable and info.value.status == 200
    assert len(handler.requests) == 1 and sleeps == []


async def test_router_answer_over_the_cap_is_bad_response(make_client):
    handler = Recorder(ok(images_answer(PNG_B64 * 10)))
    async with make_client(handler, max_download_bytes=1024) as client:
        with pytest.raises(BadResponse, match="too large"):
            await client.generate("p", ImageSpec(GPT))


# -- large answers: parsed and decoded in slices, so the event loop keeps getting the GIL ------------


def big_png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), color).save(buffer, "PNG", compress_level=0)  # ~1.4 MB
    return buffer.getvalue()


BIG_PNG = big_png((10, 200, 30))
BIG_PNG_2 = big_png((250, 250, 0))
BIG_B64 = base64.b64encode(BIG_PNG).decode()  # several slices; one answer is over 1 MiB
TRICKY_TEXT = (
    'She said "hi" \\ \u00e9 \\"b64_json\\": \\"x\\" {"url": "data:image/png;base64,QUJD"} ✓'
)


def with_text(tree: Any) -> Any:
    """``loads``'s tree as json.loads gives it; checks each cut-out image's decoded bytes."""
    if isinstance(tree, decoding.Inline):
        text = str(tree.text, "ascii")
        payload = text.partition(",")[2] if text.startswith("data:") else text
        assert tree.data == base64.b64decode(payload, validate=True)
        return text
    if isinstance(tree, dict):
        return {key: with_text(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [with_text(value) for value in tree]
    return tree


def count_cut_outs(tree: Any) -> int:
    if isinstance(tree, decoding.Inline):
        return 1
    values = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else ()
    return sum(count_cut_outs(value) for value in values)


def encodings(answer: dict[str, Any]) -> list[bytes]:
    return [
        json.dumps(answer).encode(),
        json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(answer, indent=2).encode(),
    ]


def big_chat_answer() -> dict[str, Any]:
    return chat_answer(
        {
            "content": [{"type": "text", "text": TRICKY_TEXT}],
            "images": [
                {"type": "image_url", "image_url": {"url": data_url(BIG_PNG, "image/png")}},
                {"type": "image_url", "image_url": data_url(BIG_PNG_2, "image/png")},
            ],
            "reasoning_details": [
                {"type": "reasoning.encrypted", "data": BIG_B64, "id": "tool_1"},
                {"type": "reasoning.text", "url": data_url(BIG_PNG, "image/png")},
            ],
        },
        usage={"prompt_tokens": 3, "completion_tokens": 2000, "cost": 0.24},
    )


NOISE_B64 = base64.b64encode(random.Random(1).randbytes(300_000)).decode()


@pytest.mark.parametrize("body", encodings(images_answer(BIG_B64, PNG_B64, NOISE_B64)))
def test_cut_out_parse_of_an_images_answer_is_json_loads(body):
    assert len(body) > decoding.LARGE_ANSWER
    parsed = decoding.loads(body)
    assert with_text(parsed) == json.loads(body)
    data = parsed["data"]
    assert isinstance(data[0]["b64_json"], decoding.Inline) and data[0]["b64_json"].data == BIG_PNG
    assert data[1]["b64_json"] == PNG_B64  # short strings stay for json.loads
    assert data[2]["b64_json"].data == base64.b64decode(NOISE_B64)
    assert count_cut_outs(parsed) == 2


@pytest.mark.parametrize("body", encodings(big_chat_answer()))
def test_cut_out_parse_of_a_chat_answer_is_json_loads(body):
    parsed = decoding.loads(body)
    assert with_text(parsed) == json.loads(body)
    message = parsed["choices"][0]["message"]
    first, second = message["images"]
    assert first["image_url"]["url"].data == BIG_PNG
    assert first["image_url"]["url"].mime == "image/png"
    assert second["image_url"].data == BIG_PNG_2
    # Not where images are read: back as the string, as json.loads gives it.
    assert message["reasoning_details"][0]["data"] == BIG_B64
    assert message["reasoning_details"][1]["url"] == data_url(BIG_PNG, "image/png")
    assert message["content"][0]["text"] == TRICKY_TEXT
    assert count_cut_outs(parsed) == 2


def test_escaped_slashes_fall_back_to_json_loads():
    body = json.dumps(images_answer(BIG_B64)).encode().replace(b"/", b"\\/")
    assert b"\\/" in body
    parsed = decoding.loads(body)
    assert parsed == json.loads(body) and parsed["data"][0]["b64_json"] == BIG_B64


def test_placeholder_text_in_the_answer_falls_back_to_json_loads():
    answer = images_answer(BIG_B64)
    answer["note"] = decoding._PLACEHOLDER.format(0)
    body = json.dumps(answer).encode()
    assert decoding.loads(body) == json.loads(body)


def test_utf16_answer_is_left_to_json_loads():
    body = json.dumps(images_answer(BIG_B64)).encode("utf-16")
    assert decoding.loads(body) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(images_answer(BIG_B64)).encode()[:-2],  # cut short
        # A raw tab inside the string is not JSON, though base64 would skip it as whitespace.
        json.dumps(images_answer(BIG_B64)).encode().replace(b"AAAA", b"AA\tAA", 1),
        json.dumps(images_answer(BIG_B64)).encode().replace(b'"data"', b"data", 1),
        json.dumps(big_chat_answer()).encode().replace(b'"choices": ', b'"choices": ,', 1),
    ],
)
async def test_malformed_large_answer_is_unreadable(make_client, body, sleeps):
    assert len(body) > decoding.LARGE_ANSWER
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    handler = Recorder(httpx.Response(200, content=body))
    async with make_client(handler) as client:
        with pytest.raises(BadResponse, match="unreadable") as info:
            await client.generate("p", ImageSpec(GPT))
    assert info.value.status == 200 and len(handler.requests) == 1 and sleeps == []


async def test_large_images_answer_end_to_end(make_client):
    body = json.dumps(images_answer(BIG_B64, base64.b64encode(BIG_PNG_2).decode())).encode()
    async with make_client(Recorder(httpx.Response(200, content=body))) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert [image.data for image in result.images] == [BIG_PNG, BIG_PNG_2]
    assert result.images[0].mime == "image/png" and result.images[0].width == 800


async def test_large_chat_answer_end_to_end(make_client):
    async with make_client(Recorder(ok(big_chat_answer()))) as client:
        result = await client.chat(GEMINI, [])
    assert [image.data for image in result.images] == [BIG_PNG, BIG_PNG_2]
    assert result.text == TRICKY_TEXT
    assert result.reasoning_details is not None
    assert result.reasoning_details[1]["url"] == data_url(BIG_PNG, "image/png")


async def test_large_escaped_and_wrapped_base64_is_accepted(make_client):
    wrapped = "\r\n".join(BIG_B64[i : i + 76] for i in range(0, len(BIG_B64), 76))
    body = json.dumps(images_answer(wrapped, BIG_B64)).encode().replace(b"/", b"\\/")
    async with make_client(Recorder(httpx.Response(200, content=body))) as client:
        result = await client.generate("p", ImageSpec(GPT))
    assert [image.data for image in result.images] == [BIG_PNG, BIG_PNG]


def damage(payload: str, index: int, char: str) -> str:
    return payload[:index] + char + payload[index + 1 :]


@pytest.mark.parametrize(
    "payload",
    [
        damage(BIG_B64, len(BIG_B64) // 2, "*"),
        damage(BIG_B64, len(BIG_B64) // 2, "\\"),  # a JSON escape: left to json.loads
        damage(BIG_B64, decoding._B64_SLICE - 1, "="),  # padding where a slice ends
        damage(BIG_B64, decoding._B64_SLICE, "="),  # padding where a slice starts
        BIG_B64 + "AAAA",
        BIG_B64[:-1],
    ],
)
async def test_damage_in_a_large_payload_is_bad_response(make_client, payload):
    answers = [
        images_answer(payload),
        chat_answer({"images": [{"url": f"data:;base64,{payload}"}]}),
    ]
    for answer in answers:
        async with make_client(Recorder(ok(answer))) as client:
            with pytest.raises(BadResponse, match="damaged image"):
                if "data" in answer:
                    await client.generate("p", ImageSpec(GPT))
                else:
                    await client.chat(GEMINI, [])


def reference_b64decode(payload: str) -> bytes | None:
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except ValueError:
        return None


def chunked_b64decode(payload: str | memoryview) -> bytes | None:
    try:
        return decoding._b64decode(payload)
    except ValueError:
        return None


def test_chunked_base64_is_b64decode():
    assert decoding._B64_SLICE % 4 == 0
    assert decoding._b64decode(BIG_B64) == BIG_PNG
    assert decoding._b64decode(memoryview(BIG_B64.encode())) == BIG_PNG
    assert decoding._b64decode("data:;base64," + BIG_B64, len("data:;base64,")) == BIG_PNG
    wrapped = "\n".join(BIG_B64[i : i + 76] for i in range(0, len(BIG_B64), 76))
    assert decoding._b64decode(" " + wrapped + "\n\n") == BIG_PNG


@pytest.mark.parametrize("size", [4, 8, decoding._B64_SLICE])
@pytest.mark.parametrize(
    "payload",
    ["", "=", "==", "====", "=AAA", "AAAA====", "AAAA=", "AA==AA==", "AAAA\n==", "AA==\n=", "AAA"],
)
def test_chunked_base64_padding_is_b64decode(monkeypatch, size, payload):
    monkeypatch.setattr(decoding, "_B64_SLICE", size)
    assert chunked_b64decode(payload) == reference_b64decode(payload)


def test_chunked_base64_matches_b64decode_on_random_input(monkeypatch):
    """Small slices, so the cases reach across slice ends: damage, padding, whitespace."""
    monkeypatch.setattr(decoding, "_B64_SLICE", 8)
    rng = random.Random(4)
    for _ in range(4000):
        chars = list(base64.b64encode(rng.randbytes(rng.randrange(0, 24))).decode())
        for _ in range(rng.randrange(0, 5)):
            at = rng.randrange(len(chars) + 1)
            edit = rng.choice(["ws", "ws", "char", "drop"])
            if edit == "ws":
                chars.insert(at, rng.choice([" ", "\n", "\r\n", "\t", "\u2028"]))
            elif chars and edit == "char":
                chars[min(at, len(chars) - 1)] = rng.choice("A=/+*-_é")
            elif chars:
                del chars[min(at, len(chars) - 1)]
        payload = "".join(chars)
        expected = reference_b64decode(payload)
        assert chunked_b64decode(payload) == expected, payload
        if payload.isascii() and "".join(payload.split()) == payload:
            assert chunked_b64decode(memoryview(payload.encode())) == expected, payload


# -- the key never leaks -------------------------------------------------------------------------------


def assert_no_key(error: BaseException) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)
    for attr in ("user_message", "detail", "model_text", "router_code", "categories"):
        assert KEY not in str(getattr(error, attr, "") or "")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": {"message": f"bad header Authorization: Bearer {KEY}"}}),
        httpx.Response(401, json={"error": {"origin": "router", "message": f"invalid key {KEY}"}}),
        httpx.Response(500, json={"error": {"message": f"echo {KEY}", "code": KEY}}),
        httpx.Response(
            400,
            json={
                "error": {
                    "code": "moderation_blocked",
                    "type": KEY,
                    "message": "no",
                    "moderation_details": {"categories": [KEY]},
                }
            },
        ),
        httpx.Response(
            400, json={"error": {"code": "moderation_blocked", "message": f"blocked {KEY}"}}
        ),
        httpx.Response(429, json={"error": f"{KEY} is rate limited"}),
        ok(chat_answer({"content": f"your key is {KEY}"})),
        httpx.ConnectError(f"failed sending Authorization: Bearer {KEY}"),
    ],
)
async def test_the_key_never_appears_in_errors_or_logs(make_client, caplog, answer):
    caplog.set_level(logging.DEBUG)
    async with make_client(Recorder(answer), max_retries=1) as client:
        with pytest.raises(RouterError) as info:
            await client.chat(GEMINI, [])
    assert_no_key(info.value)
    cause = info.value.__cause__
    if cause is not None and not isinstance(cause, httpx.HTTPError):
        assert_no_key(cause)
    assert KEY not in caplog.text
    assert KEY not in repr(client)


# -- check --------------------------------------------------------------------------------------------


async def test_check_lists_models_with_the_key(make_client):
    handler = Recorder(ok({"data": [{"id": GPT}, {"id": GEMINI}, {"name": "no id"}]}))
    async with make_client(handler) as client:
        assert await client.check() == [GPT, GEMINI]
    request = handler.requests[0]
    assert request.method == "GET" and str(request.url) == f"{BASE}/models"
    assert request.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("body", [{"models": []}, [1, 2], {"data": "x"}])
async def test_check_tolerates_other_shapes(make_client, body):
    async with make_client(Recorder(ok(body))) as client:
        assert await client.check() == []


@pytest.mark.parametrize("status", [401, 403])
async def test_check_auth_failure(make_client, status):
    async with make_client(
        Recorder(httpx.Response(status, json={"error": {"message": "bad key"}}))
    ) as client:
        with pytest.raises(AuthFailed):
            await client.check()


async def test_aclose_closes_the_shared_client():
    client = RouterClient(BASE, KEY, transport=httpx.MockTransport(Recorder(ok({}))))
    async with client:
        pass
    with pytest.raises(RuntimeError):
        await client.check()
