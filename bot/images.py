"""Pillow pipeline: sniff, validate, decompression-bomb guard, and the opener and encoder.

Plain synchronous functions: callers run them through ``asyncio.to_thread``. Every Pillow
failure is mapped here to ``bot.errors`` (``raise Mapped(...) from exc``); importing decodes nothing.
Fitting under a byte limit lives in ``bot.fitting`` and mask work in ``bot.masks``; both open
and encode through this module, which imports neither. Full-pixel work anywhere runs inside
``decoding()``, a process-wide bound (``configure``) on how many images are decoded at once.
"""

from __future__ import annotations

import ctypes
import io
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageFile

from bot import media
from bot.errors import CorruptImage, EaselError, ImageTooLarge, UnsupportedImageType

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_CONCURRENT_DECODES = 2
MAX_CONCURRENT_DECODES = 32
# The largest result Easel keeps: every stored result can then be fitted for Discord. Above any
# model's output today (Gemini 4K is 17 megapixels), under Pillow's own bomb warning (89).
RESULT_MAX_PIXELS = 80_000_000
KEEPABLE = frozenset({media.PNG, media.JPEG, media.WEBP})  # formats sent and delivered as is
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})

_PIL_FORMAT = {media.PNG: "PNG", media.JPEG: "JPEG", media.WEBP: "WEBP", media.GIF: "GIF"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif")
_MIB = 1024 * 1024

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
_ORIENTATION = 0x0112
_QUARTER_TURNS = (5, 6, 7, 8)
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_BOMB = "That image has too many pixels to open safely. Send a smaller version."

# Decoded pixels, not bytes, are what memory holds (a 4K RGB image is 64 MiB in Pillow, whose RGB
# takes 4 bytes a pixel), so memory follows how many decodes run at once, not jobs or users.
# A blocking semaphore: every holder is a worker thread (asyncio.to_thread), never the loop.
_slots = threading.BoundedSemaphore(DEFAULT_MAX_CONCURRENT_DECODES)
_slot_count = DEFAULT_MAX_CONCURRENT_DECODES
_held = threading.local()  # the slot this thread holds: nested decoding() takes no second one
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_MMAP_THRESHOLD = 1024 * 1024


@dataclass(frozen=True)
class ImageInfo:
    """What the header says, after the data was checked to be complete."""

    mime: str
    width: int
    height: int
    frames: int
    has_alpha: bool
    orientation: int = 1  # EXIF orientation; width and height above are already upright


def sniff(data: bytes) -> str:
    """The MIME type from the magic bytes alone; UnsupportedImageType for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return media.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return media.JPEG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return media.GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return media.WEBP
    if not data:
        raise UnsupportedImageType("That file is empty. Send a PNG, JPEG, WebP or GIF image.")
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise UnsupportedImageType(
            "HEIC and AVIF photos aren't supported. Export it as JPEG or PNG and send that."
        )
    raise UnsupportedImageType()


def identify(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageInfo:
    """Format, size, frames and alpha from the header; CorruptImage if the data is incomplete."""
    img, mime = open_image(data, max_pixels)
    with img, mapped():
        frames = int(getattr(img, "n_frames", 1))
        turn = orientation(img)
        w, h = (img.height, img.width) if turn in _QUARTER_TURNS else img.size
        info = ImageInfo(mime, w, h, frames, declares_alpha(img), turn)
        _check_complete(img, data, mime)
    return info


def validate_input(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check a user's image: byte cap, type, integrity, pixel cap. Animated input is allowed."""
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"That image is {len(data) / _MIB:.1f} MB; the limit is {format_size(max_bytes)}. "
            "Send a smaller or compressed version."
        )
    return identify(data, max_pixels=max_pixels)


def orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 = upright; 5..8 swap width and height), 1 when absent or odd."""
    raw = img.info.get("exif")  # read at open; getexif() could read the file and spoil verify()
    if not isinstance(raw, bytes) or not raw:
        return 1
    try:
        exif = Image.Exif()
        exif.load(raw)
        value = exif.get(_ORIENTATION, 1)
    except Exception:  # a damaged EXIF block is no reason to refuse the picture
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(img: Image.Image, turn: int) -> Image.Image:
    """``img`` (already decoded) turned the way its EXIF ``turn`` says it is shown."""
    method = _TRANSPOSE.get(turn)
    return img if method is None else img.transpose(method)


def declares_alpha(img: Image.Image) -> bool:
    """Whether the mode or a tRNS/transparency entry can make pixels see-through."""
    return img.mode in ALPHA_MODES or "transparency" in img.info


@contextmanager
def mapped() -> Iterator[None]:
    """Map whatever Pillow raises on bad data to bot.errors."""
    try:
        yield
    except EaselError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise ImageTooLarge(_BOMB) from exc
    except _BAD_DATA as exc:
        raise CorruptImage(_DAMAGED) from exc


def open_image(data: bytes, max_pixels: int) -> tuple[ImageFile.ImageFile, str]:
    """Open the header only, refusing too many pixels before anything is decoded."""
    mime = sniff(data)
    with mapped():
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


def configure(max_concurrent: int) -> None:
    """Set how many full decodes may run at once in this process (1–32); meant for start-up."""
    global _slots, _slot_count
    if not 1 <= max_concurrent <= MAX_CONCURRENT_DECODES:
        raise ValueError(f"max_concurrent must be 1–{MAX_CONCURRENT_DECODES}, not {max_concurrent}")
    if max_concurrent != _slot_count:  # a holder releases the semaphore it took, old or new
        _slots, _slot_count = threading.BoundedSemaphore(max_concurrent), max_concurrent
    _return_large_frees()


def _return_large_frees() -> None:
    """Have glibc hand every block of 1 MiB or more back to the system when it is freed."""
    # After each large free glibc raises its mmap threshold (up to 32 MiB), so later image
    # buffers come from per-thread arenas that keep what is freed: six 49-megapixel decodes,
    # two at a time, then held 941 MiB instead of 473 (benchmarks/memory.py). Fixing the
    # threshold turns that off. Elsewhere (macOS, musl) there is nothing to do.
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


@contextmanager
def decoding() -> Iterator[None]:
    """Hold one of the process's decode slots while full-size pixels are decoded or encoded."""
    if getattr(_held, "slot", None) is not None:  # this thread already holds one: no deadlock
        yield
        return
    slot = _slots
    with slot:
        _held.slot = slot
        try:
            yield
        finally:
            _held.slot = None


def encode(img: Image.Image, mime: str, quality: int = 90) -> bytes:
    """``img`` as PNG, JPEG or WebP bytes, keeping its ICC profile."""
    # quality only matters for JPEG and WebP; bot.fitting passes its own for those.
    buf = io.BytesIO()
    extra = {"icc_profile": icc} if (icc := img.info.get("icc_profile")) else {}
    with decoding():  # the encoder's buffers scale with the pixels too
        if mime == media.JPEG:
            # No optimize: its second pass holds every DCT coefficient (~0.8x the decoded image).
            img.save(buf, "JPEG", quality=quality, **extra)
        elif mime == media.WEBP:
            img.save(buf, "WEBP", quality=quality, method=4, **extra)
        else:
            img.save(buf, "PNG", **extra)  # optimize=True costs seconds on a photo for a few %
    return buf.getvalue()


def format_size(n: int) -> str:
    """A byte limit for a message: ``200 KB``, ``10 MB``, ``1.5 MB``."""
    if n < _MIB // 10:
        return f"{n / 1024:.0f} KB"
    return f"{n / _MIB:.1f}".removesuffix(".0") + " MB"


def _check_complete(img: ImageFile.ImageFile, data: bytes, mime: str) -> None:
    """Catch truncated or garbled files without a full-size decode."""
    if mime == media.PNG:
        img.verify()  # walks every chunk to IEND checking CRCs; inflates nothing
    elif mime == media.JPEG:
        # An eighth-scale decode still reads every entropy-coded byte, at a fraction of the cost.
        img.draft(None, (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()
    elif mime == media.WEBP:
        if int.from_bytes(data[4:8], "little") + 8 > len(data):  # RIFF size vs bytes present
            raise CorruptImage(_DAMAGED)
    elif not data.rstrip(b"\0").endswith(b";"):  # every complete GIF ends with its trailer
        raise CorruptImage(_DAMAGED)
