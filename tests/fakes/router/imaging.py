"""Pillow work for the fake router: deterministic pictures, huge pictures, input checks.

Everything here is synchronous and CPU-bound; the server calls it through
``asyncio.to_thread`` so the event loop keeps serving other requests.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
DECODABLE = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
SIZE_PIXELS = {"1024x1024": (1024, 1024), "1536x1024": (1536, 1024), "1024x1536": (1024, 1536)}


class BadImage(ValueError):
    """Bytes that are not a complete PNG, JPEG or WebP picture."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # png | jpeg | webp
    width: int
    height: int
    has_alpha: bool


def inspect(data: bytes) -> ImageInfo:
    """Decode the whole picture (a truncated file must fail, as it would upstream)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = DECODABLE.get(img.format or "")
            if fmt is None:
                raise BadImage(f"unsupported image format {img.format}")
            img.load()
            alpha = "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info)
            return ImageInfo(fmt, img.width, img.height, alpha)
    except BadImage:
        raise
    except Exception as exc:  # Pillow raises many types for garbage input
        raise BadImage(f"the image could not be decoded: {exc}") from exc


def snap_size(width: int, height: int) -> str:
    """The Images API size nearest in aspect ratio to a picture (used for size=auto edits)."""
    ratio = math.log(width / height)
    return min(
        SIZE_PIXELS, key=lambda s: abs(math.log(SIZE_PIXELS[s][0] / SIZE_PIXELS[s][1]) - ratio)
    )


def nearest_ratio(width: int, height: int, ratios: dict[str, tuple[int, int]]) -> str:
    """The table aspect ratio (e.g. "16:9") nearest to a picture's shape."""
    ratio = math.log(width / height)
    return min(ratios, key=lambda r: abs(math.log(ratios[r][0] / ratios[r][1]) - ratio))


