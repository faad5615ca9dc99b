"""Pillow pipeline: sniff, validate, decompression-bomb guard, masks, fit under a byte limit.

Plain synchronous functions: callers run them through ``asyncio.to_thread``. Every Pillow
failure is mapped here to ``bot.errors`` (``raise Mapped(...) from exc``); importing decodes nothing.
Pixel work on masks lives in ``bot.masks``.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from PIL import Image, ImageFile, ImageOps

from bot import masks
from bot.domain import InputImage
from bot.errors import CorruptImage, EaselError, ImageTooLarge, UnsupportedImageType

MIME_PNG = "image/png"
MIME_JPEG = "image/jpeg"
MIME_WEBP = "image/webp"
MIME_GIF = "image/gif"
DEFAULT_MAX_PIXELS = 50_000_000

_PIL_FORMAT = {MIME_PNG: "PNG", MIME_JPEG: "JPEG", MIME_WEBP: "WEBP", MIME_GIF: "GIF"}
_EXT = {MIME_PNG: "png", MIME_JPEG: "jpg", MIME_WEBP: "webp", MIME_GIF: "gif"}
_ALIASES = {"png": MIME_PNG, "jpeg": MIME_JPEG, "jpg": MIME_JPEG, "webp": MIME_WEBP}
_KEEPABLE = frozenset({MIME_PNG, MIME_JPEG, MIME_WEBP})
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif")
_MIB = 1024 * 1024

_QUALITIES = (90, 82, 75)  # lossy ladder tried at full size before shrinking
_SHRINK_QUALITY = 82  # quality once the image has to be shrunk anyway
_MAX_ENCODES = 8
_MIN_SIDE = 64  # smaller than this is no longer worth delivering
_SMALL_PIXELS = 1024 * 1024  # PNG re-encode and full-image estimates are cheap below this
_TILE, _GRID = 128, 5  # size-estimate mosaic: 5x5 tiles of 128 px from across the image

_DAMAGED = "That image looks damaged or incomplete. Save it again, or send a different file."
# What Pillow's plugins raise on malformed data, besides its own UnidentifiedImageError (an OSError).
_BAD_DATA = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)
_BOMB = "That image has too many pixels to open safely. Send a smaller version."


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, after the data was checked to be complete."""

    mime: str
    width: int
    height: int
    frames: int
    has_alpha: bool


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
        return _EXT[self.mime]


def sniff(data: bytes) -> str:
    """The MIME type from the magic bytes alone; UnsupportedImageType for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return MIME_PNG
    if data.startswith(b"\xff\xd8\xff"):
        return MIME_JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return MIME_GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return MIME_WEBP
    if not data:
        raise UnsupportedImageType("That file is empty. Send a PNG, JPEG, WebP or GIF image.")
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise UnsupportedImageType(
            "HEIC and AVIF photos aren't supported. Export it as JPEG or PNG and send that."
        )
    raise UnsupportedImageType()


def identify(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Format, size, frames and alpha from the header; CorruptImage if the data is incomplete."""
    img, mime = _open(data, max_pixels)
    with img, _mapped():
        frames = int(getattr(img, "n_frames", 1))
        info = ImageInfo(mime, img.width, img.height, frames, masks.declares_alpha(img))
        _check_complete(img, data, mime)
    return info


def validate_input(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check a user's image: byte cap, type, integrity, pixel cap. Animated input is allowed."""
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"That image is {len(data) / _MIB:.1f} MB; the limit is {_mb(max_bytes)}. "
            "Send a smaller or compressed version."
        )
    return identify(data, max_pixels=max_pixels)


def prepare_input(
    data: bytes, *, max_bytes: int, max_pixels: int, name: str = "image"
) -> InputImage:
    """The image as a router input: original bytes when usable, else first frame / re-encoded."""
    info = identify(data, max_pixels=max_pixels)
    stem = PurePosixPath(name).stem or "image"
    if info.mime in _KEEPABLE and info.frames == 1 and len(data) <= max_bytes:
        return InputImage(data=data, mime=info.mime, name=f"{stem}.{_EXT[info.mime]}")
    img, _ = _open(data, max_pixels)
    with img, _mapped():
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        if info.mime == MIME_GIF or info.frames > 1:
            png = _encode(masks.as_rgba(img) if info.has_alpha else img.convert("RGB"), MIME_PNG)
            if len(png) <= max_bytes:
                return InputImage(data=png, mime=MIME_PNG, name=f"{stem}.png")
        fitted = _fit(img, max_bytes, target=None, allow_png=False)
    return InputImage(data=fitted.data, mime=fitted.mime, name=f"{stem}.{fitted.ext}")


