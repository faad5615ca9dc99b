"""Pure conversation building: stored turns + a new instruction → the router request.

Chat image models get the whole transcript in order: every user turn (text and images) and
every assistant turn (its text, its images and ``reasoning_details`` unchanged). The
conversation is trimmed oldest first to a budget of turns and image bytes, never dropping the
latest image, and the trim is reported as a warning the user sees.

Images models take one prompt and images, no transcript, so they get the conversation as words:
the earlier instructions, oldest first, and then the new one (``instruction_history``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import media
from bot.domain import InputImage
from bot.streamed import StreamedImage

# A stored image goes out streamed from its base64 cache; a new input is in memory already.
Image = InputImage | StreamedImage


@dataclass(frozen=True)
class ContextTurn:
    """One turn with its images (loaded, or to be streamed): what the model is shown."""

    role: str  # "user" or "assistant"
    text: str | None
    images: tuple[Image, ...] = ()
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


def _url(image: Image) -> str | StreamedImage:
    """A data URL; a streamed image stands for its own (``bot.router.bodies.StreamedBody``)."""
    return image if isinstance(image, StreamedImage) else media.data_url(image)


def image_bytes(image: Image) -> int:
    return image.size if isinstance(image, StreamedImage) else len(image.data)


def _content(text: str | None, images: Sequence[Image]) -> str | list[dict[str, Any]]:
    if not images:
        return text or ""
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": _url(i)}} for i in images]
    return parts


def to_message(turn: ContextTurn) -> dict[str, Any]:
    """The chat message for a turn; assistant images and reasoning go back as they came."""
    if turn.role != "assistant":
        return {"role": "user", "content": _content(turn.text, turn.images)}
    message: dict[str, Any] = {"role": "assistant", "content": turn.text or ""}
    if turn.images:
        message["images"] = [
            {"type": "image_url", "image_url": {"url": _url(i)}} for i in turn.images
        ]
    if turn.reasoning_details is not None:
        message["reasoning_details"] = turn.reasoning_details
    return message


def drop_count(turns: Sequence[tuple[str, int]], budget: Budget) -> int:
    """How many of the oldest turns to leave out, from each turn's role and image bytes (the
    newest turn last): oldest first until both budgets hold, never the newest turn, and never
    opening on the model's answer to a question no longer sent."""
    start, total = 0, sum(size for _role, size in turns)
    while len(turns) - start > 1 and (
        len(turns) - start > budget.max_turns
        or total > budget.max_image_bytes
        or turns[start][0] == "assistant"
    ):
        total -= turns[start][1]
        start += 1
    return start


def trim(history: Sequence[ContextTurn], budget: Budget) -> tuple[list[ContextTurn], int]:
    """The turns that fit the budget, and how many were left out."""
    sizes = [(t.role, sum(map(image_bytes, t.images))) for t in history]
    start = drop_count(sizes, budget)
    return list(history[start:]), start


def build(
    history: Sequence[ContextTurn],
    instruction: str,
    inputs: Sequence[InputImage] = (),
    budget: Budget | None = None,
    dropped_before: int = 0,
) -> Context:
    """The messages for the next turn of a chat-model conversation; ``dropped_before`` counts
    turns the caller already left out (unloaded) so the warning stays true."""
    budget = budget or Budget()
    new_turn = ContextTurn("user", instruction, tuple(inputs))
    kept, dropped = trim([*history, new_turn], budget)
    dropped += dropped_before
    warnings: tuple[str, ...] = ()
    if dropped:
        earlier = len(kept) - 1
        warnings = (
            f"⚠️ Only using the last {earlier} turn{'s' if earlier != 1 else ''} "
            "of this conversation.",
        )
    return Context([to_message(t) for t in kept], warnings, len(kept), dropped)


# Images models read at most 32,000 characters of prompt; keep well inside it.
MAX_PROMPT_CHARS = 30_000


def instruction_history(
    earlier: Sequence[str], instruction: str, budget: Budget | None = None
) -> tuple[str, tuple[str, ...]]:
    """One prompt that carries a conversation to an images model, with the latest image: the
    earlier instructions (trimmed oldest first to the turn budget and the prompt limit), then
    the new one. Also the warning to show when earlier instructions were left out."""
    budget = budget or Budget()
    kept = [text for text in earlier if text.strip()]
    # The turn budget counts requests and answers; an instruction stands for both.
    dropped = max(0, len(kept) - (budget.max_turns - 1) // 2)
    kept = kept[dropped:]
    while kept and len(_as_prompt(kept, instruction)) > MAX_PROMPT_CHARS:
        kept, dropped = kept[1:], dropped + 1
    warnings: tuple[str, ...] = ()
    if dropped:
        warnings = (
            f"⚠️ Only using the last {len(kept)} earlier instruction"
            f"{'s' if len(kept) != 1 else ''} of this conversation.",
        )
    return (_as_prompt(kept, instruction) if kept else instruction), warnings


def _as_prompt(earlier: Sequence[str], instruction: str) -> str:
    steps = "\n".join(f"{i}. {text.strip()}" for i, text in enumerate(earlier, start=1))
    return (
        "This image was made step by step. Earlier instructions, oldest first:\n"
        f"{steps}\nNow: {instruction.strip()}"
    )