def encode(img: Image.Image, fmt: str, compression: int | None = None) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        img.save(buffer, "PNG", compress_level=6)
    else:
        if fmt == "jpeg" and img.mode != "RGB":
            img = img.convert("RGB")
        quality = 90 if compression is None else max(1, compression)
        img.save(buffer, PIL_FORMATS[fmt], quality=quality)
    return buffer.getvalue()


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _noise(rng: random.Random, size: tuple[int, int], scale: int) -> Image.Image:
    """Seeded grey noise drawn at 1/scale and blown up: soft blotches, like texture in a photo."""
    small = (max(1, size[0] // scale), max(1, size[1] // scale))
    tile = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    return tile.resize(size, Image.Resampling.BICUBIC) if scale > 1 else tile


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(size)
    base = Image.composite(
        Image.new("RGB", size, _colour(rng)), Image.new("RGB", size, _colour(rng)), gradient
    )
    blotches = ImageOps.colorize(_noise(rng, size, 32), _colour(rng), _colour(rng))
    base = Image.blend(base, blotches, 0.3)
    # Fine grain so PNGs are not unrealistically small.
    grain = _noise(rng, size, 1).convert("RGB")
    return Image.blend(base, grain, 0.06)


def _shapes(rng: random.Random, img: Image.Image, alpha: Image.Image) -> None:
    """A handful of seeded shapes; they are also the opaque part of a transparent picture."""
    draw, mask = ImageDraw.Draw(img), ImageDraw.Draw(alpha)
    w, h = img.size
    for _ in range(rng.randint(3, 7)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (
            x0,
            y0,
            min(w, x0 + rng.randint(w // 8, w // 2)),
            min(h, y0 + rng.randint(h // 8, h // 2)),
        )
        shape = rng.choice(("ellipse", "rectangle", "polygon"))
        if shape == "polygon":
            points = [(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randint(3, 6))]
            draw.polygon(points, fill=_colour(rng))
            mask.polygon(points, fill=255)
        else:
            getattr(draw, shape)(box, fill=_colour(rng))
            getattr(mask, shape)(box, fill=255)


def _caption(img: Image.Image, prompt: str) -> None:
    """The prompt written in a corner, so a human can tell pictures apart."""
    font = ImageFont.load_default(size=max(12, img.height // 40))
    text = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    ImageDraw.Draw(img).text(
        (12, 12), text, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0)
    )


def _merge_input(generated: Image.Image, base: bytes, mask: bytes | None) -> Image.Image:
    """An "edit": keep the input where the mask is opaque, or fade the input into the new picture."""
    with Image.open(io.BytesIO(base)) as src:
        original = ImageOps.fit(src.convert(generated.mode), generated.size)
    if mask is None:
        return Image.blend(original, generated, 0.5)
    with Image.open(io.BytesIO(mask)) as m:
        keep = m.convert("RGBA").getchannel("A").resize(generated.size)
    return Image.composite(original, generated, keep)


def render(
    prompt: str,
    index: int,
    size: tuple[int, int],
    fmt: str = "png",
    *,
    transparent: bool = False,
    compression: int | None = None,
    base: bytes | None = None,
    mask: bytes | None = None,
) -> bytes:
    """A picture that depends only on its arguments: same prompt and index, same bytes."""
    seed = hashlib.sha256(f"{prompt}\x00{index}".encode()).digest()
    rng = random.Random(seed)
    img = _background(rng, size)
    alpha = Image.new("L", size, 0)
    _shapes(rng, img, alpha)
    _caption(img, prompt)
    if transparent:
        img.putalpha(alpha)
    if base is not None:
        img = _merge_input(img, base, mask)
    return encode(img, fmt, compression)


@lru_cache(maxsize=2)
def oversize(fmt: str = "png") -> bytes:
    """A valid 8000×7000 picture (56 megapixels), larger than anything a model makes today:
    flat colour with a few bands, so it is small in bytes and quick to make."""
    img = Image.new("RGB", (8000, 7000), (90, 60, 160))
    for y in range(0, 7000, 700):
        img.paste((200, 180, 60), (0, y, 8000, y + 80))
    buffer = io.BytesIO()
    img.save(buffer, PIL_FORMATS.get(fmt, "PNG"), **({"compress_level": 1} if fmt == "png" else {}))
    return buffer.getvalue()


@lru_cache(maxsize=4)
def huge(size: tuple[int, int], fmt: str = "png") -> bytes:
    """A photo-like, high-entropy picture: smooth colour plus sensor-like grain.

    A 4K PNG of it is ~30 MiB (far over Discord's 10 MiB) while a JPEG re-encode stays a
    few MiB, as with a real photo. Cached because it takes seconds at 4K.
    """
    w, h = size
    gradient = Image.linear_gradient("L").resize(size)
    flipped = gradient.transpose(Image.Transpose.ROTATE_180)
    base = Image.merge("RGB", (gradient, flipped, Image.new("L", size, 110)))
    blotches = Image.effect_noise((w // 64 + 1, h // 64 + 1), 64).resize(
        size, Image.Resampling.BICUBIC
    )
    base = Image.blend(base, ImageOps.colorize(blotches, (20, 40, 90), (230, 200, 120)), 0.45)
    # One 1024px grain tile repeated: deflate's 32 KiB window cannot see the repeats, and
    # making noise for 17 megapixels directly would be several times slower.
    tile = Image.merge("RGB", [Image.effect_noise((1024, 1024), 30) for _ in range(3)])
    grain = Image.new("RGB", size)
    for x in range(0, w, 1024):
        for y in range(0, h, 1024):
            grain.paste(tile, (x, y))
    img = Image.blend(base, grain, 0.25)
    buffer = io.BytesIO()
    if fmt == "png":
        # Level 1: the weight is the point, and level 6 would only cost time.
        img.save(buffer, "PNG", compress_level=1)
    else:
        img.save(buffer, PIL_FORMATS[fmt], quality=95)
    return buffer.getvalue()
