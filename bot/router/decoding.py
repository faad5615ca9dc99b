"""Answer bodies to Python: large-JSON parsing, sliced base64, data URLs, Pillow's image check."""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import contextvars
import functools
import io
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from bot.domain import GeneratedImage
from bot.errors import BadResponse
from bot.images import RESULT_MAX_PIXELS

log = logging.getLogger(__name__)

T = TypeVar("T")

DAMAGED = "The image service sent back a damaged image."
UNREADABLE = "The image service sent back something unreadable."
# Decoding a 4K image's ~40 MB of base64 in one call holds the GIL ~100 ms, and json.loads of its
# answer ~60 ms: even in a worker thread that stalls the event loop. So base64 is decoded a slice
# at a time, and a large answer's image strings are cut out before json.loads (``loads``).
_B64_SLICE = 512 * 1024  # characters per a2b_base64 call (whole quanta): about 1 ms each
_SCAN_WINDOW = 1024 * 1024  # bytes per find/search call
LARGE_ANSWER = 1024 * 1024  # answers over this get their image strings cut out
_CUT_MIN = 64 * 1024  # the shortest string worth cutting out
_JSON_SPACE = rb"[ \t\n\r]{0,16}"
_IMAGE_KEY = re.compile(rb'"(b64_json|url|image_url)"' + _JSON_SPACE + b":" + _JSON_SPACE + b'"')
# Printable ASCII but '"', ',' and '\\' (no JSON escapes), as decode_data_url reads a header.
_DATA_URL_HEADER = re.compile(rb"data:([!#-+\--\[\]-~]{0,200}),")
_PLACEHOLDER = "easel-cut-out:{}"
_PLACEHOLDER_PREFIX = b"easel-cut-out:"
# Where the answer readers take an image from (None: any list index). A string cut out from
# anywhere else goes back as the string.
_IMAGE_SLOTS: frozenset[tuple[str | None, ...]] = frozenset(
    [
        ("data", None, "b64_json"),
        ("data", None, "url"),
        *[
            ("choices", None, "message", part, None, *tail)
            for part in ("images", "content")
            for tail in (("url",), ("image_url",), ("image_url", "url"))
        ],
    ]
)


# The CPU-bound parsing and decoding share one thread. They hold the GIL (in ~1 ms slices), so
# more threads would not finish sooner, only keep the event loop waiting longer for the GIL.
DECODER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="router-decode")


