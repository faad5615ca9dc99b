"""bot.masks: mask files, region presets, the preview and transparency."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from bot import masks, media
from bot.errors import MaskMismatch
from tests.unit.pictures import decode, encode

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
    prepared = masks.prepare_mask(encode(mask, "PNG"), (64, 32))
    assert (prepared.mime, prepared.name) == (media.PNG, "mask.png")
    assert decode(prepared.data).size == (64, 32)
    assert alpha_at(prepared.data, (3, 3)) == 0
    assert alpha_at(prepared.data, (40, 5)) == 128
    assert alpha_at(prepared.data, (60, 30)) == 255


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_prepare_mask_without_transparency_reads_white_as_edit(mode: str) -> None:
    mask = Image.new(mode, (50, 50), "black")  # RGBA here is opaque everywhere
    ImageDraw.Draw(mask).rectangle((10, 10, 29, 29), fill="white")
    prepared = masks.prepare_mask(encode(mask, "PNG"), (50, 50))
    assert alpha_at(prepared.data, (20, 20)) == 0
    assert alpha_at(prepared.data, (40, 40)) == 255


def test_prepare_mask_resizes_same_shape() -> None:
    mask = Image.new("L", (50, 25), "black")
    mask.paste(255, (0, 0, 25, 25))
    prepared = masks.prepare_mask(encode(mask, "PNG"), (201, 100))
    assert decode(prepared.data).size == (201, 100)
    assert alpha_at(prepared.data, (10, 50)) == 0
    assert alpha_at(prepared.data, (190, 50)) == 255


def test_prepare_mask_other_shape_names_both_sizes() -> None:
    mask = encode(Image.new("L", (100, 100)), "PNG")
    with pytest.raises(MaskMismatch, match="mask is 100×100 but the image is 150×100"):
        masks.prepare_mask(mask, (150, 100))


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
    png = masks.region_mask((200, 100), preset)
    assert decode(png).size == (200, 100)
    assert [alpha_at(png, xy) for xy in edit] == [0] * len(edit)
    assert [alpha_at(png, xy) for xy in keep] == [255] * len(keep)


def test_region_mask_unknown_preset() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        masks.region_mask((10, 10), "middle")


def test_mask_preview_tints_edit_area_and_fits_max_side() -> None:
    image = encode(Image.new("RGB", (800, 400), (128, 128, 128)), "JPEG")
    preview = decode(masks.mask_preview(image, masks.region_mask((800, 400), "left"), max_side=200))
    assert preview.size == (200, 100)
    edit, keep = preview.getpixel((20, 50)), preview.getpixel((180, 50))
    assert isinstance(edit, tuple) and isinstance(keep, tuple)
    assert edit[0] > 150 and edit[1] < 100 and edit[2] > 150  # magenta
    assert max(keep) < 80  # dimmed
    with pytest.raises(MaskMismatch):
        masks.mask_preview(image, masks.region_mask((400, 400), "left"))


def test_has_transparency() -> None:
    rgba = Image.new("RGBA", (20, 20), (1, 2, 3, 255))
    assert masks.has_transparency(encode(rgba, "PNG")) is False
    rgba.putpixel((5, 5), (1, 2, 3, 254))
    assert masks.has_transparency(encode(rgba, "PNG")) is True
    assert masks.has_transparency(encode(rgba, "WEBP", lossless=True)) is True
    assert masks.has_transparency(encode(rgba.convert("RGB"), "PNG")) is False
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.putpixel((1, 1), 1)
    assert masks.has_transparency(encode(palette, "PNG", transparency=1)) is True