def prepare_mask(mask: bytes, size: tuple[int, int]) -> InputImage:
    """A PNG RGBA mask of exactly ``size`` where alpha 0 marks the area to edit (OpenAI's rule).

    A mask with transparency keeps its alpha. One without (grayscale, RGB, palette, or an
    alpha that is opaque everywhere) is read by brightness: white = edit here, black = keep.
    Another size with the same aspect ratio (within 1 %) is resized; any other shape raises
    MaskMismatch naming both sizes.
    """
    alpha = masks.fit_alpha(_mask_alpha(mask), size)
    return InputImage(
        data=_encode(masks.rgba_mask(alpha), MIME_PNG), mime=MIME_PNG, name="mask.png"
    )


def region_mask(size: tuple[int, int], preset: str) -> bytes:
    """A PNG RGBA mask, transparent over a region from ``masks.PRESETS``; ValueError if unknown."""
    return _encode(masks.rgba_mask(masks.region_alpha(size, preset)), MIME_PNG)


def mask_preview(image: bytes, mask: bytes, *, max_side: int = 1024) -> bytes:
    """A PNG of the image with the edit area tinted magenta and the rest dimmed, for a check."""
    img, mime = _open(image, DEFAULT_MAX_PIXELS)
    with img, _mapped():
        full_size = img.size
        if mime == MIME_JPEG:
            img.draft("RGB", (max_side, max_side))  # decode at 1/2..1/8 scale where it suffices
        base = img.convert("RGB")
        base.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    alpha = _mask_alpha(mask)
    masks.check_shape(alpha.size, full_size)
    with _mapped():
        preview = masks.tint(base, alpha.resize(base.size, Image.Resampling.NEAREST))
        return _encode(preview, MIME_PNG)


def has_transparency(data: bytes) -> bool:
    """Whether any pixel of the (first frame of the) image has alpha below 255."""
    img, _ = _open(data, DEFAULT_MAX_PIXELS)
    with img, _mapped():
        if not masks.declares_alpha(img):
            return False
        img.load()
        return masks.is_transparent(img)


def fit_under(data: bytes, limit: int, *, prefer: str | None = None) -> FittedImage:
    """Bytes that fit in ``limit`` (Discord's upload cap), leaving ``data`` untouched.

    Kept as is when small enough and PNG/JPEG/WebP; otherwise decoded once and re-encoded
    (WebP with alpha, JPEG without, or ``prefer``: png/jpeg/webp), stepping quality down and
    then shrinking by the size ratio, at most 8 encodes; ImageTooLarge if nothing fits.
    """
    target = _mime_for(prefer)
    img, mime = _open(data, DEFAULT_MAX_PIXELS)
    with img, _mapped():
        if len(data) <= limit and mime in _KEEPABLE:
            return FittedImage(data, mime, img.width, img.height, reencoded=False, scaled=False)
        full_pixels = img.width * img.height
        if mime == MIME_JPEG and limit * 16 < len(data):
            # Far too big: decode at 1/2..1/8 scale. Generous, since re-encoding usually shrinks.
            keep = 2 * math.sqrt(limit / len(data))
            img.draft(None, (max(1, int(img.width * keep)), max(1, int(img.height * keep))))
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        # Lossless sources that PNG stores well (palette or small) try PNG before going lossy.
        png_ok = mime in (MIME_PNG, MIME_GIF) and (img.mode == "P" or full_pixels <= _SMALL_PIXELS)
        png_ok = target == MIME_PNG or (target is None and png_ok)
        fitted = _fit(img, limit, target=target, allow_png=png_ok)
    scaled = fitted.width * fitted.height < full_pixels
    return FittedImage(fitted.data, fitted.mime, fitted.width, fitted.height, True, scaled)


