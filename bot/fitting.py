"""Fit an image under a byte limit: keep it, or re-encode down a quality ladder, then shrink.

Plain synchronous functions: callers run them through ``asyncio.to_thread``, or ``fitted``,
which runs ``fit_under`` in a worker process for a large image (``bot.offload``). Opening,
encoding and the Pillow error mapping come from ``bot.images``, alpha facts from ``bot.masks``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from PIL import Image, ImageFile, ImageOps

from bot import images, masks, media, offload
from bot.domain import InputImage
from bot.errors import EaselError, ImageTooLarge

_ALIASES = {"png": media.PNG, "jpeg": media.JPEG, "jpg": media.JPEG, "webp": media.WEBP}
_QUALITIES = (90, 82, 75)  # lossy ladder tried at full size before shrinking
_SHRINK_QUALITY = 82  # quality once the image has to be shrunk anyway
_MAX_ENCODES = 8
_MIN_SIDE = 64  # smaller than this is no longer worth delivering
_SMALL_PIXELS = 1024 * 1024  # PNG re-encode and full-image estimates are cheap below this
_TILE, _GRID = 128, 5  # size-estimate mosaic: 5x5 tiles of 128 px from across the image
CRASHED = "I couldn't prepare the image for Discord: the process doing it stopped. Try again."


@dataclass(frozen=True)
class FittedImage:
    """Image bytes that fit a byte limit, and what was done to get there."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    reencoded: bool
    scaled: bool

    @property
    def ext(self) -> str:
        return media.extension(self.mime)


def fit_under(data: bytes, limit: int, *, prefer: str | None = None) -> FittedImage:
    """Bytes that fit in ``limit`` (Discord's upload cap), leaving ``data`` untouched.

    Kept as is when small enough and PNG/JPEG/WebP; otherwise decoded once and re-encoded
    (WebP with alpha, JPEG without, or ``prefer``: png/jpeg/webp), stepping quality down and
    then shrinking by the size ratio, at most 8 encodes; ImageTooLarge if nothing fits.
    """
    target = _mime_for(prefer)
    img, mime = images.open_image(data, images.RESULT_MAX_PIXELS)  # results were capped
    with img, images.mapped():
        if len(data) <= limit and mime in images.KEEPABLE:
            return FittedImage(data, mime, img.width, img.height, reencoded=False, scaled=False)
        full_pixels = img.width * img.height
        if mime == media.JPEG and limit * 16 < len(data):
            # Far too big: decode at 1/2..1/8 scale. Generous, since re-encoding usually shrinks.
            keep = 2 * math.sqrt(limit / len(data))
            img.draft(None, (max(1, int(img.width * keep)), max(1, int(img.height * keep))))
        with images.decoding():
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            # Lossless sources that PNG stores well (palette or small) try PNG before going lossy.
            png_ok = mime in (media.PNG, media.GIF) and (
                img.mode == "P" or full_pixels <= _SMALL_PIXELS
            )
            png_ok = target == media.PNG or (target is None and png_ok)
            fitted = _fit(img, limit, target=target, allow_png=png_ok)
    scaled = fitted.width * fitted.height < full_pixels
    return FittedImage(fitted.data, fitted.mime, fitted.width, fitted.height, True, scaled)


async def fitted(data: bytes, limit: int, *, prefer: str | None = None) -> FittedImage:
    """``fit_under`` off the loop: in a worker process for a large image, else in a thread."""
    try:
        return await offload.run(_fit_under, data, limit, prefer)
    except offload.WorkerDied as exc:
        raise EaselError(CRASHED, detail=str(exc)) from exc


def _fit_under(data: bytes, limit: int, prefer: str | None) -> FittedImage:
    return fit_under(data, limit, prefer=prefer)


def prepare_input(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_decode_pixels: int | None = None,
    name: str = "image",
    info: images.ImageInfo | None = None,
) -> InputImage:
    """The image as a router input: original bytes when usable, else first frame / re-encoded;
    ``info`` from an earlier ``identify`` saves reading the header twice."""
    info = info or images.identify(data, max_pixels=max_pixels)
    stem = PurePosixPath(name).stem or "image"
    # A turned photo is sent upright, so the model, the mask and the regions agree on its shape.
    plain = info.frames == 1 and info.orientation == 1
    if info.mime in images.KEEPABLE and plain and len(data) <= max_bytes:
        return InputImage(data=data, mime=info.mime, name=f"{stem}.{media.extension(info.mime)}")
    # Only here is the input decoded, so only here does the (lower) decode cap apply.
    cap = min(max_pixels, max_decode_pixels or max_pixels)
    img, _ = images.open_image(data, max_pixels)
    with img, images.mapped():
        _decode_within(img, info.mime, cap, max_bytes)
        with images.decoding():
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            pixels: Image.Image = img
            if info.mime == media.GIF or info.frames > 1:
                # The frame is fitted below if too big as PNG: one converted copy, not two.
                pixels = masks.as_rgba(img) if info.has_alpha else img.convert("RGB")
                png = images.encode(pixels, media.PNG)
                if len(png) <= max_bytes:
                    return InputImage(data=png, mime=media.PNG, name=f"{stem}.png")
            fitted = _fit(pixels, max_bytes, target=None, allow_png=False)
    return InputImage(data=fitted.data, mime=fitted.mime, name=f"{stem}.{fitted.ext}")


# --- private helpers ---------------------------------------------------------------------


