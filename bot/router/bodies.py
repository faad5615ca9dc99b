"""Request bodies as the router's profile wants them: fields sent, fields left out, attribution."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot import media
from bot.domain import ImageSpec, InputImage
from bot.errors import InvalidOption, RouterUnavailable
from bot.router import failures
from bot.router.profiles import Attribution, RouterProfile
from bot.streamed import CacheDamaged, StreamedImage

DAMAGED = "A stored image of this conversation couldn't be read. Try again in a minute."
_IMAGE_FIELDS = ("n", "size", "quality", "background", "output_format", "output_compression")


def image_fields(spec: ImageSpec) -> dict[str, Any]:
    values = {name: getattr(spec, name) for name in _IMAGE_FIELDS}
    return {name: value for name, value in values.items() if value is not None}


def images_body(
    profile: RouterProfile,
    prompt: str,
    spec: ImageSpec,
    who: Attribution | None,
    *,
    edit: bool = False,
    form: bool = False,
) -> dict[str, Any]:
    """The fields of an /images call; ``response_format`` only where the router wants it."""
    if not profile.images_api:
        raise InvalidOption(
            f"{spec.model} is an images-API model, and this router ({profile.kind}) has no "
            "images API. Choose one of its chat image models (see /easel-models)."
        )
    body: dict[str, Any] = {"model": spec.model, "prompt": prompt, **image_fields(spec)}
    if edit and spec.input_fidelity is not None:
        body["input_fidelity"] = spec.input_fidelity
    if profile.response_format:
        body["response_format"] = "b64_json"  # Requesty answers url by default
    body.update(profile.request_fields(who, form=form))
    return body


def chat_body(
    profile: RouterProfile,
    model: str,
    messages: list[dict[str, Any]],
    *,
    aspect_ratio: str | None,
    image_size: str | None,
    modalities: Sequence[str] | None,
    who: Attribution | None,
) -> dict[str, Any]:
    """A /chat/completions call for an image; ``modalities`` where the router needs them."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    image_config = {
        key: value
        for key, value in (("aspect_ratio", aspect_ratio), ("image_size", image_size))
        if value
    }
    if image_config:
        body["image_config"] = image_config
    if modalities:
        body["modalities"] = list(modalities)
    elif profile.chat_modalities:  # OpenRouter answers text only without them
        body["modalities"] = ["image", "text"]
    body.update(profile.request_fields(who))
    return body


def edit_refs(
    images: Sequence[InputImage], mask: InputImage | None, file_ids: Sequence[str]
) -> dict[str, Any]:
    """A JSON edit's ``images`` (data URLs, then file ids) and ``mask``."""
    refs: list[dict[str, str]] = [{"image_url": media.data_url(image)} for image in images]
    fields: dict[str, Any] = {"images": refs + [{"file_id": file_id} for file_id in file_ids]}
    if mask is not None:
        fields["mask"] = {"image_url": media.data_url(mask)}
    return fields


def edit_files(
    images: Sequence[InputImage], mask: InputImage | None
) -> list[tuple[str, tuple[str, bytes, str]]]:
    """A multipart edit's ``image[]`` parts and ``mask``."""
    files = [("image[]", (image.name, image.data, image.mime)) for image in images]
    if mask is not None:
        files.append(("mask", (mask.name, mask.data, mask.mime)))
    return files


def user_message(text: str, images: Sequence[InputImage]) -> dict[str, Any]:
    """A chat user turn: plain text, or text plus ``image_url`` data-URL parts."""
    if not images:
        return {"role": "user", "content": text}
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "image_url", "image_url": {"url": media.data_url(i)}} for i in images]
    return {"role": "user", "content": content}


class StreamedBody:
    """A JSON body whose ``StreamedImage`` values go out as their data URLs read in chunks:
    byte for byte what ``json.dumps`` of the same body with data URL strings would be (base64
    and the prefix need no escaping). Replayable: each ``content()`` starts afresh."""

    def __init__(self, body: dict[str, Any]) -> None:
        token = secrets.token_hex(8)
        self.images: list[StreamedImage] = []

        def placeholder(value: Any) -> str:
            if not isinstance(value, StreamedImage):
                raise TypeError(f"{type(value).__name__} is not JSON serializable")
            self.images.append(value)
            return f"\0{token}\0"

        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=placeholder)
        # json.dumps writes the NULs as \u0000: the placeholder can't be mistaken for text.
        pieces = re.split(rf'"\\u0000{token}\\u0000"', text)
        assert len(pieces) == len(self.images) + 1
        self.pieces = [piece.encode("utf-8") for piece in pieces]
        self.length = sum(map(len, self.pieces)) + sum(i.url_length + 2 for i in self.images)

    def content(self) -> bytes | AsyncIterator[bytes]:
        """The whole body when it has no streamed image; else a fresh iterator of its chunks."""
        if not self.images:
            return self.pieces[0]
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for piece, image in zip(self.pieces, self.images, strict=False):
            yield piece + b'"' + image.prefix.encode("ascii")
            try:
                async for chunk in image.chunks():
                    yield chunk
            except CacheDamaged as exc:  # the body is cut short; the next attempt rebuilds it
                error = RouterUnavailable(DAMAGED, detail=str(exc))
                raise failures.Transient(error) from exc
            yield b'"'
        yield self.pieces[-1]
