"""Router answers read: parsed JSON to a ``RouterResult`` and the references to its images."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain import GeneratedImage, RouterResult, Usage
from bot.errors import BadResponse, NoImage, Refused
from bot.router.decoding import UNREADABLE, Inline, finite_float


@dataclass(frozen=True)
class ImageRef:
    """An image in an answer: base64 (``b64_json``) or a URL, plain or cut out while parsing."""

    value: str | Inline
    base64: bool = False  # b64_json: decoded as base64, never fetched


@dataclass(frozen=True)
class Answer:
    """An answer read: its image references, and its result once they are images."""

    refs: tuple[ImageRef, ...]  # never empty: an answer without one is NoImage or Refused
    result: RouterResult  # images=() until with_images

    def with_images(self, images: Sequence[GeneratedImage]) -> RouterResult:
        return dataclasses.replace(self.result, images=tuple(images))


def as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadResponse(UNREADABLE, detail="the answer is not a JSON object", status=200)
    return data


def images_answer(data: dict[str, Any], model: str) -> Answer:
    """An images API answer: each ``data[]`` entry's ``b64_json`` or ``url``."""
    entries = data.get("data")
    refs: list[ImageRef] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("b64_json"), str | Inline):
            refs.append(ImageRef(entry["b64_json"], base64=True))
        elif isinstance(entry.get("url"), str | Inline):
            refs.append(ImageRef(entry["url"]))
    if not refs:
        raise NoImage(detail=f"{model}: no image in data[]", status=200)
    result = RouterResult(
        images=(),
        usage=_usage(data.get("usage")),
        model=data.get("model") if isinstance(data.get("model"), str) else model,
    )
    return Answer(tuple(refs), result)


def chat_answer(data: dict[str, Any], model: str, scrub: Callable[[str], str]) -> Answer:
    """A chat answer: the first choice's ``message.images`` and image parts, text, reasoning."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    finish = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None
    text = _message_text(message.get("content"))
    refs = tuple(ImageRef(url) for url in _image_urls(message))
    if not refs:
        model_text = scrub(text) if text else None
        if finish == "content_filter":
            raise Refused(model_text=model_text, status=200, router_code=finish)
        raise NoImage(
            model_text=model_text,
            detail=f"{model}: finish_reason {finish}",
            status=200,
            router_code=finish,
        )
    reasoning = message.get("reasoning_details")
    result = RouterResult(
        images=(),
        text=text,
        reasoning_details=reasoning if isinstance(reasoning, list) else None,
        usage=_usage(data.get("usage")),
        model=data.get("model") if isinstance(data.get("model"), str) else model,
        finish_reason=finish,
    )
    return Answer(refs, result)


def _message_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        parts = [
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
        return "\n".join(parts) or None
    return None


def _image_urls(message: dict[str, Any]) -> list[str | Inline]:
    """Every image reference in a chat message: ``message.images`` and image content parts."""
    images = message.get("images")
    entries: list[Any] = list(images) if isinstance(images, list) else []
    content = message.get("content")
    if isinstance(content, list):
        entries += [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    urls: list[str | Inline] = []
    for entry in entries:
        ref = entry.get("image_url") if isinstance(entry, dict) else entry
        if isinstance(ref, dict):
            ref = ref.get("url")
        if ref is None and isinstance(entry, dict):
            ref = entry.get("url")
        if isinstance(ref, Inline) or (isinstance(ref, str) and ref):
            urls.append(ref)
    return urls


def costed(answer: Answer, header: str | None, headers: Mapping[str, str]) -> Answer:
    """The answer with the cost from ``header`` (LiteLLM's x-litellm-response-cost), if sent."""
    cost = finite_float(headers.get(header)) if header else None
    if cost is None or cost < 0:
        return answer
    usage = dataclasses.replace(answer.result.usage or Usage(), cost=cost)
    return dataclasses.replace(answer, result=dataclasses.replace(answer.result, usage=usage))


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("input_tokens_details")
    return Usage(
        input_tokens=_int(raw.get("input_tokens", raw.get("prompt_tokens"))),
        output_tokens=_int(raw.get("output_tokens", raw.get("completion_tokens"))),
        total_tokens=_int(raw.get("total_tokens")),
        cost=finite_float(raw.get("cost")),
        input_image_tokens=_int(details.get("image_tokens")) if isinstance(details, dict) else None,
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
