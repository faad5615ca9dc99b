"""A result as a server emoji or sticker: trimmed of its transparent border, fitted into
Discord's box on a transparent square, and made small enough (PNG, then fewer colours).

Discord's limits: an emoji 256 KiB (shown at 128×128), a sticker a 512 KiB PNG of exactly
320×320. Plain synchronous functions that decode whole images: callers run them through
``asyncio.to_thread``; each holds a decode slot (``images.decoding``)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image

from bot import images
from bot.errors import ImageTooLarge


@dataclass(frozen=True)
class Expression:
    """One kind of server expression and Discord's limits for it."""

    kind: str  # "emoji" or "sticker"
    side: int
    max_bytes: int
    max_name: int


EMOJI = Expression("emoji", 128, 256 * 1024, 32)
STICKER = Expression("sticker", 320, 512 * 1024, 30)
KINDS = {"emoji": EMOJI, "sticker": STICKER}


def fitted(data: bytes, target: Expression) -> bytes:
    """The image trimmed, fitted on a transparent ``side``×``side`` square, as a PNG under the
    byte limit; ImageTooLarge if even 16 colours don't fit."""
    img, _ = images.open_image(data, images.DEFAULT_MAX_PIXELS)
    with images.decoding(), img, images.mapped():
        picture = img.convert("RGBA")
        box = picture.getchannel("A").getbbox()
        if box:  # trim a transparent border, as Discord shows expressions on any background
            picture = picture.crop(box)
        picture.thumbnail((target.side, target.side), Image.Resampling.LANCZOS)
        square = Image.new("RGBA", (target.side, target.side), (0, 0, 0, 0))
        offset = ((target.side - picture.width) // 2, (target.side - picture.height) // 2)
        square.paste(picture, offset)
        for colours in (None, 256, 64, 16):
            png = _png(square, colours)
            if len(png) <= target.max_bytes:
                return png
    raise ImageTooLarge(f"That image won't fit in a {target.kind}'s {target.max_bytes // 1024} KB.")


def _png(img: Image.Image, colours: int | None) -> bytes:
    buffer = io.BytesIO()
    shown = img if colours is None else img.quantize(colours, method=Image.Quantize.FASTOCTREE)
    shown.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def name_for(prompt: str, target: Expression, job_id: int) -> str:
    """A name Discord takes (letters, digits, underscores; 2 to 32 or 30) from the prompt."""
    words = re.findall(r"[A-Za-z0-9]+", prompt.lower())
    name = "_".join(words)[: target.max_name].strip("_")
    return name if len(name) >= 2 else f"easel_{job_id}"[: target.max_name]
