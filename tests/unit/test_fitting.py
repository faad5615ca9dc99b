"""bot.fitting: preparing router inputs and fitting images under a byte limit."""

from __future__ import annotations

import pytest
from PIL import Image

from bot import fitting, images, media
from bot.errors import ImageTooLarge
from tests.unit.pictures import MIB, animated_gif, decode, encode, noisy, photo_like


@pytest.fixture(scope="module")
def small_rgb() -> Image.Image:
    return photo_like((120, 80))


@pytest.fixture(scope="module")
def photo_4k() -> bytes:
    """A 5504x3072 photo-like PNG well over 10 MiB (stored without deflate to build fast)."""
    data = encode(photo_like((5504, 3072)), "PNG", compress_level=0)
    assert len(data) > 10 * MIB
    return data


# --- prepare_input ------------------------------------------------------------------------


def test_prepare_input_keeps_usable_bytes(small_rgb: Image.Image) -> None:
    png = encode(small_rgb, "PNG")
    prepared = fitting.prepare_input(png, max_bytes=MIB, max_pixels=10**6, name="cat.jpeg")
    assert prepared.data is png
    assert (prepared.mime, prepared.name) == (media.PNG, "cat.png")
    jpeg = encode(small_rgb, "JPEG")
    prepared = fitting.prepare_input(jpeg, max_bytes=MIB, max_pixels=10**6)
    assert (prepared.data, prepared.name) == (jpeg, "image.jpg")


def test_prepare_input_animated_gif_becomes_first_frame_png() -> None:
    gif, colours = animated_gif()
    prepared = fitting.prepare_input(gif, max_bytes=MIB, max_pixels=10**6, name="loop.gif")
    assert (prepared.mime, prepared.name) == (media.PNG, "loop.png")
    frame = decode(prepared.data)
    assert frame.size == (40, 30)
    assert frame.convert("RGB").getpixel((30, 20)) == colours[0]
    assert frame.convert("RGB").getpixel((2, 2)) == (255, 255, 255)


def test_prepare_input_oversize_is_reencoded_to_fit() -> None:
    data = encode(noisy((700, 500)), "PNG")
    prepared = fitting.prepare_input(data, max_bytes=200_000, max_pixels=10**6, name="big.png")
    assert len(prepared.data) <= 200_000
    assert prepared.mime == media.JPEG
    assert prepared.name == "big.jpg"
    assert images.sniff(prepared.data) == media.JPEG


def test_prepare_input_applies_exif_orientation_when_reencoding() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(noisy((300, 200)), "JPEG", quality=100, exif=exif)
    prepared = fitting.prepare_input(data, max_bytes=len(data) - 1, max_pixels=10**6)
    assert decode(prepared.data).size == (200, 300)


# --- fit_under ----------------------------------------------------------------------------


def test_fit_under_leaves_small_images_alone(small_rgb: Image.Image) -> None:
    png = encode(small_rgb, "PNG")
    fitted = fitting.fit_under(png, 10 * MIB)
    assert fitted.data is png
    assert (fitted.mime, fitted.ext, fitted.reencoded, fitted.scaled) == (
        "image/png",
        "png",
        False,
        False,
    )
    assert (fitted.width, fitted.height) == (120, 80)


def test_fit_under_4k_photo_keeps_dimensions(photo_4k: bytes) -> None:
    fitted = fitting.fit_under(photo_4k, 10 * MIB)
    assert len(fitted.data) <= 10 * MIB
    assert (fitted.mime, fitted.ext, fitted.reencoded, fitted.scaled) == (
        media.JPEG,
        "jpg",
        True,
        False,
    )
    assert decode(fitted.data).size == (fitted.width, fitted.height) == (5504, 3072)


def test_fit_under_shrinks_when_quality_is_not_enough(photo_4k: bytes) -> None:
    fitted = fitting.fit_under(photo_4k, MIB)
    assert len(fitted.data) <= MIB
    assert fitted.scaled and fitted.width < 5504
    assert abs(fitted.width / fitted.height - 5504 / 3072) < 0.01
    assert fitted.width > 5504 * 0.4  # the estimate does not overshoot wildly


def test_fit_under_transparent_becomes_webp_and_opaque_rgba_jpeg() -> None:
    rgba = noisy((400, 300), "RGBA", seed=3)
    fitted = fitting.fit_under(encode(rgba, "PNG"), 200_000)
    assert (fitted.mime, fitted.ext) == (media.WEBP, "webp")
    assert len(fitted.data) <= 200_000
    assert decode(fitted.data).mode == "RGBA"
    opaque = noisy((400, 300), seed=3).convert("RGBA")
    assert fitting.fit_under(encode(opaque, "PNG"), 200_000).mime == media.JPEG


def test_fit_under_prefer_and_gif(small_rgb: Image.Image) -> None:
    big = encode(noisy((300, 300)), "PNG")
    fitted = fitting.fit_under(big, 200_000, prefer="webp")
    assert fitted.mime == media.WEBP and len(fitted.data) <= 200_000
    stored = encode(photo_like((300, 300)), "PNG", compress_level=0)
    limit = len(encode(photo_like((300, 300)), "PNG")) + 1000  # plain deflate suffices
    fitted = fitting.fit_under(stored, limit, prefer="image/png")
    assert (fitted.mime, fitted.reencoded, fitted.width) == (media.PNG, True, 300)
    palette = photo_like((300, 300)).quantize(16)
    stored = encode(palette, "PNG", compress_level=0)
    fitted = fitting.fit_under(stored, len(stored) // 2)  # palette PNG: PNG tried first
    assert (fitted.mime, decode(fitted.data).mode) == (media.PNG, "P")
    gif = encode(small_rgb, "GIF")
    assert fitting.fit_under(gif, 10 * MIB).mime == media.PNG  # GIF is never delivered as is
    with pytest.raises(ValueError, match="unknown image format"):
        fitting.fit_under(big, 1000, prefer="bmp")


def test_fit_under_tiny_image_is_still_encoded() -> None:
    png = encode(noisy((40, 30)), "PNG")  # re-encoding as PNG gives the same bytes: too big
    fitted = fitting.fit_under(png, len(png) - 1)
    assert (fitted.mime, fitted.width, fitted.height, fitted.scaled) == (media.JPEG, 40, 30, False)


def test_fit_under_impossible_limit() -> None:
    with pytest.raises(ImageTooLarge, match="can't be made to fit in 0 KB"):
        fitting.fit_under(encode(noisy((500, 500)), "PNG"), 300)
