"""Images made with Pillow for the image tests: encoders, decoders and test pictures."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image, ImageDraw

MIB = 1024 * 1024


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def noisy(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Random pixels: they do not compress, so byte limits are easy to exceed."""
    rnd = random.Random(seed)
    return Image.frombytes(mode, size, rnd.randbytes(size[0] * size[1] * len(mode)))


def photo_like(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """Gradients, shapes and mild noise: compresses like a photo, not like random bytes."""
    w, h = size
    rnd = random.Random(seed)
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").rotate(90).resize(size),
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
        ),
    )
    draw = ImageDraw.Draw(base)
    for _ in range(24):
        x, y = rnd.randrange(w), rnd.randrange(h)
        box = (x, y, x + rnd.randrange(w // 4), y + rnd.randrange(h // 4))
        fill = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=fill)
    return Image.blend(base, noisy(size, seed=seed), 0.12)


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any size: all-black rows deflate to almost nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    rows_per_step = 1000
    parts = [packer.compress(row * rows_per_step) for _ in range(height // rows_per_step)]
    parts += [packer.compress(row * (height % rows_per_step)), packer.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def animated_gif() -> tuple[bytes, list[tuple[int, int, int]]]:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (40, 30), c) for c in colours]
    # Different content per frame so Pillow keeps every frame.
    for i, frame in enumerate(frames):
        frame.paste((255, 255, 255), (0, 0, 10 + i, 10))
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    return data, colours
