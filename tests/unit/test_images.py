"""bot.images and bot.masks, on images made here with Pillow."""

from __future__ import annotations

import contextlib
import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from bot import images
from bot.errors import (
    CorruptImage,
    EaselError,
    ImageTooLarge,
    MaskMismatch,
    UnsupportedImageType,
)
from bot.images import MIME_GIF, MIME_JPEG, MIME_PNG, MIME_WEBP

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


@pytest.fixture(scope="module")
def small_rgb() -> Image.Image:
    return photo_like((120, 80))


@pytest.fixture(scope="module")
def photo_4k() -> bytes:
    """A 5504x3072 photo-like PNG well over 10 MiB (stored without deflate to build fast)."""
    data = encode(photo_like((5504, 3072)), "PNG", compress_level=0)
    assert len(data) > 10 * MIB
    return data


# --- sniff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", MIME_PNG), ("JPEG", MIME_JPEG), ("WEBP", MIME_WEBP), ("GIF", MIME_GIF)],
)
def test_sniff_each_format(small_rgb: Image.Image, fmt: str, mime: str) -> None:
    assert images.sniff(encode(small_rgb, fmt)) == mime


@pytest.mark.parametrize(
    "data",
    [b"just some text renamed to cat.png\n", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", b"BM6\x00"],
)
def test_sniff_rejects_non_images(data: bytes) -> None:
    with pytest.raises(UnsupportedImageType, match="PNG, JPEG, WebP or GIF"):
        images.sniff(data)


def test_sniff_empty_and_heic_have_their_own_messages() -> None:
    with pytest.raises(UnsupportedImageType, match="empty"):
        images.sniff(b"")
    with pytest.raises(UnsupportedImageType, match="HEIC"):
        images.sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")


# --- identify / validate ------------------------------------------------------------------


def test_identify_reports_header_facts(small_rgb: Image.Image) -> None:
    info = images.identify(encode(small_rgb.convert("RGBA"), "PNG"))
    assert info == images.ImageInfo(MIME_PNG, 120, 80, frames=1, has_alpha=True)
    assert images.identify(encode(small_rgb, "JPEG")).has_alpha is False
    gif, colours = animated_gif()
    assert images.identify(gif).frames == len(colours)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_identify_truncated_is_corrupt(fmt: str) -> None:
    data = encode(noisy((64, 48)), fmt)
    with pytest.raises(CorruptImage, match="damaged"):
        images.identify(data[: len(data) // 2])


def test_identify_garbled_png_is_corrupt(small_rgb: Image.Image) -> None:
    data = bytearray(encode(small_rgb, "PNG"))
    data[60:80] = bytes(20)  # inside IDAT: the CRC no longer matches
    with pytest.raises(CorruptImage):
        images.identify(bytes(data))


@pytest.mark.parametrize("side", [30_000, 10_000])
def test_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    bomb = png_declaring(side, side)
    assert len(bomb) < 200_000
    with pytest.raises(ImageTooLarge):
        images.identify(bomb)


def test_pixel_guard_does_not_rely_on_pillow_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageTooLarge, match="megapixels"):
        images.identify(png_declaring(30_000, 30_000))
    with pytest.raises(ImageTooLarge, match="0.003 megapixels"):
        images.validate_input(png_declaring(100, 100), max_bytes=MIB, max_pixels=3_000)


def test_validate_input_checks_bytes_first() -> None:
    data = b"x" * (2 * MIB + MIB // 2)  # not even an image: the byte cap comes first
    with pytest.raises(ImageTooLarge, match=r"2\.5 MB; the limit is 1 MB\. Send a smaller"):
        images.validate_input(data, max_bytes=MIB, max_pixels=10**6)


def test_validate_input_allows_animation() -> None:
    gif, colours = animated_gif()
    info = images.validate_input(gif, max_bytes=MIB, max_pixels=10**6)
    assert (info.mime, info.frames) == (MIME_GIF, len(colours))


def test_no_raw_pillow_error_escapes(small_rgb: Image.Image) -> None:
    samples = [encode(small_rgb, fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")]
    for data in [*samples, animated_gif()[0], encode(small_rgb.convert("RGBA"), "WEBP")]:
        for cut in range(12, len(data), max(1, len(data) // 23)):
            for call in (
                lambda d: images.identify(d),
                lambda d: images.prepare_input(d, max_bytes=MIB, max_pixels=10**6),
                lambda d: images.fit_under(d, 2_000),
                lambda d: images.has_transparency(d),
            ):
                with contextlib.suppress(EaselError):
                    call(data[:cut])


# --- prepare_input ------------------------------------------------------------------------


def test_prepare_input_keeps_usable_bytes(small_rgb: Image.Image) -> None:
    png = encode(small_rgb, "PNG")
    prepared = images.prepare_input(png, max_bytes=MIB, max_pixels=10**6, name="cat.jpeg")
    assert prepared.data is png
    assert (prepared.mime, prepared.name) == (MIME_PNG, "cat.png")
    jpeg = encode(small_rgb, "JPEG")
    prepared = images.prepare_input(jpeg, max_bytes=MIB, max_pixels=10**6)
    assert (prepared.data, prepared.name) == (jpeg, "image.jpg")


def test_prepare_input_animated_gif_becomes_first_frame_png() -> None:
    gif, colours = animated_gif()
    prepared = images.prepare_input(gif, max_bytes=MIB, max_pixels=10**6, name="loop.gif")
    assert (prepared.mime, prepared.name) == (MIME_PNG, "loop.png")
    frame = decode(prepared.data)
    assert frame.size == (40, 30)
    assert frame.convert("RGB").getpixel((30, 20)) == colours[0]
    assert frame.convert("RGB").getpixel((2, 2)) == (255, 255, 255)


def test_prepare_input_oversize_is_reencoded_to_fit() -> None:
    data = encode(noisy((700, 500)), "PNG")
    prepared = images.prepare_input(data, max_bytes=200_000, max_pixels=10**6, name="big.png")
    assert len(prepared.data) <= 200_000
    assert prepared.mime == MIME_JPEG
    assert prepared.name == "big.jpg"
    assert images.sniff(prepared.data) == MIME_JPEG


def test_prepare_input_applies_exif_orientation_when_reencoding() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(noisy((300, 200)), "JPEG", quality=100, exif=exif)
    prepared = images.prepare_input(data, max_bytes=len(data) - 1, max_pixels=10**6)
    assert decode(prepared.data).size == (200, 300)


# --- masks --------------------------------------------------------------------------------


def alpha_at(png: bytes, xy: tuple[int, int]) -> int:
    img = decode(png)
    assert img.mode == "RGBA"
    value = img.getpixel(xy)
    assert isinstance(value, tuple)
    return int(value[3])


def test_prepare_mask_keeps_rgba_alpha() -> None:
    mask = Image.new("RGBA", (64, 32), (10, 20, 30, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 16, 32))
    mask.putpixel((40, 5), (0, 0, 0, 128))
    prepared = images.prepare_mask(encode(mask, "PNG"), (64, 32))
    assert (prepared.mime, prepared.name) == (MIME_PNG, "mask.png")
    assert decode(prepared.data).size == (64, 32)
    assert alpha_at(prepared.data, (3, 3)) == 0
    assert alpha_at(prepared.data, (40, 5)) == 128
    assert alpha_at(prepared.data, (60, 30)) == 255


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_prepare_mask_without_transparency_reads_white_as_edit(mode: str) -> None:
    mask = Image.new(mode, (50, 50), "black")  # RGBA here is opaque everywhere
    ImageDraw.Draw(mask).rectangle((10, 10, 29, 29), fill="white")
    prepared = images.prepare_mask(encode(mask, "PNG"), (50, 50))
    assert alpha_at(prepared.data, (20, 20)) == 0
    assert alpha_at(prepared.data, (40, 40)) == 255


def test_prepare_mask_resizes_same_shape() -> None:
    mask = Image.new("L", (50, 25), "black")
    mask.paste(255, (0, 0, 25, 25))
    prepared = images.prepare_mask(encode(mask, "PNG"), (201, 100))
    assert decode(prepared.data).size == (201, 100)
    assert alpha_at(prepared.data, (10, 50)) == 0
    assert alpha_at(prepared.data, (190, 50)) == 255


def test_prepare_mask_other_shape_names_both_sizes() -> None:
    mask = encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(MaskMismatch, match="mask is 100×100 but the image is 150×100"):
        images.prepare_mask(mask, (150, 100))


@pytest.mark.parametrize(
    ("preset", "edit", "keep"),
    [
        ("left", [(1, 50)], [(198, 50)]),
        ("right", [(198, 50)], [(1, 50)]),
        ("top", [(100, 1)], [(100, 98)]),
        ("bottom", [(100, 98)], [(100, 1)]),
        ("center", [(100, 50), (51, 26)], [(1, 1), (198, 98), (48, 50), (100, 23)]),
        ("border", [(1, 1), (198, 98), (28, 50), (100, 13)], [(100, 50), (31, 16)]),
    ],
)
def test_region_mask_presets(
    preset: str, edit: list[tuple[int, int]], keep: list[tuple[int, int]]
) -> None:
    png = images.region_mask((200, 100), preset)
    assert decode(png).size == (200, 100)
    assert [alpha_at(png, xy) for xy in edit] == [0] * len(edit)
    assert [alpha_at(png, xy) for xy in keep] == [255] * len(keep)


def test_region_mask_unknown_preset() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        images.region_mask((10, 10), "middle")


def test_mask_preview_tints_edit_area_and_fits_max_side() -> None:
    image = encode(Image.new("RGB", (800, 400), (128, 128, 128)), "JPEG")
    preview = decode(
        images.mask_preview(image, images.region_mask((800, 400), "left"), max_side=200)
    )
    assert preview.size == (200, 100)
    edit, keep = preview.getpixel((20, 50)), preview.getpixel((180, 50))
    assert isinstance(edit, tuple) and isinstance(keep, tuple)
    assert edit[0] > 150 and edit[1] < 100 and edit[2] > 150  # magenta
    assert max(keep) < 80  # dimmed
    with pytest.raises(MaskMismatch):
        images.mask_preview(image, images.region_mask((400, 400), "left"))


def test_has_transparency() -> None:
    rgba = Image.new("RGBA", (20, 20), (1, 2, 3, 255))
    assert images.has_transparency(encode(rgba, "PNG")) is False
    rgba.putpixel((5, 5), (1, 2, 3, 254))
    assert images.has_transparency(encode(rgba, "PNG")) is True
    assert images.has_transparency(encode(rgba, "WEBP", lossless=True)) is True
    assert images.has_transparency(encode(rgba.convert("RGB"), "PNG")) is False
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.putpixel((1, 1), 1)
    assert images.has_transparency(encode(palette, "PNG", transparency=1)) is True


# --- fit_under ----------------------------------------------------------------------------


def test_fit_under_leaves_small_images_alone(small_rgb: Image.Image) -> None:
    png = encode(small_rgb, "PNG")
    fitted = images.fit_under(png, 10 * MIB)
    assert fitted.data is png
    assert (fitted.mime, fitted.ext, fitted.reencoded, fitted.scaled) == (
        "image/png",
        "png",
        False,
        False,
    )
    assert (fitted.width, fitted.height) == (120, 80)


def test_fit_under_4k_photo_keeps_dimensions(photo_4k: bytes) -> None:
    fitted = images.fit_under(photo_4k, 10 * MIB)
    assert len(fitted.data) <= 10 * MIB
    assert (fitted.mime, fitted.ext, fitted.reencoded, fitted.scaled) == (
        MIME_JPEG,
        "jpg",
        True,
        False,
    )
    assert decode(fitted.data).size == (fitted.width, fitted.height) == (5504, 3072)


def test_fit_under_shrinks_when_quality_is_not_enough(photo_4k: bytes) -> None:
    fitted = images.fit_under(photo_4k, MIB)
    assert len(fitted.data) <= MIB
    assert fitted.scaled and fitted.width < 5504
    assert abs(fitted.width / fitted.height - 5504 / 3072) < 0.01
    assert fitted.width > 5504 * 0.4  # the estimate does not overshoot wildly


def test_fit_under_transparent_becomes_webp_and_opaque_rgba_jpeg() -> None:
    rgba = noisy((400, 300), "RGBA", seed=3)
    fitted = images.fit_under(encode(rgba, "PNG"), 200_000)
    assert (fitted.mime, fitted.ext) == (MIME_WEBP, "webp")
    assert len(fitted.data) <= 200_000
    assert decode(fitted.data).mode == "RGBA"
    opaque = noisy((400, 300), seed=3).convert("RGBA")
    assert images.fit_under(encode(opaque, "PNG"), 200_000).mime == MIME_JPEG


def test_fit_under_prefer_and_gif(small_rgb: Image.Image) -> None:
    big = encode(noisy((300, 300)), "PNG")
    fitted = images.fit_under(big, 200_000, prefer="webp")
    assert fitted.mime == MIME_WEBP and len(fitted.data) <= 200_000
    stored = encode(photo_like((300, 300)), "PNG", compress_level=0)
    limit = len(encode(photo_like((300, 300)), "PNG")) + 1000  # plain deflate suffices
    fitted = images.fit_under(stored, limit, prefer="image/png")
    assert (fitted.mime, fitted.reencoded, fitted.width) == (MIME_PNG, True, 300)
    palette = photo_like((300, 300)).quantize(16)
    stored = encode(palette, "PNG", compress_level=0)
    fitted = images.fit_under(stored, len(stored) // 2)  # palette PNG: PNG tried first
    assert (fitted.mime, decode(fitted.data).mode) == (MIME_PNG, "P")
    gif = encode(small_rgb, "GIF")
    assert images.fit_under(gif, 10 * MIB).mime == MIME_PNG  # GIF is never delivered as is
    with pytest.raises(ValueError, match="unknown image format"):
        images.fit_under(big, 1000, prefer="bmp")


def test_fit_under_tiny_image_is_still_encoded() -> None:
    png = encode(noisy((40, 30)), "PNG")  # re-encoding as PNG gives the same bytes: too big
    fitted = images.fit_under(png, len(png) - 1)
    assert (fitted.mime, fitted.width, fitted.height, fitted.scaled) == (MIME_JPEG, 40, 30, False)


def test_fit_under_impossible_limit() -> None:
    with pytest.raises(ImageTooLarge, match="can't be made to fit in 0 KB"):
        images.fit_under(encode(noisy((500, 500)), "PNG"), 300)


# --- base64 -------------------------------------------------------------------------------


def test_data_url_round_trip(small_rgb: Image.Image) -> None:
    png = encode(small_rgb, "PNG")
    url = images.to_data_url(png, MIME_PNG)
    assert url.startswith("data:image/png;base64,iVBOR")
    assert images.from_data_url(url) == (png, MIME_PNG)
    assert images.from_data_url("DATA:Image/X-Anything;base64,AAAA") == (
        b"\0\0\0",
        "image/x-anything",
    )
    assert images.decode_b64(url.partition(",")[2]) == png


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,iVBO*RK==",
        "data:image/png;base64,iVBORw0",  # bad padding
        "data:image/png,iVBORw0KGgo=",  # not base64
        "data:text/plain;base64,aGVsbG8=",
        "https://example.com/cat.png",
        "data:image/png;base64,",
    ],
)
def test_from_data_url_rejects_bad_input(url: str) -> None:
    with pytest.raises(CorruptImage):
        images.from_data_url(url)


def test_decode_b64_is_strict() -> None:
    assert images.decode_b64("aGVsbG8=") == b"hello"
    for bad in ("aGVs bG8=", "aGVsbG8", "aGVsbG8=\x00", "héllo"):
        with pytest.raises(CorruptImage):
            images.decode_b64(bad)
