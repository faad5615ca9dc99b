"""Successful answers (and the body-level faults), built synchronously in a worker thread."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from bot.catalog import GEMINI_SIZES

from . import imaging
from .protocol import CHAT_MODELS, IMAGES_MODELS, REFUSAL_TEXT
from .validation import ChatJob, ImagesJob

# A body that starts like a real answer and stops: what a cut connection behind a proxy gives.
MALFORMED_BODY = b'{"created": 1719000000, "data": [{"b64_json": "iVBORw0KGgoAAAANSUhEUgAA'

# Output tokens per image by quality and size (OpenAI image-generation guide), and $ per image.
_OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_PRICE_1024 = {
    "gpt-image-1.5": {"low": 0.009, "medium": 0.034, "high": 0.133},
    "gpt-image-1": {"low": 0.011, "medium": 0.042, "high": 0.167},
}
_INPUT_IMAGE_TOKENS = 323  # roughly what one low-fidelity input image costs

_RATIO_SHAPES = {ratio: tiers["1K"] for ratio, tiers in GEMINI_SIZES.items()}

StoreFile = Callable[[bytes, str], str]  # (bytes, mime type) -> download URL


def _cut_half(text: str) -> str:
    return text[: len(text) // 2]


def _images_usage(job: ImagesJob, size: str, quality: str) -> dict[str, Any]:
    text_tokens = max(1, len(job.prompt) // 4)
    image_tokens = _INPUT_IMAGE_TOKENS * len(job.inputs)
    output_tokens = _OUTPUT_TOKENS[quality][size] * job.n
    family = "gpt-image-1.5" if job.model.endswith("1.5") else "gpt-image-1"
    per_image = _PRICE_1024[family][quality] * (1 if size == "1024x1024" else 1.5)
    cost = per_image * job.n + (text_tokens * 5 + image_tokens * 10) / 1_000_000
    return {
        "input_tokens": text_tokens + image_tokens,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
        "output_tokens": output_tokens,
        "total_tokens": text_tokens + image_tokens + output_tokens,
        "cost": round(cost, 6),
    }


def _image_bytes(job: ImagesJob, index: int, fault: str | None) -> bytes:
    size = imaging.SIZE_PIXELS[job.output_size]
    if fault == "huge":
        return imaging.huge(size, job.output_format)
    if fault == "oversize":
        return imaging.oversize(job.output_format)
    return imaging.render(
        job.prompt,
        index,
        size,
        job.output_format,
        transparent=job.background == "transparent",
        compression=job.output_compression,
        base=job.inputs[0] if job.inputs else None,
        mask=job.mask,
    )


def images_cost(job: ImagesJob) -> float:
    """What the /images answer for ``job`` costs, for a mode that reports it in a header."""
    quality = "medium" if job.quality == "auto" else job.quality
    return float(_images_usage(job, job.output_size, quality)["cost"])


def images_body(
    job: ImagesJob, fault: str | None, store: StoreFile, report_cost: bool = True
) -> bytes:
    """The /images answer; faults ``no_image``, ``truncated_b64``, ``url``, ``huge`` shape it."""
    if fault == "malformed_json":
        return MALFORMED_BODY
    size = job.output_size
    quality = "medium" if job.quality == "auto" else job.quality
    data: list[dict[str, str]] = []
    for index in range(0 if fault == "no_image" else job.n):
        raw = _image_bytes(job, index, fault)
        if job.response_format == "url" or fault == "url":
            # A truncated_b64 fault on a url answer cuts the downloadable file instead.
            raw = raw[: len(raw) // 2] if fault == "truncated_b64" else raw
            data.append({"url": store(raw, imaging.MIME_TYPES[job.output_format])})
        else:
            b64 = base64.b64encode(raw).decode("ascii")
            data.append({"b64_json": _cut_half(b64) if fault == "truncated_b64" else b64})
    body = {
        "created": int(time.time()),
        "data": data,
        "background": "transparent" if job.background == "transparent" else "opaque",
        "output_format": job.output_format,
        "quality": quality,
        "size": size,
        "usage": _images_usage(job, size, quality),
    }
    if not report_cost:
        del body["usage"]["cost"]  # OpenAI reports tokens, never dollars
    return json.dumps(body).encode()


def chat_size(job: ChatJob, fault: str | None) -> tuple[int, int]:
    """Pixels from the Gemini table; without a ratio, the input's shape, else square."""
    ratio = job.aspect_ratio
    if ratio is None and job.base_info is not None:
        ratio = imaging.nearest_ratio(job.base_info.width, job.base_info.height, _RATIO_SHAPES)
    tier = "4K" if fault == "huge" else job.image_size
    return GEMINI_SIZES[ratio or "1:1"][tier]


