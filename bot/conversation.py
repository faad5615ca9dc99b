"""Pure conversation building: stored turns + a new instruction → the router request.

Chat image models get the whole transcript in order: every user turn (text and images) and
every assistant turn (its text, its images and ``reasoning_details`` unchanged). The
conversation is trimmed oldest first to a budget of turns and image bytes, never dropping the
latest image, and the trim is reported as a warning the user sees.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.domain import InputImage


@dataclass(frozen=True)
class ContextTurn:
    """One turn with its images loaded: what the model is shown."""

    role: str  # "user" or "assistant"
    text: str | None
    images: tuple[InputImage, ...] = ()
    reasoning_details: list[Any] | None = None


@dataclass(frozen=True)
class Budget:
    max_turns: int = 20
    max_image_bytes: int = 40 * 1024 * 1024


@dataclass(frozen=True)
class Context:
    messages: list[dict[str, Any]]
    warnings: tuple[str, ...] = ()
    used_turns: int = 0
    dropped_turns: int = field(default=0)


def data_url(image: InputImage) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"


def _content(text: str | None, images: Sequence[InputImage]) -> str | list[dict[str, Any]]:
    if not images:
        return text or ""
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]
    return parts


def to_message(turn: ContextTurn) -> dict[str, Any]:
    """The chat message for a turn; assistant images and reasoning go back as they came."""
    if turn.role != "assistant":
        return {"role": "user", "content": _content(turn.text, turn.images)}
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or ""}
    if turn.images:
        message["images"] = [
            {"type": "image_url", "image_url": {"url": data_url(i)}} for i in turn.images
        ]
    if turn.reasoning_details is not None:
        message["reasoning_details"] = turn.reasoning_details
    return message


def trim(history: Sequence[ContextTurn], budget: Budget) -> tuple[list[ContextTurn], int]:
    """Drop whole turns, oldest first, until both budgets hold; the newest turn always stays."""
    kept = list(history)
    dropped = 0

    def image_bytes() -> int:
        return sum(len(i.data) for t in kept for i in t.images)

    while len(kept) > 1 and (
        len(kept) > budget.max_turns or image_bytes() > budget.max_image_bytes
    ):
        kept.pop(0)
        dropped += 1
    # A transcript must not open with the model's answer to a question we no longer send.
    while len(kept) > 1 and kept[0].role == "assistant":
        kept.pop(0)
        dropped += 1
    return kept, dropped


def build(
    history: Sequence[ContextTurn],
    instruction: str,
    inputs: Sequence[InputImage] = (),
    budget: Budget | None = None,
) -> Context:
    """The messages for the next turn of a chat-model conversation."""
    budget = budget or Budget()
    new_turn = ContextTurn("user", instruction, tuple(inputs))
    kept, dropped = trim([*history, new_turn], budget)
    warnings: tuple[str, ...] = ()
    if dropped:
        earlier = len(kept) - 1
        warnings = (
            f"⚠️ Only using the last {earlier} turn{'s' if earlier != 1 else ''} "
            "of this conversation.",
        )
    return Context([to_message(t) for t in kept], warnings, len(kept), dropped)


def latest_image(history: Sequence[ContextTurn]) -> InputImage | None:
    """The newest image in the conversation (the model's own, or one a user sent)."""
    for turn in reversed(history):
        if turn.images:
            return turn.images[-1]
    return None