async def off_loop(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` on the decoding thread."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        DECODER, functools.partial(context.run, func, *args)
    )


@dataclass(frozen=True, eq=False)
class Inline:
    """An image string cut out of a large answer and decoded while parsing it (``loads``)."""

    data: bytes
    text: memoryview  # the JSON string's characters (strict base64, so no escapes)
    mime: str | None = None  # the type a data URL declares
    checked: GeneratedImage | BadResponse | None = (
        None  # checked already (``bot.router.offloaded``)
    )


def finite_float(value: Any) -> float | None:
    """A JSON number or numeric text as a finite float; None for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and not isinstance(value, bool) else None


# -- images ---------------------------------------------------------------------------------------


def _verify_image(data: bytes) -> tuple[str, int, int]:
    """A cheap check that the bytes are an image: (MIME type, width, height) or BadResponse."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = Image.MIME.get(image.format or "")
            width, height = image.size
            image.verify()
    except Exception as exc:  # Pillow raises many types for damaged data
        raise BadResponse(DAMAGED, detail=f"image check failed: {type(exc).__name__}") from exc
    if not mime or not mime.startswith("image/"):
        raise BadResponse(DAMAGED, detail="the data is not an image")
    if width * height > RESULT_MAX_PIXELS:  # so that every kept result can be fitted and shown
        raise BadResponse(
            f"The image service sent a {width}×{height} image, larger than I can show.",
            detail=f"{width * height} pixels",
        )
    return mime, width, height


def checked_image(data: bytes) -> GeneratedImage:
    mime, width, height = _verify_image(data)
    return GeneratedImage(data, mime, width, height)


def checked_inline(item: Inline) -> GeneratedImage:
    if isinstance(item.checked, BadResponse):
        raise item.checked
    if item.checked is not None:
        return item.checked
    image = checked_image(item.data)
    if item.mime and item.mime != image.mime:
        log.debug("Data URL says %s but the bytes are %s", item.mime, image.mime)
    return image


def decode_b64(payload: str | Inline, start: int = 0) -> GeneratedImage:
    """The image in ``payload[start:]``, base64 that may hold whitespace; BadResponse if damaged."""
    if isinstance(payload, Inline):
        return checked_inline(payload)
    try:
        data = _b64decode(payload, start)
    except ValueError as exc:  # binascii.Error, or a str that is not ASCII
        raise BadResponse(DAMAGED, detail="invalid base64 image data") from exc
    return checked_image(data)


# Whitespace in a str is skipped (wrapped lines), as ``b64decode("".join(s.split()),
# validate=True)`` does, but it is only looked for in a slice that fails to decode.
def _b64decode(payload: str | memoryview, start: int = 0) -> bytes:
    """Strict base64 decoding of ``payload[start:]`` a slice at a time; ValueError if invalid."""
    parts: list[bytes] = []
    padded = False

    def decode(text: str | memoryview) -> None:
        nonlocal padded
        if not text:
            return
        if padded:  # each slice is whole quanta, so "=" may only end the last one
            raise binascii.Error("Excess data after padding")
        try:
            parts.append(binascii.a2b_base64(text, strict_mode=True))
        except binascii.Error:
            # Strict a2b_base64 ignores surplus "=" after whole quanta at the end of its input,
            # but calls them leading padding at the start of one.
            rest = text.strip("=") if isinstance(text, str) else bytes(text).strip(b"=")
            if not parts or rest:
                raise
        padded = text[-1] in ("=", ord("="))

    carry = ""  # characters past the last whole quantum, once whitespace shifted the slices
    for begin in range(start, len(payload), _B64_SLICE):
        piece = payload[begin : begin + _B64_SLICE]
        if not carry:
            try:
                decode(piece)
                continue
            except ValueError:
                if not isinstance(piece, str):
                    raise
        assert isinstance(piece, str)
        text = carry + "".join(piece.split())
        cut = len(text) - len(text) % 4
        carry = text[cut:]
        decode(text[:cut])
    decode(carry)
    return b"".join(parts)  # bytes.join lets go of the GIL for large results


def decode_data_url(url: str) -> GeneratedImage:
    comma = url.find(",", len("data:"))  # not partition: that would copy the whole payload
    params = url[len("data:") : comma].split(";")
    if comma < 0 or "base64" not in params[1:]:
        raise BadResponse(DAMAGED, detail="image data URL is not base64")
    image = decode_b64(url, comma + 1)
    if params[0] and params[0] != image.mime:
        log.debug("Data URL says %s but the bytes are %s", params[0], image.mime)
    return image


# -- JSON -----------------------------------------------------------------------------------------


def loads(body: bytes) -> Any:
    try:
        if len(body) > LARGE_ANSWER and json.detect_encoding(body) in ("utf-8", "utf-8-sig"):
            return _loads_large(body)
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadResponse(UNREADABLE, detail="the answer is not JSON", status=200) from exc


# Each long ``b64_json`` value, and each base64 data URL under ``url``/``image_url``, is decoded
# a slice at a time straight from the body and swapped for a short placeholder; only the small
# remainder goes through json.loads. A string is cut out only when its characters are strict
# base64 (so no escapes, quotes or control characters: the JSON text is the value) and it follows
# ``"key":``, so it is a whole string value: the result is json.loads's, and malformed JSON fails
# the same way. Anything else stays for json.loads and the str path.
def _loads_large(body: bytes) -> Any:
    """``json.loads`` of a large answer without holding the GIL for long."""
    view = memoryview(body)
    pieces: list[bytes] = []
    cut: dict[str, Inline] = {}
    kept = 0  # body[:kept] is in pieces
    pos = 0
    while (match := _search(_IMAGE_KEY, body, pos)) is not None:
        start = match.end()
        end = _find_quote(body, start)
        if end < 0:
            break
        pos = end + 1
        item = _cut_out(body, view, match, end)
        if item is None:
            continue
        placeholder = _PLACEHOLDER.format(len(cut))
        cut[placeholder] = item
        pieces += (body[kept:start], placeholder.encode("ascii"))
        kept = end
    if not cut:
        return json.loads(body)
    pieces.append(body[kept:])
    remainder = b"".join(pieces)
    if remainder.count(_PLACEHOLDER_PREFIX) != len(cut):  # the answer has the text already
        return json.loads(body)
    return _put_back(json.loads(remainder), cut)


def _cut_out(body: bytes, view: memoryview, match: re.Match[bytes], end: int) -> Inline | None:
    """The decoded string that ends at ``end`` after ``match``'s key, or None to leave it."""
    start = match.end()
    if end - start < _CUT_MIN:
        return None
    payload, mime = start, None
    if match[1] != b"b64_json":
        header = _DATA_URL_HEADER.match(body, start, end)
        params = header[1].split(b";") if header else []
        if header is None or b"base64" not in params[1:]:
            return None
        payload, mime = header.end(), params[0].decode("ascii")
    try:
        data = _b64decode(view[payload:end])
    except ValueError:  # escaped "/", whitespace or damage: json.loads and decode_b64 judge
        return None
    return Inline(data, view[start:end], mime)


def _put_back(tree: Any, cut: dict[str, Inline]) -> Any:
    """Replace placeholders: an ``Inline`` in an image slot, the original string elsewhere."""
    left = len(cut)
    stack: list[tuple[Any, tuple[str | None, ...]]] = []
    if isinstance(tree, dict | list):
        stack.append((tree, ()))
    while stack and left:
        node, path = stack.pop()
        # (key or index, path step, value); a list index is the step None
        items: list[tuple[Any, str | None, Any]] = (
            [(key, key, value) for key, value in node.items()]
            if isinstance(node, dict)
            else [(index, None, value) for index, value in enumerate(node)]
        )
        for key, step, value in items:
            where = (*path, step)
            if isinstance(value, dict | list):
                stack.append((value, where))
            elif isinstance(value, str) and value in cut:
                item = cut[value]
                node[key] = item if where in _IMAGE_SLOTS else str(item.text, "ascii")
                left -= 1
    return tree


def _find_quote(data: bytes, start: int) -> int:
    """``data.find(b'"', start)``, a window at a time so other threads get the GIL between."""
    while start < len(data):
        found = data.find(b'"', start, start + _SCAN_WINDOW)
        if found >= 0:
            return found
        start += _SCAN_WINDOW
    return -1


def _search(pattern: re.Pattern[bytes], data: bytes, start: int) -> re.Match[bytes] | None:
    """``pattern.search(data, start)`` a window at a time; a match is at most 64 bytes long."""
    while start < len(data):
        match = pattern.search(data, start, start + _SCAN_WINDOW + 64)
        if match:
            return match
        start += _SCAN_WINDOW
    return None