def _reasoning_details(job: ChatJob) -> list[dict[str, Any]]:
    """An opaque, deterministic stand-in for Gemini's thought signature."""
    digest = hashlib.sha256(f"{job.model}\x00{job.prompt}".encode()).digest()
    return [
        {
            "type": "reasoning.encrypted",
            "data": base64.b64encode(digest * 6).decode("ascii"),
            "id": f"tool_{digest.hex()[:24]}",
            "format": "google-gemini-v1",
            "index": 0,
        }
    ]


def _chat_usage(job: ChatJob, images: int, tier: str) -> dict[str, Any]:
    prompt_tokens = max(1, len(job.prompt) // 4) + 258 * job.image_count
    if "2.5-flash" in job.model:
        per_image, rate = 1290, 30
    elif "3-pro" in job.model:
        per_image, rate = (2000 if tier == "4K" else 1120), 120
    else:
        per_image, rate = (2000 if tier == "4K" else 1120), 60
    completion = 24 + per_image * images
    cost = (prompt_tokens * 0.3 + 24 * 2.5 + per_image * images * rate) / 1_000_000
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "cost": round(cost, 6),
    }


def _chat_message(job: ChatJob, fault: str | None) -> tuple[dict[str, Any], str]:
    shown = job.prompt if len(job.prompt) <= 200 else job.prompt[:197] + "..."
    if fault == "refusal":
        return {"role": "assistant", "content": REFUSAL_TEXT}, "content_filter"
    if fault == "no_image":
        text = f"I could not draw an image for {shown!r}, but I can describe it in words instead."
        return {"role": "assistant", "content": text}, "stop"
    if job.text_only:
        return {"role": "assistant", "content": _describe(job)}, "stop"
    width, height = chat_size(job, fault)
    if fault == "huge":
        raw = imaging.huge((width, height), "png")
    else:
        raw = imaging.render(job.prompt, 0, (width, height), "png", base=job.base)
    b64 = base64.b64encode(raw).decode("ascii")
    message = {
        "role": "assistant",
        "content": f"Here is the image you asked for: {shown}",
        "images": [
            {
                "type": "image_url",
                "image_url": {
                    "url": f"data:image/png;base64,{_cut_half(b64) if fault == 'truncated_b64' else b64}"
                },
            }
        ],
        "reasoning_details": _reasoning_details(job),
    }
    return message, "stop"


def chat_cost(job: ChatJob, fault: str | None) -> float:
    """What the chat answer for ``job`` costs (one image unless the fault leaves it out)."""
    images = 0 if fault in ("refusal", "no_image") else 1
    tier = "4K" if fault == "huge" else job.image_size
    return float(_chat_usage(job, images, tier)["cost"])


def _describe(job: ChatJob) -> str:
    """Words about the last image sent: its main colour and shape, four ways, numbered."""
    if job.base is None or job.base_info is None:
        return "There is no image to describe."
    with Image.open(io.BytesIO(job.base)) as img:
        red, green, blue = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    colour = f"#{red:02x}{green:02x}{blue:02x}"
    size = f"{job.base_info.width}x{job.base_info.height}"
    styles = ("a photograph", "a watercolour", "a pencil sketch", "a 3D render")
    return "\n".join(
        f"{i}. {style} of a scene in {colour}, {size}" for i, style in enumerate(styles, start=1)
    )


def chat_body(job: ChatJob, fault: str | None, report_cost: bool = True) -> bytes:
    """The /chat/completions answer; ``refusal``/``no_image``/``truncated_b64``/``huge`` shape it."""
    if fault == "malformed_json":
        return MALFORMED_BODY.replace(b'"data": [{"b64_json"', b'"choices": [{"message"')
    message, finish = _chat_message(job, fault)
    images = len(message.get("images", []))
    tier = "4K" if fault == "huge" else job.image_size
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": job.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _chat_usage(job, images, tier),
    }
    if not report_cost:
        del body["usage"]["cost"]
    return json.dumps(body).encode()


def models_body() -> dict[str, Any]:
    """GET /models: the image models this fake serves, in the OpenAI list shape."""
    created = 1_719_000_000
    models = [
        {"id": m, "object": "model", "created": created, "owned_by": m.split("/")[0], "api": kind}
        for kind, family in (("images", IMAGES_MODELS), ("chat", CHAT_MODELS))
        for m in sorted(family)
    ]
    return {"object": "list", "data": models}
