"""The fake Requesty router answers like the real one, field by field, and misbehaves on cue."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.router import FakeRouter, Fault, FaultError

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key"}
GPT = "azure/openai/gpt-image-1"
GEMINI = "vertex/google/gemini-3-pro-image-preview"
DELETE = object()


@pytest.fixture
async def router():
    async with FakeRouter() as fake:
        yield fake


@pytest.fixture
async def client(router: FakeRouter):
    async with httpx.AsyncClient(base_url=router.base_url, headers=AUTH, timeout=20) as http:
        yield http


def picture(size: tuple[int, int] = (64, 48), mode: str = "RGB", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    colour = (200, 30, 30, 0) if mode == "RGBA" else (200, 30, 30)
    Image.new(mode, size, colour[: len(mode)]).save(buffer, fmt)
    return buffer.getvalue()


def noisy(size: tuple[int, int]) -> bytes:
    """A PNG that does not compress, for tests that need a long data URL."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def patched(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    body = dict(base)
    for key, value in changes.items():
        if value is DELETE:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def assert_invalid(resp: httpx.Response, param: str | None, code: str | None = None) -> None:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code


def chat_body(content: Any = "a lighthouse at dusk", **extra: Any) -> dict[str, Any]:
    return {"model": GEMINI, "messages": [{"role": "user", "content": content}], **extra}


def chat_image(resp: httpx.Response) -> Image.Image:
    url = resp.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return opened(base64.b64decode(url.split(",", 1)[1]))


# ----- generations ---------------------------------------------------------------------------


async def test_generation_b64_json_is_a_real_deterministic_image(client: httpx.AsyncClient) -> None:
    body = {"model": GPT, "prompt": "a red fox", "response_format": "b64_json"}
    first = await client.post("/images/generations", json=body)
    again = await client.post("/images/generations", json=body)
    other = await client.post("/images/generations", json={**body, "prompt": "a blue fox"})
    answer = first.json()
    assert first.status_code == 200
    raw = base64.b64decode(answer["data"][0]["b64_json"])
    assert opened(raw).size == (1024, 1024) and opened(raw).format == "PNG"
    assert raw == base64.b64decode(again.json()["data"][0]["b64_json"])
    assert raw != base64.b64decode(other.json()["data"][0]["b64_json"])
    assert {k: answer[k] for k in ("background", "output_format", "quality", "size")} == {
        "background": "opaque",
        "output_format": "png",
        "quality": "medium",
        "size": "1024x1024",
    }
    usage = answer["usage"]
    assert set(usage) == {
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "total_tokens",
        "cost",
    }
    assert set(usage["input_tokens_details"]) == {"image_tokens", "text_tokens"}
    assert isinstance(usage["cost"], float) and usage["cost"] > 0
    assert isinstance(answer["created"], int)