def to_data_url(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,...``"""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def from_data_url(url: str) -> tuple[bytes, str]:
    """The bytes and MIME type of a base64 ``data:image/...`` URL; CorruptImage otherwise."""
    head, comma, payload = url.partition(",")
    if not comma or head[:5].lower() != "data:":
        raise CorruptImage("The image data isn't a data URL.")
    mime, *params = (part.strip().lower() for part in head[5:].split(";"))
    if not mime.startswith("image/") or "base64" not in params:
        raise CorruptImage(f"The data URL isn't a base64 image (it says {head[:60]!r}).")
    return decode_b64(payload), mime


def decode_b64(text: str) -> bytes:
    """Strict base64 (no stray characters); CorruptImage on error or empty data."""
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CorruptImage("The image data isn't valid base64.") from exc
    if not data:
        raise CorruptImage("The image data is empty.")
    return data


# --- private helpers ---------------------------------------------------------------------


@contextmanager
def _mapped() -> Iterator[None]:
    """Map whatever Pillow raises on bad data to bot.errors."""
    try:
        yield
    except EaselError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageTooLarge(_BOMB) from exc
    except _BAD_DATA as exc:
        raise CorruptImage(_DAMAGED) from exc


def _open(data: bytes, max_pixels: int) -> tuple[ImageFile.ImageFile, str]:
    """Open the header only, refusing too many pixels before anything is decoded."""
    mime = sniff(data)
    with _mapped():
        # Pillow's own bomb check (a global) may raise or warn here; we map both and apply ours.
        img = Image.open(io.BytesIO(data), formats=(_PIL_FORMAT[mime],))
    w, h = img.size
    if w * h > max_pixels:
        img.close()
        raise ImageTooLarge(
            f"That image is {w}×{h} ({w * h / 1e6:.1f} megapixels); the limit is "
            f"{max_pixels / 1e6:g} megapixels. Send a smaller version."
        )
    return img, mime


def _check_complete(img: ImageFile.ImageFile, data: bytes, mime: str) -> None:
    """Catch truncated or garbled files without a full-size decode."""
    if mime == MIME_PNG:
        img.verify()  # walks every chunk to IEND checking CRCs; inflates nothing
    elif mime == MIME_JPEG:
        # An eighth-scale decode still reads every entropy-coded byte, at a fraction of the cost.
        img.draft(None, (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()
    elif mime == MIME_WEBP:
        if int.from_bytes(data[4:8], "little") + 8 > len(data):  # RIFF size vs bytes present
            raise CorruptImage(_DAMAGED)
    elif not data.rstrip(b"\0").endswith(b";"):  # every complete GIF ends with its trailer
        raise CorruptImage(_DAMAGED)


def _mask_alpha(mask: bytes) -> Image.Image:
    img, _ = _open(mask, DEFAULT_MAX_PIXELS)
    with img, _mapped():
        return masks.edit_alpha(img)


def _mb(n: int) -> str:
    if n < _MIB // 10:
        return f"{n / 1024:.0f} KB"
    return f"{n / _MIB:.1f}".removesuffix(".0") + " MB"


def _mime_for(prefer: str | None) -> str | None:
    if prefer is None:
        return None
    try:
        return _ALIASES[prefer.lower().removeprefix("image/")]
    except KeyError:
        raise ValueError(f"unknown image format {prefer!r}; use png, jpeg or webp") from None


def _fit(img: Image.Image, limit: int, *, target: str | None, allow_png: bool) -> FittedImage:
    """Encode a decoded image under ``limit``: PNG if allowed, then the lossy ladder, then shrink."""
    encodes = 0
    if allow_png:
        encodes += 1
        png = _encode(img, MIME_PNG)
        if len(png) <= limit:
            return FittedImage(png, MIME_PNG, img.width, img.height, True, False)
    if masks.is_transparent(img):
        pixels, mime = masks.as_rgba(img), MIME_JPEG if target == MIME_JPEG else MIME_WEBP
        if mime == MIME_JPEG:  # asked for JPEG: no alpha there, so flatten onto white
            flat = Image.new("RGB", pixels.size, (255, 255, 255))
            flat.paste(pixels, mask=pixels.getchannel("A"))
            pixels = flat
    else:
        pixels = img if img.mode == "RGB" else img.convert("RGB")
        mime = MIME_WEBP if target == MIME_WEBP else MIME_JPEG
    quality, scale = _plan(pixels, mime, limit)
    while encodes < _MAX_ENCODES:
        size = _scaled(pixels.size, scale)
        if max(size) < min(_MIN_SIDE, max(pixels.size)):
            break
        frame = pixels if scale >= 1 else _resize(pixels, size)
        out = _encode(frame, mime, quality)
        encodes += 1
        if len(out) <= limit:
            return FittedImage(out, mime, frame.width, frame.height, True, scale < 1)
        lower = next((q for q in _QUALITIES if q < quality), None)
        if scale >= 1 and lower is not None and len(out) <= 1.6 * limit:
            quality = lower
        else:
            quality = min(quality, _SHRINK_QUALITY)
            scale = min(scale, 1.0) * math.sqrt(limit / len(out)) * 0.95
    raise ImageTooLarge(
        f"The image can't be made to fit in {_mb(limit)}, even compressed and shrunk."
    )


def _plan(pixels: Image.Image, mime: str, limit: int) -> tuple[int, float]:
    """Starting quality and scale, from encoding a small mosaic instead of the whole image."""
    w, h = pixels.size
    if w * h <= max(_SMALL_PIXELS, 4 * (_TILE * _GRID) ** 2) or min(w, h) < _TILE:
        return _QUALITIES[0], 1.0  # small enough to just encode
    goal = 0.9 * limit

    def estimate(quality: int, scale: float) -> float:
        sample = _mosaic(pixels, scale)
        return len(_encode(sample, mime, quality)) * w * h * scale**2 / _TILE**2 / _GRID**2

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


def _encode(img: Image.Image, mime: str, quality: int = _QUALITIES[0]) -> bytes:
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if (icc := img.info.get("icc_profile")) else {}
    if mime == MIME_JPEG:
        # No optimize: its second pass holds every DCT coefficient (~0.8x the decoded image).
        img.save(buf, "JPEG", quality=quality, **extra)
    elif mime == MIME_WEBP:
        img.save(buf, "WEBP", quality=quality, method=4, **extra)
    else:
        img.save(buf, "PNG", **extra)  # optimize=True costs seconds on a photo for a few %
    return buf.getvalue()
