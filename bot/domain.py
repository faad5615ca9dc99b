"""Frozen value types shared by every layer; no I/O, no Discord."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ApiFamily(enum.StrEnum):
    """Which router endpoint family a model speaks."""

    IMAGES = "images"  # /images/generations and /images/edits (OpenAI Images format)
    CHAT = "chat"  # /chat/completions with message.images and image_config


class JobKind(enum.StrEnum):
    IMAGINE = "imagine"
    EDIT = "edit"
    REFINE = "refine"
    DESCRIBE = "describe"  # an image in, four prompts out (text only)


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class ImageSpec:
    """What to ask the model for; fields a family does not use stay None."""

    model: str
    n: int = 1
    size: str | None = None  # images family: "1024x1024", "1536x1024", "1024x1536", "auto"
    aspect_ratio: str | None = None  # chat family: "16:9", ...
    resolution: str | None = None  # chat family: "1K", "2K", "4K"
    quality: str | None = None  # images family: auto, high, medium, low
    background: str | None = None  # images family: auto, transparent, opaque
    output_format: str | None = None  # images family: png, jpeg, webp
    output_compression: int | None = None  # images family, jpeg/webp: 0-100
    input_fidelity: str | None = None  # images edits: high, low
    models: tuple[str, ...] | None = None  # /compare: every model the prompt runs on

    def to_params(self) -> dict[str, Any]:
        """The non-empty fields, for storing with a job."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ImageSpec:
        names = cls.__dataclass_fields__.keys()
        fields = {k: v for k, v in params.items() if k in names}
        if fields.get("models") is not None:  # JSON gives a list back
            fields["models"] = tuple(fields["models"])
        return cls(**fields)


@dataclass(frozen=True)
class InputImage:
    """An image handed to the router: bytes already validated by ``bot.images``."""

    data: bytes = field(repr=False)
    mime: str
    name: str = "image.png"


@dataclass(frozen=True)
class GeneratedImage:
    """An image the model returned, decoded to bytes."""

    data: bytes = field(repr=False)
    mime: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None  # USD: usage.cost, a cost header, or priced from the tokens
    input_image_tokens: int | None = None  # of input_tokens (usage.input_tokens_details)


@dataclass(frozen=True)
class RouterResult:
    """One router answer: images, the model's text, and what a conversation must replay."""

    images: tuple[GeneratedImage, ...]
    text: str | None = None
    reasoning_details: list[Any] | None = None
    usage: Usage | None = None
    model: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class StoredImage:
    """An image kept in the store, addressed by the SHA-256 of its bytes."""

    sha256: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Job:
    """A stored job: the request is saved before the router is called, the outcome after."""

    id: int
    kind: JobKind
    prompt: str
    params: dict[str, Any]
    status: JobStatus
    user_id: str | None = None
    origin: dict[str, Any] = field(default_factory=dict)  # where it came from (Discord ids, "cli")
    parent_job_id: int | None = None
    session_id: int | None = None
    input_images: tuple[str, ...] = ()  # sha256 of each input, in order
    mask_image: str | None = None
    result_images: tuple[str, ...] = ()
    result_text: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    cost: float | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    delivery: dict[str, Any] = field(default_factory=dict)  # where the result was posted
    attempts: int = 0
    claimed_by: str | None = None  # the worker that ran it last

    @property
    def spec(self) -> ImageSpec:
        return ImageSpec.from_params(self.params)


@dataclass(frozen=True)
class JobResult:
    """What the service hands back to a front end (CLI or cog) for a finished job."""

    job: Job
    images: tuple[GeneratedImage, ...]
    text: str | None = None
    cost: float | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    """A conversation (usually an Easel thread) that refines images turn by turn."""

    id: int
    model: str
    family: str
    thread_id: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None
    owner_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    parent_session_id: int | None = None
    head_turn_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Turn:
    """One message of a session, as replayed to a chat model."""

    id: int
    session_id: int
    position: int
    role: str
    text: str | None
    images: tuple[str, ...] = ()
    reasoning_details: list[Any] | None = None
    job_id: int | None = None
    message_id: str | None = None
    status: str = "ok"
    version: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Place:
    """Where a session lives in Discord, as plain ids."""

    thread_id: str
    channel_id: str | None
    guild_id: str | None
    owner_id: str | None
    model: str | None = None  # the server's or channel's default refine model, if it has one


@dataclass(frozen=True)
class RebuiltPair:
    """One request and its answer, read back from a thread's messages (the store lost them)."""

    prompt: str
    inputs: Sequence[bytes]
    results: Sequence[bytes]


@dataclass(frozen=True)
class TurnCall:
    """What the router is sent for a turn: images for an images model, messages for a chat
    model, and the warnings the user should see with the result."""

    images: Sequence[InputImage] = ()
    messages: list[dict[str, Any]] | None = None
    warnings: tuple[str, ...] = ()
    prompt: str = ""  # images models: the conversation's instructions as one prompt
