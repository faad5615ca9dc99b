"""Canvas maths for going on from a result: the larger canvas of a zoom out, a pan or a square,
where the old picture sits on it, the border mask that says what to paint, and the resample
an upscale ends with.

One mask convention, OpenAI's (as in ``bot.masks``): alpha 0 marks the area to paint, 255 the
area to keep. Plain synchronous functions that decode whole images: callers run them through
``asyncio.to_thread``, or ``padded`` and ``resampled``, which run them in a worker process
for a large image (``bot.offload``); each holds a decode slot (``images.decoding``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PIL import Image

from bot import images, masks, media, offload
from bot.catalog import ASPECT_RATIOS
from bot.errors import EaselError

ZOOMS = {"zoom15": 1.5, "zoom2": 2.0}
PANS = ("left", "right", "up", "down")
PAN_SHARE = 0.5  # a pan adds half the picture's width (or height) on that side
MAX_SIDE = 4096  # a canvas larger than this is scaled down whole, picture and border alike
CHAT_FILL = (255, 255, 255, 255)  # chat models get a white border to paint, named in the prompt
CRASHED = "I couldn't prepare the picture: the process doing it stopped. Try again."


@dataclass(frozen=True)
class Layout:
    """A canvas of ``size`` with the old picture, scaled to ``inner``, at ``offset``."""

    size: tuple[int, int]
    offset: tuple[int, int]
    inner: tuple[int, int]

    @property
    def aspect(self) -> str:
        return nearest_aspect(*self.size)


def layout(action: str, width: int, height: int) -> Layout:
    """Where the picture goes on the larger canvas an action needs; ValueError if unknown."""
    if action in ZOOMS:
        factor = ZOOMS[action]
        size = (round(width * factor), round(height * factor))
        return _capped(size, ((size[0] - width) // 2, (size[1] - height) // 2), (width, height))
    if action.startswith("pan") and action[3:] in PANS:
        side = action[3:]
        grow_x = round(width * PAN_SHARE) if side in ("left", "right") else 0
        grow_y = round(height * PAN_SHARE) if side in ("up", "down") else 0
        offset = (grow_x if side == "left" else 0, grow_y if side == "up" else 0)
        return _capped((width + grow_x, height + grow_y), offset, (width, height))
    if action == "square":
        edge = max(width, height)
        return _capped((edge, edge), ((edge - width) // 2, (edge - height) // 2), (width, height))
    raise ValueError(f"no canvas for {action!r}")


def _capped(size: tuple[int, int], offset: tuple[int, int], inner: tuple[int, int]) -> Layout:
    scale = min(1.0, MAX_SIDE / max(size))
    if scale == 1.0:
        return Layout(size, offset, inner)

    def fit(pair: tuple[int, int]) -> tuple[int, int]:
        return (max(1, round(pair[0] * scale)), max(1, round(pair[1] * scale)))

    return Layout(fit(size), fit(offset), fit(inner))


def nearest_aspect(width: int, height: int) -> str:
    """The chat models' aspect ratio closest to ``width``:``height``."""
    wanted = width / height

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(w / h - wanted)

    return min(ASPECT_RATIOS, key=distance)


def pad(data: bytes, plan: Layout, *, fill: tuple[int, int, int, int] | None = None) -> bytes:
    """The picture on the larger canvas as PNG: the border transparent, or ``fill``."""
    img, _ = images.open_image(data, images.DEFAULT_MAX_PIXELS)
    with images.decoding(), img, images.mapped():
        picture = img.convert("RGBA")
        if picture.size != plan.inner:
            picture = picture.resize(plan.inner, Image.Resampling.LANCZOS)
        canvas = Image.new("RGBA", plan.size, fill or (0, 0, 0, 0))
        canvas.paste(picture, plan.offset)
        return images.encode(canvas, media.PNG)


def border_mask(plan: Layout) -> bytes:
    """A PNG RGBA mask of the canvas: the border to paint (alpha 0), the picture kept."""
    with images.decoding(), images.mapped():
        alpha = Image.new("L", plan.size, masks.EDIT)
        x, y = plan.offset
        alpha.paste(masks.KEEP, (x, y, x + plan.inner[0], y + plan.inner[1]))
        return images.encode(masks.rgba_mask(alpha), media.PNG)


def resample(data: bytes, factor: float) -> tuple[bytes, int, int]:
    """The image ``factor`` times larger (Lanczos) as PNG, with its new width and height."""
    img, _ = images.open_image(data, images.DEFAULT_MAX_PIXELS)
    with images.decoding(), img, images.mapped():
        size = (round(img.width * factor), round(img.height * factor))
        mode = "RGBA" if images.declares_alpha(img) else "RGB"
        bigger = img.convert(mode).resize(size, Image.Resampling.LANCZOS)
        return images.encode(bigger, media.PNG), size[0], size[1]


async def padded(
    data: bytes, plan: Layout, *, fill: tuple[int, int, int, int] | None = None
) -> bytes:
    """``pad`` off the loop: in a worker process for a large image, else in a thread."""
    result: bytes = await _off_loop(_pad, data, plan, fill)
    return result


def _pad(data: bytes, plan: Layout, fill: tuple[int, int, int, int] | None) -> bytes:
    return pad(data, plan, fill=fill)


async def resampled(data: bytes, factor: float) -> tuple[bytes, int, int]:
    """``resample`` off the loop: in a worker process for a large image, else in a thread."""
    result: tuple[bytes, int, int] = await _off_loop(resample, data, factor)
    return result


async def _off_loop(func: Any, data: bytes, *args: Any) -> Any:
    try:
        return await offload.run(func, data, *args)
    except offload.WorkerDied as exc:
        raise EaselError(CRASHED, detail=str(exc)) from exc


def size_of(data: bytes) -> tuple[int, int]:
    info = images.identify(data)
    return info.width, info.height