async def test_generation_defaults_to_url_which_downloads(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/images/generations", json={"model": "gpt-image-1.5", "prompt": "x", "n": 2}
    )
    entries = resp.json()["data"]
    assert resp.status_code == 200 and len(entries) == 2
    assert all(set(e) == {"url"} for e in entries)
    async with httpx.AsyncClient(timeout=20) as anonymous:  # pre-signed: no key needed
        download = await anonymous.get(entries[0]["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert opened(download.content).size == (1024, 1024)
    missing = await client.get("/files/file_nope")
    assert missing.status_code == 404 and missing.json()["error"]["origin"] == "router"


@pytest.mark.parametrize(
    ("options", "size", "fmt", "mode"),
    [
        (
            {"size": "1536x1024", "output_format": "jpeg", "output_compression": 40},
            (1536, 1024),
            "JPEG",
            "RGB",
        ),
        ({"size": "1024x1536", "output_format": "webp"}, (1024, 1536), "WEBP", "RGB"),
        ({"background": "transparent"}, (1024, 1024), "PNG", "RGBA"),
    ],
)
async def test_generation_options_shape_the_picture(
    client: httpx.AsyncClient, options: dict[str, Any], size: tuple[int, int], fmt: str, mode: str
) -> None:
    body = {"model": GPT, "prompt": "p", "response_format": "b64_json", **options}
    resp = await client.post("/images/generations", json=body)
    img = opened(base64.b64decode(resp.json()["data"][0]["b64_json"]))
    assert (img.size, img.format, img.mode) == (size, fmt, mode)


GENERATION_ERRORS = [
    ({"model": DELETE}, "model", "missing_required_parameter"),
    ({"prompt": DELETE}, "prompt", "missing_required_parameter"),
    ({"prompt": ""}, "prompt", "empty_string"),
    ({"prompt": 7}, "prompt", "invalid_type"),
    ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
    ({"style": "vivid"}, "style", "unknown_parameter"),
    ({"input_fidelity": "high"}, "input_fidelity", "unknown_parameter"),
    ({"n": 0}, "n", "integer_below_min_value"),
    ({"n": 11}, "n", "integer_above_max_value"),
    ({"n": "2"}, "n", "invalid_type"),
    ({"n": 1.5}, "n", "invalid_type"),
    ({"n": True}, "n", "invalid_type"),
    ({"size": "512x512"}, "size", "invalid_value"),
    ({"quality": "ultra"}, "quality", "invalid_value"),
    ({"response_format": "png"}, "response_format", "invalid_value"),
    ({"background": "white"}, "background", "invalid_value"),
    ({"background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
    ({"output_format": "gif"}, "output_format", "invalid_value"),
    ({"output_compression": -1}, "output_compression", "integer_below_min_value"),
    ({"output_compression": 101}, "output_compression", "integer_above_max_value"),
    ({"output_compression": "50"}, "output_compression", "invalid_type"),
    ({"moderation": "none"}, "moderation", "invalid_value"),
    ({"stream": True}, "stream", "unsupported_value"),
]


@pytest.mark.parametrize(("changes", "param", "code"), GENERATION_ERRORS)
async def test_generation_rejects_bad_fields(
    client: httpx.AsyncClient, changes: dict[str, Any], param: str, code: str
) -> None:
    body = patched({"model": GPT, "prompt": "a cat"}, changes)
    assert_invalid(await client.post("/images/generations", json=body), param, code)


async def test_unparseable_body_is_a_400(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/images/generations", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_invalid(resp, None, "invalid_json")


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/images/generations", "dall-e-3"),
        ("/images/generations", GEMINI),
        ("/images/edits", "vertex/gemini-3.1-flash-image-preview"),
        ("/chat/completions", GPT),
        ("/chat/completions", "openai/gpt-4o"),
    ],
)
async def test_unknown_or_wrong_family_model_is_a_404(
    client: httpx.AsyncClient, path: str, model: str
) -> None:
    resp = await client.post(path, json={"model": model, "prompt": "p", "messages": []})
    assert resp.status_code == 404
    assert resp.json() == {
        "error": {"origin": "router", "message": f"Model {model} is not supported"}
    }


# ----- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-key"}]
)
async def test_posts_need_the_key(router: FakeRouter, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=router.base_url, headers=headers, timeout=10) as http:
        resp = await http.post("/images/generations", json={"model": GPT, "prompt": "p"})
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert set(error) == {"origin", "message"} and error["origin"] == "router"


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 200), (AUTH, 200), ({"Authorization": "Bearer bad"}, 401)]
)
async def test_models_is_open_but_checks_a_key_if_given(
    router: FakeRouter, headers: dict[str, str], status: int
) -> None:
    async with httpx.AsyncClient(base_url=router.base_url, headers=headers, timeout=10) as http:
        resp = await http.get("/models")
    assert resp.status_code == status
    if status == 200:
        ids = {m["id"] for m in resp.json()["data"]}
        assert {GPT, GEMINI, "gpt-image-1.5"} <= ids