def _mime_for(prefer: str | None) -> str | None:
    if prefer is None:
        return None
    try:
        return _ALIASES[prefer.lower().removeprefix("image/")]
    except KeyError:
        raise ValueError(f"unknown image format {prefer!r}; use png, jpeg or webp") from None


def _decode_within(img: ImageFile.ImageFile, mime: str, cap: int, max_bytes: int) -> None:
    """Set ``img`` to decode at most ``cap`` pixels, or refuse it (ImageTooLarge) untouched."""
    w, h = img.size
    if mime == media.JPEG and w * h > cap:
        # libjpeg decodes at 1/2..1/8 scale without building the full image; it is being
        # re-encoded anyway, so the model gets it smaller rather than not at all.
        scale = next((s for s in (2, 4, 8) if -(-w // s) * -(-h // s) <= cap), 8)
        img.draft(None, (max(1, w // scale), max(1, h // scale)))
    if img.width * img.height > cap:
        raise ImageTooLarge(
            f"That image has too many pixels for me to convert: {w}×{h} ({w * h / 1e6:.1f} "
            f"megapixels) where the limit is {cap / 1e6:g} megapixels. Send a smaller version, "
            f"or a PNG, JPEG or WebP under {images.format_size(max_bytes)}."
        )


def _fit(img: Image.Image, limit: int, *, target: str | None, allow_png: bool) -> FittedImage:
    """Encode a decoded image under ``limit``: PNG if allowed, then the lossy ladder, then shrink."""
    encodes = 0
    if allow_png:
        encodes += 1
        png = images.encode(img, media.PNG)
        if len(png) <= limit:
            return FittedImage(png, media.PNG, img.width, img.height, True, False)
    if masks.is_transparent(img):
        pixels, mime = masks.as_rgba(img), media.JPEG if target == media.JPEG else media.WEBP
        if mime == media.JPEG:  # asked for JPEG: no alpha there, so flatten onto white
            flat = Image.new("RGB", pixels.size, (255, 255, 255))
            flat.paste(pixels, mask=pixels.getchannel("A"))
            pixels = flat
    else:
        pixels = img if img.mode == "RGB" else img.convert("RGB")
        mime = media.WEBP if target == media.WEBP else media.JPEG
    quality, scale = _plan(pixels, mime, limit)
    shrunk = scale < 1
    if (factor := int(1 / (2 * scale))) >= 2:
        # Shrinking anyway: box-reduce once, keeping the 2x gap LANCZOS needs, so every try
        # below starts from a quarter of the pixels or less and a converted copy is let go.
        pixels, scale = pixels.reduce(factor), scale * factor
    while encodes < _MAX_ENCODES:
        size = _scaled(pixels.size, scale)
        if max(size) < min(_MIN_SIDE, max(pixels.size)):
            break
        frame = pixels if scale >= 1 else _resize(pixels, size)
        out = images.encode(frame, mime, quality)
        encodes += 1
        if len(out) <= limit:
            return FittedImage(out, mime, frame.width, frame.height, True, shrunk or scale < 1)
        lower = next((q for q in _QUALITIES if q < quality), None)
        if scale >= 1 and lower is not None and len(out) <= 1.6 * limit:
            quality = lower
        else:
            quality = min(quality, _SHRINK_QUALITY)
            scale = min(scale, 1.0) * math.sqrt(limit / len(out)) * 0.95
    raise ImageTooLarge(
        f"The image can't be made to fit in {images.format_size(limit)}, "
        "even compressed and shrunk."
    )


def _plan(pixels: Image.Image, mime: str, limit: int) -> tuple[int, float]:
    """Starting quality and scale, from encoding a small mosaic instead of the whole image."""
    w, h = pixels.size
    if w * h <= max(_SMALL_PIXELS, 4 * (_TILE * _GRID) ** 2) or min(w, h) < _TILE:
        return _QUALITIES[0], 1.0  # small enough to just encode
    goal = 0.9 * limit

    def estimate(quality: int, scale: float) -> float:
        sample = _mosaic(pixels, scale)
        return len(images.encode(sample, mime, quality)) * w * h * scale**2 / _TILE**2 / _GRID**2

    for quality in _QUALITIES:
        if estimate(quality, 1.0) <= goal:
            return quality, 1.0
    scale = 1.0
    for _ in range(3):  # bytes grow a bit faster than pixels as detail gets denser
        scale = min(1.0, scale * math.sqrt(goal / estimate(_SHRINK_QUALITY, scale)))
    return _SHRINK_QUALITY, scale


def _mosaic(img: Image.Image, scale: float) -> Image.Image:
    """Tiles from across the image, each shrunk by ``scale``: a stand-in for the whole."""
    w, h = img.size
    span = min(w, h, round(_TILE / scale))  # source pixels behind one tile
    mosaic = Image.new(img.mode, (_TILE * _GRID, _TILE * _GRID))
    for i in range(_GRID):
        for j in range(_GRID):
            # Cell centres, snapped to 16 px so codec blocks line up as they do in the image.
            x = (w - span) * (2 * i + 1) // (2 * _GRID) // 16 * 16
            y = (h - span) * (2 * j + 1) // (2 * _GRID) // 16 * 16
            tile = img.crop((x, y, x + span, y + span))
            mosaic.paste(
                tile if span == _TILE else _resize(tile, (_TILE, _TILE)), (i * _TILE, j * _TILE)
            )
    return mosaic


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    # reducing_gap: integer box reduce first, then LANCZOS on the rest; fast and still sharp.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
