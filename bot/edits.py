"""Edit requests before they become jobs: instruction text, which files are inputs or the mask,
the 16-image cap, and per-file checks that name the file. Pure: no Discord, no network."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from bot import masks
from bot.errors import ImageTooLarge, InvalidOption

MAX_INPUTS = 16  # what /images/edits takes; the model may take fewer (catalog says)
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "gif"})
REGIONS = ("none", *masks.PRESETS)
_MIB = 1024 * 1024
_MENTION = re.compile(r"<@!?(\d+)>")
_MASK_WORD = re.compile(r"\bmask\b", re.IGNORECASE)
_MODEL_FLAG = re.compile(r"(?:^|\s)--model[ =](?P<name>\S+)")


@dataclass(frozen=True)
class ImageRef:
    """An image somewhere in a message, not yet downloaded."""

    # Stable across re-fetches: "<message id>:" + attachment id or "embed:<n>", with "fwd<n>:"
    # before that for the images of a forwarded copy.
    key: str
    name: str
    url: str
    size: int | None = None  # bytes, when Discord says


@dataclass(frozen=True)
class Selection:
    """Which refs to use, in order, the mask among them, and what to tell the user."""

    inputs: tuple[ImageRef, ...]
    mask: ImageRef | None
    notes: tuple[str, ...] = field(default=())


def is_image_file(name: str, content_type: str | None) -> bool:
    """By the type Discord reports, else by extension: the bytes are checked after download."""
    if content_type:
        return content_type.split(";")[0].strip().lower().startswith("image/")
    return PurePosixPath(name.lower()).suffix.lstrip(".") in IMAGE_EXTENSIONS


def is_mask_name(name: str) -> bool:
    return "mask" in PurePosixPath(name.lower()).stem


def instruction(content: str, bot_id: int) -> str:
    """The message text without the bot's mention(s)."""
    return " ".join(
        _MENTION.sub(lambda m: "" if int(m[1]) == bot_id else m[0], content).split()
    ).strip()


def split_model(text: str) -> tuple[str, str | None]:
    """``"make it blue --model gemini"`` → ``("make it blue", "gemini")``: a reply's own choice."""
    match = _MODEL_FLAG.search(text)
    if match is None:
        return text, None
    return " ".join((text[: match.start()] + text[match.end() :]).split()), match["name"]


def mentions(content: str, user_id: int) -> bool:
    return any(int(m) == user_id for m in _MENTION.findall(content))


def wants_alpha_mask(text: str) -> bool:
    """'…use the transparent part as the mask': the first image's own alpha marks the edit area."""
    return bool(_MASK_WORD.search(text))


def select(
    target: Sequence[ImageRef], extra: Sequence[ImageRef], limit: int = MAX_INPUTS
) -> Selection:
    """Target images first, then the reply's own; a file named like ``mask.png`` is the mask."""
    mask = next((r for r in extra if is_mask_name(r.name)), None)
    refs = [*target, *(r for r in extra if r is not mask)]
    notes: list[str] = []
    if len(refs) > limit:
        dropped = ", ".join(r.name for r in refs[limit:])
        notes.append(
            f"You gave {len(refs)} images; edits take at most {limit}, so I used the first "
            f"{limit} and left out {dropped}."
        )
        refs = refs[:limit]
    return Selection(tuple(refs), mask, tuple(notes))


def check_size(ref: ImageRef, max_bytes: int) -> None:
    """Refuse a file Discord says is too big, before downloading any of it."""
    if ref.size is not None and ref.size > max_bytes:
        raise too_large(ref.name, ref.size, max_bytes)


def too_large(name: str, size: int | None, max_bytes: int) -> ImageTooLarge:
    amount = f"{size / _MIB:.1f} MB" if size is not None else f"over {_mb(max_bytes)}"
    return ImageTooLarge(
        f"That image ({name}) is {amount}; the limit is {_mb(max_bytes)}. "
        "Send a smaller or compressed version."
    )


def region(preset: str) -> str | None:
    """The modal's region choice: None for "none", else a known preset."""
    preset = preset.strip().lower()
    if preset in ("", "none"):
        return None
    if preset not in masks.PRESETS:
        raise InvalidOption(f"Unknown region {preset!r}; choose one of {', '.join(REGIONS)}.")
    return preset


def _mb(n: int) -> str:
    return f"{n / _MIB:.1f}".removesuffix(".0") + " MB"