async def test_unknown_route_answers_in_router_shape(client: httpx.AsyncClient) -> None:
    resp = await client.post("/embeddings", json={})
    assert resp.status_code == 404 and resp.json()["error"]["origin"] == "router"


# ----- edits ---------------------------------------------------------------------------------


def edit_files(*images: bytes, mask: bytes | None = None, name: str = "image[]") -> list[Any]:
    files: list[Any] = [(name, (f"in{i}.png", data, "image/png")) for i, data in enumerate(images)]
    if mask is not None:
        files.append(("mask", ("mask.png", mask, "image/png")))
    return files


EDIT_FORM = {"model": GPT, "prompt": "make it blue", "response_format": "b64_json"}


async def test_multipart_edit_with_two_images_and_a_mask(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    first, second = picture((300, 200)), picture((50, 50), fmt="JPEG")
    files = edit_files(first, second, mask=picture((300, 200), "RGBA"))
    resp = await client.post(
        "/images/edits", data={**EDIT_FORM, "input_fidelity": "high"}, files=files
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["size"] == "1536x1024"  # auto: the first input's landscape shape
    assert resp.json()["usage"]["input_tokens_details"]["image_tokens"] > 0
    assert opened(base64.b64decode(resp.json()["data"][0]["b64_json"])).size == (1536, 1024)
    recorded = router.requests[-1].body
    assert recorded["prompt"] == "make it blue"
    assert [f["width"] for f in recorded["image[]"]] == [300, 50]
    assert recorded["mask"]["filename"] == "mask.png" and len(recorded["mask"]["sha256"]) == 64
    assert "authorization" not in router.requests[-1].headers


async def test_multipart_edit_accepts_plain_image_field(client: httpx.AsyncClient) -> None:
    files = edit_files(picture((40, 60)), name="image")
    resp = await client.post("/images/edits", data={**EDIT_FORM, "size": "auto"}, files=files)
    assert resp.status_code == 200 and resp.json()["size"] == "1024x1536"


BIG = b"\x89PNG" + bytes(50 * 1024 * 1024)

EDIT_ERRORS = [
    (
        "mask wrong size",
        {},
        edit_files(picture((300, 200)), mask=picture((200, 300), "RGBA")),
        "mask",
        "invalid_mask",
    ),
    (
        "mask without alpha",
        {},
        edit_files(picture((30, 20)), mask=picture((30, 20))),
        "mask",
        "invalid_mask",
    ),
    ("no image", {}, [], "image", "missing_required_parameter"),
    ("17 images", {}, edit_files(*[picture()] * 17), "image", "array_above_max_length"),
    ("not an image", {}, edit_files(b"hello, world"), "image", "invalid_image_format"),
    ("truncated png", {}, edit_files(picture((300, 300))[:200]), "image", "invalid_image_format"),
    ("gif", {}, edit_files(picture(fmt="GIF")), "image", "invalid_image_format"),
    ("over 50 MB", {}, edit_files(BIG), "image", "image_too_large"),
    ("image as text", {"image": "x"}, edit_files(picture()), "image", "invalid_type"),
    (
        "input_fidelity",
        {"input_fidelity": "max"},
        edit_files(picture()),
        "input_fidelity",
        "invalid_value",
    ),
    ("n not a number", {"n": "two"}, edit_files(picture()), "n", "invalid_type"),
    ("unknown field", {"images": "x"}, edit_files(picture()), "images", "unknown_parameter"),
    ("empty prompt", {"prompt": ""}, edit_files(picture()), "prompt", "empty_string"),
]


@pytest.mark.parametrize(
    ("fields", "files", "param", "code"),
    [case[1:] for case in EDIT_ERRORS],
    ids=[case[0] for case in EDIT_ERRORS],
)
async def test_multipart_edit_rejects_bad_input(
    client: httpx.AsyncClient, fields: dict[str, str], files: list[Any], param: str, code: str
) -> None:
    if not files:  # httpx only sends multipart when there is a file; add an unrelated one
        files = [("unused", ("u.txt", b"u", "text/plain"))]
        fields = {**fields, "prompt": "p"}
        resp = await client.post("/images/edits", data={**EDIT_FORM, **fields}, files=files)
        assert_invalid(resp, "unused", "unknown_parameter")
        resp = await client.post("/images/edits", data={**EDIT_FORM, **fields}, files={})
        assert_invalid(resp, None, "invalid_json")  # form-urlencoded is neither JSON nor multipart
        resp = await client.post("/images/edits", json=EDIT_FORM)
        assert_invalid(resp, "images", code)
        return
    resp = await client.post("/images/edits", data={**EDIT_FORM, **fields}, files=files)
    assert_invalid(resp, param, code)


async def test_json_edit_with_data_urls_and_file_ids(client: httpx.AsyncClient) -> None:
    made = await client.post("/images/generations", json={"model": GPT, "prompt": "base"})
    file_id = made.json()["data"][0]["url"].rsplit("/", 1)[1]
    body = {
        **EDIT_FORM,
        "images": [{"image_url": data_url(picture((1024, 1024)))}, {"file_id": file_id}],
        "mask": {"image_url": data_url(picture((1024, 1024), "RGBA"))},
        "output_format": "webp",
    }
    resp = await client.post("/images/edits", json=body)
    assert resp.status_code == 200, resp.text
    img = opened(base64.b64decode(resp.json()["data"][0]["b64_json"]))
    assert (img.size, img.format) == ((1024, 1024), "WEBP")


@pytest.mark.parametrize(
    ("images", "param", "code"),
    [
        ("x", "images", "invalid_type"),
        ([], "images", "missing_required_parameter"),
        ([{"image_url": "https://example.com/a.png"}], "images[0].image_url", "invalid_value"),
        (
            [{"image_url": "data:image/png;base64,!!!"}],
            "images[0].image_url",
            "invalid_image_format",
        ),
        ([{"file_id": "file_missing"}], "images[0].file_id", "invalid_value"),
        ([{"url": "x"}], "images[0]", "invalid_type"),
        ([{"image_url": data_url(b"not an image")}], "images[0]", "invalid_image_format"),
    ],
)
async def test_json_edit_rejects_bad_references(
    client: httpx.AsyncClient, images: Any, param: str, code: str
) -> None:
    resp = await client.post("/images/edits", json={**EDIT_FORM, "images": images})
    assert_invalid(resp, param, code)


# ----- chat ----------------------------------------------------------------------------------


async def test_chat_image_config_picks_the_table_size(client: httpx.AsyncClient) -> None:
    body = chat_body(image_config={"aspect_ratio": "16:9", "image_size": "2K"}, temperature=0.5)
    resp = await client.post("/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert chat_image(resp).size == (2752, 1536)
    assert answer["object"] == "chat.completion" and answer["model"] == GEMINI
    assert answer["id"].startswith("chatcmpl-") and isinstance(answer["created"], int)
    choice = answer["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant" and "a lighthouse at dusk" in message["content"]
    (detail,) = message["reasoning_details"]
    assert detail["type"] == "reasoning.encrypted" and detail["format"] == "google-gemini-v1"
    assert detail["index"] == 0 and detail["data"] and detail["id"]
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost"}


async def test_chat_defaults_and_multi_turn_replay(client: httpx.AsyncClient) -> None:
    first = await client.post("/chat/completions", json=chat_body())
    assert chat_image(first).size == (1024, 1024)
    previous = first.json()["choices"][0]["message"]
    source = picture((1200, 900), fmt="JPEG")
    follow_up = {
        "model": "vertex/gemini-3.1-flash-image-preview",
        "modalities": ["image", "text"],
        "max_tokens": 4096,
        "user": "u1",
        "stream": False,
        "messages": [
            {"role": "system", "content": "You draw."},
            {"role": "user", "content": "a lighthouse at dusk"},
            previous,
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "now at dawn"},
                    {"type": "image_url", "image_url": {"url": data_url(source, "image/jpeg")}},
                ],
            },
        ],
    }
    resp = await client.post("/chat/completions", json=follow_up)
    assert resp.status_code == 200, resp.text
    assert chat_image(resp).size == (1200, 896)  # no ratio asked: the input's shape (4:3)
    assert "now at dawn" in resp.json()["choices"][0]["message"]["content"]


def _user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return list(parts)


IMG_PART = {"type": "image_url", "image_url": {"url": data_url(picture((8, 8)))}}

CHAT_ERRORS = [
    ({"messages": []}, "messages", "invalid_type"),
    ({"messages": DELETE}, "messages", "missing_required_parameter"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", "invalid_value"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
    (
        {"messages": [{"role": "user", "content": "x", "foo": 1}]},
        "messages[0].foo",
        "unknown_parameter",
    ),
    (
        {"messages": [{"role": "system", "content": _user(IMG_PART)}]},
        "messages[0].content[0].type",
        "invalid_value",
    ),
    (
        chat_body(_user({"type": "audio", "audio": {}})),
        "messages[0].content[0].type",
        "invalid_value",
    ),
    (
        chat_body(_user({"type": "image_url", "image_url": {"url": "https://example.com/x.png"}})),
        "messages[0].content[0].image_url.url",
        "invalid_value",
    ),
    (
        chat_body(_user({"type": "image_url", "image_url": {"url": data_url(b"garbage")}})),
        "messages[0].content[0].image_url.url",
        "invalid_image_format",
    ),
    (
        chat_body(
            _user({"type": "image_url", "image_url": {"url": data_url(bytes(7 * 1024 * 1024 + 1))}})
        ),
        "messages[0].content[0].image_url.url",
        "image_too_large",
    ),
    (chat_body(_user(*[IMG_PART] * 15)), "messages", "too_many_images"),
    (
        chat_body(
            _user({"type": "image_url", "image_url": {"url": data_url(picture(), "text/plain")}})
        ),
        "messages[0].content[0].image_url.url",
        "invalid_image_format",
    ),
    ({"image_config": {"aspect_ratio": "7:5"}}, "image_config.aspect_ratio", "invalid_value"),
    ({"image_config": {"image_size": "2k"}}, "image_config.image_size", "invalid_value"),
    ({"image_config": {"quality": "high"}}, "image_config.quality", "unknown_parameter"),
    ({"image_config": "16:9"}, "image_config", "invalid_type"),
    ({"stream": True}, "stream", "unsupported_value"),
    ({"temperature": 3}, "temperature", "invalid_value"),
    ({"modalities": ["audio"]}, "modalities", "invalid_value"),
    ({"n": 2}, "n", "integer_above_max_value"),
    ({"size": "1024x1024"}, "size", "unknown_parameter"),
    (
        {"messages": [{"role": "assistant", "content": None, "reasoning_details": "x"}]},
        "messages[0].reasoning_details",
        "invalid_type",
    ),
]


@pytest.mark.parametrize(("changes", "param", "code"), CHAT_ERRORS)
async def test_chat_rejects_bad_fields(
    client: httpx.AsyncClient, changes: dict[str, Any], param: str, code: str
) -> None:
    assert_invalid(
        await client.post("/chat/completions", json=patched(chat_body(), changes)), param, code
    )


# ----- faults --------------------------------------------------------------------------------

GEN = {"model": GPT, "prompt": "a cat", "response_format": "b64_json"}


@pytest.mark.parametrize(
    ("fault", "status", "check"),
    [
        (
            Fault("status", status=502),
            502,
            lambda b: json.loads(b)["error"]["origin"] == "provider",
        ),
        (
            Fault("status", status=403, message="blocked"),
            403,
            lambda b: json.loads(b)["error"] == {"origin": "router", "message": "blocked"},
        ),
        (
            Fault("status", status=429, shape="openai", retry_after=3),
            429,
            lambda b: json.loads(b)["error"]["type"] == "rate_limit_error",
        ),
        (Fault("status", status=502, shape="text"), 502, lambda b: b.startswith(b"<html>")),
    ],
)
async def test_status_fault_shapes(
    client: httpx.AsyncClient, router: FakeRouter, fault: Fault, status: int, check: Any
) -> None:
    router.add_fault(fault)
    resp = await client.post("/images/generations", json=GEN)
    assert resp.status_code == status and check(resp.content)
    assert resp.headers.get("retry-after") == (None if fault.retry_after is None else "3")
    assert router.requests[-1].fault == "status" and router.requests[-1].status == status
    assert (
        await client.post("/images/generations", json={**GEN, "n": 0})
    ).status_code == 400  # consumed


async def test_fault_times_and_endpoint_filter(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.add_fault(Fault("status", endpoint="chat", status=503, times=2))
    assert (await client.get("/models")).status_code == 200  # GETs only match named endpoints
    assert (await client.post("/images/generations", json={**GEN, "n": 0})).status_code == 400
    statuses = [
        (await client.post("/chat/completions", json={"model": "x"})).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 404]
    router.add_fault(Fault("status", endpoint="/files/", status=410))
    assert (await client.get("/files/anything")).status_code == 410


async def test_latency_fault_delays_then_answers(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.add_fault(Fault("latency", seconds=0.4))
    started = time.monotonic()
    resp = await client.post("/images/generations", json={**GEN, "quality": "low"})
    assert resp.status_code == 200 and time.monotonic() - started >= 0.4


async def test_drop_fault_closes_the_connection(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.add_fault(Fault("drop"))
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/images/generations", json=GEN)
    assert router.requests[-1].status is None and router.requests[-1].fault == "drop"
    assert (await client.get("/models")).status_code == 200  # the server itself is fine


async def test_trickle_fault_sends_the_normal_answer_slowly(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    normal = (await client.get("/models")).content
    router.add_fault(Fault("trickle", endpoint="/models", seconds=0.05, chunk=len(normal) // 8))
    started = time.monotonic()
    # A per-read timeout far shorter than the whole answer never fires: each read gets bytes.
    async with httpx.AsyncClient(base_url=router.base_url, timeout=0.3) as quick:
        slow = await quick.get("/models")
    assert slow.status_code == 200 and slow.content == normal
    assert slow.headers["content-length"] == str(len(normal))
    assert time.monotonic() - started >= 8 * 0.05
    assert router.requests[-1].fault == "trickle" and router.requests[-1].status == 200


async def test_a_client_giving_up_on_a_trickle_leaves_the_server_fine(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.add_fault(Fault("url"))
    url = (await client.post("/images/generations", json=GEN)).json()["data"][0]["url"]
    router.add_fault(Fault("trickle", endpoint="/files/", seconds=0.2))
    async with httpx.AsyncClient(timeout=5) as http, http.stream("GET", url) as response:
        assert response.status_code == 200
        assert await anext(response.aiter_bytes())  # then hang up mid-answer
    await asyncio.sleep(0.5)  # the fake's next write finds the connection gone
    assert (await client.get(url)).status_code == 200


async def test_url_fault_can_point_elsewhere(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("url", url="http://169.254.169.254/latest/meta-data/"))
    resp = await client.post("/images/generations", json={**GEN, "n": 2})
    assert [d["url"] for d in resp.json()["data"]] == [
        "http://169.254.169.254/latest/meta-data/"
    ] * 2


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.02)


async def test_hang_fault_holds_until_client_timeout_or_stop() -> None:
    fake = FakeRouter()
    await fake.start()
    try:
        fake.add_fault(Fault("hang", times=2))
        async with httpx.AsyncClient(base_url=fake.base_url, headers=AUTH, timeout=0.5) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post("/images/generations", json=GEN)
        async with httpx.AsyncClient(base_url=fake.base_url, headers=AUTH, timeout=30) as http:
            pending = asyncio.create_task(http.post("/images/generations", json=GEN))
            await asyncio.wait_for(_until(lambda: len(fake.requests) == 2), 5)
            started = time.monotonic()
            await asyncio.wait_for(fake.stop(), 5)
            assert time.monotonic() - started < 3
            with pytest.raises(httpx.RemoteProtocolError):
                await asyncio.wait_for(pending, 5)
    finally:
        await fake.stop()


async def test_refusal_fault(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("refusal", times=2))
    assert_invalid(
        await client.post("/images/generations", json={**GEN, "n": 0}), "n"
    )  # not wasted
    resp = await client.post("/images/generations", json=GEN)
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "type": "image_generation_user_error",
            "code": "moderation_blocked",
            "message": resp.json()["error"]["message"],
            "param": None,
            "moderation_details": {"moderation_stage": "input", "categories": ["violence"]},
        }
    }
    assert resp.json()["error"]["message"].startswith(
        "Your request was rejected by the safety system"
    )
    chat = (await client.post("/chat/completions", json=chat_body())).json()["choices"][0]
    assert chat["finish_reason"] == "content_filter"
    assert "images" not in chat["message"] and chat["message"]["content"]


async def test_no_image_fault(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("no_image", times=2))
    images = await client.post("/images/generations", json=GEN)
    assert images.status_code == 200 and images.json()["data"] == []
    chat = (await client.post("/chat/completions", json=chat_body())).json()["choices"][0]
    assert chat["finish_reason"] == "stop" and "images" not in chat["message"]
    assert chat["message"]["content"]


async def test_truncated_b64_fault(client: httpx.AsyncClient, router: FakeRouter) -> None:
    full = await client.post("/images/generations", json=GEN)
    router.add_fault(Fault("truncated_b64", times=2))
    cut = await client.post("/images/generations", json=GEN)
    b64 = cut.json()["data"][0]["b64_json"]
    assert cut.status_code == 200
    whole = full.json()["data"][0]["b64_json"]
    assert len(b64) == len(whole) // 2 and whole.startswith(b64)
    with pytest.raises(Exception):  # noqa: B017 - Pillow raises several types for a cut file
        opened(base64.b64decode(b64 + "=" * (-len(b64) % 4)))
    resp = await client.post("/chat/completions", json=chat_body())
    with pytest.raises(Exception):  # noqa: B017
        chat_image(resp)


async def test_malformed_json_fault(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("malformed_json", times=2))
    for path, body in (("/images/generations", GEN), ("/chat/completions", chat_body())):
        resp = await client.post(path, json=body)
        assert resp.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            resp.json()


async def test_url_fault_ignores_b64_json(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("url"))
    resp = await client.post("/images/generations", json=GEN)
    url = resp.json()["data"][0]["url"]
    assert opened((await client.get(url)).content).size == (1024, 1024)


async def test_huge_fault_on_images(client: httpx.AsyncClient, router: FakeRouter) -> None:
    router.add_fault(Fault("huge"))
    resp = await client.post("/images/generations", json=GEN)
    raw = base64.b64decode(resp.json()["data"][0]["b64_json"])
    normal = base64.b64decode(
        (await client.post("/images/generations", json=GEN)).json()["data"][0]["b64_json"]
    )
    assert opened(raw).size == (1024, 1024) and len(raw) > len(normal)


async def test_huge_fault_on_chat_is_a_4k_png_over_10_mib(
    client: httpx.AsyncClient, router: FakeRouter
) -> None:
    router.add_fault(Fault("huge", endpoint="chat"))
    resp = await client.post("/chat/completions", json=chat_body())
    url = resp.json()["choices"][0]["message"]["images"][0]["image_url"]["url"]
    raw = base64.b64decode(url.split(",", 1)[1])
    assert len(raw) > 10 * 1024 * 1024
    assert opened(raw).size == (4096, 4096)


async def test_server_stays_responsive_while_rendering(client: httpx.AsyncClient) -> None:
    slow = asyncio.create_task(client.post("/images/generations", json={**GEN, "n": 10}))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert (await client.get("/models")).status_code == 200
    assert time.monotonic() - started < 1.0  # Pillow work is off the event loop
    assert (await slow).status_code == 200


def test_fault_rejects_nonsense() -> None:
    with pytest.raises(FaultError):
        Fault("explode")
    with pytest.raises(FaultError):
        Fault("status", times=0)
    with pytest.raises(FaultError):
        Fault.from_dict({"kind": "drop", "colour": "red"})
    with pytest.raises(FaultError, match="chunk"):
        Fault("trickle", chunk=0)
    with pytest.raises(FaultError, match="url"):
        Fault("url", url="file:///etc/passwd")
    assert Fault.from_dict({"kind": "trickle", "seconds": 0.5, "chunk": 4}).chunk == 4
    assert Fault.from_dict(Fault("latency", seconds=2).to_dict()) == Fault("latency", seconds=2)


# ----- control endpoints ---------------------------------------------------------------------


async def test_control_endpoints(router: FakeRouter, client: httpx.AsyncClient) -> None:
    base = router.base_url.removesuffix("/v1")
    async with httpx.AsyncClient(base_url=base, timeout=10) as control:
        added = await control.post(
            "/_fake/faults", json={"kind": "status", "status": 529, "endpoint": "generations"}
        )
        assert added.status_code == 200 and added.json()["faults"][0]["status"] == 529
        more = await control.post(
            "/_fake/faults", json=[{"kind": "no_image"}, {"kind": "drop", "times": 2}]
        )
        assert [f["kind"] for f in more.json()["faults"]] == ["status", "no_image", "drop"]
        bad = await control.post("/_fake/faults", json={"kind": "explode"})
        assert bad.status_code == 400 and "explode" in bad.json()["error"]

        assert (await client.post("/images/generations", json=GEN)).status_code == 529
        edit = {**EDIT_FORM, "images": [{"image_url": data_url(noisy((3000, 50)))}]}
        assert (await client.post("/images/edits", json=edit)).json()["data"] == []

        listed = (await control.get("/_fake/requests")).json()["requests"]
        assert [r["status"] for r in listed] == [529, 200]
        assert listed[0]["body"] == GEN and "authorization" not in listed[0]["headers"]
        assert (
            "chars, sha256" in listed[1]["body"]["images"][0]["image_url"]
        )  # long data URL elided
        full = (await control.get("/_fake/requests", params={"full": "1"})).json()["requests"]
        assert full[1]["body"]["images"][0]["image_url"] == edit["images"][0]["image_url"]

        assert (await control.post("/_fake/reset")).json() == {"ok": True}
        assert (await control.get("/_fake/faults")).json() == {"faults": []}
        assert (await control.get("/_fake/requests")).json() == {"requests": []}
    assert router.requests == []


def test_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeRouter(host="0.0.0.0")


# ----- command line --------------------------------------------------------------------------


async def _run_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.router", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_cli_prints_url_first_and_stops_on_sigterm() -> None:
    proc = await _run_cli("--port", "0", "--key", "k1")
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/v1")
        async with httpx.AsyncClient(base_url=line, timeout=10) as http:
            assert (
                await http.get("/models", headers={"Authorization": "Bearer k1"})
            ).status_code == 200
            assert (await http.get("/models", headers=AUTH)).status_code == 401
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0
        assert b"GET /v1/models" in err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def test_cli_refuses_public_host() -> None:
    proc = await _run_cli("--host", "0.0.0.0")
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2 and out == b"" and b"loopback" in err
