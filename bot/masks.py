"""Masks: the mask file the router gets, region presets, the preview, and their pixel work.

One convention throughout, OpenAI's: alpha 0 marks the area to edit, alpha 255 the area to keep.
Opening, encoding and the Pillow error mapping come from ``bot.images``, which imports nothing
from here. Plain synchronous functions: callers run them through ``asyncio.to_thread``. The
public ones decode or draw whole images, so each holds a decode slot (``images.decoding``).
"""

from __future__ import annotations

from PIL import Image

from bot import images, media
from bot.domain import InputImage
from bot.errors import MaskMismatch

EDIT = 0
KEEP = 255
# left/right/top/bottom: halves; center: the middle 50 % box; border: the outer 15 % frame.
PRESETS = ("left", "right", "top", "bottom", "center", "border")

_BORDER = 0.15  # width of the "border" frame, as a share of each side
_SHAPE_TOLERANCE = 0.01  # aspect ratios this close count as the same shape
_TINT = (255, 0, 255)
# Read by brightness: white (>= 128) paints the edit area.
_BRIGHTNESS_TO_ALPHA = [KEEP] * 128 + [EDIT] * 128


def prepare_mask(mask: bytes, size: tuple[int, int]) -> InputImage:
    """A PNG RGBA mask of exactly ``size`` where alpha 0 marks the area to edit (OpenAI's rule).

    A mask with transparency keeps its alpha. One without (grayscale, RGB, palette, or an
    alpha that is opaque everywhere) is read by brightness: white = edit here, black = keep.
    Another size with the same aspect ratio (within 1 %) is resized; any other shape raises
    MaskMismatch naming both sizes.
    """
    with images.decoding():
        alpha = fit_alpha(_mask_alpha(mask), size)
        data = images.encode(rgba_mask(alpha), media.PNG)
    return InputImage(data=data, mime=media.PNG, name="mask.png")


def region_mask(size: tuple[int, int], preset: str) -> bytes:
    """A PNG RGBA mask, transparent over a region from ``PRESETS``; ValueError if unknown."""
    with images.decoding():  # four full-size bands, like a decode
        return images.encode(rgba_mask(region_alpha(size, preset)), media.PNG)


def mask_preview(image: bytes, mask: bytes, *, max_side: int = 1024) -> bytes:
    """A PNG of the image with the edit area tinted magenta and the rest dimmed, for a check."""
    img, mime = images.open_image(image, images.DEFAULT_MAX_PIXELS)
    with images.decoding():  # the image (unless a JPEG) and the mask decode at full size
        with img, images.mapped():
            turn = images.orientation(img)
            full_size = img.size if turn < 5 else img.size[::-1]  # as shown, like identify()
            if mime == media.JPEG:
                img.draft("RGB", (max_side, max_side))  # decode at 1/2..1/8 scale if it suffices
            base = images.upright(img.convert("RGB"), turn)
            base.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
        alpha = _mask_alpha(mask)
        check_shape(alpha.size, full_size)
        with images.mapped():
            preview = tint(base, alpha.resize(base.size, Image.Resampling.NEAREST))
            return images.encode(preview, media.PNG)


def has_transparency(data: bytes) -> bool:
    """Whether any pixel of the (first frame of the) image has alpha below 255."""
    img, _ = images.open_image(data, images.DEFAULT_MAX_PIXELS)
    with img, images.mapped():
        if not images.declares_alpha(img):
            return False
        with images.decoding():
            img.load()
            return is_transparent(img)


def _mask_alpha(mask: bytes) -> Image.Image:
    img, _ = images.open_image(mask, images.DEFAULT_MAX_PIXELS)
    with img, images.mapped(), images.decoding():
        return images.upright(edit_alpha(img), images.orientation(img))


# --- pixel work on decoded images --------------------------------------------------------


def alpha_min(img: Image.Image) -> int:
    """The lowest alpha value of an image that has an alpha band."""
    return _lowest(img.getchannel("A"))


def _lowest(band: Image.Image) -> int:
    low = band.getextrema()[0]
    assert isinstance(low, int | float)  # a single band gives (min, max)
    return int(low)


def as_rgba(img: Image.Image) -> Image.Image:
    """``img`` in RGBA, without a copy when it already is."""
    return img if img.mode == "RGBA" else img.convert("RGBA")


def is_transparent(img: Image.Image) -> bool:
    """Whether any pixel has alpha below 255."""
    return images.declares_alpha(img) and alpha_min(as_rgba(img)) < KEEP


def edit_alpha(img: Image.Image) -> Image.Image:
    """The mask as an L image, 0 = edit and 255 = keep.

    A mask with real transparency keeps its alpha. One without (L, RGB, P without
    transparency, or an alpha that is opaque everywhere) is read by brightness, the common
    inpainting convention: white means "edit here", black means "keep".
    """
    if images.declares_alpha(img):
        alpha = as_rgba(img).getchannel("A")
        if _lowest(alpha) < KEEP:
            return alpha
    return img.convert("L").point(_BRIGHTNESS_TO_ALPHA)


def check_shape(mask_size: tuple[int, int], size: tuple[int, int]) -> None:
    """Raise MaskMismatch unless the two sizes have the same aspect ratio within 1 %."""
    (mw, mh), (w, h) = mask_size, size
    if abs(mw * h - w * mh) > _SHAPE_TOLERANCE * w * mh:
        raise MaskMismatch(
            f"The mask is {mw}×{mh} but the image is {w}×{h}; they need the same shape. "
            "Draw the mask over a copy of the image, or pick a region instead."
        )


def fit_alpha(alpha: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``alpha`` at exactly ``size``: resized when only the scale differs, else MaskMismatch."""
    if alpha.size == size:
        return alpha
    check_shape(alpha.size, size)
    # NEAREST keeps a hard-edged mask hard-edged.
    return alpha.resize(size, Image.Resampling.NEAREST)


def region_alpha(size: tuple[int, int], preset: str) -> Image.Image:
    """An L mask of ``size`` whose edit area is the named region (see ``PRESETS``)."""
    w, h = size
    if w < 1 or h < 1:
        raise ValueError(f"mask size must be positive, got {w}x{h}")
    if preset == "border":
        dx, dy = round(w * _BORDER), round(h * _BORDER)
        alpha = Image.new("L", size, EDIT)
        alpha.paste(KEEP, (dx, dy, w - dx, h - dy))
        return alpha
    boxes = {
        "left": (0, 0, w // 2, h),
        "right": (w // 2, 0, w, h),
        "top": (0, 0, w, h // 2),
        "bottom": (0, h // 2, w, h),
        "center": (w // 4, h // 4, w - w // 4, h - h // 4),
    }
    if preset not in boxes:
        raise ValueError(f"unknown region {preset!r}; choose one of {', '.join(PRESETS)}")
    alpha = Image.new("L", size, KEEP)
    alpha.paste(EDIT, boxes[preset])
    return alpha


def rgba_mask(alpha: Image.Image) -> Image.Image:
    """A black RGBA image carrying ``alpha``: the mask file the router gets."""
    black = Image.new("L", alpha.size, 0)
    return Image.merge("RGBA", (black, black, black, alpha))


def tint(base: Image.Image, alpha: Image.Image) -> Image.Image:
    """``base`` (RGB) with the edit area tinted magenta and the kept area dimmed."""
    tinted = Image.blend(base, Image.new("RGB", base.size, _TINT), 0.45)
    dimmed = Image.blend(base, Image.new("RGB", base.size, (0, 0, 0)), 0.55)
    return Image.composite(dimmed, tinted, alpha)
