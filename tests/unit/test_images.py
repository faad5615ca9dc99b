"""bot.images: sniffing, identify and validate, the bomb guard and the Pillow error mapping."""

from __future__ import annotations

import contextlib

import pytest
from PIL import Image

from bot import fitting, images, masks, media
from bot.errors import CorruptImage, EaselError, ImageTooLarge, UnsupportedImageType
from tests.unit.pictures import MIB, animated_gif, encode, noisy, photo_like, png_declaring


@pytest.fixture(scope="module")
def small_rgb() -> Image.Image:
    return photo_like((120, 80))


# --- sniff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", media.PNG), ("JPEG", media.JPEG), ("WEBP", media.WEBP), ("GIF", media.GIF)],
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
    assert info == images.ImageInfo(media.PNG, 120, 80, frames=1, has_alpha=True)
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
    assert (info.mime, info.frames) == (media.GIF, len(colours))


def test_no_raw_pillow_error_escapes(small_rgb: Image.Image) -> None:
    samples = [encode(small_rgb, fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")]
    for data in [*samples, animated_gif()[0], encode(small_rgb.convert("RGBA"), "WEBP")]:
        for cut in range(12, len(data), max(1, len(data) // 23)):
            for call in (
                lambda d: images.identify(d),
                lambda d: fitting.prepare_input(d, max_bytes=MIB, max_pixels=10**6),
                lambda d: fitting.fit_under(d, 2_000),
                lambda d: masks.has_transparency(d),
            ):
                with contextlib.suppress(EaselError):
                    call(data[:cut])
