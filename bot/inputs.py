"""What users give as input before it becomes a stored job: images (bytes as they came) and the
limits they must fit, turned into router inputs off the event loop; the request itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot import fitting, images, masks
from bot.catalog import ModelInfo
from bot.config import Settings
from bot.conversation import Budget
from bot.domain import ImageSpec, InputImage, Job, JobKind
from bot.errors import EaselError, InputError, InvalidOption, NotAllowed


@dataclass(frozen=True)
class RawImage:
    """Bytes as the user gave them (a file, a Discord attachment), not yet checked."""

    data: bytes
    name: str = "image"


@dataclass(frozen=True)
class Limits:
    """What an input may be: bytes, pixels (as given and as decoded) and a conversation budget."""

    max_input_bytes: int = 50 * 1024 * 1024
    max_input_pixels: int = 50_000_000
    budget: Budget = field(default_factory=Budget)
    max_queued_per_user: int = 5
    max_decode_pixels: int = 24_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits the settings give; also sizes the process-wide decode bound."""
        # ImageService.open turns settings into limits here, so no caller can forget the bound;
        # it is process-wide, like the memory it protects.
        images.configure(settings.max_concurrent_decodes)
        mib = 1024 * 1024
        budget = Budget(settings.refine_max_turns, settings.refine_max_image_mb * mib)
        return cls(
            settings.max_input_bytes,
            settings.max_input_pixels,
            budget,
            settings.max_queued_per_user,
            settings.max_decode_pixels,
        )


async def prepare_inputs(
    model: ModelInfo, inputs: Sequence[RawImage], mask: RawImage | None, limits: Limits
) -> tuple[list[InputImage], InputImage | None, list[str]]:
    """Check and convert inputs off the event loop, each read once; the mask fits the first
    image. Also returns what the user should know about them (an animated file, say)."""
    if not inputs:
        raise InputError("There's no image to edit. Attach or reply to an image.")
    model.check_inputs(len(inputs))
    if mask is not None and not model.supports_mask:
        raise InvalidOption(
            f"{model.label} can't use a mask; pick an images model such as "
            "GPT Image, or leave the mask out."
        )
    checked = [await asyncio.to_thread(_prepare_one, raw, model, limits) for raw in inputs]
    prepared = [image for image, _ in checked]
    notes = [note for _, note in checked if note]
    prepared_mask = None
    if mask is not None:
        first = await asyncio.to_thread(images.identify, prepared[0].data)
        prepared_mask = await asyncio.to_thread(
            masks.prepare_mask, mask.data, (first.width, first.height)
        )
    return prepared, prepared_mask, notes


def _prepare_one(raw: RawImage, model: ModelInfo, limits: Limits) -> tuple[InputImage, str | None]:
    try:
        info = images.validate_input(
            raw.data, max_bytes=limits.max_input_bytes, max_pixels=limits.max_input_pixels
        )
        prepared = fitting.prepare_input(
            raw.data,
            max_bytes=model.max_input_bytes,
            max_pixels=limits.max_input_pixels,
            max_decode_pixels=limits.max_decode_pixels,
            name=raw.name,
            info=info,
        )
    except EaselError as exc:
        raise type(exc)(f"{raw.name}: {exc.user_message}") from exc  # which file, of several
    note = f"{raw.name} is animated; I used its first frame." if info.frames > 1 else None
    return prepared, note


@dataclass(frozen=True)
class Request:
    """A job before it is stored: what was asked, by whom, and where it came from."""

    kind: JobKind
    prompt: str
    spec: ImageSpec
    user_id: str | None = None
    origin: dict[str, Any] = field(default_factory=dict)
    parent_job_id: int | None = None
    session_id: int | None = None


# Whether the person acting can see a channel (by id); the Discord adapter answers.
SeesChannel = Callable[[str], bool]


def noted(request: Request, notes: list[str]) -> Request:
    """The request with what the user should know about their inputs, shown with the result."""
    if not notes:
        return request
    return replace(
        request, origin={**request.origin, "notes": [*request.origin.get("notes", []), *notes]}
    )


def check_may_use(
    job: Job | None,
    user_id: str | None,
    origin: dict[str, Any] | None,
    sees: SeesChannel | None = None,
) -> None:
    """Only its owner may build on a private result; a public one, anyone in its server who
    can see the channel it was posted in (``sees``, given by the adapter that knows)."""
    if job is None:
        raise NotAllowed("I can't find that result any more.")
    if user_id is None or job.user_id in (None, user_id):
        return
    if job.origin.get("private"):
        raise NotAllowed("That is someone else's private result.")
    if job.origin.get("guild_id") != (origin or {}).get("guild_id"):
        raise NotAllowed("That result belongs to another server.")
    where = job.origin.get("channel_id")
    elsewhere = where and where != (origin or {}).get("channel_id")
    if sees is not None and elsewhere and not sees(str(where)):
        raise NotAllowed("That result is in a channel you can't see.")
